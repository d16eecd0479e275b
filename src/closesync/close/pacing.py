"""Per-endpoint-group pacing: hold a request before the group's budget runs out, not after a 429.

Close limits each endpoint group per key and tells us where we stand on every answer (`RateLimit:
limit, remaining, reset`). One `Pacer` is shared by a client and all its `scoped()` children, so
threads reading different groups run at full speed side by side while threads on the same group share
that group's budget. The budget model, per group and window:

* `used` = requests of this window: our own sends since the window began, raised to what the server
  says it counted (`limit - remaining`) when that is more (another process using the same key).
  A reading that shows a later window than ours starts a new one: `used` = what it counted plus
  everything we sent after that request (they may or may not be counted yet - assume they are).
* The window ends at the earliest of `answer time + reset` over its readings: each is a little late
  (the server computed `reset` before the answer travelled), so none is early; plus a small margin.
* With `used >= limit`, requests wait for the window's end; then `used` restarts from the requests
  still in flight, and answers to requests sent before that rollover are ignored (they describe the
  old window; counting them again would double-book or, worse, end the new window early). A 429 locks the whole group out until the server's wait has passed: every request of
  the group waits, not only the one that was refused.

A key's Pacer may `join` a parent (its organization's, `budget.py`): a request then also takes a turn in the
parent's budget, whose limit per group is the key's times a factor, counted from this process's own sends.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from closesync.close.ratelimit import RateLimitInfo
from closesync.close.stats import WaitReason

#: Told `(seconds, reason)` when a request starts a wait of known length ("429" or "pacing").
OnWait = Callable[[float, WaitReason], None]

# A reading whose window ends this much later than ours belongs to the next window; and at least half the
# window's length later: answers delayed unevenly (a loaded host) must not pass for a new window.
_NEW_WINDOW_SLACK = 0.1


@dataclass
class _Group:
    limit: int | None = None
    used: int = 0
    reset_at: float | None = None
    locked_until: float = 0.0
    in_flight: int = 0
    sent: int = 0  # sequence number of the last send
    rolled_at: int = 0  # `sent` when we last rolled the window over ourselves
    answered: bool = False  # any answer yet? Until then one request at a time: the budget is unknown
    window: float = 0.0  # the longest `reset` read: about the window's length


def _scaled(info: RateLimitInfo | None, factor: int) -> RateLimitInfo | None:
    """A key's reading as its organization's: `factor` times the limit, the same window, and only our own
    sends counted (the server's `remaining` is the key's, not the organization's)."""
    if info is None or info.limit is None or info.remaining is None:
        return None
    return RateLimitInfo(info.limit * factor, info.limit * factor, info.reset)


class Pacer:
    """Shared, thread-safe budget keeper for every endpoint group of one API key."""

    def __init__(self, *, margin: float = 0.01, clock: Callable[[], float] = time.monotonic) -> None:
        self.margin = margin
        self._clock = clock
        self._cond = threading.Condition()
        self._groups: dict[str, _Group] = {}
        self._parent: Pacer | None = None
        self._factor = 1
        self._parent_tickets: dict[tuple[str, int], int] = {}  # (group, our ticket) -> the parent's ticket

    def join(self, parent: Pacer, factor: int) -> None:
        """Also pace on `parent`, whose budget per group is `factor` times ours (an organization's)."""
        with self._cond:
            self._parent, self._factor = parent, factor

    def _group(self, name: str) -> _Group:
        group = self._groups.get(name)
        if group is None:
            group = self._groups[name] = _Group()
        return group

    def acquire(self, name: str, on_wait: OnWait | None = None) -> tuple[float, int]:
        """Block until a request to group `name` may be sent; return (seconds waited, send ticket).

        `on_wait(seconds, reason)` is told each time a wait of known length begins: a 429's lockout ("429")
        or a spent budget until its window resets ("pacing").
        """
        started = self._clock()
        with self._cond:
            group = self._group(name)
            while True:
                now = self._clock()
                if group.locked_until > now:
                    if on_wait is not None:
                        on_wait(group.locked_until - now, "429")
                    self._cond.wait(group.locked_until - now)
                    continue
                if group.reset_at is not None and now >= group.reset_at:
                    group.used = group.in_flight
                    group.reset_at = None
                    group.rolled_at = group.sent
                if not group.answered and group.in_flight > 0:
                    self._cond.wait(1.0)
                    continue
                if group.limit is None or group.used < group.limit:
                    break
                if group.reset_at is not None:
                    if on_wait is not None:
                        on_wait(group.reset_at - now, "pacing")
                    self._cond.wait(group.reset_at - now)
                elif group.in_flight > 0:
                    self._cond.wait(1.0)  # an answer in flight will tell us when the window ends
                else:
                    group.used = group.limit - 1  # nothing will tell us more: let one request probe
                    break
            group.in_flight += 1
            group.used += 1
            group.sent += 1
            ticket = group.sent
            parent = self._parent
        if parent is not None:
            parent_ticket = parent.acquire(name, on_wait)[1]
            with self._cond:
                self._parent_tickets[(name, ticket)] = parent_ticket
        return self._clock() - started, ticket

    def release(self, name: str, info: RateLimitInfo | None, ticket: int = 0) -> None:
        """Record that the request with `ticket` finished, with the rate-limit reading of its answer."""
        with self._cond:
            parent, factor = self._parent, self._factor
            parent_ticket = self._parent_tickets.pop((name, ticket), None)
        if parent is not None and parent_ticket is not None:
            parent.release(name, _scaled(info, factor), parent_ticket)
        with self._cond:
            group = self._group(name)
            group.in_flight = max(0, group.in_flight - 1)
            group.answered = True
            stale = ticket <= group.rolled_at and ticket != 0  # sent before our rollover: old window
            if info is not None and info.remaining is not None and info.limit is not None and not stale:
                group.limit = info.limit
                counted = info.limit - info.remaining
                ends = None if info.reset is None else self._clock() + info.reset + self.margin
                group.window = max(group.window, info.reset or 0.0)
                if ends is None:
                    group.used = max(group.used, counted)
                elif group.reset_at is None:
                    group.reset_at = ends
                    group.used = max(group.used, counted)
                elif ends > group.reset_at + max(_NEW_WINDOW_SLACK, group.window / 2):
                    group.reset_at = ends
                    group.used = counted + max(0, group.sent - ticket)
                elif ends >= group.reset_at - _NEW_WINDOW_SLACK:
                    group.reset_at = min(group.reset_at, ends)
                    group.used = max(group.used, counted)
                # else: a late answer from an earlier window - nothing to learn
            self._cond.notify_all()

    def lockout(self, name: str, seconds: float) -> None:
        """A 429: nobody calls group `name` again until `seconds` (plus the margin) have passed."""
        with self._cond:
            group = self._group(name)
            until = self._clock() + max(0.0, seconds) + self.margin
            group.locked_until = max(group.locked_until, until)
            group.reset_at = max(group.reset_at or 0.0, group.locked_until)
            if group.limit is not None:
                group.used = max(group.used, group.limit)
            self._cond.notify_all()

    def snapshot(self) -> dict[str, dict[str, float | int | None]]:
        """The current budget view per group (for debugging and the demo)."""
        with self._cond:
            return {
                name: {"limit": g.limit, "used": g.used, "in_flight": g.in_flight}
                for name, g in self._groups.items()
            }
