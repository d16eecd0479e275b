"""A running run's counts (rows, requests, throttle waits, retries) as they grow.

The pipeline calls the progress callback from its source threads each time a report's counts change (after
each loaded batch); the client's own stats add requests as they are sent, so a slow first page shows
activity too. The lease heartbeat reads `snapshot()` and writes it to the run's history row at most once a
second, which is what the web page and `datasets history` show while the run goes on.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from closesync.close.stats import ClientStats
    from closesync.pipeline import ReportResult


class RunProgress:
    """Thread-safe totals over a run's reports; pass the instance as `closesync.pipeline.sync(progress=...)`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reports: dict[str, tuple[int, int, int, int]] = {}
        self._stats: ClientStats | None = None

    def watch(self, stats: ClientStats) -> None:
        """Also count the client's requests live (`client.stats` includes every scoped child's)."""
        self._stats = stats

    def __call__(self, result: ReportResult) -> None:
        """The pipeline's progress callback: `result` is updated in place as the report runs."""
        counts = (result.rows, result.requests, result.throttle_waits, result.retries)
        with self._lock:
            self._reports[result.slug] = counts

    def snapshot(self) -> dict[str, int]:
        """rows, requests, throttle_waits and retries so far (never going backwards within a run)."""
        with self._lock:
            totals = [sum(c[i] for c in self._reports.values()) for i in range(4)]
        stats = self._stats
        if stats is not None:
            live = (0, stats.requests, stats.throttled, stats.retries)
            totals = [max(t, v) for t, v in zip(totals, live, strict=True)]
        return dict(zip(("rows", "requests", "throttle_waits", "retries"), totals, strict=True))
