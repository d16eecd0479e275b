"""One DuckDB instance per file per process, shared (refcounted) by every DuckDBSink on that file.

DuckDB lets one process open a file read-write (or several read-only), so the sinks of one process must
share an instance; another process holding the file makes opening raise SinkLockedError naming it.
"""

from __future__ import annotations

import os
import re
import threading
import time
from typing import Any

import duckdb

from closesync.private_files import make_private
from closesync.sinks.base import STATE_TABLE, quote_ident
from closesync.sinks.errors import SinkError, SinkLockedError
from closesync.sinks.ownership import OWNERS_TABLE

#: The ownership table (sinks.ownership), created when the file is opened read-write.
OWNERS_DDL = (
    f"CREATE TABLE IF NOT EXISTS {quote_ident(OWNERS_TABLE)} (table_name VARCHAR, owner VARCHAR, "
    "owner_label VARCHAR, report VARCHAR, parameters VARCHAR, updated_at TIMESTAMPTZ)"
)

STAGE_PREFIX = "_closesync_stage_"
#: DuckDB's own default (80% of RAM) lets its block cache grow with every table loaded; a sync needs far
#: less (joins and sorts spill to disk), so the instance is capped unless the user says otherwise. The cap is
#: what keeps a sync's memory flat as the account grows: at 512MB the cache of written blocks alone took a
#: 1M-activity load from ~410 MB (100k) to ~810 MB peak RSS; at 192MB it stays near 500 MB.
DEFAULT_MEMORY_LIMIT = "192MB"


def _lock_message(path: str, exc: BaseException) -> str:
    text = str(exc)
    found = re.search(r"Conflicting lock is held in (.*?) \(PID (\d+)\)", text)
    holder = f" ({found.group(1)}, PID {found.group(2)})" if found else ""
    return (
        f"the DuckDB file {path} is in use by another process{holder}. DuckDB lets one process write a file "
        "at a time: stop the other closesync process (e.g. the Data Center server, or run the sync from it), "
        "or use a different file."
    )


class Database:
    """One DuckDB instance per file per process, shared by every sink on it (refcounted)."""

    def __init__(self, path: str, read_only: bool, config: dict[str, Any]) -> None:
        self.path = path
        self.read_only = read_only
        self.refs = 0
        self.lock = threading.RLock()  # bookkeeping (state table, table-lock map)
        self._table_locks: dict[str, threading.Lock] = {}
        created = not read_only and path != ":memory:" and not os.path.exists(path)
        try:
            self.con = duckdb.connect(path, read_only=read_only, config=config)
        except duckdb.IOException as e:
            if "lock" in str(e).lower():
                raise SinkLockedError(_lock_message(path, e)) from None
            raise SinkError(f"cannot open DuckDB file {path}: {e}") from None
        except duckdb.Error as e:
            raise SinkError(f"cannot open DuckDB file {path}: {e}") from None
        if created:  # CRM data: owner-only, like everything closesync creates (see closesync.private_files)
            make_private(path)
        self.con.execute("SET GLOBAL TimeZone = 'UTC'")
        # Flush each full row group of a bulk insert to disk instead of buffering five: flat memory.
        self.con.execute("SET GLOBAL write_buffer_row_group_count = 1")
        # Upserts and small tables go through the WAL; checkpointing at every 16 MB (the default) made a
        # 30k-row upsert into a 300k-row table take 3 s instead of 0.7 s. Close/exit still checkpoints.
        self.con.execute("SET GLOBAL checkpoint_threshold = '256MB'")
        if not read_only:
            self._prepare()

    def _prepare(self) -> None:
        """Create the state table and drop staging tables a killed writer left behind."""
        cur = self.con.cursor()
        try:
            cur.execute(
                f"CREATE TABLE IF NOT EXISTS {quote_ident(STATE_TABLE)} "
                "(key VARCHAR, value JSON, updated_at TIMESTAMPTZ)"
            )
            cur.execute(OWNERS_DDL)
            rows = cur.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
                "AND schema_name = 'main' AND starts_with(table_name, ?)",
                [STAGE_PREFIX],
            ).fetchall()
            for (name,) in rows:
                cur.execute(f"DROP TABLE IF EXISTS {quote_ident(name)}")
        finally:
            cur.close()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A new connection to this instance, for one thread's use."""
        return self.con.cursor()

    def table_lock(self, table: str) -> threading.Lock:
        """Serialises publishes to one table (DuckDB would otherwise raise write-write conflicts)."""
        with self.lock:
            return self._table_locks.setdefault(table.lower(), threading.Lock())


_DATABASES: dict[str, Database] = {}
_DATABASES_LOCK = threading.Lock()


def acquire(path: str, read_only: bool, config: dict[str, Any], wait: float) -> Database:
    """The shared instance for ``path``; a writer waits up to ``wait`` s for in-process read-only users."""
    if path == ":memory:":
        db = Database(path, read_only, config)
        db.refs = 1
        return db
    key = os.path.realpath(path)
    deadline = time.monotonic() + wait
    while True:
        with _DATABASES_LOCK:
            db = _DATABASES.get(key)
            if db is None:
                if not read_only:
                    parent = os.path.dirname(key)
                    if parent:
                        os.makedirs(parent, exist_ok=True)
                elif not os.path.exists(key):
                    raise SinkError(f"DuckDB file {path} does not exist")
                db = Database(key, read_only, config)
                db.refs = 1
                _DATABASES[key] = db
                return db
            if not (db.read_only and not read_only):
                db.refs += 1  # a reader shares a read-write instance; same mode shares too
                return db
        # Read-only users (e.g. a web preview) hold it: they close quickly, so wait rather than fail.
        if time.monotonic() >= deadline:
            raise SinkLockedError(
                f"the DuckDB file {path} is open read-only in this process; close those readers before writing"
            )
        time.sleep(0.05)


def release(db: Database) -> None:
    with _DATABASES_LOCK:
        db.refs -= 1
        if db.refs > 0:
            return
        if _DATABASES.get(db.path) is db:
            del _DATABASES[db.path]
    db.con.close()
