"""Where every generated record sits: how many of each kind, which lead owns it, and when it was created.

Creation times are monotonic in the index of each collection, so a `date_created` range is an index range
(found by bisect) and newest-first paging is a reversed slice: deep pages cost the same as the first one and
memory stays flat however large the account is.
"""

from __future__ import annotations

import hashlib
from array import array
from bisect import bisect_right
from itertools import accumulate

from closesync.sandbox.timefmt import DAY_MS

# Share of each activity endpoint in the activity volume (sums to 100).
ACTIVITY_MIX: dict[str, int] = {
    "activity/call": 30, "activity/email": 30, "activity/emailthread": 10, "activity/note": 15,
    "activity/status_change/lead": 5, "activity/status_change/opportunity": 5, "activity/custom": 5,
}
MAX_CHILDREN = 4  # per lead and kind; children are spread inside the first half of the gap to the next lead


_MASK = (1 << 64) - 1


def mix64(x: int) -> int:
    """splitmix64's finaliser: a fast, well-spread 64-bit hash of an int (stable everywhere)."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def stream_key(seed: int, kind: str) -> int:
    """A 64-bit key per (seed, kind) so every collection gets its own hash stream."""
    return int.from_bytes(hashlib.blake2b(f"{seed}:{kind}".encode(), digest_size=8).digest(), "little")


class Layout:
    """Counts, parent links and creation times for the lead-scaled collections."""

    def __init__(self, seed: int, leads: int, start_ms: int, end_ms: int, activities_per_lead: float,
                 activity_mix: dict[str, int] | None = None) -> None:
        self.seed, self.leads, self.start_ms, self.end_ms = seed, leads, start_ms, end_ms
        self.lead_step = (end_ms - start_ms) / max(leads, 1)
        contacts, opps, tasks = array("q"), array("q"), array("q")
        for i in range(leads):
            b = hashlib.blake2b(f"shape:{seed}:{i}".encode(), digest_size=4).digest()
            contacts.append(1 + (b[0] % 10 > 4) + (b[0] % 10 > 7))      # 1..3, mostly 1-2
            opps.append((b[1] % 10 > 3) + (b[1] % 10 > 7))             # 0..2
            tasks.append(min(b[2] % 5, MAX_CHILDREN - 1))              # 0..3
        self.contact_start = array("q", accumulate(contacts, initial=0))
        self.opp_start = array("q", accumulate(opps, initial=0))
        self.task_start = array("q", accumulate(tasks, initial=0))
        self._keys: dict[str, int] = {}
        mix = activity_mix or ACTIVITY_MIX
        total = sum(mix.values()) or 1
        self.activity_counts = {k: int(round(leads * activities_per_lead * v / total)) for k, v in mix.items()}
        # Activities start once the first lead exists.
        self.activity_start_ms = start_ms + int(self.lead_step)

    # -- counts & parents ----------------------------------------------------------------------------------
    def count(self, kind: str) -> int:
        if kind == "lead":
            return self.leads
        if kind == "contact":
            return self.contact_start[-1]
        if kind == "opportunity":
            return self.opp_start[-1]
        if kind == "task":
            return self.task_start[-1]
        return self.activity_counts.get(kind, 0)

    def starts(self, kind: str) -> array:
        return {"contact": self.contact_start, "opportunity": self.opp_start, "task": self.task_start}[kind]

    def parent(self, kind: str, g: int) -> tuple[int, int]:
        """(lead index, position within that lead) of child `g` of a child collection."""
        starts = self.starts(kind)
        lead = bisect_right(starts, g) - 1
        return lead, g - starts[lead]

    def children(self, kind: str, lead: int) -> range:
        starts = self.starts(kind)
        return range(starts[lead], starts[lead + 1])

    def leads_before(self, ms: int) -> int:
        """How many leads were created before `ms` (so an activity at `ms` may refer to any of them)."""
        return max(1, min(self.leads, int((ms - self.start_ms) / self.lead_step)))

    # -- times ---------------------------------------------------------------------------------------------
    def created(self, kind: str, i: int) -> tuple[int, bool]:
        """(creation time in epoch ms, rendered with microseconds?) for record `i` of `kind`.

        About one record in seven is rendered on a whole second without a fraction, as Close does for
        some objects; the instant is truncated too, so what a client reads is exactly what filters compare.
        """
        if i < 0:  # pooled look-alikes (negative indexes) borrow a real record's place in time
            i = (-1 - i) % max(self.count(kind), 1)
        key = self._keys.get(kind)
        if key is None:
            key = self._keys[kind] = stream_key(self.seed, kind)
        h = mix64(key ^ i)
        frac = (h & 0xFFFFFFFF) / 4294967296.0
        micros = (h >> 32) & 0xFF >= 36
        if kind == "lead":
            ms = self.start_ms + int((i + 0.5 * frac) * self.lead_step)
        elif kind in ("contact", "opportunity", "task"):
            lead, k = self.parent(kind, i)
            slot = 0.45 * self.lead_step / MAX_CHILDREN
            base = self.start_ms + int(lead * self.lead_step) + int(0.5 * self.lead_step)
            ms = base + int((k + 0.5 * frac) * slot) + {"contact": 0, "opportunity": 1, "task": 2}[kind]
        else:
            n = max(self.activity_counts.get(kind, 1), 1)
            step = (self.end_ms - self.activity_start_ms) / n
            ms = self.activity_start_ms + int((i + 0.5 * frac) * step)
        if not micros:
            ms -= ms % 1000
        return ms, micros

    def updated_after(self, kind: str, i: int, created: int) -> int:
        """A plausible `date_updated`: often a little after creation, sometimes much later, never past the end."""
        key = self._keys.get(kind + ":u")
        if key is None:
            key = self._keys[kind + ":u"] = stream_key(self.seed, kind + ":u")
        h = mix64(key ^ i)
        r = h & 0xFF
        if r < 60:
            return created
        delta = (h >> 8) % (DAY_MS if r < 200 else 400 * DAY_MS)
        return min(created + delta, max(self.end_ms, created))
