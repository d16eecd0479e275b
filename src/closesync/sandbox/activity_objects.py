"""The activity types the classic 38 reports never read (SMS, meetings, WhatsApp messages, completed tasks,
"created", form submissions, lead merges) and call outcomes, served like Close's typed activity lists.

Built eagerly and small (a few per lead), apart from the seven classic kinds' generator, so adding them
changes no record any other collection serves. Shapes follow Close's API reference for each type.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from closesync.sandbox.rand import Draw, make_id
from closesync.sandbox.timefmt import DAY_MS, iso
from closesync.sandbox.vocab import NOTES, random_phone

Record = dict[str, Any]

#: collection -> (`_type`, records per lead); "created" is one per lead, at the lead's creation.
KINDS: dict[str, tuple[str, float]] = {
    "activity/sms": ("SMS", 2.0),
    "activity/meeting": ("Meeting", 1.0),
    "activity/whatsapp_message": ("WhatsAppMessage", 1.0),
    "activity/task_completed": ("TaskCompleted", 1.0),
    "activity/created": ("Created", 1.0),
    "activity/form_submission": ("FormSubmission", 0.5),
    "activity/lead_merge": ("LeadMerge", 0.25),
}
OUTCOMES = [("Interested", "custom", ["calls", "meetings"]), ("Not interested", "custom", ["calls"]),
            ("Left voicemail", "vm", ["calls"])]
FORMS = [("Contact us", "https://www.example.com/contact"), ("Request a demo", "https://www.example.com/demo")]


def outcome_id(seed: int, k: int) -> str:
    """Call activities refer to outcomes by these ids (`records.ActivityBuilders._call`)."""
    return make_id("outcome_", seed, "outcome", k, 22)


class ActivityObjects:
    """Records of the extra activity kinds and the outcomes, for one sandbox account."""

    def __init__(self, builders: Any, start_ms: int, end_ms: int) -> None:
        self.b, self.cat, self.lay = builders, builders.cat, builders.lay
        self.seed, self.start_ms, self.end_ms = builders.seed, start_ms, end_ms
        self.collections: dict[str, list[Record]] = {
            kind: [self._record(kind, type_name, j) for j in range(self._count(kind, per_lead))]
            for kind, (type_name, per_lead) in KINDS.items()
        }
        self.collections["outcome"] = [self._outcome(k, spec) for k, spec in enumerate(OUTCOMES)]

    def _count(self, kind: str, per_lead: float) -> int:
        return self.lay.leads if kind == "activity/created" else max(3, int(self.lay.leads * per_lead))

    def _record(self, kind: str, type_name: str, j: int) -> Record:
        d = Draw(self.seed, kind, j)
        if kind == "activity/created":
            lead, created = j, self.lay.created("lead", j)[0]
        else:
            span = self.end_ms - self.start_ms
            created = self.start_ms + d.below(span)
            lead = d.below(self.lay.leads_before(created))
        updated = created if d.chance(0.6) else created + d.below(30 * DAY_MS)
        contacts = self.lay.children("contact", lead)
        user = self.cat.user_for(d)
        name = self.cat.user_name(user)
        rec: Record = {
            "_type": type_name, "activity_at": iso(created),
            "contact_id": self.b.contact_id(d.pick(contacts)) if contacts and d.chance(0.8) else None,
            "created_by": user, "created_by_name": name, "date_created": iso(created), "date_updated": iso(updated),
            "id": make_id("acti_", self.seed, kind, j), "lead_id": self.b.lead_id(lead),
            "organization_id": self.cat.org_id, "updated_by": user if updated != created else None,
            "updated_by_name": name if updated != created else None, "user_id": user, "user_name": name,
            "users": [],
        }
        rec.update(self._fields[kind](self, d, created, lead, j))
        return rec

    def _sms(self, d: Draw, created: int, lead: int, j: int) -> Record:
        phone, fmt = random_phone(d)
        direction = d.pick(["outbound", "outbound", "inbound"])
        status = "inbox" if direction == "inbound" else d.weighted(["sent", "error", "scheduled"], [90, 5, 5])
        return {
            "attachments": [], "cost": str(d.between(1, 9)), "direction": direction,
            "date_scheduled": iso(created + DAY_MS) if status == "scheduled" else None,
            "date_sent": iso(created) if status == "sent" else None,
            "error_message": "Carrier rejected the message" if status == "error" else None,
            "local_country_iso": "US", "local_phone": self.cat.phone_numbers[0]["number"],
            "local_phone_formatted": "+1 650-282-2240", "remote_country_iso": "US", "remote_phone": phone,
            "remote_phone_formatted": fmt, "sequence_id": None, "sequence_name": None,
            "sequence_subscription_id": None, "source": "Close.io", "status": status,
            "template_id": None, "text": d.pick(NOTES),
        }

    def _meeting(self, d: Draw, created: int, lead: int, j: int) -> Record:
        starts = created + d.between(1, 14) * DAY_MS
        minutes = d.pick([15, 30, 45, 60])
        user = self.cat.user_for(d)
        return {
            "attendees": [{"email": f"guest{j}@example.com", "is_organizer": False, "name": None,
                           "status": d.pick(["yes", "no", "maybe", "noreply"]), "contact_id": None,
                           "user_id": None},
                          {"email": self.cat.users[0]["email"], "is_organizer": True, "status": "yes",
                           "name": self.cat.user_name(user), "contact_id": None, "user_id": user}],
            "conference_links": [{"url": f"https://meet.sandbox.invalid/{j}", "type": "google_meet"}],
            "duration": minutes * 60, "ends_at": iso(starts + minutes * 60_000), "integrations": [],
            "is_recurring": d.chance(0.2), "location": d.pick([None, "Zoom", "HQ, room 2"]),
            "note": d.pick(NOTES) if d.chance(0.4) else None,
            "provider_calendar_event_id": f"evt{j:06d}", "provider_calendar_ids": [self.cat.users[0]["email"]],
            "provider_calendar_type": d.pick(["google", "microsoft"]), "source": "calendar",
            "starts_at": iso(starts), "status": d.pick(["completed", "upcoming", "canceled"]),
            "title": f"Call with {self.b.lead_name(lead)}", "user_note_html": None,
        }

    def _whatsapp(self, d: Draw, created: int, lead: int, j: int) -> Record:
        phone, fmt = random_phone(d)
        text = d.pick(NOTES)
        return {
            "attachments": [], "direction": d.pick(["outgoing", "incoming"]),
            "external_whatsapp_message_id": f"wamid.{j:08d}", "integration_link": None,
            "integration_name": "WhatsApp Business", "local_phone": "+16502822240",
            "local_phone_formatted": "+1 650-282-2240", "message_html": f"<p>{text}</p>",
            "message_markdown": text, "remote_phone": phone, "remote_phone_formatted": fmt, "response_to_id": None,
            "sequence_id": None, "sequence_name": None, "sequence_subscription_id": None, "source": "whatsapp",
            "text": text,
        }

    def _task_completed(self, d: Draw, created: int, lead: int, j: int) -> Record:
        user = self.cat.user_for(d)
        return {"task_assigned_to": user, "task_assigned_to_name": self.cat.user_name(user),
                "task_id": make_id("task_", self.seed, "completed", j), "task_text": d.pick(NOTES)}

    def _created(self, d: Draw, created: int, lead: int, j: int) -> Record:
        source = d.pick(["ui", "api", "import"])
        return {"contact_id": None, "import_id": make_id("import_", self.seed, "import", j % 3, 22)
                if source == "import" else None, "source": source}

    def _form_submission(self, d: Draw, created: int, lead: int, j: int) -> Record:
        k = d.below(len(FORMS))
        name, url = FORMS[k]
        values = {"Email": f"visitor{j}@example.com", "Company": self.b.lead_name(lead), "Message": d.pick(NOTES)}
        return {
            "form_configuration_id": make_id("formconf_", self.seed, "formconf", k, 22),
            "form_id": make_id("form_", self.seed, "form", k, 22), "form_name": name,
            "ip_address": f"203.0.113.{d.below(255)}", "origin": "https://www.example.com",
            "source_url": f"{url}?utm_source=ads&n={j}", "source_url_normalized": url,
            "values": [{"name": key, "value": value} for key, value in values.items()],
            "values_by_name": values,
        }

    def _lead_merge(self, d: Draw, created: int, lead: int, j: int) -> Record:
        return {"destination_lead_id": self.b.lead_id(lead), "destination_lead_name": self.b.lead_name(lead),
                "source_lead_id": make_id("lead_", self.seed, "merged", j), "source_lead_name": f"Duplicate {j}"}

    _fields: dict[str, Callable[..., Record]] = {
        "activity/sms": _sms, "activity/meeting": _meeting, "activity/whatsapp_message": _whatsapp,
        "activity/task_completed": _task_completed, "activity/created": _created,
        "activity/form_submission": _form_submission, "activity/lead_merge": _lead_merge,
    }

    def _outcome(self, k: int, spec: tuple[str, str, list[str]]) -> Record:
        name, kind, applies_to = spec
        created = self.start_ms - (30 - k) * DAY_MS
        owner = self.cat.active_user_ids[0]
        return {"applies_to": applies_to, "created_by": owner, "date_created": iso(created),
                "date_updated": iso(created + k * DAY_MS), "description": f"{name} (set on calls)",
                "id": outcome_id(self.seed, k), "name": name, "organization_id": self.cat.org_id, "type": kind,
                "updated_by": owner}
