"""DuckDB sink: one file, one table per report, loaded through Arrow in bulk.

How a writer loads (why it is shaped like this):
- Batches are registered as Arrow views and copied with ``INSERT … SELECT`` into a private staging table,
  all inside one transaction, so DuckDB writes the row groups straight to the file (no row-by-row path,
  no WAL copy) and memory stays flat however many rows arrive.
- Publishing is a second, short transaction: ``replace`` drops the target and renames staging into its
  place; ``append`` inserts from staging; ``upsert`` deletes target rows whose key (parent_key if given,
  else primary_key) appears in staging or among the covered keys (``cover()``, staged in a second private
  table ``_closesync_stage_<uuid>_keys``), then inserts. Delete + insert is used rather than
  ``INSERT OR REPLACE`` because the latter is orders of magnitude slower on nested columns.
  DuckDB's MVCC covers the catalog too, so a reader on another connection sees the old table or the new.
- A writer that fails or is aborted rolls back; one killed between the two transactions leaves a
  ``_closesync_stage_*`` table, dropped the next time the file is opened read-write.

Concurrency: DuckDB lets one process open a file read-write (or several read-only). Inside a process every
DuckDBSink on the same file shares one database instance (refcounted), and each writer and each read gets
its own cursor, so the pipeline's report threads, the CLI and the web preview cooperate. If another
process holds the file, opening raises :class:`SinkLockedError` naming that process.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa

from closesync.sinks.base import (
    JSON_META_KEY,
    JSON_META_VALUE,
    STATE_TABLE,
    Destination,
    LogicalType,
    Sink,
    SinkError,
    SinkLockedError,
    TableNotFoundError,
    TableWriter,
    logical_type,
    quote_ident,
)

STAGE_PREFIX = "_closesync_stage_"
#: DuckDB's own default (80% of RAM) lets its block cache grow with every table loaded; a sync needs far
#: less (joins and sorts spill to disk), so the instance is capped unless the user says otherwise. The cap is
#: what keeps a sync's memory flat as the account grows: at 512MB the cache of written blocks alone took a
#: 1M-activity load from ~410 MB (100k) to ~810 MB peak RSS; at 192MB it stays near 500 MB.
DEFAULT_MEMORY_LIMIT = "192MB"
#: Buffered rows/bytes before one INSERT: bigger statements amortise per-statement cost; the byte cap keeps
#: wide rows (emails with bodies) from holding hundreds of MB.
FLUSH_ROWS = 100_000
FLUSH_BYTES = 16 << 20
#: DuckDB keeps a transaction's rows in memory until a full row group (122,880 rows) can be written out;
#: for wide rows (email threads) that is gigabytes, so staging commits every this many bytes instead.
#: Staging is private, so intermediate commits change nothing readers can see.
STAGE_COMMIT_BYTES = 96 << 20

_SCALAR_DDL = {
    "timestamp": "TIMESTAMPTZ",
    "date": "DATE",
    "integer": "BIGINT",
    "float": "DOUBLE",
    "boolean": "BOOLEAN",
    "string": "VARCHAR",
    "json": "JSON",
    "binary": "BLOB",
}


def duckdb_type(lt: LogicalType) -> str:
    """DuckDB column type for a logical type (lists nest: ``VARCHAR[]``, ``TIMESTAMPTZ[]``)."""
    if lt.kind == "list":
        return duckdb_type(lt.item or LogicalType("string")) + "[]"
    return _SCALAR_DDL[lt.kind]


def _select_expr(field: pa.Field) -> str:
    """How a staged Arrow column is read: JSON structs/maps are serialised; everything else casts implicitly."""
    col = quote_ident(field.name)
    lt = logical_type(field)
    if lt.kind == "json" and not pa.types.is_string(field.type) and not pa.types.is_large_string(field.type):
        return f"to_json({col})"
    return col


def _check_case_collisions(schema: pa.Schema) -> None:
    """DuckDB identifiers are case-insensitive even when quoted, so "Name" and "name" cannot coexist."""
    seen: dict[str, str] = {}
    for name in schema.names:
        other = seen.setdefault(name.lower(), name)
        if other != name:
            raise SinkError(f"columns {other!r} and {name!r} differ only in case; DuckDB cannot hold both")


def _lock_message(path: str, exc: BaseException) -> str:
    text = str(exc)
    found = re.search(r"Conflicting lock is held in (.*?) \(PID (\d+)\)", text)
    holder = f" ({found.group(1)}, PID {found.group(2)})" if found else ""
    return (
        f"the DuckDB file {path} is in use by another process{holder}. DuckDB lets one process write a file "
        "at a time: stop the other closesync process (e.g. the Data Center server, or run the sync from it), "
        "or use a different file."
    )


class _Database:
    """One DuckDB instance per file per process, shared by every sink on it (refcounted)."""

    def __init__(self, path: str, read_only: bool, config: dict[str, Any]) -> None:
        self.path = path
        self.read_only = read_only
        self.refs = 0
        self.lock = threading.RLock()  # bookkeeping (state table, table-lock map)
        self._table_locks: dict[str, threading.Lock] = {}
        try:
            self.con = duckdb.connect(path, read_only=read_only, config=config)
        except duckdb.IOException as e:
            if "lock" in str(e).lower():
                raise SinkLockedError(_lock_message(path, e)) from None
            raise SinkError(f"cannot open DuckDB file {path}: {e}") from None
        except duckdb.Error as e:
            raise SinkError(f"cannot open DuckDB file {path}: {e}") from None
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


_DATABASES: dict[str, _Database] = {}
_DATABASES_LOCK = threading.Lock()


def _acquire(path: str, read_only: bool, config: dict[str, Any], wait: float) -> _Database:
    """The shared instance for ``path``; a writer waits up to ``wait`` s for in-process read-only users."""
    if path == ":memory:":
        db = _Database(path, read_only, config)
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
                db = _Database(key, read_only, config)
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


def _release(db: _Database) -> None:
    with _DATABASES_LOCK:
        db.refs -= 1
        if db.refs > 0:
            return
        if _DATABASES.get(db.path) is db:
            del _DATABASES[db.path]
    db.con.close()


class DuckDBSink(Sink):
    """Tables in one DuckDB file.

    ``read_only=True`` is for previews: it shares this process's read-write instance when there is one,
    and otherwise opens the file read-only (so another process may read it too). A read-write open waits
    up to ``wait`` seconds for this process's read-only users to close before raising SinkLockedError;
    ``memory_limit``/``threads`` are DuckDB settings for the instance; ``memory_limit`` defaults to
    ``$CLOSESYNC_DUCKDB_MEMORY_LIMIT``, else DEFAULT_MEMORY_LIMIT.
    """

    def __init__(
        self,
        path: str,
        *,
        read_only: bool = False,
        memory_limit: str | None = None,
        threads: int | None = None,
        wait: float = 10.0,
    ) -> None:
        super().__init__()
        self.path = path
        self.destination = Destination("duckdb", path)
        config: dict[str, Any] = {}
        config["memory_limit"] = (
            memory_limit or os.environ.get("CLOSESYNC_DUCKDB_MEMORY_LIMIT") or DEFAULT_MEMORY_LIMIT
        )
        if threads:
            config["threads"] = threads
        self._db = _acquire(path, read_only, config, wait)
        self._closed = False

    @property
    def read_only(self) -> bool:
        return self._db.read_only

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        if self._closed:
            raise SinkError("sink is closed")
        return self._db.cursor()

    # -- writing ---------------------------------------------------------------------------------
    def writer(
        self,
        table: str,
        schema: pa.Schema,
        method: str = "replace",
        primary_key: Sequence[str] | str | None = ("id",),
        parent_key: Sequence[str] | str | None = (),
    ) -> DuckDBTableWriter:
        if self._db.read_only:
            raise SinkError(f"DuckDB file {self.path} is open read-only")
        return DuckDBTableWriter(self, table, schema, method, primary_key, parent_key)

    # -- state -------------------------------------------------------------------------------------
    def read_state(self, key: str) -> dict[str, Any] | None:
        if not self.table_exists(STATE_TABLE):
            return None
        cur = self._cursor()
        try:
            row = cur.execute(
                f"SELECT value FROM {quote_ident(STATE_TABLE)} WHERE key = ? ORDER BY updated_at DESC LIMIT 1",
                [key],
            ).fetchone()
        finally:
            cur.close()
        return None if row is None or row[0] is None else json.loads(row[0])

    def write_state(self, key: str, value: dict[str, Any]) -> None:
        text = json.dumps(value, default=str)
        with self._db.lock:
            cur = self._cursor()
            try:
                cur.begin()
                cur.execute(f"DELETE FROM {quote_ident(STATE_TABLE)} WHERE key = ?", [key])
                cur.execute(
                    f"INSERT INTO {quote_ident(STATE_TABLE)} VALUES (?, ?, ?)", [key, text, datetime.now(UTC)]
                )
                cur.commit()
            except BaseException:
                cur.rollback()
                raise
            finally:
                cur.close()

    # -- reading -----------------------------------------------------------------------------------
    def _fetch(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        cur = self._cursor()
        try:
            return cur.execute(sql, params or []).fetchall()
        finally:
            cur.close()

    def _resolve(self, table: str) -> str:
        """The stored name of ``table`` (DuckDB matches names case-insensitively)."""
        rows = self._fetch(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = 'main' AND lower(table_name) = lower(?)",
            [table],
        )
        if not rows:
            raise TableNotFoundError(f"table {table!r} does not exist in {self.path}")
        return rows[0][0]

    def table_exists(self, table: str) -> bool:
        try:
            self._resolve(table)
        except TableNotFoundError:
            return False
        return True

    def tables(self) -> list[str]:
        rows = self._fetch(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = 'main' ORDER BY table_name"
        )
        return [r[0] for r in rows if r[0] != STATE_TABLE and not r[0].startswith(STAGE_PREFIX)]

    def columns(self, table: str) -> list[tuple[str, str]]:
        name = self._resolve(table)
        rows = self._fetch(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = current_database() "
            "AND schema_name = 'main' AND table_name = ? ORDER BY column_index",
            [name],
        )
        return [(r[0], r[1]) for r in rows]

    def _json_columns(self, table: str) -> set[str]:
        return {name for name, type_name in self.columns(table) if type_name == "JSON"}

    def preview(self, table: str, limit: int = 100) -> pa.Table:
        json_cols = self._json_columns(table)
        cur = self._cursor()
        try:
            result = cur.sql(f"SELECT * FROM {quote_ident(table)} LIMIT {int(limit)}").to_arrow_table()
        finally:
            cur.close()
        return result.cast(_flag_json(result.schema, json_cols))

    def iter_batches(self, table: str, batch_size: int = 65_536) -> Iterator[pa.RecordBatch]:
        json_cols = self._json_columns(table)
        cur = self._cursor()
        try:
            reader = cur.sql(f"SELECT * FROM {quote_ident(table)}").to_arrow_reader(batch_size)
            schema = _flag_json(reader.schema, json_cols)
            for batch in reader:
                yield pa.RecordBatch.from_arrays(batch.columns, schema=schema)
        finally:
            cur.close()

    def row_count(self, table: str) -> int:
        self._resolve(table)
        return int(self._fetch(f"SELECT count(*) FROM {quote_ident(table)}")[0][0])

    def drop(self, table: str) -> None:
        with self._db.table_lock(table):
            cur = self._cursor()
            try:
                cur.execute(f"DROP TABLE IF EXISTS {quote_ident(table)}")
            finally:
                cur.close()

    def checkpoint(self) -> None:
        """Fold the WAL into the file (useful before copying the file elsewhere)."""
        cur = self._cursor()
        try:
            cur.execute("CHECKPOINT")
        finally:
            cur.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            _release(self._db)


def _flag_json(schema: pa.Schema, json_cols: set[str]) -> pa.Schema:
    """Mark JSON columns the way shaping does, so a read-back schema matches what was written."""
    if not json_cols:
        return schema
    fields = [f.with_metadata({JSON_META_KEY: JSON_META_VALUE}) if f.name in json_cols else f for f in schema]
    return pa.schema(fields, metadata=schema.metadata)


class DuckDBTableWriter(TableWriter):
    """Stages into ``_closesync_stage_<uuid>`` on its own cursor, then publishes per method."""

    def __init__(
        self,
        sink: DuckDBSink,
        table: str,
        schema: pa.Schema,
        method: str,
        primary_key: Sequence[str] | str | None,
        parent_key: Sequence[str] | str | None,
    ) -> None:
        super().__init__(table, schema, method, primary_key, parent_key)
        _check_case_collisions(schema)
        self._sink = sink
        self._db = sink._db
        self._stage = STAGE_PREFIX + uuid.uuid4().hex
        self._keys_stage = self._stage + "_keys"
        self._pending_keys: list[pa.RecordBatch | pa.Table] = []
        self._keys_schema = (
            pa.schema([schema.field(k) for k in self.upsert_key]) if method == "upsert" else None
        )
        self._view = "_closesync_batch_" + uuid.uuid4().hex
        self._cur: duckdb.DuckDBPyConnection | None = None
        self._pending: list[pa.RecordBatch | pa.Table] = []
        self._pending_rows = 0
        self._pending_bytes = 0
        self._tx_bytes = 0
        self._in_stage_tx = False
        self._staged_committed = False
        self._executor: ThreadPoolExecutor | None = None
        self._inflight: Future[None] | None = None
        self._coldefs = [(f.name, duckdb_type(logical_type(f))) for f in schema]
        self._select = ", ".join(_select_expr(f) for f in schema)

    def _sql(self, sql: str, params: list[Any] | None = None) -> duckdb.DuckDBPyConnection:
        assert self._cur is not None
        return self._cur.execute(sql, params or [])

    def _open(self) -> None:
        self._cur = self._sink._cursor()
        try:
            self._cur.begin()
            self._in_stage_tx = True
            cols = ", ".join(f"{quote_ident(n)} {t}" for n, t in self._coldefs)
            self._sql(f"CREATE TABLE {quote_ident(self._stage)} ({cols})")
            if self._keys_schema is not None:
                keys = ", ".join(
                    f"{quote_ident(f.name)} {duckdb_type(logical_type(f))}" for f in self._keys_schema
                )
                self._sql(f"CREATE TABLE {quote_ident(self._keys_stage)} ({keys})")
        except duckdb.Error as e:
            self._abort()
            raise SinkError(f"cannot stage table {self.table!r}: {e}") from None

    def _write(self, batch: pa.RecordBatch | pa.Table) -> None:
        self._pending.append(batch)
        self._pending_rows += batch.num_rows
        self._pending_bytes += batch.nbytes
        if self._pending_rows >= FLUSH_ROWS or self._pending_bytes >= FLUSH_BYTES:
            self._flush()

    def _cover(self, keys: pa.RecordBatch | pa.Table) -> None:
        """Covered keys ride along with the next insert (same cursor, same writer thread)."""
        self._pending_keys.append(keys)
        self._pending_bytes += keys.nbytes
        if self._pending_bytes >= FLUSH_BYTES:
            self._flush()

    def _flush(self) -> None:
        """Hand the buffered batches to the insert thread (waiting for the previous insert first).

        The INSERT runs in DuckDB without the GIL, so the next batch is shaped while this one loads; at most
        one insert is in flight, so memory stays bounded.
        """
        if not self._pending and not self._pending_keys:
            return
        batches = [b for p in self._pending for b in (p.to_batches() if isinstance(p, pa.Table) else [p])]
        keys = [b for p in self._pending_keys for b in (p.to_batches() if isinstance(p, pa.Table) else [p])]
        self._pending, self._pending_keys = [], []
        self._pending_rows = self._pending_bytes = 0
        self._drain()
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="closesync-duckdb")
        self._inflight = self._executor.submit(self._insert, batches, keys)

    def _drain(self) -> None:
        """Wait for the in-flight insert; its error (if any) surfaces here."""
        inflight, self._inflight = self._inflight, None
        if inflight is not None:
            inflight.result()

    def _insert(self, batches: list[pa.RecordBatch], keys: list[pa.RecordBatch] | None = None) -> None:
        assert self._cur is not None
        if keys:
            assert self._keys_schema is not None
            self._cur.register(self._view, pa.RecordBatchReader.from_batches(self._keys_schema, keys))
            try:
                self._sql(
                    f"INSERT INTO {quote_ident(self._keys_stage)} SELECT * FROM {quote_ident(self._view)}"
                )
            except duckdb.Error as e:
                raise SinkError(f"staging covered keys for {self.table!r} failed: {e}") from None
            finally:
                with contextlib.suppress(duckdb.Error):
                    self._cur.unregister(self._view)
        if not batches:
            return
        # A reader, not the batches themselves: DuckDB keeps a registered Table/RecordBatch alive (zero-copy
        # strings) until the transaction commits, so memory would grow with the table; a reader is copied.
        self._cur.register(self._view, pa.RecordBatchReader.from_batches(self.schema, batches))
        try:
            self._sql(
                f"INSERT INTO {quote_ident(self._stage)} SELECT {self._select} FROM {quote_ident(self._view)}"
            )
        except duckdb.Error as e:
            raise SinkError(f"staging rows for {self.table!r} failed: {e}") from None
        finally:
            with contextlib.suppress(duckdb.Error):  # fails once the transaction is aborted; harmless
                self._cur.unregister(self._view)
        self._tx_bytes += sum(b.nbytes for b in batches)
        if self._tx_bytes >= STAGE_COMMIT_BYTES:
            self._cur.commit()  # from here on an abort must drop the staging table (see _abort)
            self._staged_committed = True
            self._cur.begin()
            self._tx_bytes = 0

    def _commit(self) -> int:
        assert self._cur is not None
        self._flush()
        self._drain()
        self._cur.commit()
        self._in_stage_tx = False
        with self._db.table_lock(self.table):
            try:
                self._cur.begin()
                rows = self._publish()
                self._cur.commit()
            except duckdb.Error as e:
                self._rollback_quietly()
                raise SinkError(f"publishing {self.table!r} ({self.method}) failed: {e}") from None
            except BaseException:
                self._rollback_quietly()
                raise
        self._close_cursor()
        return rows

    def _publish(self) -> int:
        """Runs inside the publish transaction; returns rows written."""
        stage = quote_ident(self._stage)
        target = quote_ident(self.table)
        existing = self._existing_columns()
        dedupe = self.method == "upsert" and self._has_duplicate_keys()
        keys_stage = quote_ident(self._keys_stage)
        if self._keys_schema is not None and (self.method != "upsert" or existing is None):
            self._sql(f"DROP TABLE {keys_stage}")  # nothing to delete from
        if self.method == "replace" or existing is None:
            if existing is not None:
                self._sql(f"DROP TABLE {target}")
            if dedupe:
                self._sql(f"CREATE TABLE {target} AS SELECT * FROM {stage} {self._dedupe_clause()}")
                self._sql(f"DROP TABLE {stage}")
                return int(self._sql(f"SELECT count(*) FROM {target}").fetchone()[0])  # type: ignore[index]
            self._sql(f"ALTER TABLE {stage} RENAME TO {target}")
            return self.staged_rows
        # append / upsert into an existing table: evolve the schema, then merge.
        for name, type_name in self._coldefs:
            if name.lower() not in existing:
                self._sql(f"ALTER TABLE {target} ADD COLUMN {quote_ident(name)} {type_name}")
        if self.method == "upsert":
            key = self.parent_key or self.primary_key
            keys = ", ".join(quote_ident(k) for k in key)
            cond = " AND ".join(f"{target}.{quote_ident(k)} = __closesync_keys.{quote_ident(k)}" for k in key)
            self._sql(
                f"DELETE FROM {target} USING (SELECT {keys} FROM {stage} UNION SELECT {keys} FROM {keys_stage})"
                f" AS __closesync_keys WHERE {cond}"
            )
            self._sql(f"DROP TABLE {keys_stage}")
        cols = ", ".join(quote_ident(n) for n, _ in self._coldefs)
        tail = self._dedupe_clause() if dedupe else ""
        count = self._sql(f"INSERT INTO {target} ({cols}) SELECT {cols} FROM {stage} {tail}").fetchone()
        self._sql(f"DROP TABLE {stage}")
        return int(count[0]) if count else self.staged_rows

    def _existing_columns(self) -> set[str] | None:
        rows = self._sql(
            "SELECT lower(column_name) FROM duckdb_columns() WHERE database_name = current_database() "
            "AND schema_name = 'main' AND lower(table_name) = lower(?)",
            [self.table],
        ).fetchall()
        return {r[0] for r in rows} if rows else None

    def _has_duplicate_keys(self) -> bool:
        """A source may repeat a record within one run; upsert keeps the last one."""
        keys = ", ".join(quote_ident(k) for k in self.primary_key)
        row = self._sql(
            f"SELECT count(*) FROM (SELECT {keys} FROM {quote_ident(self._stage)} GROUP BY ALL HAVING count(*) > 1)"
        ).fetchone()
        return bool(row and row[0])

    def _dedupe_clause(self) -> str:
        keys = ", ".join(quote_ident(k) for k in self.primary_key)
        return f"QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY rowid DESC) = 1"

    def _rollback_quietly(self) -> None:
        if self._cur is None:
            return
        with contextlib.suppress(duckdb.Error):
            self._cur.rollback()

    def _abort(self) -> None:
        """Roll back staging, or drop a committed staging table; the target is never touched."""
        if self._cur is None:
            return
        with contextlib.suppress(BaseException):  # the insert must finish before the rollback
            self._drain()
        self._rollback_quietly()
        if self._in_stage_tx and not self._staged_committed:
            self._in_stage_tx = False  # the staging table was never committed: rollback removed it
        else:
            self._in_stage_tx = False
            with contextlib.suppress(duckdb.Error):  # else dropped at next open
                self._sql(f"DROP TABLE IF EXISTS {quote_ident(self._stage)}")
                self._sql(f"DROP TABLE IF EXISTS {quote_ident(self._keys_stage)}")
        self._pending, self._pending_keys = [], []
        self._close_cursor()

    def _close_cursor(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        if self._cur is not None:
            with contextlib.suppress(duckdb.Error):
                self._cur.close()
            self._cur = None
