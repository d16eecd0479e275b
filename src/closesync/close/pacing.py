"""Per-endpoint-group pacing: hold a request before the group's budget runs out, not after a 429.

Close limits each endpoint group per key and tells us where we stand on every answer (`RateLimit:
limit, remaining, reset`). One `Pacer` is shared by a client and all its `scoped()` children, so
threads reading different groups run at full speed side by side while threads on the same group share
that group's budget. The budget model, per group:

* `tokens` = the server's last `remaining`, minus requests we sent since, minus requests still in flight
  when the reading arrived (they may not have been counted yet) - the conservative view.
* Readings from the same window only ever lower `tokens` (answers can arrive out of order); a reading
  whose reset lies clearly later starts a new window.
* With no tokens left, requests wait until the window's reset (plus a small margin, so a request never
  reaches the server a hair before its window rolls over); then the budget refills to `limit` minus
  what is in flight.
* A 429 locks the group out until the server's wait has passed: every request of the group waits,
  not only the one that was refused.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from closesync.close.ratelimit import RateLimitInfo

# A reading whose reset is this much later than the current window's belongs to the next window.
_NEW_WINDOW_SLACK = 0.1


@dataclass
class _Group:
    limit: int | None = None
    tokens: int | None = None
    reset_at: float | None = None
    locked_until: float = 0.0
    in_flight: int = 0


class Pacer:
    """Shared, thread-safe budget keeper for every endpoint group of one API key."""

    def __init__(self, *, margin: float = 0.015, clock: Callable[[], float] = time.monotonic) -> None:
        self.margin = margin
        self._clock = clock
        self._cond = threading.Condition()
        self._groups: dict[str, _Group] = {}

    def _group(self, name: str) -> _Group:
        group = self._groups.get(name)
        if group is None:
            group = self._groups[name] = _Group()
        return group

    def acquire(self, name: str) -> float:
        """Block until a request to group `name` may be sent; return the seconds spent waiting."""
        started = self._clock()
        with self._cond:
            group = self._group(name)
            while True:
                now = self._clock()
                if group.locked_until > now:
                    self._cond.wait(group.locked_until - now)
                    continue
                if group.reset_at is not None and now >= group.reset_at:
                    group.tokens = None if group.limit is None else group.limit - group.in_flight
                    group.reset_at = None
                if group.tokens is None or group.tokens > 0:
                    break
                if group.reset_at is not None:
                    self._cond.wait(group.reset_at - now)
                elif group.in_flight > 0:
                    self._cond.wait(1.0)  # an answer in flight will tell us more
                else:
                    group.tokens = 1  # nothing will tell us more: let one request probe
                    break
            group.in_flight += 1
            if group.tokens is not None:
                group.tokens -= 1
        return self._clock() - started

    def release(self, name: str, info: RateLimitInfo | None) -> None:
        """Record that a request of group `name` finished, with the rate-limit reading of its answer."""
        with self._cond:
            group = self._group(name)
            group.in_flight = max(0, group.in_flight - 1)
            if info is not None and info.remaining is not None:
                if info.limit is not None:
                    group.limit = info.limit
                candidate = info.remaining - group.in_flight
                reset_at = None if info.reset is None else self._clock() + info.reset + self.margin
                if (
                    group.tokens is None
                    or group.reset_at is None
                    or (reset_at is not None and reset_at > group.reset_at + _NEW_WINDOW_SLACK)
                ):
                    group.tokens = candidate
                    group.reset_at = reset_at
                else:
                    group.tokens = min(group.tokens, candidate)
            self._cond.notify_all()

    def lockout(self, name: str, seconds: float) -> None:
        """A 429: nobody calls group `name` again until `seconds` (plus the margin) have passed."""
        with self._cond:
            group = self._group(name)
            until = self._clock() + max(0.0, seconds) + self.margin
            group.locked_until = max(group.locked_until, until)
            group.tokens = 0
            group.reset_at = max(group.reset_at or 0.0, group.locked_until)
            self._cond.notify_all()

    def snapshot(self) -> dict[str, dict[str, float | int | None]]:
        """The current budget view per group (for debugging and the demo)."""
        with self._cond:
            return {
                name: {"limit": g.limit, "tokens": g.tokens, "in_flight": g.in_flight}
                for name, g in self._groups.items()
            }
