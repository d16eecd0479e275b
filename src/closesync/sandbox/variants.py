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
from closesync.sandbox.vocab import ascii_slug

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

    def _hash(self, kind: str, j: int) -> bytes:
        key = self._keys.get(kind)
        if key is None:
            key = self._keys[kind] = stream_key(self.seed, "variant:" + kind)
        return (mix64(key ^ j) | mix64(key ^ ~j) << 64).to_bytes(16, "little")

    def lead_index(self, kind: str, j: int) -> int:
        """The lead activity `j` belongs to, without building it (fast `lead_id` filters)."""
        h = self._hash(kind, j)
        return int.from_bytes(h[1:5], "little") % self.lay.leads_before(self.lay.created(kind, j)[0])

    def user_id(self, kind: str, j: int) -> str | None:
        """The `user_id` of activity `j`, without building it."""
        return self._pool(kind)[self._hash(kind, j)[0]].get("user_id")

    def make(self, kind: str, j: int) -> Record:
        h = self._hash(kind, j)
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


class LeadFamilyFactory:
    """Fast leads, contacts, opportunities and tasks: pooled look-alikes specialised per index.

    Names, ids, parents, times and everything derived from them are the record's own; the remaining
    content (phones, custom field values, addresses, notes, ...) comes from one of `POOL` detailed builds.
    """

    def __init__(self, builders: Any) -> None:
        self.b, self.lay, self.seed = builders, builders.lay, builders.seed
        self._pools: dict[str, list[Record]] = {}
        self._keys = {k: stream_key(self.seed, "family:" + k) for k in ("lead", "contact", "opportunity", "task")}
        self._local: dict[str, str] = {}

    def _pool(self, kind: str) -> list[Record]:
        pool = self._pools.get(kind)
        if pool is None:
            b = self.b
            if kind == "lead":
                pool = [b.lead_detailed(-1 - v, with_children=False) for v in range(POOL)]
            elif kind == "contact":
                pool = [b.contact_detailed(-1 - v) for v in range(POOL)]
            elif kind == "opportunity":
                pool = [b.opportunity_detailed(-1 - v) for v in range(POOL)]
            else:  # one sub-pool per task type, so a task keeps the type its index was given
                ttype = kind.split(":", 1)[1]
                pool = [b.task_detailed(-1 - v, ttype) for v in range(POOL // 8)]
            self._pools[kind] = pool
        return pool

    def _times(self, kind: str, i: int) -> tuple[int, str, int, str]:
        lay = self.lay
        created, micros = lay.created(kind, i)
        updated = lay.updated_after(kind, i, created)
        return (created, iso(created, micros=micros), updated,
                iso(updated, micros=micros or updated != created, offset=(i % 29) != 7))

    def _local_part(self, name: str) -> str:
        first = name.split(" ", 1)[0]
        local = self._local.get(first)
        if local is None:
            local = self._local[first] = ascii_slug(first) or "contact"
        return local

    def contact(self, g: int) -> Record:
        h = mix64(self._keys["contact"] ^ g)
        rec = dict(self._pool("contact")[h & (POOL - 1)])
        lead, _ = self.lay.parent("contact", g)
        _, c_text, updated, u_text = self._times("contact", g)
        name = self.b.contact_name(g)
        local = self._local_part(name)
        rec.update(id=self.b.contact_id(g), lead_id=self.b.lead_id(lead), date_created=c_text, date_updated=u_text,
                   name=name, display_name=name)
        if rec["emails"]:
            rec["emails"] = [{**e, "email": f"{local}{g}@{e['email'].split('@', 1)[1]}"} for e in rec["emails"]]
        if rec["urls"]:
            rec["urls"] = [{"type": "url", "url": f"https://www.linkedin.com/in/{local}-{g}"}]
        return rec

    def opportunity(self, g: int) -> Record:
        h = mix64(self._keys["opportunity"] ^ g)
        rec = dict(self._pool("opportunity")[h & (POOL - 1)])
        lead, _ = self.lay.parent("opportunity", g)
        _, c_text, updated, u_text = self._times("opportunity", g)
        rec.update(id=make_id("oppo_", self.seed, "opportunity", g), lead_id=self.b.lead_id(lead),
                   lead_name=self.b.lead_name(lead), date_created=c_text, date_updated=u_text)
        if rec.get("date_won"):
            rec["date_won"] = iso(updated)[:10]
        if rec.get("date_lost"):
            rec["date_lost"] = iso(updated)
        start, stop = self.lay.contact_start[lead], self.lay.contact_start[lead + 1]
        if rec.get("contact_id") is not None or (h >> 8) & 0xFF < 100:
            if stop > start:
                c = start + (h >> 16) % (stop - start)
                rec["contact_id"], rec["contact_name"] = self.b.contact_id(c), self.b.contact_name(c)
            else:
                rec["contact_id"] = rec["contact_name"] = None
        return rec

    def task(self, g: int) -> Record:
        ttype = self.b.task_type(g)
        h = mix64(self._keys["task"] ^ g)
        pool = self._pool("task:" + ttype)
        rec = dict(pool[h % len(pool)])
        lead, _ = self.lay.parent("task", g)
        created, c_text, updated, u_text = self._times("task", g)
        rec.update(id=make_id("task_" if ttype == "lead" else "noti_", self.seed, "task", g),
                   date_created=c_text, date_updated=u_text)
        if rec.get("lead_id") is not None or ttype not in ("voicemail", "answered_detached_call"):
            rec["lead_id"], rec["lead_name"] = self.b.lead_id(lead), self.b.lead_name(lead)
            start, stop = self.lay.contact_start[lead], self.lay.contact_start[lead + 1]
            if rec.get("contact_id") is not None and stop > start:
                c = start + (h >> 8) % (stop - start)
                rec["contact_id"], rec["contact_name"] = self.b.contact_id(c), self.b.contact_name(c)
        if ttype == "lead":
            due = created + ((h >> 24) % 31) * DAY_MS
            due -= due % DAY_MS
            rec["date"] = iso(due)[:10] if len(rec["date"]) == 10 else iso(due)
        else:
            rec["date"] = c_text
        if updated == created:
            rec["updated_by"] = rec["updated_by_name"] = None
        return rec

    def lead(self, i: int) -> Record:
        h = mix64(self._keys["lead"] ^ i)
        rec = dict(self._pool("lead")[h & (POOL - 1)])
        _, c_text, _, u_text = self._times("lead", i)
        lead_id = self.b.lead_id(i)
        name = self.b.lead_name(i)
        lay = self.lay
        contacts = [self.contact(g) for g in range(lay.contact_start[i], lay.contact_start[i + 1])]
        tasks = []
        for g in range(lay.task_start[i], lay.task_start[i + 1]):
            if self.b.task_type(g) == "lead":
                task = self.task(g)
                if not task["is_complete"]:
                    tasks.append(task)
        rec.update(id=lead_id, name=name, display_name=name, html_url=f"https://app.close.com/lead/{lead_id}/",
                   date_created=c_text, date_updated=u_text, contacts=contacts,
                   contact_ids=[c["id"] for c in contacts], tasks=tasks,
                   opportunities=[self.opportunity(g) for g in range(lay.opp_start[i], lay.opp_start[i + 1])])
        if rec.get("url"):
            rec["url"] = f"https://www.{i}-example.com/"
        return rec
