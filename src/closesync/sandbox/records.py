"""Builders for the lead-scaled records (leads, contacts, opportunities, tasks, activities).

Each builder is a pure function of (catalog, layout, index): records can be rebuilt one at a time, in any
order, and are identical for the same seed. Keys and value types follow the example payloads.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from closesync.sandbox.activity_records import ActivityBuilders
from closesync.sandbox.catalog import Catalog
from closesync.sandbox.layout import Layout, mix64, stream_key
from closesync.sandbox.rand import Draw, make_id
from closesync.sandbox.timefmt import DAY_MS, iso, iso_date
from closesync.sandbox.variants import ActivityFactory, LeadFamilyFactory
from closesync.sandbox.vocab import (
    CITIES,
    COMPANY_A,
    COMPANY_B,
    COMPANY_C,
    NOTES,
    PERSON_FIRST,
    PERSON_LAST,
    SPECIAL_LEADS,
    SUBJECTS,
    TASK_TYPES,
    TITLES,
    ascii_slug,
    money,
    random_phone,
)

Record = dict[str, Any]


class Builders(ActivityBuilders):
    """Record builders bound to one sandbox's catalog and layout."""

    def __init__(self, catalog: Catalog, layout: Layout) -> None:
        self.cat, self.lay, self.seed = catalog, layout, catalog.seed
        # Activities refer to leads and contacts over and over: remember recent ids (bounded small, so a
        # million-record walk does not keep ~100 MB of ids).
        self._lead_ids = lru_cache(maxsize=1 << 14)(lambda i: make_id("lead_", self.seed, "lead", i))
        self._contact_ids = lru_cache(maxsize=1 << 14)(lambda g: make_id("cont_", self.seed, "contact", g))
        self.fast = ActivityFactory(self.seed, layout, self.activity_detailed, self.lead_id, self.contact_id)
        self.org = catalog.org_id
        self._k_lead_name = stream_key(self.seed, "leadname")
        self._k_contact_name = stream_key(self.seed, "contactname")
        self._k_task_type = stream_key(self.seed, "tasktype")
        self.family = LeadFamilyFactory(self)
        self._by_kind = {
            "activity/call": self._call, "activity/email": self._email, "activity/emailthread": self._emailthread,
            "activity/note": self._note, "activity/status_change/lead": self._status_change_lead,
            "activity/status_change/opportunity": self._status_change_opportunity,
            "activity/custom": self._custom_act,
        }

    # -- ids & names (cheap, used for cross references) ----------------------------------------------------
    def id(self, kind: str, i: int) -> str:
        if kind == "lead":
            return self._lead_ids(i)
        if kind == "contact":
            return self._contact_ids(i)
        prefix = {"lead": "lead_", "contact": "cont_", "opportunity": "oppo_", "task": "task_"}.get(kind, "acti_")
        return make_id(prefix, self.seed, kind, i)

    def lead_id(self, i: int) -> str:
        return self._lead_ids(i)

    def contact_id(self, g: int) -> str:
        return self._contact_ids(g)

    def task_id(self, i: int) -> str:
        return make_id("task_" if self.task_type(i) == "lead" else "noti_", self.seed, "task", i)

    def lead_name(self, i: int) -> str:
        if i in SPECIAL_LEADS:
            return SPECIAL_LEADS[i]
        h = mix64(self._k_lead_name ^ i)
        name = f"{COMPANY_A[h % 20]} {COMPANY_B[(h >> 8) % 16]} {COMPANY_C[(h >> 16) % 10]}".rstrip()
        return name if (h >> 24) & 0xFF >= 26 else name + f" #{i}"

    def contact_name(self, g: int) -> str:
        h = mix64(self._k_contact_name ^ g)
        return f"{PERSON_FIRST[h % 20]} {PERSON_LAST[(h >> 8) % 16]}"

    def task_type(self, i: int) -> str:
        return TASK_TYPES[mix64(self._k_task_type ^ i) % len(TASK_TYPES)]

    def _stamp(self, kind: str, i: int) -> tuple[int, str, int, str]:
        created, micros = self.lay.created(kind, i)
        updated = self.lay.updated_after(kind, i, created)
        # A few records lose the offset on date_updated: clients must parse leniently.
        upd_text = iso(updated, micros=micros or updated != created, offset=(i % 29) != 7)
        return created, iso(created, micros=micros), updated, upd_text

    def _custom(self, d: Draw, object_type: str, rec: Record, created: int, only_type: str | None = None) -> None:
        regular, knob = self.cat.value_fields(object_type)
        for fields, draw in ((regular, d), (knob, Draw(self.cat.seed, f"cfx:{rec.get('id')}", 0))):
            for f in fields:
                if only_type and f.get("custom_activity_type_id") != only_type:
                    continue
                if draw.chance(0.7):
                    rec["custom." + f["id"]] = self._custom_value(draw, f, created)

    def _custom_value(self, d: Draw, f: Record, created: int) -> Any:
        ftype = f["type"]
        if ftype == "choices":
            return d.sample(f["choices"], 1 + d.below(2)) if f["accepts_multiple_values"] else d.pick(f["choices"])
        if ftype == "number":
            return d.between(1, 500) if d.chance(0.6) else round(d.between(100, 9_999_999) / 100, 2)
        if ftype == "date":
            return iso_date(created + d.between(-400, 400) * DAY_MS)
        if ftype == "user":
            users = self.cat.active_user_ids
            return d.sample(users, 2) if f["accepts_multiple_values"] else d.pick(users)
        return d.pick(["alpha", "beta", "Ω-omega", "id-" + str(d.below(10**6)), "<i>html-ish</i>"])

    def _people(self, d: Draw) -> tuple[str, str | None]:
        user = self.cat.user_for(d)
        return user, self.cat.user_name(user)

    # -- leads & their children ----------------------------------------------------------------------------
    def contact(self, g: int) -> Record:
        return self.family.contact(g)

    def opportunity(self, g: int) -> Record:
        return self.family.opportunity(g)

    def task(self, g: int) -> Record:
        return self.family.task(g)

    def lead(self, i: int) -> Record:
        return self.family.lead(i)

    def contact_detailed(self, g: int) -> Record:
        lead, _ = self.lay.parent("contact", g)
        d = Draw(self.seed, "contact", g)
        created, c_text, _, u_text = self._stamp("contact", g)
        user, _name = self._people(d)
        name = self.contact_name(g)
        local = ascii_slug(name.split()[0]) or "contact"
        emails = [{"email": f"{local}{g}@{d.pick(['example.com', 'example.org', 'mail.example.net'])}",
                   "is_unsubscribed": d.chance(0.1), "type": d.pick(["office", "home", "other"])}
                  for _ in range(d.between(0, 2))]
        phones = []
        for _ in range(d.between(0, 2)):
            phone, fmt = random_phone(d)
            phones.append({"country": "US", "phone": phone, "phone_formatted": fmt,
                           "type": d.pick(["office", "mobile", "direct"])})
        urls = [{"type": "url", "url": f"https://www.linkedin.com/in/{local}-{g}"}] if d.chance(0.4) else []
        rec: Record = {
            "created_by": user if d.chance(0.7) else None, "date_created": c_text, "date_updated": u_text,
            "display_name": name, "emails": emails, "id": self.id("contact", g), "integration_links": [],
            "lead_id": self.id("lead", lead), "name": name, "organization_id": self.org, "phones": phones,
            "title": d.pick(TITLES), "updated_by": user, "urls": urls,
        }
        self._custom(d, "contact", rec, created)
        return rec

    def opportunity_detailed(self, g: int) -> Record:
        lead, _ = self.lay.parent("opportunity", g)
        d = Draw(self.seed, "opportunity", g)
        created, c_text, updated, u_text = self._stamp("opportunity", g)
        pipeline = self.cat.pipelines[0 if d.chance(0.75) else 1]
        status = d.pick(pipeline["statuses"])
        user, uname = self._people(d)
        period = d.pick(["one_time", "one_time", "monthly", "annual"])
        value = d.between(5, 2000) * 10_000 if d.chance(0.95) else 0
        confidence = {"won": 100, "lost": 0}.get(status["type"], d.pick([10, 25, 50, 75, 90]))
        annualized = value * {"one_time": 1, "monthly": 12, "annual": 1}[period]
        contacts = self.lay.children("contact", lead)
        rec: Record = {
            "annualized_expected_value": annualized * confidence // 100, "annualized_value": annualized,
            "attachments": [], "confidence": confidence,
            "contact_id": self.id("contact", d.pick(contacts)) if contacts and d.chance(0.6) else None,
            "contact_name": None, "created_by": user if d.chance(0.8) else None, "created_by_name": None,
            "date_created": c_text,
            "date_lost": iso(updated) if status["type"] == "lost" else None, "date_updated": u_text,
            "date_won": iso_date(updated) if status["type"] == "won" else None,
            "expected_value": value * confidence // 100, "id": self.id("opportunity", g),
            "integration_links": [], "is_stalled": d.chance(0.1),
            "lead_id": self.id("lead", lead), "lead_name": self.lead_name(lead),
            "note": d.pick(NOTES), "organization_id": self.org, "pipeline_id": pipeline["id"],
            "pipeline_name": pipeline["name"], "status_display_name": status["label"], "status_id": status["id"],
            "status_label": status["label"], "status_type": status["type"], "updated_by": user,
            "updated_by_name": uname, "user_id": user, "user_name": uname, "value": value,
            "value_currency": "USD", "value_formatted": money(value, period), "value_period": period,
        }
        rec["note_html"] = f"<body><p>{rec['note'].replace('<', '&lt;').replace('>', '&gt;')}</p></body>"
        if rec["contact_id"]:
            rec["contact_name"] = self.contact_name(self.lay.children("contact", lead)[0])
        if rec["created_by"]:
            rec["created_by_name"] = self.cat.user_name(rec["created_by"])
        self._custom(d, "opportunity", rec, created)
        return rec

    def task_detailed(self, g: int, ttype: str | None = None) -> Record:
        lead, _ = self.lay.parent("task", g)
        d = Draw(self.seed, "task", g)
        created, c_text, updated, u_text = self._stamp("task", g)
        ttype = ttype or self.task_type(g)
        user, uname = self._people(d)
        contacts = self.lay.children("contact", lead)
        contact = d.pick(contacts) if contacts and d.chance(0.6) else None
        due = created + d.between(0, 30) * DAY_MS
        if ttype == "lead":
            date = iso_date(due) if d.chance(0.3) else iso(due - due % DAY_MS)
        else:
            date = iso(created, micros=d.chance(0.8))
        is_complete = d.chance(0.35)
        detached = ttype in ("voicemail", "answered_detached_call") and d.chance(0.5)
        rec: Record = {
            "_type": ttype, "assigned_to": user, "assigned_to_name": uname,
            "contact_id": self.id("contact", contact) if contact is not None and not detached else None,
            "contact_name": self.contact_name(contact) if contact is not None and not detached else None,
            "created_by": user if ttype == "lead" else None,
            "created_by_name": uname if ttype == "lead" else None,
            "date": date, "date_created": c_text, "date_updated": u_text,
            "id": make_id("task_" if ttype == "lead" else "noti_", self.seed, "task", g),
            "is_complete": is_complete, "is_dateless": False,
            "lead_id": None if detached else self.id("lead", lead),
            "lead_name": None if detached else self.lead_name(lead),
            "object_id": None, "object_type": None, "organization_id": self.org,
            "text": None, "updated_by": user if updated != created else None,
            "updated_by_name": uname if updated != created else None,
            "view": "archive" if is_complete else ("future" if d.chance(0.3) else "inbox"),
        }
        phone, fmt = random_phone(d)
        if ttype == "lead":
            rec["text"] = d.pick(["Follow up", "Send proposal", "Call back re: pricing", "Check in 📞",
                                  "Prepare <demo> env"])
        elif ttype in ("incoming_email", "email_followup"):
            rec.update(object_id=make_id("acti_", self.seed, "taskobj", g), object_type="emailthread",
                       subject=d.pick(SUBJECTS).format(company=rec["lead_name"] or "you"),
                       body_preview="Hi, just checking whether you had a chance to look…")
            if ttype == "incoming_email":
                rec["emails"] = [make_id("acti_", self.seed, "taskmail", g)]
            else:
                rec["email_id"] = make_id("acti_", self.seed, "taskmail", g)
                rec["total_emails_count_in_thread"] = d.between(1, 6)
        elif ttype in ("missed_call", "voicemail", "answered_detached_call"):
            rec.update(object_id=make_id("acti_", self.seed, "taskobj", g), object_type="call", phone=phone,
                       phone_formatted=fmt, phone_number_description="California",
                       local_phone=self.cat.phone_numbers[0]["number"])
            if ttype == "voicemail":
                rec.update(voicemail_duration=d.between(5, 90),
                           voicemail_url=f"https://sandbox-media.invalid/vm/{g}.mp3")
            if ttype == "answered_detached_call":
                rec["recording_url"] = f"https://sandbox-media.invalid/rec/{g}.mp3"
        elif ttype == "opportunity_due":
            value = d.between(5, 500) * 10_000
            period = d.pick(["one_time", "monthly", "annual"])
            rec.update(object_id=make_id("oppo_", self.seed, "taskobj", g), object_type="opportunity",
                       opportunity_note="Renewal talk", opportunity_value=value, opportunity_value_currency="USD",
                       opportunity_value_formatted=money(value, period), opportunity_value_period=period)
        elif ttype == "incoming_sms":
            rec.update(object_id=make_id("acti_", self.seed, "taskobj", g), object_type="sms",
                       text="Can we move our call to Friday?", remote_phone=phone, remote_phone_formatted=fmt,
                       remote_phone_description="California", local_phone=self.cat.phone_numbers[0]["number"],
                       attachments=[])
        elif ttype == "outgoing_call":
            rec.update(agent_config_id=None, deduplication_key=None, is_primary_lead_notification=True,
                       resolution=None, sequence_id=make_id("seq_", self.seed, "seq", 0, 22),
                       sequence_subscription_id=make_id("sub_", self.seed, "sub", g, 22),
                       step_id=make_id("step_", self.seed, "step", g % 5, 22), text="Call as sequence step")
        return rec

    def lead_detailed(self, i: int, with_children: bool = True) -> Record:
        d = Draw(self.seed, "lead", i)
        created, c_text, _, u_text = self._stamp("lead", i)
        user, uname = self._people(d)
        name = self.lead_name(i)
        status = d.weighted(self.cat.lead_statuses, [40, 10, 25, 20, 5])
        contacts = [self.contact(g) for g in self.lay.children("contact", i)] if with_children else []
        tasks = [t for t in (self.task(g) for g in self.lay.children("task", i))
                 if t["_type"] == "lead" and not t["is_complete"]] if with_children else []
        addresses = []
        for _ in range(d.between(0, 2)):
            city, state, country, zipcode = d.pick(CITIES)
            addresses.append({"address_1": f"{d.between(1, 999)} {d.pick(['Main St', 'Hauptstraße', 'Rue de Rivoli'])}",
                              "address_2": d.pick([None, "", "Suite 200"]), "city": city, "country": country,
                              "label": d.pick(["business", "mailing", "other"]), "state": state, "zipcode": zipcode})
        rec: Record = {
            "addresses": addresses, "contact_ids": [c["id"] for c in contacts], "contacts": contacts,
            "created_by": user if d.chance(0.8) else None, "created_by_name": None,
            "date_created": c_text, "date_updated": u_text,
            "description": d.pick(["", "Met at SaaStr.", "Inbound from website form.", "Référence: salon Paris"]),
            "display_name": name, "html_url": "", "id": self.id("lead", i), "integration_links": [],
            "name": name,
            "opportunities": [self.opportunity(g) for g in self.lay.children("opportunity", i)] if with_children else [],
            "organization_id": self.org, "status_id": status["id"], "status_label": status["label"],
            "tasks": tasks, "updated_by": user, "updated_by_name": uname,
            "url": f"https://www.{i}-example.com/" if d.chance(0.5) else None,
        }
        rec["html_url"] = f"https://app.close.com/lead/{rec['id']}/"
        if rec["created_by"]:
            rec["created_by_name"] = self.cat.user_name(rec["created_by"])
        self._custom(d, "lead", rec, created)
        return rec

    # -- activities ----------------------------------------------------------------------------------------
    def activity(self, kind: str, j: int) -> Record:
        """Activity `j` of `kind` (fast path: a specialised copy of a pooled look-alike)."""
        return self.fast.make(kind, j)

    def activity_detailed(self, kind: str, j: int) -> Record:
        """Build an activity field by field (feeds the pool; also handy to compare against)."""
        return self._by_kind[kind](kind, j)
