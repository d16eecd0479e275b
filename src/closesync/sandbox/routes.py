"""Close API v1 endpoints served by the sandbox: path routing and one small handler per resource."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from closesync.sandbox import organization_objects
from closesync.sandbox.activity_objects import KINDS as EXTRA_ACTIVITIES
from closesync.sandbox.custom_objects import check_list_params
from closesync.sandbox.data import SandboxData
from closesync.sandbox.errors import ApiError, not_found
from closesync.sandbox.layout import ACTIVITY_MIX
from closesync.sandbox.listing import ListSpec, Selection, list_response, parse_fields, project

Record = dict[str, Any]

ACTIVITY_SPEC = dict(max_limit=100, equal_filters=("lead_id", "contact_id", "user_id", "id"),
                     date_filters=("date_created",))
LIST_SPECS: dict[str, ListSpec] = {
    "lead": ListSpec("lead", max_limit=200, total_results=True),
    "contact": ListSpec("contact", max_limit=100, equal_filters=("lead_id",)),
    "opportunity": ListSpec(
        "opportunity", max_limit=250, total_results=True,
        equal_filters=("lead_id", "user_id", "status_id", "status_type", "status_label", "value_period",
                       "contact_id"),
        date_filters=("date_created", "date_updated", "date_won"),
        order_by=("date_created", "date_updated", "date_won", "confidence", "value", "user_name",
                  "annualized_value", "annualized_expected_value"),
        bool_filters=("is_stalled",)),
    "task": ListSpec(
        "task", max_limit=1000, equal_filters=("_type", "lead_id", "assigned_to", "id", "view", "contact_id"),
        date_filters=("date_created", "date_updated", "date"), order_by=("date", "date_created"),
        defaults={"_type": "lead"}, bool_filters=("is_complete",)),
    "user": ListSpec("user", max_limit=1000, order_by=("last_name", "first_name")),
    "status/lead": ListSpec("status/lead", max_limit=100, natural_order=True),
    "status/opportunity": ListSpec("status/opportunity", max_limit=100, equal_filters=("pipeline_id",),
                                   natural_order=True),
    "email_template": ListSpec("email_template", max_limit=100, bool_filters=("is_archived", "is_shared")),
    "saved_search": ListSpec("saved_search", max_limit=100, equal_filters=("type",), defaults={"type": "lead"}),
    "bulk_action/email": ListSpec("bulk_action/email", max_limit=100, equal_filters=("template_id",)),
    "export": ListSpec("export", max_limit=100),
    **{f"custom_field/{k}": ListSpec(f"custom_field/{k}", max_limit=1000, natural_order=True)
       for k in ("lead", "contact", "opportunity", "activity", "shared", "custom_object_type")},
    **{k: ListSpec(k, **ACTIVITY_SPEC) for k in (*ACTIVITY_MIX, *EXTRA_ACTIVITIES)},  # type: ignore[arg-type]
    "outcome": ListSpec("outcome", max_limit=100, natural_order=True),
    "custom_object_type": ListSpec("custom_object_type", max_limit=100, natural_order=True),
    "custom_object": ListSpec("custom_object", max_limit=100, equal_filters=("lead_id", "custom_object_type_id")),
}
LIST_SPECS.update(organization_objects.LIST_SPECS)
LIST_SPECS["activity/status_change/opportunity"] = ListSpec(
    "activity/status_change/opportunity", max_limit=100,
    equal_filters=("lead_id", "contact_id", "user_id", "id", "opportunity_id"), date_filters=("date_created",))
LIST_SPECS["activity/custom"] = ListSpec(
    "activity/custom", max_limit=100,
    equal_filters=("lead_id", "contact_id", "user_id", "id", "custom_activity_type_id"),
    date_filters=("date_created",))
OBJECT_NAMES = {"lead": "Lead", "contact": "Contact", "opportunity": "Opportunity", "task": "Task",
                "user": "User", "email_template": "EmailTemplate", "saved_search": "SavedSearch",
                "bulk_action/email": "BulkEmailAction", "export": "Export", "custom_object": "CustomObject",
                "custom_object_type": "CustomObjectType", "outcome": "Outcome"}


@dataclass
class Request:
    """One API call as the handlers see it (path relative to /api/v1/, without the slashes at its ends)."""

    method: str
    path: str
    params: dict[str, str]
    body: Any
    data: SandboxData
    skip_cap: int
    extras: dict[str, Any] = field(default_factory=dict)


Handler = Callable[..., Any]


def _opportunity_totals(sel: Selection) -> Record:
    """The aggregate block Close adds to opportunity lists (cents, plus formatted twins)."""
    return sel.coll.cached(("opp_totals", sel.key), lambda: _sum_opportunities(sel))


def _sum_opportunities(sel: Selection) -> Record:
    count = {"annual": 0, "monthly": 0, "one_time": 0}
    total = dict.fromkeys(count, 0)
    expected = dict.fromkeys(count, 0)
    for r in sel.each():
        p = r.get("value_period") or "one_time"
        count[p] += 1
        total[p] += r.get("value") or 0
        expected[p] += r.get("expected_value") or 0
    out: Record = {"count_by_value_period": count}
    for prefix, sums in (("total_value", total), ("expected_value", expected)):
        sums = {**sums, "annualized": sums["one_time"] + sums["annual"] + 12 * sums["monthly"]}
        for period, cents in sums.items():
            out[f"{prefix}_{period}"] = cents
            out[f"{prefix}_{period}_formatted"] = f"${cents // 100:,}"
    return out


def list_endpoint(req: Request, name: str) -> Record:
    spec = LIST_SPECS[name]
    params = req.params
    if name == "activity/custom" and ("custom_activity_type_id" in params
                                      or "custom_activity_type_id__in" in params) and "lead_id" not in params:
        raise ApiError.validation(
            field_errors={"custom_activity_type_id": "This filter can only be used together with lead_id."})
    if name == "custom_object":
        check_list_params(params)
    if name == "saved_search" and "type__in" in params:
        params = {**params}
        params.pop("type", None)
    if name == "task" and "_type__in" in params:
        params = {**params}
    if name in organization_objects.LIST_SPECS:
        params = organization_objects.check_list(name, params, req.data.catalog.active_user_ids[0])
        body = list_response(req.data.collection(spec.collection), spec, params, req.skip_cap)
        return organization_objects.shape_list(name, body)
    extra = _opportunity_totals if name == "opportunity" else None
    return list_response(req.data.collection(spec.collection), spec, params, req.skip_cap, extra)


def get_one(req: Request, name: str, object_id: str) -> Record:
    record = req.data.get(name, object_id)
    if record is None:
        raise not_found(OBJECT_NAMES.get(name, "Activity" if name.startswith("activity/") else "Object"))
    return project(record, parse_fields(req.params))


#: Keys the sandbox serves that Close's public documentation does not show (REFERENCE.md §U): with the
#: `undocumented_keys` knob off, the organization and /me/ come without them, as on most real accounts.
UNDOCUMENTED_KEYS = {"organization": ("invoices",), "me": ("email_signatures", "sip_numbers")}


def _documented(req: Request, kind: str, record: Record) -> Record:
    if req.extras.get("undocumented_keys", True):
        return record
    return {k: v for k, v in record.items() if k not in UNDOCUMENTED_KEYS[kind]}


def organization(req: Request, org_id: str) -> Record:
    if org_id != req.data.catalog.org_id:
        raise not_found("Organization")
    return project(_documented(req, "organization", req.data.organization()), parse_fields(req.params))


def me(req: Request) -> Record:
    return project(_documented(req, "me", req.data.me()), parse_fields(req.params))


def custom_activity_types(req: Request) -> Record:
    cat = req.data.catalog
    data = [{**t, "api_create_only": False, "description": "", "editable_with_roles": [],
             "fields": [f for f in cat.custom_fields["activity"] if f["custom_activity_type_id"] == t["id"]],
             "organization_id": cat.org_id} for t in cat.custom_activity_types]
    return {"data": data, "has_more": False}


def mutate(req: Request, name: str, object_id: str | None) -> Record:
    """POST creates, PUT patches (bumping date_updated), DELETE removes; enough for incremental tests."""
    body = req.body if isinstance(req.body, dict) else {}
    try:
        if req.method == "POST":
            return req.data.add(name, None, **body)
        assert object_id is not None
        if req.method == "PUT":
            return req.data.update(name, object_id, **body)
        req.data.delete(name, object_id)
        return {}
    except KeyError:
        raise not_found(OBJECT_NAMES.get(name, "Object")) from None


_ID = r"(?P<id>[A-Za-z]+_[A-Za-z0-9]+)"
_COLLECTIONS = "|".join(re.escape(k) for k in sorted(LIST_SPECS, key=len, reverse=True))
_MUTABLE = "|".join(re.escape(k) for k in ("lead", "contact", "opportunity", "task", "custom_object",
                                            *ACTIVITY_MIX, *EXTRA_ACTIVITIES))


@functools.cache  # compiled once, on first use
def _routes() -> list[tuple[str, re.Pattern[str], Handler]]:
    from closesync.sandbox import events, exports, reports, search

    table: list[tuple[str, str, Handler]] = [
        ("GET", r"me", lambda r: me(r)),
        ("GET", rf"organization/{_ID}", lambda r, id: organization(r, id)),
        ("GET", r"custom_activity", custom_activity_types),
        ("GET", r"custom_field_schema/(?P<kind>lead|contact|opportunity)",
         lambda r, kind: {"fields": r.data.catalog.schema(kind)}),
        ("GET", r"activity", mixed_activities),
        ("GET", r"event", events.list_events),
        ("GET", rf"event/{_ID}", lambda r, id: get_one(r, "event", id)),
        ("POST", r"data/search", search.search),
        ("POST", r"report/activity", reports.activity_report),
        ("GET", r"report/activity/metrics", reports.activity_metrics),
        ("GET", rf"report/sent_emails/{_ID}", reports.sent_emails),
        ("POST", r"export/(?P<kind>lead|opportunity)", exports.create_export),
        ("GET", rf"export/(?:lead|opportunity)/{_ID}", lambda r, id: get_one(r, "export", id)),
        ("GET", rf"(?P<name>{_COLLECTIONS})", lambda r, name: list_endpoint(r, name)),
        ("GET", rf"(?P<name>{_COLLECTIONS})/{_ID}", lambda r, name, id: get_one(r, name, id)),
        ("POST", rf"(?P<name>{_MUTABLE})", lambda r, name: mutate(r, name, None)),
        ("PUT", rf"(?P<name>{_MUTABLE})/{_ID}", lambda r, name, id: mutate(r, name, id)),
        ("DELETE", rf"(?P<name>{_MUTABLE})/{_ID}", lambda r, name, id: mutate(r, name, id)),
    ]
    return [(m, re.compile(p + r"\Z"), h) for m, p, h in table]


def endpoint_group(method: str, path: str) -> str:
    """The rate-limit bucket of a call, e.g. `GET activity/call` for GET `activity/call/?_skip=100`.

    Close limits per endpoint group, a path and method pair, so the sandbox makes one group of each route it
    serves and method it is called with; the object id is not part of it (`GET lead/lead_x` counts against
    `GET lead`). Paths it does not serve are a group of their own.
    """
    path = path.split("?", 1)[0].strip("/")
    for _, pattern, _ in _routes():
        m = pattern.match(path)
        if m is not None:
            object_id = m.groupdict().get("id")
            path = "/".join(segment for segment in path.split("/") if segment != object_id)
            break
    return f"{method.upper()} {path}"


def dispatch(req: Request) -> Any:
    """Find and run the handler for `req`; 404/405 with Close's generic error body otherwise."""
    methods = []
    for method, pattern, handler in _routes():
        m = pattern.match(req.path)
        if m is None:
            continue
        if method != req.method:
            methods.append(method)
            continue
        return handler(req, **m.groupdict())
    if methods:
        raise ApiError.message(405, "The method is not allowed for the requested URL.")
    raise ApiError.message(404, "The requested URL was not found on the server.")


