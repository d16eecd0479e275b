"""Organization objects beyond the classic 38 (issue 14): pipelines, sequences and their steps and
subscriptions, bulk edits, deletes and sequence subscriptions, roles, groups, connected accounts, send-as,
unsubscribed emails, phone numbers, dialer sessions, blocked numbers, SMS templates, playbooks, scheduling
links, comment threads and comments, integration links and webhook subscriptions.

Built eagerly (an account's configuration: a few hundred records; subscriptions, comment threads, dialer
sessions and unsubscribed emails grow with the number of leads so paging is exercised). Shapes follow the
examples of Close's API reference (docs/close-api/REFERENCE.md §O). `LIST_SPECS` says what each list accepts;
`check_list` adds what a plain `_skip` list does not: required filters, send-as's own-user rule, and group
lists without their members.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from closesync.sandbox.catalog import Catalog
from closesync.sandbox.errors import ApiError
from closesync.sandbox.listing import ListSpec
from closesync.sandbox.rand import Draw, make_id
from closesync.sandbox.timefmt import DAY_MS, iso

Record = dict[str, Any]

#: Lists Close documents without `_skip`/`_limit`: one response holds them all, whatever the client asks.
UNPAGED = ("pipeline", "role", "group", "connected_account", "send_as", "unsubscribe/email", "scheduling_link",
           "shared_scheduling_link", "comment", "integration_link", "webhook")
UNPAGED_LIMIT = 1_000_000
LIST_SPECS: dict[str, ListSpec] = {
    "pipeline": ListSpec("pipeline", natural_order=True),
    "sequence": ListSpec("sequence"),
    "sequence_subscription": ListSpec("sequence_subscription",
                                      equal_filters=("sequence_id", "contact_id", "lead_id")),
    "bulk_action/edit": ListSpec("bulk_action/edit"),
    "bulk_action/delete": ListSpec("bulk_action/delete"),
    "bulk_action/sequence_subscription": ListSpec("bulk_action/sequence_subscription"),
    "role": ListSpec("role", natural_order=True),
    "group": ListSpec("group", natural_order=True),
    "connected_account": ListSpec("connected_account", equal_filters=("user_id",)),
    "send_as": ListSpec("send_as", equal_filters=("allowing_user_id", "allowed_user_id")),
    "unsubscribe/email": ListSpec("unsubscribe/email"),
    "phone_number": ListSpec("phone_number", equal_filters=("user_id", "number"), bool_filters=("is_group_number",)),
    "dialer": ListSpec("dialer", equal_filters=("user_id", "status", "source_type", "source_value")),
    "blocked_phone_number": ListSpec("blocked_phone_number"),
    "sms_template": ListSpec("sms_template"),
    "playbook": ListSpec("playbook", bool_filters=("is_archived",), natural_order=True),
    "scheduling_link": ListSpec("scheduling_link"),
    "shared_scheduling_link": ListSpec("shared_scheduling_link"),
    "comment_thread": ListSpec("comment_thread"),
    "comment": ListSpec("comment", equal_filters=("thread_id", "object_id")),
    "integration_link": ListSpec("integration_link", natural_order=True),
    "webhook": ListSpec("webhook", natural_order=True),
}
LIST_SPECS.update({name: replace(LIST_SPECS[name], max_limit=UNPAGED_LIMIT) for name in UNPAGED})
#: Lists that need one of these filters (Close answers 400 without it); `comment` takes exactly one.
REQUIRED_FILTERS = {"sequence_subscription": ("sequence_id", "contact_id", "lead_id"),
                    "comment": ("thread_id", "object_id")}

SEQUENCES = ["Inbound follow-up", "Cold outreach Q3", "Trial nurture", "Re-engage lost deals"]
STEP_TYPES = ["email", "call", "email", "sms", "email"]
SUBSCRIPTION_STATUSES = ["active", "active", "paused", "finished", "goal", "error"]
ROLES = [("Admin", ["bulk_edit", "bulk_delete", "export", "manage_organization", "view_all_leads"], False),
         ("Sales Rep", ["bulk_edit", "view_all_leads"], True),
         ("Account Manager", ["bulk_edit", "export"], True),
         ("Restricted Rep", [], True)]
GROUPS = [("EMEA team", 3), ("Closers", 2), ("Night shift", 0)]


def build(cat: Catalog, leads: int, contact: Callable[[int], tuple[str, str]], contacts: int,
          lead_id: Callable[[int], str]) -> dict[str, list[Record]]:
    """Every collection of this module, keyed by its API path; `contact(j)` gives (contact id, lead id)."""
    return _Builder(cat, leads, contact, contacts, lead_id).build()


class _Builder:
    def __init__(self, cat: Catalog, leads: int, contact: Callable[[int], tuple[str, str]], contacts: int,
                 lead_id: Callable[[int], str]) -> None:
        self.cat, self.leads, self.contact, self.contacts, self.lead_id = cat, leads, contact, contacts, lead_id
        self.users = cat.active_user_ids
        self.owner = self.users[0]
        self.span = cat.end_ms - cat.start_ms

    def _id(self, prefix: str, kind: str, i: int, length: int = 22) -> str:
        return make_id(prefix, self.cat.seed, f"org:{kind}", i, length)

    def _when(self, kind: str, i: int, n: int) -> tuple[int, int]:
        """(created, updated) ms for record i of n, spread over the account's lifetime."""
        d = Draw(self.cat.seed, f"org:{kind}:t", i)
        created = self.cat.start_ms + i * self.span // max(n, 1) + d.below(DAY_MS)
        return created, created + d.below(30 * DAY_MS)

    def build(self) -> dict[str, list[Record]]:
        sequences = self.sequences()
        threads, comments = self.comments()
        return {
            "pipeline": self.cat.pipelines, "sequence": sequences,
            "sequence_subscription": self.subscriptions(sequences), **self.bulk_actions(sequences),
            "role": self.roles(), "group": self.groups(), "connected_account": self.connected_accounts(),
            "send_as": self.send_as(), "unsubscribe/email": self.unsubscribed(), "phone_number": self.phones(),
            "dialer": self.dialers(), "blocked_phone_number": self.blocked(), "sms_template": self.sms_templates(),
            "playbook": self.playbooks(), **self.scheduling_links(), "comment_thread": threads, "comment": comments,
            "integration_link": self.integration_links(), "webhook": self.webhooks(),
        }

    def sequences(self) -> list[Record]:
        out = []
        templates = self.cat.email_templates
        for i, name in enumerate(SEQUENCES):
            d = Draw(self.cat.seed, "org:seq", i)
            created, updated = self._when("seq", i, len(SEQUENCES))
            author = self.users[i % len(self.users)]
            steps = []
            for k in range(2 + d.below(3)):
                step_type = STEP_TYPES[(i + k) % len(STEP_TYPES)]
                steps.append({
                    "created_by_id": author, "date_created": iso(created + k, offset=False),
                    "date_updated": iso(created + k, offset=False), "delay": 0 if k == 0 else 86_400 * (1 + d.below(4)),
                    "email_template_id": templates[(i + k) % len(templates)]["id"] if step_type == "email" else None,
                    "id": self._id("seqstep_", "seqstep", i * 10 + k), "required": step_type != "sms",
                    "sms_template_id": None, "step_allowed_delay": None, "step_type": step_type,
                    "threading": "old_thread" if step_type == "email" and k else None, "updated_by_id": author,
                })
            schedule = None if i % 2 else {"ranges": [{"weekday": w, "start": "09:00", "end": "16:59"}
                                                      for w in range(1, 6)]}
            out.append({
                "created_by_id": author, "date_created": iso(created, offset=False),
                "date_updated": iso(updated, offset=False), "id": self._id("seq_", "seq", i), "name": name,
                "organization_id": self.cat.org_id, "schedule": schedule, "status": "paused" if i == 3 else "active",
                "steps": steps, "timezone": d.pick(["US/Eastern", "Europe/Berlin", "America/Los_Angeles"]),
                "updated_by_id": author,
            })
        return out

    def subscriptions(self, sequences: list[Record]) -> list[Record]:
        n = min(self.contacts, 3 * self.leads)
        sender = self.cat.users[0]
        out = []
        for j in range(n):
            d = Draw(self.cat.seed, "org:sub", j)
            contact_id, lead = self.contact(j)
            created, updated = self._when("sub", j, n)
            status = d.pick(SUBSCRIPTION_STATUSES)
            out.append({
                "calls_assigned_to": [self.users[j % len(self.users)]], "contact_email": f"contact{j}@example.org",
                "contact_id": contact_id, "created_by_id": self.owner, "date_created": iso(created, offset=False),
                "date_updated": iso(updated, offset=False), "id": self._id("sub_", "sub", j), "lead_id": lead,
                "organization_id": self.cat.org_id, "sender_account_id": self.cat.email_accounts[0]["id"],
                "sender_email": sender["email"], "sender_name": f"{sender['first_name']} {sender['last_name']}",
                "sequence_id": sequences[j % len(sequences)]["id"], "start_date": None, "status": status,
                "status_reason": {"paused": "manual", "error": "bounced"}.get(status), "updated_by_id": self.owner,
            })
        return out

    def _bulk(self, kind: str, prefix: str, i: int, n: int, status: str) -> Record:
        d = Draw(self.cat.seed, f"org:{kind}", i)
        created, updated = self._when(kind, i, n)
        n_leads = d.between(5, 600)
        done = n_leads if status == "done" else d.below(n_leads)
        user = self.users[i % len(self.users)]
        return {
            "created_by": user, "date_created": iso(created), "date_updated": iso(updated),
            "id": self._id(prefix, kind, i), "n_leads": n_leads, "n_leads_processed": done, "n_objects": n_leads,
            "n_objects_processed": done, "organization_id": self.cat.org_id, "query": None, "results_limit": None,
            "s_query": {"type": "and", "queries": [{"type": "object_type", "object_type": "lead"}]},
            "send_done_email": d.chance(0.3), "sort": [], "status": status, "updated_by": user,
        }

    def bulk_actions(self, sequences: list[Record]) -> dict[str, list[Record]]:
        statuses = ["done", "done", "processing", "error", "done", "paused"]
        lead_fields = self.cat.custom_fields["lead"]
        edits = []
        for i, etype in enumerate(["set_lead_status", "set_custom_field", "clear_custom_field", "set_lead_status",
                                   "set_custom_field", "set_custom_field"]):
            rec = self._bulk("bulkedit", "bulkedit_", i, 6, statuses[i])
            rec.update(type=etype, lead_status_id=self.cat.lead_statuses[i % 5]["id"] if "status" in etype else None,
                       custom_field_name=lead_fields[i % len(lead_fields)]["name"] if "field" in etype else None,
                       custom_field_value="EMEA" if etype == "set_custom_field" else None)
            edits.append(rec)
        deletes = []
        for i in range(4):
            rec = self._bulk("bulkdelete", "bulkdelete_", i, 4, statuses[i])
            rec["bulk_object_type"] = ["lead", "contact", "opportunity", "lead"][i]
            deletes.append(rec)
        subscribes = []
        for i, action in enumerate(["subscribe", "pause", "resume", "subscribe", "resume_finished"]):
            rec = self._bulk("bulksub", "bulksequencesubscription_", i, 5, statuses[i])
            sender = self.cat.users[0]
            subscribe = action == "subscribe"
            rec.update(action_type=action, sequence_id=sequences[i % len(sequences)]["id"],
                       sender_account_id=self.cat.email_accounts[0]["id"] if subscribe else None,
                       sender_name=sender["first_name"] if subscribe else None,
                       sender_email=sender["email"] if subscribe else None,
                       contact_preference="contact" if subscribe else None, from_phone_number_id=None,
                       calls_assigned_to=[self.owner] if subscribe else [])
            subscribes.append(rec)
        return {"bulk_action/edit": edits, "bulk_action/delete": deletes,
                "bulk_action/sequence_subscription": subscribes}

    def roles(self) -> list[Record]:
        owner_field = next(f["id"] for f in self.cat.custom_fields["lead"] if f["type"] == "user")
        return [{
            "editable": editable, "id": "admin" if i == 0 else self._id("role_", "role", i),
            "name": name, "permissions": permissions,
            "visibility_user_lcf_behavior": None if "view_all_leads" in permissions else "require_assignment",
            "visibility_user_lcf_ids": None if "view_all_leads" in permissions else [owner_field],
        } for i, (name, permissions, editable) in enumerate(ROLES)]

    def groups(self) -> list[Record]:
        return [{"id": self._id("group_", "group", i), "members": [{"user_id": u} for u in self.users[i:i + size]],
                 "name": name, "organization_id": self.cat.org_id} for i, (name, size) in enumerate(GROUPS)]

    def connected_accounts(self) -> list[Record]:
        out = []
        for i, user_id in enumerate(self.users):
            user = next(u for u in self.cat.users if u["id"] == user_id)
            kinds = ["google", "zoom"] if i % 2 == 0 else ["custom_email"]
            for k, kind in enumerate(kinds):
                identity = {"email": user["email"], "name": f"{user['first_name']} {user['last_name']}"}
                out.append({
                    "_type": kind, "date_created": iso(self._when("connacct", i, len(self.users))[0] + k),
                    "email": user["email"] if kind == "zoom" else None,
                    "id": self._id("emailacct_", "connacct", i * 10 + k, 43),
                    "identities": [] if kind == "zoom" else [identity], "organization_id": self.cat.org_id,
                    "receive_status": "ok", "send_status": "ok",
                    "smtp": {"host": "smtp.example.com", "port": 465, "use_ssl": True, "username": user["email"]}
                    if kind == "custom_email" else None,
                    "synced_calendars": [user["email"]] if kind == "google" else [], "user_id": user_id,
                })
        return out

    def send_as(self) -> list[Record]:
        """The owner (the API key's user) lets three others send as them; two others let the owner."""
        pairs = [(self.owner, u) for u in self.users[1:4]] + [(u, self.owner) for u in self.users[4:6]]
        return [{"allowed_user_id": allowed, "allowing_user_id": allowing, "id": self._id("sdas_", "sdas", i),
                 "organization_id": self.cat.org_id} for i, (allowing, allowed) in enumerate(pairs)]

    def unsubscribed(self) -> list[Record]:
        n = 20 + self.leads // 2
        return [{"email": f"unsubscribed.{i}@example.net"} for i in range(n)]

    def phones(self) -> list[Record]:
        out = []
        numbers = [(u, False) for u in self.users] + [(None, True), (None, True)]
        for i, (user_id, is_group) in enumerate(numbers):
            d = Draw(self.cat.seed, "org:phone", i)
            created, updated = self._when("phone", i, len(numbers))
            number = f"+1415555{2000 + i:04d}"
            out.append({
                "address_id": None, "bundle_id": None, "carrier": d.pick(["Twilio", "Bandwidth"]),
                "carrier_type": "voip", "country": "US", "date_created": iso(created), "date_updated": iso(updated),
                "forward_to": None, "forward_to_enabled": False, "forward_to_formatted": None,
                "id": self._id("phon_", "phone", i), "is_group_number": is_group, "is_premium": False,
                "is_verified": True, "label": "Support line" if is_group else "Direct",
                "last_billed_price": 1.15 if i % 3 else 2.0, "mms_enabled": d.chance(0.5),
                "next_billing_on": iso(self.cat.end_ms + (i + 1) * DAY_MS), "number": number,
                "number_formatted": f"+1 415-555-{2000 + i:04d}", "organization_id": self.cat.org_id,
                "participants": self.users[:3] if is_group else [], "phone_numbers": [],
                "phone_numbers_formatted": [], "press_1_to_accept": is_group, "sms_enabled": True,
                "supports_mms_to_countries": ["US", "CA"], "supports_sms_to_countries": ["US", "CA"],
                "type": "internal", "user_id": user_id, "voicemail_greeting_url": None, "was_ported": i == 1,
            })
        return out

    def dialers(self) -> list[Record]:
        n = 30 + self.leads // 2
        views = [s["id"] for s in self.cat.saved_searches]
        out = []
        for i in range(n):
            d = Draw(self.cat.seed, "org:dial", i)
            created, updated = self._when("dial", i, n)
            user_id = self.users[i % len(self.users)]
            out.append({
                "caller_id": d.pick(["", "+14356128874"]), "date_created": iso(created, offset=False),
                "date_updated": iso(updated, offset=False), "id": self._id("dial_", "dial", i),
                "is_user_dependent": d.chance(0.2), "music_preference": "tone1", "organization_id": self.cat.org_id,
                "ring_mode": d.pick(["more-voicemails", "fewer-voicemails"]), "source_type": "saved-search",
                "source_value": d.pick(views), "status": "active" if i >= n - 2 else "inactive",
                "type": d.pick(["power", "predictive"]), "user_id": user_id,
                "users": [{"is_active": False, "state": "inactive", "user_id": user_id}],
            })
        return out

    def blocked(self) -> list[Record]:
        n = 5 + self.leads // 10
        out = []
        for i in range(n):
            created, updated = self._when("blocked", i, n)
            out.append({"created_by": self.owner, "date_created": iso(created), "date_updated": iso(updated),
                        "id": self._id("blkphone_", "blocked", i), "organization_id": self.cat.org_id,
                        "phone": f"+1900555{3000 + i:04d}", "reason": ["spam", "harassment", None][i % 3],
                        "updated_by": self.owner})
        return out

    def sms_templates(self) -> list[Record]:
        out = []
        for i, (name, text) in enumerate([("Cold 1", "Hey {{ contact.first_name }}, ever considered Close?"),
                                          ("Missed you", "Sorry I missed you, when suits you for a call?"),
                                          ("Reminder", "Reminder: our call is tomorrow 🙂"),
                                          ("Old promo", "20% off until Friday")]):
            created, updated = self._when("smstmpl", i, 4)
            user = self.users[i % len(self.users)]
            out.append({"attachments": [], "created_by": user, "date_created": iso(created, offset=False),
                        "date_updated": iso(updated, offset=False), "id": self._id("smstmpl_", "smstmpl", i),
                        "is_shared": i != 1, "name": name, "organization_id": self.cat.org_id, "owned_by": user,
                        "status": "archived" if i == 3 else "active", "text": text, "updated_by": user})
        return out

    def playbooks(self) -> list[Record]:
        fields = [f["id"] for f in self.cat.custom_fields["lead"][:2]]
        out = []
        for i, name in enumerate(["Discovery call", "Demo follow-up", "Renewal check-in (old)"]):
            created, updated = self._when("playbook", i, 3)
            archived = i == 2
            out.append({
                "archived_at": iso(updated) if archived else None, "archived_by_id": self.owner if archived else None,
                "created_at": iso(created), "created_by_id": self.owner, "custom_field_ids": fields[: i + 1],
                "description": f"Questions for the {name.lower()}", "id": self._id("playbook_", "playbook", i),
                "name": name, "organization_id": self.cat.org_id, "outcome_ids": [], "position": i,
                "summary_guidance": "Note budget, timeline and next step.", "updated_at": iso(updated),
                "updated_by_id": self.owner,
            })
        return out

    def scheduling_links(self) -> dict[str, list[Record]]:
        org = self.cat.org_id
        own = [{"description": desc, "duration_in_minutes": minutes, "id": self._id("schlnk_", "schlnk", i),
                "name": name, "oauth_client_id": None, "organization_id": org, "source": source,
                "source_id": None, "source_type": None, "template_tag": None, "type": "USER", "url": url,
                "user_id": self.owner}
               for i, (name, desc, minutes, source, url) in enumerate([
                   ("Intro call", "A first 15 minutes together", 15, "MANUAL", "https://example.com/intro"),
                   ("30 Minute Meeting", None, 30, "CALENDLY", "https://calendly.com/sandbox/30min"),
                   ("Demo", "Product demo", 45, "MANUAL", "https://example.com/demo")])]
        shared = [{"description": "Shared Scheduling Link description", "duration_in_minutes": None,
                   "id": self._id("schlnk_", "sharedlnk", i), "name": name, "organization_id": org,
                   "source": "MANUAL", "source_id": None, "source_type": None, "template_tag": tag, "type": "SHARED",
                   "url": None, "user_id": None}
                  for i, (name, tag) in enumerate([("Book a demo", "book_a_demo"), ("Support call", "support_call")])]
        return {"scheduling_link": own, "shared_scheduling_link": shared}

    def comments(self) -> tuple[list[Record], list[Record]]:
        n = 10 + self.leads // 2
        threads, comments = [], []
        for i in range(n):
            d = Draw(self.cat.seed, "org:thread", i)
            created, updated = self._when("thread", i, n)
            thread_id, lead = self._id("comthr_", "thread", i), self.lead_id(i % max(self.leads, 1))
            authors = []
            count = 1 + d.below(3)
            for k in range(count):
                author = self.users[(i + k) % len(self.users)]
                authors.append(author)
                removed = k == 1 and i % 7 == 0
                comments.append({
                    "body": "" if removed else f"<body><p>Comment {k + 1} on this lead.</p></body>",
                    "created_at": iso(created + k * 60_000), "created_by": author,
                    "id": self._id("comm_", "comment", i * 10 + k), "lead_id": lead, "mentions": [],
                    "organization_id": self.cat.org_id, "removed_at": iso(updated) if removed else None,
                    "removed_by": author if removed else None, "thread_id": thread_id,
                    "updated_at": iso(created + k * 60_000), "updated_by": author,
                })
            threads.append({
                "created_at": iso(created), "id": thread_id, "lead_id": lead, "num_comments": count, "object_id": lead,
                "object_type": "lead", "organization_id": self.cat.org_id,
                "participating": sorted(set(authors)), "updated_at": iso(updated),
            })
        return threads, comments

    def integration_links(self) -> list[Record]:
        return [{"created_by": self.owner, "date_created": iso(self._when("ilink", i, 3)[0]),
                 "date_updated": iso(self._when("ilink", i, 3)[1]), "id": self._id("integlink_", "ilink", i),
                 "name": name, "organization_id": self.cat.org_id, "type": kind, "updated_by": self.owner,
                 "url": url}
                for i, (name, kind, url) in enumerate([
                    ("Search on Google", "lead", "https://google.com/search?q={{ lead.display_name }}"),
                    ("LinkedIn", "contact", "https://linkedin.com/search?q={{ contact.name }}"),
                    ("Billing", "opportunity", "https://billing.example.com/deal/{{ opportunity.id }}")])]

    def webhooks(self) -> list[Record]:
        out = []
        for i, events in enumerate([[("lead", "created"), ("lead", "updated")],
                                    [("activity.call", "created"), ("opportunity", "updated")]]):
            created, updated = self._when("webhook", i, 2)
            out.append({
                "counters": {}, "created_by": self.owner, "date_created": iso(created, offset=False),
                "date_updated": iso(updated, offset=False),
                "events": [{"action": a, "object_type": o} for o, a in events],
                "health_status": "healthy", "id": self._id("whsub_", "whsub", i), "latest_error": None,
                "pause_reason": "api" if i else None, "recent_consecutive_fail_buckets_cnt": 0,
                "signature_key": make_id("", self.cat.seed, "org:whkey", i, 64).lower(),
                "status": "paused" if i else "active", "updated_by": self.owner,
                "url": f"https://hooks.example.com/close/{i}", "verify_ssl": True,
            })
        return out


