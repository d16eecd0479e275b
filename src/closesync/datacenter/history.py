"""Run history rows: one per run, written as `running` when it starts and completed when it ends.

Writing the row first means a run that dies with its process still leaves a trace, which recovery turns
into a failed run with a reason.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from closesync.datacenter.models import Run, RunDay
from closesync.datacenter.run_filters import RunFilter
from closesync.datacenter.store import from_iso, to_iso

_SELECT = "SELECT r.*, d.name AS dataset_name FROM runs r JOIN datasets d ON d.id = r.dataset_id"


def to_run(row: sqlite3.Row) -> Run:
    return Run(
        id=row["id"],
        dataset_id=row["dataset_id"],
        dataset_name=row["dataset_name"],
        status=row["status"],
        trigger=row["trigger"],
        attempt=row["attempt"],
        started_at=from_iso(row["started_at"]),  # type: ignore[arg-type]
        finished_at=from_iso(row["finished_at"]),
        duration_s=row["duration_s"],
        rows=row["rows"],
        requests=row["requests"],
        throttle_waits=row["throttle_waits"],
        retries=row["retries"],
        error=row["error"],
        error_report=row["error_report"],
        http_status=row["http_status"],
        reports=json.loads(row["reports"] or "[]"),
        rows_written=row["rows_written"],
        full_refresh=bool(row["full_refresh"]),
        waiting=json.loads(row["waiting"]) if row["waiting"] else None,
    )


def start(
    conn: sqlite3.Connection,
    dataset_id: int,
    *,
    trigger: str,
    attempt: int,
    owner: str,
    started_at: datetime,
    full_refresh: bool = False,
) -> int:
    cur = conn.execute(
        """INSERT INTO runs (dataset_id, status, trigger, attempt, started_at, owner, full_refresh)
           VALUES (?, 'running', ?, ?, ?, ?, ?)""",
        (dataset_id, trigger, attempt, to_iso(started_at), owner, int(full_refresh)),
    )
    return int(cur.lastrowid)  # type: ignore[arg-type]


def full_refresh_unfinished(conn: sqlite3.Connection, dataset_id: int) -> bool:
    """Whether the dataset's latest run was a full refresh that failed (or was interrupted): the runs the
    scheduler starts next (its retry, or the run right after an interruption) are full refreshes too."""
    row = conn.execute(
        "SELECT status, full_refresh FROM runs WHERE dataset_id = ? ORDER BY id DESC LIMIT 1", (dataset_id,)
    ).fetchone()
    return row is not None and row["status"] == "failed" and bool(row["full_refresh"])


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended: what `finish` writes to its history row.

    A count left None keeps what the progress beats recorded (a run that failed half way, or was
    interrupted, still shows the rows and requests it got to). `rows` are the rows read; `rows_written`
    those published to the table, which for a failed run is none (tables are published all at once).
    """

    status: str  # "success" or "failed"
    error: str | None = None
    error_report: str | None = None
    http_status: int | None = None
    rows: int | None = None
    requests: int | None = None
    throttle_waits: int | None = None
    retries: int | None = None
    reports: list[dict[str, Any]] = field(default_factory=list)
    rows_written: int = 0


_FINISH = """UPDATE runs SET status = ?, finished_at = ?, duration_s = ?, error = ?, error_report = ?,
                 http_status = ?, reports = ?, rows = COALESCE(?, rows), requests = COALESCE(?, requests),
                 throttle_waits = COALESCE(?, throttle_waits), retries = COALESCE(?, retries),
                 rows_written = ?, waiting = NULL
             WHERE id = ?"""


def finish(
    conn: sqlite3.Connection, run_id: int, outcome: RunOutcome, *, finished_at: datetime, duration_s: float
) -> None:
    """Complete a run row with its outcome."""
    conn.execute(
        _FINISH,
        (
            outcome.status, to_iso(finished_at), duration_s, outcome.error, outcome.error_report,
            outcome.http_status, json.dumps(outcome.reports, default=str), outcome.rows, outcome.requests,
            outcome.throttle_waits, outcome.retries, outcome.rows_written, run_id,
        ),
    )


PROGRESS_COLUMNS = ("rows", "requests", "throttle_waits", "retries")


def progress(conn: sqlite3.Connection, run_id: int, counts: dict[str, Any]) -> None:
    """Record a running run's counts so far and the wait it is in (`counts["wait"]`, if any); a finished
    run's row is never touched again."""
    values = [int(counts.get(c, 0)) for c in PROGRESS_COLUMNS]
    wait = counts.get("wait")
    sets = ", ".join(f"{c} = ?" for c in PROGRESS_COLUMNS)
    conn.execute(
        f"UPDATE runs SET {sets}, waiting = ? WHERE id = ? AND status = 'running'",
        (*values, json.dumps(wait) if wait else None, run_id),
    )


def get(conn: sqlite3.Connection, run_id: int) -> Run | None:
    row = conn.execute(f"{_SELECT} WHERE r.id = ?", (run_id,)).fetchone()
    return to_run(row) if row else None


def search(conn: sqlite3.Connection, runs: RunFilter, limit: int = 50, offset: int = 0) -> list[Run]:
    """The runs `runs` selects, newest first (run ids grow with start time), one page of them."""
    where, params = runs.where()
    rows = conn.execute(f"{_SELECT}{where} ORDER BY r.id DESC LIMIT ? OFFSET ?", (*params, limit, offset))
    return [to_run(r) for r in rows]


def for_dataset(conn: sqlite3.Connection, dataset_id: int, limit: int = 50) -> list[Run]:
    return search(conn, RunFilter(dataset_id=dataset_id), limit)


def per_day(conn: sqlite3.Connection, runs: RunFilter) -> list[RunDay]:
    """How many of the selected runs started on each UTC day, by status (times are stored as UTC text)."""
    where, params = runs.where()
    rows = conn.execute(
        f"SELECT substr(r.started_at, 1, 10) AS day, r.status, COUNT(*) AS runs FROM runs r{where}"
        " GROUP BY day, r.status ORDER BY day, r.status",
        params,
    )
    return [RunDay(date.fromisoformat(r["day"]), r["status"], r["runs"]) for r in rows]


def latest(conn: sqlite3.Connection) -> dict[int, Run]:
    """The newest run of every dataset, for lists."""
    rows = conn.execute(
        f"{_SELECT} WHERE r.id IN (SELECT MAX(id) FROM runs GROUP BY dataset_id)"
    ).fetchall()
    return {r["dataset_id"]: to_run(r) for r in rows}
