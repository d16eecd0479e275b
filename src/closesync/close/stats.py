"""Request counters: each scoped client keeps its own, and every count also rolls up into its parent's.

The pipeline reports requests, retries and 429 waits per report, while the run total comes from the root
client, so a child's increment is applied to the whole chain under one lock per level. The waits going on
right now (a 429 being waited out, a request held back by pacing) are kept the same way, so whoever watches
a run's root client can say "waiting 12 s for Close's rate limit on activity/call" while it happens.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

#: Why a request waits: Close refused it (429), or its group's budget is spent until the window resets.
WaitReason = Literal["429", "pacing"]


@dataclass(frozen=True)
class Wait:
    """A request held back for Close's rate limit: its endpoint group, for how long, until when."""

    group: str  # e.g. "GET activity/call"
    seconds: float  # how long the wait was announced to take
    until: float  # wall-clock time (time.time()) it ends
    reason: WaitReason

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the group, its path, the seconds and the end as an ISO time (UTC)."""
        return {
            "group": self.group,
            "path": self.group.partition(" ")[2],
            "seconds": round(self.seconds, 1),
            "until": datetime.fromtimestamp(self.until, UTC).isoformat(timespec="milliseconds"),
            "reason": self.reason,
        }


@dataclass
class GroupStats:
    """Counters of one endpoint group."""

    requests: int = 0
    retries: int = 0
    throttled: int = 0
    throttle_wait_seconds: float = 0.0
    pacing_wait_seconds: float = 0.0


@dataclass
class ClientStats:
    """Thread-safe counters of one client (and, through `parent`, of its ancestors).

    requests: HTTP requests sent (every attempt); retries: attempts repeated after a transport error,
    5xx or unreadable body; throttled: 429s received; throttle_wait_seconds: time spent waiting out
    429s; pacing_wait_seconds: time held back by the pacer before sending.
    """

    requests: int = 0
    retries: int = 0
    throttled: int = 0
    throttle_wait_seconds: float = 0.0
    pacing_wait_seconds: float = 0.0
    errors: int = 0
    by_group: dict[str, GroupStats] = field(default_factory=dict)
    parent: ClientStats | None = field(default=None, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _waits: dict[object, Wait] = field(default_factory=dict, repr=False, compare=False)

    @property
    def throttle_waits(self) -> int:
        """Alias used by the run history: how many times a 429 made us wait."""
        return self.throttled

    def add(self, group: str, **deltas: float) -> None:
        """Add `deltas` (keys of GroupStats, or `errors`) here and in every ancestor."""
        for node in self._chain():
            with node._lock:
                per_group = node.by_group.get(group)
                if per_group is None:
                    per_group = node.by_group[group] = GroupStats()
                for name, delta in deltas.items():
                    setattr(node, name, getattr(node, name) + delta)
                    if hasattr(per_group, name):
                        setattr(per_group, name, getattr(per_group, name) + delta)

    def _chain(self) -> Iterator[ClientStats]:
        node: ClientStats | None = self
        while node is not None:
            yield node
            node = node.parent

    @contextmanager
    def holding(self, group: str) -> Iterator[Callable[[float, WaitReason], None]]:
        """While a request of `group` may be held back: call the yielded `announce(seconds, reason)` when a
        wait of known length starts (again for a new one); the wait is shown here and in every ancestor until
        the block ends."""
        token = object()

        def announce(seconds: float, reason: WaitReason) -> None:
            wait = Wait(group, seconds, time.time() + seconds, reason)
            for node in self._chain():
                with node._lock:
                    shown = node._waits.get(token)
                    if shown is None or shown.reason != reason or abs(shown.until - wait.until) > 0.5:
                        node._waits[token] = wait  # a new wait; the same one woken early keeps its length

        try:
            yield announce
        finally:
            for node in self._chain():
                with node._lock:
                    node._waits.pop(token, None)

    def current_wait(self, at_least: float = 0.0) -> Wait | None:
        """The wait going on now that ends last (of those announced as `at_least` seconds long), or None."""
        with self._lock:
            waits = [w for w in self._waits.values() if w.seconds >= at_least]
        return max(waits, key=lambda w: w.until, default=None)

    def as_dict(self) -> dict[str, Any]:
        """A consistent JSON-ready snapshot."""
        with self._lock:
            return {
                "requests": self.requests,
                "retries": self.retries,
                "throttled": self.throttled,
                "throttle_wait_seconds": round(self.throttle_wait_seconds, 3),
                "pacing_wait_seconds": round(self.pacing_wait_seconds, 3),
                "errors": self.errors,
                "by_group": {
                    name: {
                        "requests": g.requests,
                        "retries": g.retries,
                        "throttled": g.throttled,
                        "throttle_wait_seconds": round(g.throttle_wait_seconds, 3),
                        "pacing_wait_seconds": round(g.pacing_wait_seconds, 3),
                    }
                    for name, g in sorted(self.by_group.items())
                },
            }