def check_list(name: str, params: dict[str, str], api_user_id: str) -> dict[str, str]:
    """The parameters a list request of this module is served with: required filters checked (400 as Close
    answers), send-as limited to the key's own user (allowing user by default), unpaged lists whole."""
    if name in UNPAGED:
        params = {**{k: v for k, v in params.items() if k != "_skip"}, "_limit": str(UNPAGED_LIMIT)}
    required = REQUIRED_FILTERS.get(name)
    if required is not None:
        given = [f for f in required if params.get(f)]
        if not given or (name == "comment" and len(given) > 1):
            need = "exactly one" if name == "comment" else "at least one"
            raise ApiError.message(400, f"You must provide {need} of these filters: {', '.join(required)}.")
    if name == "send_as":
        if not params.get("allowing_user_id") and not params.get("allowed_user_id"):
            params = {**params, "allowing_user_id": api_user_id}
        if api_user_id not in (params.get("allowing_user_id"), params.get("allowed_user_id")):
            raise ApiError.message(400, "allowing_user_id or allowed_user_id must be your own user ID.")
    return params


def shape_list(name: str, body: Record) -> Record:
    """Groups come without their members in a list (Close: "use individual group endpoint instead")."""
    if name == "group":
        body["data"] = [{k: v for k, v in r.items() if k != "members"} for r in body["data"]]
    return body
