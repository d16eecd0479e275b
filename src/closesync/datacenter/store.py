"""The SQLite metadata store: one file per home, WAL mode, one short connection per operation.

Short connections keep every call thread-safe and let several processes (CLI, scheduler, web app) share
the file; writes use BEGIN IMMEDIATE so a read-then-write (a lease claim) cannot interleave.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from closesync.datacenter.errors import DataCenterError, NotFoundError
from closesync.datacenter.migrations import migrate
from closesync.private_files import create_private_file, make_private_dirs

DB_NAME = "closesync.sqlite"
BUSY_TIMEOUT_MS = 30_000
#: Free space below which a failed write is put down to a full disk.
LOW_SPACE_BYTES = 1 << 20


class StoreError(DataCenterError, sqlite3.OperationalError):
    """The metadata store cannot be opened, read or written: a read-only or full home, a broken file, a
    store busy for longer than the busy timeout. Still a ``sqlite3.OperationalError``, so code that waits
    out a busy store (the lease heartbeat) keeps catching it."""


#: What SQLite's and the OS's messages mean for a user, by a word of the message.
_CAUSES = (
    ("readonly", "the file or its folder is read-only"),
    ("full", "the disk is full"),
    ("no space", "the disk is full"),
    ("locked", "another process kept it locked too long; try again"),
    ("malformed", "the file is damaged; restore it from a backup"),
    ("not a database", "the file is not a closesync store"),
)


def store_error(path: Path, error: BaseException) -> StoreError:
    """A readable StoreError for an OS or SQLite error on the store at ``path``.

    SQLite often says only "unable to open database file" or "disk I/O error" when the folder is
    read-only or the disk full, so for those the folder itself is looked at."""
    detail = (error.strerror if isinstance(error, OSError) else None) or str(error)
    cause = next((why for word, why in _CAUSES if word in detail.lower()), None)
    cause = cause or _folder_trouble(path.parent)
    return StoreError(f"Cannot use the metadata store {path}: {f'{cause} ({detail})' if cause else detail}.")


def _folder_trouble(folder: Path) -> str | None:
    """What is wrong with the store's folder, if anything: read-only, or (almost) no space left."""
    try:
        if not os.access(folder, os.W_OK) and folder.is_dir():
            return f"the folder {folder} is read-only"
        usage = os.statvfs(folder)
    except OSError:
        return None
    return "the disk is full" if usage.f_bavail * usage.f_frsize < LOW_SPACE_BYTES else None


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
        try:
            make_private_dirs(home)
            # It holds encrypted keys and account details: owner-only, like secret.key (SQLite gives its
            # -wal and -shm files the mode of the database file).
            create_private_file(self.path)
        except OSError as error:
            raise store_error(self.path, error) from error
        with self.connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            migrate(conn, self.path)

    @contextmanager
    def _readable_errors(self) -> Iterator[None]:
        """Turn SQLite's failures (not a caller's IntegrityError) into a StoreError."""
        try:
            yield
        except StoreError:
            raise
        except sqlite3.OperationalError as error:
            raise store_error(self.path, error) from error
        except sqlite3.DatabaseError as error:
            if type(error) is not sqlite3.DatabaseError:  # integrity, programming: the caller's concern
                raise
            raise store_error(self.path, error) from error

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
        with self._readable_errors():
            conn = self._open()
            try:
                yield conn
            finally:
                conn.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction taken up front (BEGIN IMMEDIATE): all-or-nothing, serialised across processes."""
        with self._readable_errors():
            conn = self._open()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    with contextlib.suppress(sqlite3.Error):  # SQLite may have rolled back (disk full)
                        conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            finally:
                conn.close()
