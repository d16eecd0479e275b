"""The per-dataset lease: at most one run of a dataset at a time, across threads and processes.

A lease row names its owner (`host:pid:token`) and expires unless renewed by a heartbeat. A lease is stale
when it expired, or when its owner was a process on this host that no longer lives (killed, crashed): a
SIGKILLed run is thus recovered at once, not after the expiry. The heartbeat also carries the run's live
progress to its history row, and renews the run's row in `account_leases` (`account_lease.py`). Leases use
the real clock, never the scheduler's injectable one, so a test that moves schedule time forward cannot break
a live lease.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from closesync.datacenter import history
from closesync.datacenter.progress import RunProgress
from closesync.datacenter.store import Store, from_iso, to_iso

LEASE_TTL_S = 60.0
PROGRESS_EVERY_S = 1.0  # a running run's counts reach its history row at most this often
HOST = socket.gethostname()


def new_owner() -> str:
    return f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:10]}"


def utcnow() -> datetime:
    return datetime.fromtimestamp(time.time(), UTC)


def pid_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (a killed child not yet reaped is dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return True


def owner_alive(owner: str) -> bool:
    """Whether the owner may still be running (only same-host processes can be checked directly)."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != HOST or not pid_text.isdigit():
        return True
    pid = int(pid_text)
    return pid == os.getpid() or pid_alive(pid)


def is_stale(row: sqlite3.Row, now: datetime | None = None) -> bool:
    expires = from_iso(row["expires_at"])
    now = now or utcnow()
    return (expires is not None and expires < now) or not owner_alive(row["owner"])


def stale_leases(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    now = utcnow()
    return [r for r in conn.execute("SELECT * FROM leases").fetchall() if is_stale(r, now)]


def current(conn: sqlite3.Connection, dataset_id: int) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM leases WHERE dataset_id = ?", (dataset_id,)).fetchone()


def acquire(conn: sqlite3.Connection, dataset_id: int, owner: str, run_id: int, ttl_s: float = LEASE_TTL_S) -> None:
    """Take the lease inside the caller's write transaction (the caller has checked it is free)."""
    now = utcnow()
    conn.execute(
        """INSERT INTO leases (dataset_id, run_id, owner, acquired_at, expires_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (dataset_id) DO UPDATE SET run_id = excluded.run_id, owner = excluded.owner,
               acquired_at = excluded.acquired_at, expires_at = excluded.expires_at""",
        (dataset_id, run_id, owner, to_iso(now), to_iso(now + timedelta(seconds=ttl_s))),
    )


def release(conn: sqlite3.Connection, dataset_id: int, run_id: int) -> None:
    conn.execute("DELETE FROM leases WHERE dataset_id = ? AND run_id = ?", (dataset_id, run_id))


class Heartbeat:
    """Renews one run's lease from a daemon thread while the run works, and writes its live progress.

    With `progress` (a RunProgress) it beats every `beat_s` (1 s) and, when the counts changed, writes them
    to the run's history row in the same short transaction that renews the lease; otherwise it only renews,
    every ttl/4. So progress costs at most one small write a second, and only while something happens.
    """

    def __init__(
        self,
        store: Store,
        dataset_id: int,
        run_id: int,
        ttl_s: float = LEASE_TTL_S,
        *,
        progress: RunProgress | None = None,
        beat_s: float = PROGRESS_EVERY_S,
    ) -> None:
        self.store, self.dataset_id, self.run_id, self.ttl_s = store, dataset_id, run_id, ttl_s
        self.progress = progress
        self.beat_s = min(beat_s, ttl_s / 4) if progress is not None else ttl_s / 4
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"lease-{dataset_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _counts(self) -> dict[str, Any] | None:
        """The progress to write; a failing snapshot must never stop the lease from being renewed."""
        if self.progress is None:
            return None
        try:
            return self.progress.snapshot()
        except Exception:
            return None

    def _loop(self) -> None:
        written: dict[str, Any] | None = None
        renew_at = time.monotonic() + self.ttl_s / 4
        while not self._stop.wait(self.beat_s):
            counts = self._counts()
            changed = counts is not None and counts != written
            if not changed and time.monotonic() < renew_at:
                continue
            try:
                with self.store.write() as conn:
                    if changed and counts is not None:
                        history.progress(conn, self.run_id, counts)
                    expires = to_iso(utcnow() + timedelta(seconds=self.ttl_s))
                    conn.execute(
                        "UPDATE leases SET expires_at = ? WHERE dataset_id = ? AND run_id = ?",
                        (expires, self.dataset_id, self.run_id),
                    )  # and the run's turn on its account (account_lease.py), if it holds or queues for one
                    conn.execute("UPDATE account_leases SET expires_at = ? WHERE run_id = ?", (expires, self.run_id))
            except sqlite3.Error:  # a busy store: the next beat tries again well before expiry
                continue
            written = counts if changed else written
            renew_at = time.monotonic() + self.ttl_s / 4
