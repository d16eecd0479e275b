"""Request counters: each scoped client keeps its own, and every count also rolls up into its parent's.

The pipeline reports requests, retries and 429 waits per report, while the run total comes from the root
client, so a child's increment is applied to the whole chain under one lock per level.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any


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

    @property
    def throttle_waits(self) -> int:
        """Alias used by the run history: how many times a 429 made us wait."""
        return self.throttled

    def add(self, group: str, **deltas: float) -> None:
        """Add `deltas` (keys of GroupStats, or `errors`) here and in every ancestor."""
        node: ClientStats | None = self
        while node is not None:
            with node._lock:
                per_group = node.by_group.get(group)
                if per_group is None:
                    per_group = node.by_group[group] = GroupStats()
                for name, delta in deltas.items():
                    setattr(node, name, getattr(node, name) + delta)
                    if hasattr(per_group, name):
                        setattr(per_group, name, getattr(per_group, name) + delta)
            node = node.parent

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
