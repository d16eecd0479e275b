"""The SQLite metadata store: one file per home, WAL mode, one short connection per operation.

Short connections keep every call thread-safe and let several processes (CLI, scheduler, web app) share
the file; writes use BEGIN IMMEDIATE so a read-then-write (a lease claim) cannot interleave.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from closesync.datacenter.errors import NotFoundError
from closesync.datacenter.migrations import migrate
from closesync.private_files import create_private_file, make_private_dirs

DB_NAME = "closesync.sqlite"
BUSY_TIMEOUT_MS = 30_000


def to_iso(value: datetime | None) -> str | None:
    """Store times as fixed-width UTC ISO text so that text order is time order."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def from_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def row_by_name_or_id(conn: sqlite3.Connection, select: str, alias: str, what: str,
                      name_or_id: str | int) -> sqlite3.Row:
    """The row of `select` (aliased `alias`) by numeric id, else by name; NotFoundError naming `what`."""
    ref = str(name_or_id).strip()
    row = None
    if ref.isdigit():
        row = conn.execute(f"{select} WHERE {alias}.id = ?", (int(ref),)).fetchone()
    if row is None:
        row = conn.execute(f"{select} WHERE {alias}.name = ?", (ref,)).fetchone()
    if row is None:
        raise NotFoundError(f"No {what} named {ref!r}. See `closesync {what}s list`.")
    return row


class Store:
    """Opens connections to `<home>/closesync.sqlite`, migrating the schema once on first open."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.path = home / DB_NAME
        make_private_dirs(home)
        # It holds encrypted keys and account details: owner-only, like secret.key (SQLite gives its -wal
        # and -shm files the mode of the database file).
        create_private_file(self.path)
        with self.connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            migrate(conn, self.path)

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A connection in autocommit mode, for reads and for code that manages its own transaction."""
        conn = self._open()
        try:
            yield conn
        finally:
            conn.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction taken up front (BEGIN IMMEDIATE): all-or-nothing, serialised across processes."""
        conn = self._open()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()