ACTIVITY_TYPES = {"activity/call": "Call", "activity/email": "Email", "activity/emailthread": "EmailThread",
                  "activity/note": "Note", "activity/status_change/lead": "LeadStatusChange",
                  "activity/status_change/opportunity": "OpportunityStatusChange",
                  "activity/custom": "CustomActivity",
                  **{kind: type_name for kind, (type_name, _) in EXTRA_ACTIVITIES.items()}}


def _feed(coll: Any, order: Any, n: int) -> Any:
    return ((-coll.created_ms(i), n, i, coll) for i in order)


def mixed_activities(req: Request) -> Record:
    """GET /activity/: every activity type in one newest-first feed (merged lazily, pages by `_skip`)."""
    import heapq
    import itertools

    from closesync.sandbox.listing import paging, select

    skip, limit = paging(req.params, 100, req.skip_cap)
    wanted = set(filter(None, req.params.get("_type__in", req.params.get("_type", "")).split(",")))
    streams = []
    for name, type_name in ACTIVITY_TYPES.items():
        if wanted and type_name not in wanted:
            continue
        coll = req.data.collection(name)
        params = {k: v for k, v in req.params.items() if not k.startswith("_type")}
        sel = select(coll, LIST_SPECS[name], params)
        order = sel.indexes if sel.indexes is not None else range(sel.b - 1, sel.a - 1, -1)
        streams.append(_feed(coll, order, len(streams)))
    merged = heapq.merge(*streams, key=lambda t: (t[0], t[1], -t[2]))
    page = list(itertools.islice(merged, skip, skip + limit + 1))
    fields = parse_fields(req.params)
    data = [project(rec, fields) for _, _, i, coll in page[:limit] if (rec := coll.get(i)) is not None]
    return {"data": data, "has_more": len(page) > limit}
