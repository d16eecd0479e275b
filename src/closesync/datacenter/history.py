"""Run history rows: one per run, written as `running` when it starts and completed when it ends.

Writing the row first means a run that dies with its process still leaves a trace, which recovery turns
into a failed run with a reason.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

from closesync.datacenter.models import Run
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
    )


def start(
    conn: sqlite3.Connection, dataset_id: int, *, trigger: str, attempt: int, owner: str, started_at: datetime
) -> int:
    cur = conn.execute(
        "INSERT INTO runs (dataset_id, status, trigger, attempt, started_at, owner) VALUES (?, 'running', ?, ?, ?, ?)",
        (dataset_id, trigger, attempt, to_iso(started_at), owner),
    )
    return int(cur.lastrowid)  # type: ignore[arg-type]


def finish(conn: sqlite3.Connection, run_id: int, **values: Any) -> None:
    """Complete a run row; `values` are columns of runs (status, finished_at, rows, error, ...)."""
    if "finished_at" in values:
        values["finished_at"] = to_iso(values["finished_at"])
    if "reports" in values:
        values["reports"] = json.dumps(values["reports"], default=str)
    columns = ", ".join(f"{k} = ?" for k in values)
    conn.execute(f"UPDATE runs SET {columns} WHERE id = ?", (*values.values(), run_id))


PROGRESS_COLUMNS = ("rows", "requests", "throttle_waits", "retries")


def progress(conn: sqlite3.Connection, run_id: int, counts: dict[str, int]) -> None:
    """Record a running run's counts so far; a finished run's row is never touched again."""
    values = [int(counts.get(c, 0)) for c in PROGRESS_COLUMNS]
    sets = ", ".join(f"{c} = ?" for c in PROGRESS_COLUMNS)
    conn.execute(f"UPDATE runs SET {sets} WHERE id = ? AND status = 'running'", (*values, run_id))


def get(conn: sqlite3.Connection, run_id: int) -> Run | None:
    row = conn.execute(f"{_SELECT} WHERE r.id = ?", (run_id,)).fetchone()
    return to_run(row) if row else None


def for_dataset(conn: sqlite3.Connection, dataset_id: int, limit: int = 50) -> list[Run]:
    rows = conn.execute(f"{_SELECT} WHERE r.dataset_id = ? ORDER BY r.id DESC LIMIT ?", (dataset_id, limit))
    return [to_run(r) for r in rows]


def latest(conn: sqlite3.Connection) -> dict[int, Run]:
    """The newest run of every dataset, for lists."""
    rows = conn.execute(
        f"{_SELECT} WHERE r.id IN (SELECT MAX(id) FROM runs GROUP BY dataset_id)"
    ).fetchall()
    return {r["dataset_id"]: to_run(r) for r in rows}
