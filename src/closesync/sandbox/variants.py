"""Fast activity generation: a pool of fully built look-alike records per kind, specialised per index.

Building an activity from scratch costs tens of microseconds; a million of them would take about a minute.
Instead each kind keeps `POOL` records built by the detailed builders, and record `j` is a shallow copy of
one of them with everything that identifies it (id, times, lead, contact, per-record nested values)
rewritten for `j`. Distinct records therefore never share a mutable value that varies between them; the
nested values they do share (attachments lists, body_text_quoted, ...) must be treated as read-only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from closesync.sandbox.layout import Layout, mix64, stream_key
from closesync.sandbox.rand import make_id
from closesync.sandbox.timefmt import DAY_MS, iso, rfc2822

Record = dict[str, Any]
POOL = 256


class ActivityFactory:
    """`make(kind, j)` -> the activity record `j` of `kind`, in a few microseconds."""

    def __init__(self, seed: int, layout: Layout, build_slow: Callable[[str, int], Record],
                 lead_id: Callable[[int], str], contact_id: Callable[[int], str]) -> None:
        self.seed, self.lay = seed, layout
        self._slow, self._lead_id, self._contact_id = build_slow, lead_id, contact_id
        self._pools: dict[str, list[Record]] = {}
        self._keys: dict[str, int] = {}
        self._fix = {
            "activity/call": self._fix_call, "activity/email": self._fix_email,
            "activity/emailthread": self._fix_thread, "activity/note": self._fix_note,
            "activity/status_change/opportunity": self._fix_opp_change, "activity/custom": self._fix_custom,
        }

    def _pool(self, kind: str) -> list[Record]:
        pool = self._pools.get(kind)
        if pool is None:
            # Synthetic indexes far past the real ones: the pool never duplicates a real record's id.
            pool = [self._slow(kind, -1 - v) for v in range(POOL)]
            self._pools[kind] = pool
        return pool

    def make(self, kind: str, j: int) -> Record:
        key = self._keys.get(kind)
        if key is None:
            key = self._keys[kind] = stream_key(self.seed, "variant:" + kind)
        h = (mix64(key ^ j) | mix64(key ^ ~j) << 64).to_bytes(16, "little")
        rec = dict(self._pool(kind)[h[0]])
        lay = self.lay
        created, micros = lay.created(kind, j)
        updated = lay.updated_after(kind, j, created)
        c_text = iso(created, micros=micros)
        lead = int.from_bytes(h[1:5], "little") % lay.leads_before(created)
        rec["id"] = make_id("acti_", self.seed, kind, j)
        rec["date_created"] = rec["activity_at"] = c_text
        rec["date_updated"] = iso(updated, micros=micros or updated != created, offset=(j % 29) != 7)
        rec["lead_id"] = self._lead_id(lead)
        if rec.get("contact_id") is not None:
            start, stop = lay.contact_start[lead], lay.contact_start[lead + 1]
            rec["contact_id"] = self._contact_id(start + h[5] % (stop - start)) if stop > start else None
        if updated == created:
            rec["updated_by"] = rec["updated_by_name"] = None
        elif rec.get("updated_by") is None:
            rec["updated_by"], rec["updated_by_name"] = rec.get("user_id"), rec.get("user_name")
        fix = self._fix.get(kind)
        if fix is not None:
            fix(rec, j, created, lead, h)
        return rec

    # -- per-kind values that depend on the record's own id and time ----------------------------------------
    @staticmethod
    def _fix_call(rec: Record, j: int, created: int, lead: int, h: bytes) -> None:
        if rec.get("date_answered"):
            rec["date_answered"] = iso(created + 3000)
        if rec.get("voicemail_url"):
            rec["voicemail_url"] = f"https://sandbox-media.invalid/vm/{j}.mp3"
        if rec.get("recording_url"):
            rec["recording_url"] = f"https://sandbox-media.invalid/rec/{j}.mp3"

    @staticmethod
    def _email_times(e: Record, key: int, created: int) -> None:
        message_id = f"<{key}.{created}@mail.sandbox.invalid>"
        e["message_ids"] = [message_id]
        e["envelope"] = {**e["envelope"], "date": rfc2822(created), "message_id": message_id}
        if e.get("date_sent"):
            e["date_sent"] = iso(created)
        if e.get("date_scheduled"):
            e["date_scheduled"] = iso(created + DAY_MS)
        if e.get("opens"):
            e["opens"] = [{**e["opens"][0], "opened_at": iso(created + 3_600_000)}]

    def _fix_email(self, rec: Record, j: int, created: int, lead: int, h: bytes) -> None:
        self._email_times(rec, j, created)
        rec["thread_id"] = rec["id"]

    def _fix_thread(self, rec: Record, j: int, created: int, lead: int, h: bytes) -> None:
        emails = []
        for k, email in enumerate(rec["emails"]):
            e = dict(email)
            at = created - k * 3_600_000
            self._email_times(e, j * 10 + k, at)
            e.update(activity_at=iso(at), date_created=iso(at), date_updated=iso(at + 5000),
                     id=make_id("acti_", self.seed, "threadmail", j * 10 + k), thread_id=rec["id"],
                     lead_id=rec["lead_id"], contact_id=rec["contact_id"])
            emails.append(e)
        rec["emails"] = emails

    @staticmethod
    def _fix_note(rec: Record, j: int, created: int, lead: int, h: bytes) -> None:
        if rec.get("pinned_at"):
            rec["pinned_at"] = iso(created + DAY_MS)

    def _fix_opp_change(self, rec: Record, j: int, created: int, lead: int, h: bytes) -> None:
        lay = self.lay
        start, stop = lay.opp_start[lead], lay.opp_start[lead + 1]
        if stop > start:
            g = start + h[6] % (stop - start)
        else:  # any opportunity that existed by then
            n = lay.opp_start[min(lead + 1, lay.leads)]
            g = int.from_bytes(h[6:10], "little") % n if n else None
        rec["opportunity_id"] = (make_id("oppo_", self.seed, "opportunity", g) if g is not None
                                 else make_id("oppo_", self.seed, "gone", j))
        if rec.get("opportunity_date_won"):
            rec["opportunity_date_won"] = iso(created - created % DAY_MS)

    @staticmethod
    def _fix_custom(rec: Record, j: int, created: int, lead: int, h: bytes) -> None:
        if rec.get("last_published_at"):
            rec["last_published_at"] = rec["date_created"]
        if rec.get("pinned_at"):
            rec["pinned_at"] = iso(created + DAY_MS)
