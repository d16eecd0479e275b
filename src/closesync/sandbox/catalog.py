"""The organization-level objects of a sandbox account: users, statuses, pipelines, custom fields, templates,
smart views, bulk actions, export jobs, `/me/`. Small, so built eagerly; shapes follow the example payloads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from closesync.sandbox.rand import Draw, make_id
from closesync.sandbox.timefmt import DAY_MS, iso, iso_date
from closesync.sandbox.vocab import ascii_slug

Record = dict[str, Any]

FIRST_NAMES = ["Ada", "Björn", "Chloé", "Dmitri", "Esperanza", "Farid", "Grace", "Hiroshi", "Ines", "Jamal",
               "Katarzyna", "Liam", "Mei", "Nnamdi", "Olga", "Pablo", "Quinn", "Rania", "Søren", "Tamar"]
LAST_NAMES = ["Okafor", "Lindqvist", "Dubois", "Ivanov", "García", "Haddad", "Hopper", "Tanaka", "Moreau",
              "Wright", "Nowak", "O'Brien", "Zhang", "Eze", "Petrova", "Núñez", "Murphy", "Aziz", "Jørgensen",
              "Levi"]

LEAD_STATUSES = ["Potential", "Bad Fit", "Qualified", "Customer", "Not Serious"]
PIPELINES = [("Sales", [("Active", "active"), ("Demo Scheduled", "active"), ("Won", "won"), ("Lost", "lost"),
                        ("On hold", "active")]),
             ("Renewals", [("Up for renewal", "active"), ("Renewed", "won"), ("Churned", "lost")])]
PERMISSIONS = ["bulk_edit", "export", "bulk_delete", "manage_organization", "bulk_email"]

# (name, type, accepts_multiple_values, choices). "Region"/"region" collide once names are normalised and
# "Deal Size ($)" has characters a column name cannot keep: both on purpose.
CUSTOM_FIELDS: dict[str, list[tuple[str, str, bool, list[str] | None]]] = {
    "lead": [
        ("Industry", "choices", True, ["Apparel", "Cars", "Cosmetics", "IT", "Real Estate"]),
        ("Deal Size ($)", "number", False, None),
        ("Region", "choices", False, ["EMEA", "AMER", "APAC"]),
        ("region", "text", False, None),
        ("Trial Due", "date", False, None),
        ("Owner", "user", False, None),
        ("Internal Database ID", "text", False, None),
        ("# of users", "number", False, None),
    ],
    "contact": [
        ("Seniority", "choices", False, ["Junior", "Manager", "Director", "VP", "C-level"]),
        ("Birthday", "date", False, None),
        ("LinkedIn Profile", "text", False, None),
    ],
    "opportunity": [
        ("Contract URL", "text", False, None),
        ("Seats", "number", False, None),
        ("Competitors", "choices", True, ["Pipedrive", "HubSpot", "Salesforce", "Zoho"]),
        ("Account Executive", "user", False, None),
    ],
}
CUSTOM_ACTIVITY_TYPES = [
    ("Discovery Call Form", [("Outcome", "choices", False, ["Qualified", "Follow-up", "Disqualified"]),
                             ("Budget", "number", False, None)]),
    ("Site Visit", [("Visit Date", "date", False, None), ("Attendees", "user", True, None),
                    ("Summary", "text", False, None)]),
]

# Shared custom fields (knob `shared_custom_fields`): (name, type, multiple, choices, associated object types).
SHARED_FIELDS: list[tuple[str, str, bool, list[str] | None, tuple[str, ...]]] = [
    ("Customer Tier", "choices", False, ["Gold", "Silver", "Bronze"], ("lead", "contact")),
    ("Partner Code", "text", False, None, ("lead", "opportunity")),
    ("Renewal Date", "date", False, None, ("contact", "opportunity")),
    ("Languages", "choices", True, ["English", "Deutsch", "Français"], ("lead", "contact", "opportunity")),
    ("Follow-up Score", "number", False, None, ("lead", "custom_activity_type")),
]
GENERATED_TYPES = [("text", None), ("number", None), ("date", None), ("choices", ["One", "Two", "Three"])]

SMART_VIEW_TYPES = ["lead", "lead", "lead", "contact", "contact", "opportunity", "call", "email", "note",
                    "custom_activity"]


@dataclass
class Catalog:
    """Everything that exists once per organization."""

    seed: int
    start_ms: int
    end_ms: int
    org_id: str = ""
    org_name: str = ""
    users: list[Record] = field(default_factory=list)
    active_user_ids: list[str] = field(default_factory=list)
    memberships: list[Record] = field(default_factory=list)
    inactive_memberships: list[Record] = field(default_factory=list)
    lead_statuses: list[Record] = field(default_factory=list)
    pipelines: list[Record] = field(default_factory=list)
    opportunity_statuses: list[Record] = field(default_factory=list)
    custom_fields: dict[str, list[Record]] = field(default_factory=dict)
    custom_activity_types: list[Record] = field(default_factory=list)
    email_templates: list[Record] = field(default_factory=list)
    saved_searches: list[Record] = field(default_factory=list)
    bulk_emails: list[Record] = field(default_factory=list)
    exports: list[Record] = field(default_factory=list)
    invoices: list[Record] = field(default_factory=list)
    email_accounts: list[Record] = field(default_factory=list)
    phone_numbers: list[Record] = field(default_factory=list)
    email_signatures: list[Record] = field(default_factory=list)
    sip_numbers: list[Record] = field(default_factory=list)
    # knobs: shared custom fields, and `generated_lead_fields` more lead custom fields (a big account)
    shared_fields: bool = False
    generated_lead_fields: int = 0
    shared_custom_fields: list[Record] = field(default_factory=list)
    more_fields: dict[str, list[Record]] = field(default_factory=dict)  # knob fields with values, per type
    deleted_field_ids: set[str] = field(default_factory=set)  # deleted while the sandbox runs

    def __post_init__(self) -> None:
        self._build()

    # -- helpers -------------------------------------------------------------------------------------------
    def _id(self, prefix: str, kind: str, i: int, length: int = 43) -> str:
        return make_id(prefix, self.seed, kind, i, length)

    def user_name(self, user_id: str | None) -> str | None:
        return self._names.get(user_id) if user_id else None

    def user_for(self, d: Draw) -> str:
        return d.pick(self.active_user_ids)

    # -- construction --------------------------------------------------------------------------------------
    def _build(self) -> None:
        s = self.seed
        d = Draw(s, "catalog", 0)
        org_created = self.start_ms - 200 * DAY_MS
        self.org_id = self._id("orga_", "org", 0)
        self.org_name = d.pick(["Northwind Traders", "Globex Corporation", "Initech", "Umbrella Sales GmbH",
                                "Soylent & Søn"])
        domain = "example.com"
        self._names: dict[str, str] = {}
        for i in range(8):
            ud = Draw(s, "user", i)
            first, last = FIRST_NAMES[(i * 7 + s) % len(FIRST_NAMES)], LAST_NAMES[(i * 3 + s) % len(LAST_NAMES)]
            uid = self._id("user_", "user", i)
            created = org_created + i * 37 * DAY_MS + ud.below(DAY_MS)
            email = f"{ascii_slug(first)}.{ascii_slug(last)}@{domain}"
            self._names[uid] = f"{first} {last}"
            self.users.append({
                "date_created": iso(created), "date_updated": iso(created + ud.below(300 * DAY_MS)),
                "email": email, "email_verified_at": iso(created + 60_000),
                "first_name": first, "id": uid,
                "image": "https://secure.gravatar.com/avatar/" + self._id("", "avatar", i, 32).lower(),
                "last_name": last, "last_used_timezone": ud.pick(["America/Denver", "Europe/Berlin", "Asia/Tokyo",
                                                                   "America/New_York", None]),
                "organizations": [self.org_id],
            })
            membership = {
                "auto_record_calls": ud.pick(["unset", "disabled", "enabled"]),
                "id": self._id("memb_", "memb", i),
                "organization_id": self.org_id,
                "permissions_granted": ud.sample(PERMISSIONS, 1 + ud.below(3)),
                "role_id": "admin" if i == 0 else self._id("role_", "role", i % 2, 22),
                "track_email_opens": ud.chance(0.7),
                "user_email": email, "user_first_name": first, "user_full_name": f"{first} {last}",
                "user_id": uid, "user_last_name": last, "user_phone": f"1650555{1000 + i:04d}",
            }
            # Two of eight users have left the organization: report 24 reads them.
            if i < 6:
                self.memberships.append(membership)
                self.active_user_ids.append(uid)
            else:
                self.inactive_memberships.append(membership)
        owner = self.active_user_ids[0]

        for i, label in enumerate(LEAD_STATUSES):
            self.lead_statuses.append({"id": self._id("stat_", "lstat", i), "label": label,
                                       "organization_id": self.org_id})
        for p, (pname, statuses) in enumerate(PIPELINES):
            pid = self._id("pipe_", "pipe", p, 22)
            created = org_created + p * 90 * DAY_MS + 4_013_014
            sts = []
            for j, (label, stype) in enumerate(statuses):
                st = {"id": self._id("stat_", f"ostat{p}", j), "label": label, "type": stype}
                sts.append(st)
                self.opportunity_statuses.append({**st, "organization_id": self.org_id, "pipeline_id": pid})
            # Pipeline timestamps carry microseconds but no offset, as Close sends them.
            self.pipelines.append({
                "created_by": owner, "date_created": iso(created, offset=False)[:-3] + "979",
                "date_updated": iso(created + 9 * DAY_MS, offset=False)[:-3] + "542",
                "id": pid, "name": pname, "organization_id": self.org_id, "statuses": sts, "updated_by": owner,
            })

        n = 0
        for object_type, defs in CUSTOM_FIELDS.items():
            self.custom_fields[object_type] = [self._field(object_type, n + k, spec, owner, org_created)
                                               for k, spec in enumerate(defs)]
            n += len(defs)
        self.custom_fields["activity"] = []
        for t, (tname, defs) in enumerate(CUSTOM_ACTIVITY_TYPES):
            type_id = self._id("actitype_", "actitype", t, 22)
            self.custom_activity_types.append({"id": type_id, "name": tname})
            for spec in defs:
                f = self._field("activity", n, spec, owner, org_created)
                f["custom_activity_type_id"] = type_id
                f["required"] = spec[1] != "text"
                self.custom_fields["activity"].append(f)
                n += 1

        self._build_knob_fields(n, owner, org_created)
        self._build_account_objects(owner, org_created)

    def _build_knob_fields(self, n: int, owner: str, org_created: int) -> None:
        """Fields only the knobs add; their values come from a draw of their own, so turning a knob on
        leaves every other generated value as it was."""
        self.more_fields = {"lead": [], "contact": [], "opportunity": [], "activity": []}
        for k in range(self.generated_lead_fields):
            ftype, choices = GENERATED_TYPES[k % len(GENERATED_TYPES)]
            f = self._field("lead", n, (f"Generated Field {k + 1:03d}", ftype, False, choices), owner, org_created)
            self.custom_fields["lead"].append(f)
            self.more_fields["lead"].append(f)
            n += 1
        if not self.shared_fields:
            return
        for name, ftype, multi, choices, targets in SHARED_FIELDS:
            f = self._field("shared", n, (name, ftype, multi, choices), owner, org_created)
            f["id"], f["is_shared"] = self._id("cf_", "scf", n), True
            type_id = self.custom_activity_types[0]["id"]
            f["associations"] = [
                {"object_type": t, "custom_activity_type_id": type_id if t == "custom_activity_type" else None,
                 "editable_with_roles": [], "required": False} for t in targets]
            self.shared_custom_fields.append(f)
            for t in targets:
                kind = "activity" if t == "custom_activity_type" else t
                self.more_fields[kind].append({**f, "custom_activity_type_id": type_id} if kind == "activity" else f)
            n += 1

    def value_fields(self, object_type: str) -> tuple[list[Record], list[Record]]:
        """(regular, knob) fields whose values records of `object_type` carry; deleted ones left out."""
        knob_ids = {f["id"] for f in self.more_fields.get(object_type, [])}
        gone = self.deleted_field_ids
        regular = [f for f in self.custom_fields[object_type] if f["id"] not in knob_ids and f["id"] not in gone]
        return regular, [f for f in self.more_fields.get(object_type, []) if f["id"] not in gone]

    def schema(self, object_type: str) -> list[Record]:
        """GET custom_field_schema/{object_type}/: its regular and shared fields together."""
        shared = [f for f in self.shared_custom_fields
                  if any(a["object_type"] == object_type for a in f["associations"])]
        return [f for f in self.custom_fields.get(object_type, []) + shared if f["id"] not in self.deleted_field_ids]

    def _field(self, object_type: str, n: int, spec: tuple[str, str, bool, list[str] | None], owner: str,
               org_created: int) -> Record:
        name, ftype, multi, choices = spec
        fd = Draw(self.seed, "cf", n)
        created = org_created + fd.below(120 * DAY_MS)
        return {
            "accepts_multiple_values": multi, "choices": choices, "created_by": owner,
            "date_created": iso(created), "date_updated": iso(created + fd.below(30 * DAY_MS)),
            "description": fd.pick([None, "", f"{name} of the {object_type}"]),
            "editable_with_roles": [] if fd.chance(0.8) else ["admin"],
            "id": self._id("cf_", "cf", n), "is_shared": False, "name": name,
            "organization_id": self.org_id, "type": ftype, "updated_by": owner,
        }

    def _build_account_objects(self, owner: str, org_created: int) -> None:
        s, org, users = self.seed, self.org_id, self.active_user_ids
        span = self.end_ms - self.start_ms
        for i, (name, subject) in enumerate([
            ("Cold 1", "I bet using other sales tools sucks"), ("Follow-up", "Quick follow-up, {{ contact.first_name }}"),
            ("Demo recap", "Recap of our demo"), ("Promo Email", "20% off until Friday"),
            ("Renewal reminder", "Your plan renews soon"), ("Break-up", "Should I close your file?"),
            ("Welcome", "Welcome aboard! 🎉"), ("Archived intro", "Old intro"),
        ]):
            td = Draw(s, "tmpl", i)
            created = self.start_ms + i * span // 10 + td.below(DAY_MS)
            self.email_templates.append({
                "attachments": [], "body": f"<p>Hi {{{{ contact.first_name }}}},</p><p>{subject}.</p>",
                "created_by": users[i % len(users)], "date_created": iso(created),
                "date_updated": iso(created + td.below(40 * DAY_MS)), "id": self._id("tmpl_", "tmpl", i),
                "is_archived": i == 7, "is_shared": td.chance(0.7), "name": name, "organization_id": org,
                "subject": subject, "updated_by": users[i % len(users)],
            })
        match_all = {"query": {"negate": False, "type": "match_all"}, "results_limit": None, "sort": []}
        for i, stype in enumerate(SMART_VIEW_TYPES):
            sd = Draw(s, "save", i)
            created = self.start_ms + i * span // 12 + sd.below(DAY_MS)
            name = {"lead": ["All Leads", "Hot leads", "Needs follow-up"][i % 3]}.get(stype, f"My {stype}s")
            self.saved_searches.append({
                "date_created": iso(created), "date_updated": iso(created + sd.below(20 * DAY_MS)),
                "description": "", "id": self._id("save_", "save", i), "is_shared": sd.chance(0.5),
                "is_user_dependent": sd.chance(0.2), "name": name, "organization_id": org, "query": None,
                "s_query": match_all, "type": stype, "user_id": users[i % len(users)],
            })
        lead_query = {"queries": [{"object_type": "lead", "type": "object_type"},
                                  {"condition": {"mode": "full_words", "type": "text", "value": "Inc"},
                                   "field": {"field_name": "name", "object_type": "lead", "type": "regular_field"},
                                   "type": "field_condition"}], "type": "and"}
        for i in range(5):
            bd = Draw(s, "bulk", i)
            created = self.start_ms + (i + 1) * span // 7 + bd.below(DAY_MS)
            n_leads = bd.between(20, 900)
            status = ["done", "done", "processing", "paused", "error"][i]
            done = n_leads if status == "done" else bd.below(n_leads)
            self.bulk_emails.append({
                "contact_preference": bd.pick(["lead", "contact", "all"]), "created_by": users[i % len(users)],
                "date_created": iso(created), "date_updated": iso(created + bd.below(DAY_MS)),
                "email_account_id": self._id("emailacct_", "emailacct", i % 2),
                "id": self._id("bulkemail_", "bulk", i), "n_leads": n_leads, "n_leads_processed": done,
                "n_objects": n_leads, "n_objects_processed": done, "organization_id": org,
                "query": "lead_status:Potential" if i == 0 else None, "results_limit": None, "s_query": lead_query,
                "send_done_email": False, "sender": f"{self.users[i % 6]['email']}", "sort": [], "status": status,
                "template_id": self.email_templates[i]["id"], "updated_by": users[i % len(users)],
            })
        for i, (etype, fmt, status) in enumerate([("leads", "json", "done"), ("contacts", "csv", "done"),
                                                  ("lead_opps", "csv", "in_progress"), ("opps", "csv", "done"),
                                                  ("leads", "csv", "error")]):
            ed = Draw(s, "expo", i)
            created = self.start_ms + (i + 1) * span // 6 + ed.below(DAY_MS)
            n_docs = ed.between(100, 5000)
            job: Record = {
                "created_by": owner, "date_created": iso(created), "date_format": "iso8601",
                "date_updated": iso(created + ed.below(3_600_000)),
                "download_url": f"https://sandbox-exports.invalid/{etype}-{i}.{fmt}.gz" if status == "done" else None,
                "fields": ["id", "display_name", "status_label", "date_created", "date_updated"], "format": fmt,
                "id": self._id("expo_", "expo", i), "n_docs": n_docs,
                "n_docs_processed": n_docs if status == "done" else n_docs // 3, "organization_id": org,
                "results_limit": None, "send_done_email": False, "status": status, "type": etype,
                "updated_by": owner,
            }
            if etype == "opps":
                job["params"] = {"organization_id": org, "status_id": self.opportunity_statuses[0]["id"]}
                del job["date_format"]
            else:
                job["s_query"], job["sort"] = lead_query, []
            self.exports.append(job)
        for i in range(12):
            period = self.end_ms - (12 - i) * 30 * DAY_MS
            self.invoices.append({
                "amount": 49_00 * len(users) + (i % 3) * 1_000, "currency": "USD",
                "date_created": iso(period + 3_600_000), "id": self._id("inv_", "inv", i, 24),
                "organization_id": org, "period_end": iso_date(period + 30 * DAY_MS), "period_start": iso_date(period),
                "pdf_url": f"https://sandbox-billing.invalid/invoices/{i}.pdf",
                "status": "paid" if i < 11 else "open",
            })
        me_user = self.users[0]
        for i in range(2):
            self.email_accounts.append({
                "_type": ["google", "custom"][i], "id": self._id("emailacct_", "emailacct", i),
                "identities": [{"email": me_user["email"], "name": self.user_name(owner)}],
                "organization_id": org, "user_id": owner,
            })
            self.phone_numbers.append({
                "date_created": iso(org_created + (i + 1) * DAY_MS), "date_updated": iso(org_created + (i + 2) * DAY_MS),
                "id": self._id("phon_", "phon", i), "number": f"+1650282224{i}", "organization_id": org,
            })
            self.email_signatures.append({
                "body_html": f"<p>{self.user_name(owner)}<br>{self.org_name}</p>",
                "date_created": iso(org_created + (i + 3) * DAY_MS), "id": self._id("sig_", "sig", i, 22),
                "is_default": i == 0, "name": ["Default", "Short"][i], "organization_id": org, "user_id": owner,
            })
        self.sip_numbers.append({
            "date_created": iso(org_created + 5 * DAY_MS), "id": self._id("sip_", "sip", 0, 22),
            "label": "Desk phone", "number": "+16502822290", "organization_id": org,
            "sip_uri": "sip:desk@sandbox.invalid", "user_id": owner,
        })

    # -- composed objects ----------------------------------------------------------------------------------
    def organization(self) -> Record:
        created = self.start_ms - 200 * DAY_MS
        return {
            "created_by": None, "currency": "USD", "currency_symbol": "$", "date_created": iso(created),
            "date_updated": iso(created + 400 * DAY_MS), "id": self.org_id,
            "inactive_memberships": self.inactive_memberships,
            "invoices": self.invoices,
            "lead_statuses": [{"id": s["id"], "label": s["label"]} for s in self.lead_statuses],
            "memberships": self.memberships, "name": self.org_name,
            "opportunity_statuses": [{k: s[k] for k in ("id", "label", "type")} for s in self.opportunity_statuses],
            "pipelines": self.pipelines, "plan_type": "business", "updated_by": None,
        }

    def me(self) -> Record:
        user = self.users[0]
        org = self.organization()
        return {
            **{k: v for k, v in user.items() if k != "organizations"},
            "email_accounts": self.email_accounts, "email_signatures": self.email_signatures,
            "memberships": [{k: m[k] for k in ("auto_record_calls", "id", "organization_id", "permissions_granted",
                                               "role_id", "track_email_opens", "user_id")}
                            for m in self.memberships if m["user_id"] == user["id"]],
            "organizations": [{k: org[k] for k in ("created_by", "date_created", "date_updated", "id",
                                                   "lead_statuses", "name", "pipelines", "updated_by")}],
            "phone_numbers": self.phone_numbers, "sip_numbers": self.sip_numbers,
        }
