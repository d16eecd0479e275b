"""The per-account lease: the runs of one account share its key's rate-limit budget across processes.

Inside one process, the runs of an account pace on one shared budget (`closesync.close.budget`). Processes
cannot see each other's budget, so two of them reading with one key would overspend it blind. A run thus
queues for a turn on its account before it reads: a turn is granted while fewer than `limit` runs of the
account hold one and every holder lives in this process (same host and pid), and no run of another process
queued earlier waits (first come, first served: one process never starves another). Rows name their owner
and expire like the dataset lease (`leases.py`: stale when expired or when their process died); the lease
heartbeat renews them with the dataset's.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import timedelta

from closesync.datacenter.leases import LEASE_TTL_S, is_stale, utcnow
from closesync.datacenter.store import to_iso

#: Runs of one account at a time, over every process sharing the home.
ACCOUNT_RUNS = 4


def process_of(owner: str) -> str:
    """`host:pid` of a lease owner (`host:pid:token`): runs of one process share one budget per key."""
    return owner.rsplit(":", 1)[0]


@dataclass(frozen=True)
class Turn:
    """The answer to a run asking for its account's turn: granted, or who it waits for."""

    granted: bool
    holders: int = 0  # runs of the account holding a turn now
    elsewhere: int = 0  # how many of them, or of the runs queued ahead, belong to another process


def ask(conn: sqlite3.Connection, account_id: int, run_id: int, owner: str, limit: int = ACCOUNT_RUNS) -> Turn:
    """Queue run `run_id` (once) and grant its turn when the rules allow; inside the caller's write tx."""
    now = utcnow()
    rows = conn.execute(
        "SELECT * FROM account_leases WHERE account_id = ? ORDER BY queued_at, run_id", (account_id,)
    ).fetchall()
    for row in rows:
        if is_stale(row, now):
            conn.execute("DELETE FROM account_leases WHERE run_id = ?", (row["run_id"],))
    rows = [r for r in rows if not is_stale(r, now)]
    expires = to_iso(now + timedelta(seconds=LEASE_TTL_S))
    mine = next((r for r in rows if r["run_id"] == run_id), None)
    if mine is None:
        conn.execute(
            "INSERT INTO account_leases (run_id, account_id, owner, queued_at, expires_at) VALUES (?, ?, ?, ?, ?)",
            (run_id, account_id, owner, to_iso(now), expires),
        )
    elif mine["holding"]:
        return Turn(True)
    here = process_of(owner)
    holders = [r for r in rows if r["holding"]]
    place = (mine["queued_at"], run_id) if mine is not None else None  # None: just queued, last
    ahead = [r for r in rows if not r["holding"] and r["run_id"] != run_id
             and (place is None or (r["queued_at"], r["run_id"]) < place)]
    elsewhere = [r for r in holders + ahead if process_of(r["owner"]) != here]
    if len(holders) < limit and not elsewhere:
        conn.execute(
            "UPDATE account_leases SET holding = 1, expires_at = ? WHERE run_id = ?", (expires, run_id)
        )
        return Turn(True, len(holders) + 1)
    return Turn(False, len(holders), len(elsewhere))


def release(conn: sqlite3.Connection, run_id: int) -> None:
    """The run is over (or gave up waiting): its turn, or its place in the queue, goes."""
    conn.execute("DELETE FROM account_leases WHERE run_id = ?", (run_id,))

