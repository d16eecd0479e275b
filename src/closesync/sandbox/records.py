"""Builders for the lead-scaled records (leads, contacts, opportunities, tasks, activities).

Each builder is a pure function of (catalog, layout, index): records can be rebuilt one at a time, in any
order, and are identical for the same seed. Keys and value types follow the example payloads.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from closesync.sandbox.catalog import Catalog
from closesync.sandbox.layout import Layout, mix64, stream_key
from closesync.sandbox.rand import Draw, make_id
from closesync.sandbox.timefmt import DAY_MS, iso, iso_date, rfc2822
from closesync.sandbox.variants import ActivityFactory, LeadFamilyFactory

Record = dict[str, Any]

COMPANY_A = ["Blue", "Quantum", "Hyper", "Golden", "Nordic", "Silver", "Rapid", "Bright", "Summit", "Cedar",
             "Crimson", "Atlas", "Nova", "Pioneer", "Harbor", "Velvet", "Iron", "Lunar", "Maple", "Zenith"]
COMPANY_B = ["Logistics", "Bakery", "Analytics", "Robotics", "Dental", "Media", "Solar", "Foods", "Labs",
             "Consulting", "Motors", "Textiles", "Software", "Realty", "Fitness", "Brewing"]
COMPANY_C = ["Inc.", "LLC", "GmbH", "Ltd", "S.A.", "AB", "Co.", "", "K.K.", "SARL"]
SPECIAL_LEADS = {
    # Escaping must be tested somewhere: the web app renders these.
    2: "Evil <script>alert(1)</script> & Sons",
    3: "Ünïcødé Straße Café — 東京支店 🚀",
    5: 'Quote "Corp" \'n\' Backslash \\ Ltd',
}
PERSON_FIRST = ["Tobias", "Lindsay", "Maeby", "George", "Lucille", "Buster", "Ann", "Oscar", "Kitty", "Stan",
                "Zoë", "José", "Françoise", "Øystein", "Yuki", "Aarav", "Chidi", "Eleanor", "Tahani", "Jason"]
PERSON_LAST = ["Fünke", "Bluth", "Sitwell", "Veal", "Sanchez", "Müller", "Kowalski", "Smith", "Nakamura",
               "Patel", "Anagonye", "Shellstrop", "Al-Jamil", "Mendoza", "O'Neil", "Dubois"]
TITLES = ["CEO", "CTO", "VP Sales", "Office Manager", "Head of Ops", "Buyer", "Founder", None, ""]
CITIES = [("San Francisco", "CA", "US", "94103"), ("Berlin", "BE", "DE", "10115"), ("Paris", None, "FR", "75002"),
          ("São Paulo", "SP", "BR", "01310-100"), ("Tokyo", None, "JP", "100-0005"), ("Austin", "TX", "US", "73301")]
TASK_TYPES = ["lead", "lead", "lead", "incoming_email", "email_followup", "missed_call", "voicemail",
              "opportunity_due", "answered_detached_call", "incoming_sms", "outgoing_call"]
NOTES = ["Call went well, wants pricing.", "Left voicemail.", "Asked to call back next quarter.",
         "Interested in the enterprise plan — needs SSO.", "Gatekeeper; try the CTO directly.",
         "Sent deck. <b>Bold</b> claim: 10× ROI!", "Prefers e-mail; timezone UTC+9 (東京)."]
SUBJECTS = ["Quick question", "Following up on our call", "Pricing for {company}", "Re: demo next week",
            "Welcome to the trial!", "Contract draft", "Intro: {company} <> us"]


def _phone(d: Draw) -> tuple[str, str]:
    area, mid, end = d.between(201, 989), d.between(200, 999), d.between(0, 9999)
    return f"+1{area}{mid}{end:04d}", f"+1 {area}-{mid}-{end:04d}"


def _money(cents: int, period: str) -> str:
    text = f"${cents // 100:,}"
    return text + {"one_time": "", "monthly": " monthly", "annual": " annually"}[period]


class Builders:
    """Record builders bound to one sandbox's catalog and layout."""

    def __init__(self, catalog: Catalog, layout: Layout) -> None:
        self.cat, self.lay, self.seed = catalog, layout, catalog.seed
        # Activities refer to leads and contacts over and over: remember their ids.
        self._lead_ids = lru_cache(maxsize=1 << 18)(lambda i: make_id("lead_", self.seed, "lead", i))
        self._contact_ids = lru_cache(maxsize=1 << 18)(lambda g: make_id("cont_", self.seed, "contact", g))
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
        for f in self.cat.custom_fields[object_type]:
            if only_type and f.get("custom_activity_type_id") != only_type:
                continue
            if not d.chance(0.7):
                continue
            ftype, key = f["type"], "custom." + f["id"]
            if ftype == "choices":
                rec[key] = d.sample(f["choices"], 1 + d.below(2)) if f["accepts_multiple_values"] else d.pick(
                    f["choices"])
            elif ftype == "number":
                rec[key] = d.between(1, 500) if d.chance(0.6) else round(d.between(100, 9_999_999) / 100, 2)
            elif ftype == "date":
                rec[key] = iso_date(created + d.between(-400, 400) * DAY_MS)
            elif ftype == "user":
                users = self.cat.active_user_ids
                rec[key] = d.sample(users, 2) if f["accepts_multiple_values"] else d.pick(users)
            else:
                rec[key] = d.pick(["alpha", "beta", "Ω-omega", "id-" + str(d.below(10**6)), "<i>html-ish</i>"])

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
        local = name.split()[0].lower().encode("ascii", "ignore").decode() or "contact"
        emails = [{"email": f"{local}{g}@{d.pick(['example.com', 'example.org', 'mail.example.net'])}",
                   "is_unsubscribed": d.chance(0.1), "type": d.pick(["office", "home", "other"])}
                  for _ in range(d.between(0, 2))]
        phones = []
        for _ in range(d.between(0, 2)):
            phone, fmt = _phone(d)
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
            "value_currency": "USD", "value_formatted": _money(value, period), "value_period": period,
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
        phone, fmt = _phone(d)
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
                       opportunity_value_formatted=_money(value, period), opportunity_value_period=period)
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
    def _activity_base(self, kind: str, j: int, type_name: str, d: Draw) -> tuple[Record, int, int]:
        created, c_text, updated, u_text = self._stamp(kind, j)
        lead = d.below(self.lay.leads_before(created))
        contacts = self.lay.children("contact", lead)
        user, uname = self._people(d)
        rec: Record = {
            "_type": type_name, "activity_at": c_text,
            "contact_id": self.id("contact", d.pick(contacts)) if contacts and d.chance(0.7) else None,
            "created_by": user, "created_by_name": uname, "date_created": c_text, "date_updated": u_text,
            "id": self.id(kind, j), "lead_id": self.id("lead", lead), "organization_id": self.org,
            "updated_by": user if updated != created else None,
            "updated_by_name": uname if updated != created else None,
            "user_id": user, "user_name": uname, "users": [],
        }
        return rec, created, lead

    def activity(self, kind: str, j: int) -> Record:
        """Activity `j` of `kind` (fast path: a specialised copy of a pooled look-alike)."""
        return self.fast.make(kind, j)

    def activity_detailed(self, kind: str, j: int) -> Record:
        """Build an activity field by field (feeds the pool; also handy to compare against)."""
        return self._by_kind[kind](kind, j)

    def _call(self, kind: str, j: int) -> Record:
        d = Draw(self.seed, kind, j)
        rec, created, _ = self._activity_base(kind, j, "Call", d)
        phone, fmt = _phone(d)
        local = self.cat.phone_numbers[0]["number"]
        direction = d.pick(["outbound", "outbound", "inbound"])
        status = d.weighted(["completed", "no-answer", "busy", "failed"], [80, 12, 5, 3])
        duration = d.between(5, 1800) if status == "completed" else 0
        vm = status == "no-answer" and d.chance(0.5)
        note = d.pick(NOTES) if d.chance(0.5) else ""
        rec.update({
            "call_method": d.pick(["regular", "regular", "external"]), "cost": str(d.between(0, 9)),
            "date_answered": iso(created + 3000) if status == "completed" else None,
            "dialer_id": None, "dialer_saved_search_id": None, "direction": direction,
            "disposition": "answered" if status == "completed" else ("vm-left" if vm else None),
            "duration": duration, "has_recording": status == "completed" and d.chance(0.3),
            "local_country_iso": "US", "local_phone": local, "local_phone_formatted": "+1 650-282-2240",
            "note": note, "note_html": f"<body><p>{note}</p></body>" if note else "<body><p></p></body>",
            "outcome_id": make_id("outcome_", self.seed, "outcome", d.below(3), 22) if d.chance(0.4) else None,
            "phone": phone, "recording_url": None, "remote_country_iso": "US", "remote_phone": phone,
            "remote_phone_formatted": fmt, "sequence_id": None, "sequence_name": None,
            "sequence_subscription_id": None, "source": d.pick(["Close.io", "Close.io", "External"]),
            "status": status, "voicemail_duration": d.between(5, 60) if vm else None,
            "voicemail_url": f"https://sandbox-media.invalid/vm/{j}.mp3" if vm else None,
        })
        if rec["has_recording"]:
            rec["recording_url"] = f"https://sandbox-media.invalid/rec/{j}.mp3"
        return rec

    def _email_fields(self, d: Draw, created: int, lead: int, j: int) -> Record:
        user_email = self.cat.users[0]["email"]
        other = f"{self.contact_name(d.below(max(self.lay.count('contact'), 1))).split()[0].lower()}@example.com"
        direction = d.pick(["outgoing", "outgoing", "incoming"])
        sender, to = (user_email, other) if direction == "outgoing" else (other, user_email)
        subject = d.pick(SUBJECTS).format(company=self.lead_name(lead))
        status = "inbox" if direction == "incoming" else d.weighted(["sent", "draft", "scheduled", "error"],
                                                                    [90, 4, 3, 3])
        message_id = f"<{j}.{created}@mail.sandbox.invalid>"
        template = d.pick(self.cat.email_templates) if direction == "outgoing" and d.chance(0.3) else None
        return {
            "attachments": [], "bcc": [], "bulk_email_action_id": None, "cc": [], "direction": direction,
            "email_account_id": self.cat.email_accounts[0]["id"],
            "envelope": {"bcc": [], "cc": [], "date": rfc2822(created), "from": [{"email": sender, "name": ""}],
                         "in_reply_to": None, "message_id": message_id, "reply_to": [],
                         "sender": [{"email": sender, "name": ""}], "subject": subject,
                         "to": [{"email": to, "name": ""}]},
            "followup_sequence_add_cc_bcc": False, "followup_sequence_delay": None, "has_reply": d.chance(0.3),
            "in_reply_to_id": None, "message_ids": [message_id], "need_smtp_credentials": False,
            "opens": [{"opened_at": iso(created + 3_600_000), "opened_by": to}] if d.chance(0.3) else [],
            "opens_summary": None, "references": [], "send_as_id": None, "send_attempts": [], "sender": sender,
            "sequence_id": None, "sequence_name": None, "sequence_subscription_id": None, "status": status,
            "subject": subject, "template_id": template["id"] if template else None,
            "template_name": template["name"] if template else None, "to": [to],
            "date_scheduled": iso(created + DAY_MS) if status == "scheduled" else None,
            "date_sent": iso(created) if status == "sent" else None,
        }

    def _email(self, kind: str, j: int) -> Record:
        d = Draw(self.seed, kind, j)
        rec, created, lead = self._activity_base(kind, j, "Email", d)
        rec.update(self._email_fields(d, created, lead, j))
        body = f"Hi there,\n\n{d.pick(NOTES)}\n\nBest,\n{rec['user_name']}"
        rec.update(body_html=body.replace("\n", "<br>\n"), body_text=body,
                   body_text_quoted=[{"expand": True, "text": body}], thread_id=self.id(kind, j))
        return rec

    def _emailthread(self, kind: str, j: int) -> Record:
        d = Draw(self.seed, kind, j)
        rec, created, lead = self._activity_base(kind, j, "EmailThread", d)
        emails = []
        for k in range(d.between(1, 3)):
            e = {key: rec[key] for key in ("contact_id", "created_by", "created_by_name", "lead_id",
                                           "organization_id", "updated_by", "updated_by_name", "user_id",
                                           "user_name", "users")}
            at = created - k * 3_600_000
            e.update(self._email_fields(d, at, lead, j * 10 + k))
            e.update(_type="Email", activity_at=iso(at), body_preview="Hi there, following up on…",
                     date_created=iso(at), date_updated=iso(at + 5000),
                     id=make_id("acti_", self.seed, "threadmail", j * 10 + k), thread_id=rec["id"])
            emails.append(e)
        rec.update(emails=emails, latest_normalized_subject=emails[0]["subject"], n_emails=len(emails),
                   participants=[{"email": emails[0]["sender"], "name": rec["user_name"]}],
                   users=[rec["user_id"]])
        return rec

    def _note(self, kind: str, j: int) -> Record:
        d = Draw(self.seed, kind, j)
        rec, created, _ = self._activity_base(kind, j, "Note", d)
        note = d.pick(NOTES)
        pinned = d.chance(0.1)
        rec.update(attachments=[], note=note, note_html=f"<body><p>{note}</p></body>", note_mentions=[],
                   pinned=pinned, pinned_at=iso(created + DAY_MS) if pinned else None,
                   source=d.pick([None, "api", "ui"]), title=d.pick([None, "Meeting notes", "Call summary"]))
        return rec

    def _status_change_lead(self, kind: str, j: int) -> Record:
        d = Draw(self.seed, kind, j)
        rec, _, _ = self._activity_base(kind, j, "LeadStatusChange", d)
        old, new = d.sample(self.cat.lead_statuses, 2)
        rec.update(contact_id=None, new_status_id=new["id"], new_status_label=new["label"],
                   old_status_id=old["id"], old_status_label=old["label"])
        return rec

    def _status_change_opportunity(self, kind: str, j: int) -> Record:
        d = Draw(self.seed, kind, j)
        rec, created, lead = self._activity_base(kind, j, "OpportunityStatusChange", d)
        opps = self.lay.children("opportunity", lead)
        if not opps:  # point at any opportunity that existed by then
            n = self.lay.opp_start[min(lead + 1, self.lay.leads)]
            opps = range(n) if n else range(0)
        pipeline = self.cat.pipelines[0]
        old, new = d.sample(pipeline["statuses"], 2)
        value = d.between(5, 500) * 10_000
        period = d.pick(["one_time", "monthly", "annual"])
        opp_id = self.id("opportunity", d.pick(opps)) if opps else make_id("oppo_", self.seed, "gone", j)
        rec.update(contact_id=None, new_pipeline_id=pipeline["id"], new_pipeline_name=pipeline["name"],
                   new_status_id=new["id"], new_status_label=new["label"], new_status_type=new["type"],
                   old_pipeline_id=pipeline["id"], old_pipeline_name=pipeline["name"], old_status_id=old["id"],
                   old_status_label=old["label"], old_status_type=old["type"],
                   opportunity_confidence={"won": 100, "lost": 0}.get(new["type"], 50),
                   opportunity_date_won=iso(created - created % DAY_MS) if new["type"] == "won" else None,
                   opportunity_id=opp_id, opportunity_value=value, opportunity_value_currency="USD",
                   opportunity_value_formatted=_money(value, period), opportunity_value_period=period)
        return rec

    def _custom_act(self, kind: str, j: int) -> Record:
        d = Draw(self.seed, kind, j)
        rec, created, _ = self._activity_base(kind, j, "CustomActivity", d)
        atype = d.pick(self.cat.custom_activity_types)
        published = d.chance(0.85)
        pinned = d.chance(0.05)
        rec.update(custom_activity_type_id=atype["id"], last_published_at=rec["date_created"] if published else None,
                   mentions=[], mentions_updated_at=None, pinned=pinned,
                   pinned_at=iso(created + DAY_MS) if pinned else None, source=d.pick(["ui", "api"]),
                   status="published" if published else "draft")
        self._custom(d, "activity", rec, created, only_type=atype["id"])
        return rec


