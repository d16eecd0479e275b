"""`SandboxData`: the whole generated account, addressable per collection, plus test mutations.

Collections are named like their API paths without slashes at the ends: "lead", "contact", "opportunity",
"task", "activity/call", "activity/email", "activity/emailthread", "activity/note",
"activity/status_change/lead", "activity/status_change/opportunity", "activity/custom", "user",
"status/lead", "status/opportunity", "custom_field/lead" (…/contact, …/opportunity, …/activity),
"email_template", "saved_search", "bulk_action/email", "export", "event"; the organization objects
of `organization_objects` ("sequence", "sequence_subscription", "group", "comment", …); and the activity
kinds and objects of issue 14: "activity/sms" (…/meeting, …/whatsapp_message, …/task_completed,
…/created, …/form_submission, …/lead_merge), "outcome" (`activity_objects.py`), "custom_object_type",
"custom_field/custom_object_type", "custom_object" (`custom_objects.py`).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from typing import Any

from closesync.sandbox import custom_objects, event_types, organization_objects
from closesync.sandbox.activity_objects import ActivityObjects
from closesync.sandbox.catalog import Catalog
from closesync.sandbox.collection import Collection
from closesync.sandbox.custom_objects import CustomObjects
from closesync.sandbox.layout import ACTIVITY_MIX, Layout
from closesync.sandbox.rand import make_id
from closesync.sandbox.records import Builders
from closesync.sandbox.timefmt import iso, ms_of, now_ms, parse_us

Record = dict[str, Any]

START_MS = ms_of(__import__("datetime").datetime(2021, 1, 4, 9, 30))
END_MS = ms_of(__import__("datetime").datetime(2026, 1, 2, 18, 0))
LEAD_SCALED = ["lead", "contact", "opportunity", "task", *ACTIVITY_MIX]
ID_PREFIX = {"lead": "lead_", "contact": "cont_", "opportunity": "oppo_", "task": "task_", "user": "user_",
             "email_template": "tmpl_", "saved_search": "save_", "bulk_action/email": "bulkemail_",
             "export": "expo_", "event": "ev_", "custom_object": "custobj_", "outcome": "outcome_",
             **{f"custom_field/{k}": "cf_" for k in ("lead", "contact", "opportunity", "activity", "shared")}}


class SandboxData:
    """The seeded account. Read with `records`/`iter_records`/`get`; mutate with `add`/`update`/`delete`.

    Mutations stamp `date_updated` (and `date_created` for new records) with `now()`, a clock that never
    goes backwards and is never earlier than the generated data, and append an entry to the event log.
    """

    def __init__(self, seed: int = 1, leads: int = 20, activities_per_lead: float = 20.0,
                 activity_mix: dict[str, int] | None = None, *, shared_custom_fields: bool = False,
                 generated_lead_fields: int = 0) -> None:
        self.seed, self.leads = seed, leads
        self.catalog = Catalog(seed, START_MS, END_MS, shared_fields=shared_custom_fields,
                               generated_lead_fields=generated_lead_fields)
        self.layout = Layout(seed, leads, START_MS, END_MS, activities_per_lead, activity_mix)
        self.builders = Builders(self.catalog, self.layout)
        self._clock = END_MS
        self._clock_lock = threading.Lock()
        self._added = itertools.count()
        self._collections: dict[str, Collection] = {}
        b, lay = self.builders, self.layout
        for kind in LEAD_SCALED:
            build = b.lead if kind == "lead" else getattr(b, kind, None)
            if build is None:
                build = self._activity_builder(kind)
            make = b.task_id if kind == "task" else (lambda i, k=kind: b.id(k, i))
            created, updated = self._time_accessors(kind)
            self._collections[kind] = Collection(kind, lay.count(kind), build, created, make,
                                                 {"date_created": created, "date_updated": updated},
                                                 self._value_accessors(kind))
        cat = self.catalog
        static: dict[str, list[Record]] = {
            "user": cat.users, "status/lead": cat.lead_statuses, "status/opportunity": cat.opportunity_statuses,
            "email_template": cat.email_templates, "saved_search": cat.saved_searches,
            "bulk_action/email": cat.bulk_emails, "export": cat.exports,
            **{f"custom_field/{k}": v for k, v in cat.custom_fields.items()},
            "custom_field/shared": cat.shared_custom_fields,
            **ActivityObjects(b, START_MS, END_MS).collections,
            **custom_objects.collections(CustomObjects(b, START_MS, END_MS)),
        }
        static.update(organization_objects.build(
            cat, leads, lambda j: (b.id("contact", j), b.lead_id(lay.parent("contact", j)[0])), lay.count("contact"),
            b.lead_id))
        for name, items in static.items():
            self._collections[name] = self._static(name, items)
        self._collections["event"] = Collection(
            "event", leads, self._lead_event, lambda i: lay.created("lead", i)[0],
            lambda i: make_id("ev_", seed, "event", i, 22))

    # -- construction helpers ------------------------------------------------------------------------------
    def _time_accessors(self, kind: str) -> tuple[Any, Any]:
        lay = self.layout

        def created(i: int) -> int:
            return lay.created(kind, i)[0]

        def updated(i: int) -> int:
            return lay.updated_after(kind, i, created(i))

        return created, updated

    def _activity_builder(self, kind: str):  # noqa: ANN202 - a bound builder
        b = self.builders
        return lambda i: b.activity(kind, i)

    def _value_accessors(self, kind: str) -> dict[str, Any]:
        if kind in ("contact", "opportunity"):  # always their parent lead
            lay, b = self.layout, self.builders
            return {"lead_id": lambda g: b.lead_id(lay.parent(kind, g)[0])}
        if not kind.startswith("activity/"):
            return {}
        fast, b = self.builders.fast, self.builders
        return {"lead_id": lambda j: b.lead_id(fast.lead_index(kind, j)),
                "user_id": lambda j: fast.user_id(kind, j)}

    @staticmethod
    def _static(name: str, items: list[Record]) -> Collection:
        def created(rec: Record, i: int) -> int:
            value = rec.get("date_created")
            return parse_us(value) // 1000 if value else i

        ordered = sorted(items, key=lambda r: created(r, 0))  # stable: undated lists keep their order
        times = [created(r, i) for i, r in enumerate(ordered)]
        return Collection(name, len(ordered), lambda i: ordered[i], lambda i: times[i],
                          lambda i: ordered[i].get("id") or ordered[i]["email"])  # unsubscribed emails: no id

    def _lead_event(self, i: int) -> Record:
        lead_id = self.builders.id("lead", i)
        created, micros = self.layout.created("lead", i)
        return self._event(make_id("ev_", self.seed, "event", i, 22), "created", "lead", lead_id, lead_id,
                           iso(created, micros=micros), {"id": lead_id, "display_name": self.builders.lead_name(i)},
                           [], self.catalog.active_user_ids[i % len(self.catalog.active_user_ids)])

    def _event(self, event_id: str, action: str, object_type: str, object_id: str, lead_id: str | None,
               when: str, data: Record, changed: list[str], user_id: str | None) -> Record:
        return {
            "action": action, "api_key_id": None, "changed_fields": changed, "data": data,
            "date_created": when, "date_updated": when, "id": event_id, "lead_id": lead_id, "meta": {},
            "oauth_client_id": None, "oauth_scope": None, "object_id": object_id, "object_type": object_type,
            "organization_id": self.catalog.org_id, "previous_data": {},
            "request_id": "req_" + event_id[3:], "user_id": user_id,
        }

    # -- reading -------------------------------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return list(self._collections)

    def collection(self, name: str) -> Collection:
        try:
            return self._collections[name.strip("/")]
        except KeyError:
            raise KeyError(f"unknown sandbox collection {name!r}; known: {', '.join(self.names)}") from None

    def count(self, name: str) -> int:
        coll = self.collection(name)
        return len(coll) - len(coll.deleted)

    def iter_records(self, name: str) -> Iterator[Record]:
        """Every live record of a collection in creation order (oldest first), generated on the fly."""
        return self.collection(name).iter_records()

    def records(self, name: str) -> list[Record]:
        """All live records, oldest first (a list: use on test-sized sandboxes)."""
        return list(self.iter_records(name))

    def get(self, name: str, record_id: str) -> Record | None:
        coll = self.collection(name)
        i = coll.index_of(record_id)
        return None if i is None else coll.get(i)

    def organization(self) -> Record:
        return self.catalog.organization()

    def me(self) -> Record:
        return self.catalog.me()

    # -- mutations -----------------------------------------------------------------------------------------
    def now(self) -> int:
        """Mutation clock in epoch ms: wall time, but never earlier than the data and strictly increasing."""
        with self._clock_lock:
            self._clock = max(self._clock + 1, now_ms())
            return self._clock

    def add(self, name: str, record: Record | None = None, /, **fields: Any) -> Record:
        """Create a record (a generated look-alike unless `record` is given); returns it.

        `date_created`/`date_updated` default to `now()`; leads start without nested children. Lists stay
        sorted by creation: a `date_created` older than the newest record is served as given but filtered
        as if it were that newest time, so pass explicit dates only when they are the latest.
        """
        coll = self.collection(name)
        n = next(self._added)
        prefix = ID_PREFIX.get(name, "acti_" if name.startswith("activity/") else "x_")
        if record is None:
            record = dict(coll.get(n % max(coll.base_count, 1)) or {}) if coll.base_count else {}
            record.pop("date_created", None)
            record["id"] = make_id(prefix, self.seed, f"added:{name}", n)
            if name == "lead":
                record.update(contacts=[], contact_ids=[], opportunities=[], tasks=[], addresses=[])
                record["html_url"] = f"https://app.close.com/lead/{record['id']}/"
        record = {**record, **fields}
        record.setdefault("id", make_id(prefix, self.seed, f"added:{name}", n))
        ms = self.now()
        record.setdefault("date_created", iso(ms))
        record["date_updated"] = fields.get("date_updated", iso(ms))
        created = parse_us(record["date_created"]) // 1000 if record.get("date_created") else ms
        coll.add(record, created)
        self._log(name, "created", record, [])
        return record

    def update(self, name: str, record_id: str, /, **changes: Any) -> Record:
        """Change fields of a record; `date_updated` moves to `now()` unless given. Returns the new record."""
        coll = self.collection(name)
        i = coll.index_of(record_id)
        current = None if i is None else coll.get(i)
        if current is None or i is None:
            raise KeyError(f"{name} {record_id} does not exist")
        record = {**current, **changes}
        if "date_updated" not in changes:
            record["date_updated"] = iso(self.now())
        coll.replace(i, record)
        self._log(name, "updated", record, sorted(changes))
        return record

    def delete(self, name: str, record_id: str) -> None:
        coll = self.collection(name)
        i = coll.index_of(record_id)
        if i is None or coll.get(i) is None:
            raise KeyError(f"{name} {record_id} does not exist")
        record = coll.get(i) or {}
        coll.delete(i)
        if name.startswith("custom_field/"):  # its values disappear from every record, as in Close
            self.catalog.deleted_field_ids.add(record_id)
        self._log(name, "deleted", record, [])

    def _log(self, name: str, action: str, record: Record, changed: list[str]) -> None:
        object_type = event_types.object_type(name, record)
        if object_type is None:
            return
        events = self._collections["event"]
        when = self.now()
        lead_id = record.get("id") if name == "lead" else record.get("lead_id")
        event = self._event(make_id("ev_", self.seed, "event:m", len(events), 22), action,
                            object_type, record.get("id", ""), lead_id, iso(when),
                            {} if action == "deleted" else {k: record.get(k) for k in ("id", "date_updated")},
                            changed, record.get("updated_by"))
        events.add(event, when)
