"""Counters the sandbox exposes at GET /_sandbox/stats, for tests and benchmarks to assert on."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class Stats:
    """Thread-safe request, throttle and fault counters."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.total = 0
            self.by_group: Counter[str] = Counter()
            self.by_status: Counter[int] = Counter()
            self.throttled = 0
            self.throttled_by_group: Counter[str] = Counter()
            self.early_retries = 0
            self.faults: Counter[str] = Counter()
            self.unauthorized = 0

    def request(self, group: str) -> None:
        with self._lock:
            self.total += 1
            self.by_group[group] += 1

    def status(self, status: int) -> None:
        with self._lock:
            self.by_status[status] += 1

    def throttle(self, group: str, early: bool) -> None:
        with self._lock:
            self.throttled += 1
            self.throttled_by_group[group] += 1
            if early:
                self.early_retries += 1

    def unauthenticated(self) -> None:
        with self._lock:
            self.unauthorized += 1

    def fault(self, kind: str) -> None:
        with self._lock:
            self.faults[kind] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": {"total": self.total, "by_group": dict(self.by_group),
                             "by_status": {str(k): v for k, v in sorted(self.by_status.items())}},
                "throttled": self.throttled, "throttled_by_group": dict(self.throttled_by_group),
                "early_retries": self.early_retries, "faults": dict(self.faults),
                "unauthorized": self.unauthorized,
            }
