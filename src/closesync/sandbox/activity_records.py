"""Detailed builders for the seven activity kinds: every field drawn on its own.

They feed the pools `variants.ActivityFactory` specialises per index (the fast path), so they run a few
hundred times per kind, not once per record.
"""

from __future__ import annotations

from typing import Any

from closesync.sandbox.rand import Draw, make_id
from closesync.sandbox.timefmt import DAY_MS, iso, rfc2822
from closesync.sandbox.vocab import NOTES, SUBJECTS, money, random_phone

Record = dict[str, Any]


class ActivityBuilders:
    """Mixin for `records.Builders` (uses its catalog, layout, ids, names, stamps and custom values)."""

    cat: Any
    lay: Any
    seed: int
    org: str

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

    def _call(self, kind: str, j: int) -> Record:
        d = Draw(self.seed, kind, j)
        rec, created, _ = self._activity_base(kind, j, "Call", d)
        phone, fmt = random_phone(d)
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
                   opportunity_value_formatted=money(value, period), opportunity_value_period=period)
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
