"""A running run's counts (rows, requests, throttle waits, retries) as they grow, and the wait going on now.

The pipeline calls the progress callback from its source threads each time a report's counts change (after
each loaded batch); the client's own stats add requests as they are sent, so a slow first page shows
activity too, and tell which rate-limit wait holds the run back right now. Before it reads, a run may wait
for its turn on its account (`account_lease.py`): `hold()` shows that wait the same way. The lease heartbeat reads
`snapshot()` and writes it to the run's history row at most once a second, which is what the web page and
`datasets history` show while the run goes on; `datasets run` in a terminal reads the same snapshot.
"""

from __future__ import annotations

import math
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from closesync.close.stats import ClientStats
    from closesync.pipeline import ReportResult

#: Waits shorter than this are not shown: they would flicker past before anyone could read them.
VISIBLE_WAIT_S = 1.0

COUNTS = ("rows", "requests", "throttle_waits", "retries")


class RunProgress:
    """Thread-safe totals over a run's reports; pass the instance as `closesync.pipeline.sync(progress=...)`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reports: dict[str, tuple[int, int, int, int]] = {}
        self._stats: ClientStats | None = None
        self._held: dict[str, Any] | None = None

    def hold(self, wait: dict[str, Any] | None) -> None:
        """Show a wait of the run itself (its account's turn, see `account_wait`); None when it ends."""
        with self._lock:
            self._held = wait

    def watch(self, stats: ClientStats) -> None:
        """Also count the client's requests live (`client.stats` includes every scoped child's)."""
        self._stats = stats

    def __call__(self, result: ReportResult) -> None:
        """The pipeline's progress callback: `result` is updated in place as the report runs."""
        counts = (result.rows, result.requests, result.throttle_waits, result.retries)
        with self._lock:
            self._reports[result.slug] = counts

    def snapshot(self) -> dict[str, Any]:
        """rows, requests, throttle_waits and retries so far (never going backwards within a run), and `wait`:
        the rate-limit wait holding the run back now (group, path, seconds, until, reason) or None."""
        with self._lock:
            totals = [sum(c[i] for c in self._reports.values()) for i in range(len(COUNTS))]
            wait = self._held
        stats = self._stats
        if stats is not None:
            live = (0, stats.requests, stats.throttled, stats.retries)
            totals = [max(t, v) for t, v in zip(totals, live, strict=True)]
            current = stats.current_wait(at_least=VISIBLE_WAIT_S)
            wait = current.as_dict() if current is not None else wait
        return {**dict(zip(COUNTS, totals, strict=True)), "wait": wait}


def account_wait(account: str, holders: int, elsewhere: int, since: datetime) -> dict[str, Any]:
    """The `wait` of a run queued for its turn on `account` (JSON-ready, like a rate-limit wait's)."""
    return {
        "reason": "account", "group": "account", "path": account, "account": account, "holders": holders,
        "elsewhere": elsewhere, "since": since.isoformat(timespec="seconds"),
    }


def destination_wait(since: datetime) -> dict[str, Any]:
    """The `wait` of a run held back by another process writing its DuckDB file (`destlock`)."""
    return {"reason": "destination", "group": "destination", "since": since.isoformat(timespec="seconds")}


def describe_wait(wait: dict[str, Any] | None, rows: int, now: datetime | None = None) -> str | None:
    """What a waiting run is doing, in the words the web page and `datasets run` both show, e.g. "Waiting
    12 s for Close's rate limit on activity/call (Close answered 429; until 10:31:50 UTC), 1,200 rows read
    so far." None when it is not waiting. The seconds count down to `until` (never below 1: a beat late)."""
    if not wait:
        return None
    if wait.get("reason") == "destination":
        since = datetime.fromisoformat(wait["since"])
        return (
            "Waiting for another closesync process (a sync or a models build) to finish writing the DuckDB "
            f"file (waiting since {since:%H:%M:%S} UTC)."
        )
    if wait.get("reason") == "account":
        since = datetime.fromisoformat(wait["since"])
        where = f", {wait['elsewhere']} of them or queued ahead in another closesync process" if wait["elsewhere"] else ""
        return (
            f"Waiting for a turn on account {wait['account']!r}: {wait['holders']} run(s) of it use its API key's "
            f"rate limit now{where} (waiting since {since:%H:%M:%S} UTC), {rows:,} rows read so far."
        )
    until = datetime.fromisoformat(wait["until"])
    left = math.ceil((until - (now or datetime.now(UTC))).total_seconds())
    why = "Close answered 429" if wait.get("reason") == "429" else "the key's budget is spent"
    return (
        f"Waiting {max(1, left)} s for Close's rate limit on {wait.get('path') or wait.get('group')} "
        f"({why}; until {until:%H:%M:%S} UTC), {rows:,} rows read so far."
    )
