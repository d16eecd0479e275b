"""A running run's counts (rows, requests, throttle waits, retries) as they grow.

The pipeline calls the progress callback from its source threads each time a report's counts change (after
each loaded batch); the client's own stats add requests as they are sent, so a slow first page shows
activity too. The lease heartbeat reads `snapshot()` and writes it to the run's history row at most once a
second, which is what the web page and `datasets history` show while the run goes on.
"""

from __future__ import annotations

import threading
from typing import Any


class RunProgress:
    """Thread-safe totals over a run's reports; pass the instance as `closesync.pipeline.sync(progress=...)`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reports: dict[str, tuple[int, int, int, int]] = {}
        self._stats: Any = None

    def watch(self, client: Any) -> None:
        """Also count the client's requests live (its stats include every scoped child's)."""
        self._stats = getattr(client, "stats", None)

    def __call__(self, result: Any) -> None:
        """The pipeline's progress callback: `result` is a ReportResult updated in place."""
        counts = (int(result.rows), int(result.requests), int(result.throttle_waits), int(result.retries))
        with self._lock:
            self._reports[str(result.slug)] = counts

    def snapshot(self) -> dict[str, int]:
        """rows, requests, throttle_waits and retries so far (never going backwards within a run)."""
        with self._lock:
            totals = [sum(c[i] for c in self._reports.values()) for i in range(4)]
        stats = self._stats
        if stats is not None:
            live = (0, getattr(stats, "requests", 0), getattr(stats, "throttled", 0), getattr(stats, "retries", 0))
            totals = [max(t, int(v or 0)) for t, v in zip(totals, live, strict=True)]
        return dict(zip(("rows", "requests", "throttle_waits", "retries"), totals, strict=True))
