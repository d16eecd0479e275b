"""DuckDBSink: tables in one DuckDB file; state, reads and handing out writers."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa

from closesync.sinks.base import JSON_META_KEY, JSON_META_VALUE, STATE_TABLE, Sink, quote_ident
from closesync.sinks.destination import Destination
from closesync.sinks.duckdb.database import DEFAULT_MEMORY_LIMIT, STAGE_PREFIX, acquire, release
from closesync.sinks.duckdb.publish import DuckDBGroup, read_owner
from closesync.sinks.duckdb.writer import FLUSH_BYTES, STAGE_COMMIT_BYTES
from closesync.sinks.errors import SinkError, TableNotFoundError
from closesync.sinks.ownership import OWNERS_TABLE


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
        self._db = acquire(path, read_only, config, wait)
        self._closed = False
        self.flush_bytes: int | None = None  # the writers' defaults until limit_memory() says otherwise
        self.stage_commit_bytes: int | None = None

    @property
    def read_only(self) -> bool:
        return self._db.read_only

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        if self._closed:
            raise SinkError("sink is closed")
        return self._db.cursor()

    def limit_memory(self, cache_bytes: int, batch_bytes: int) -> None:
        """DuckDB's `memory_limit` (its block cache, shared by this file's users), the batches a writer
        buffers before an INSERT, and the staged bytes it commits at (a transaction's rows stay in memory)."""
        self._cursor().execute(f"SET GLOBAL memory_limit = '{int(cache_bytes)}B'")
        self.flush_bytes = min(FLUSH_BYTES, batch_bytes)
        self.stage_commit_bytes = min(STAGE_COMMIT_BYTES, cache_bytes // 4)

    # -- writing ---------------------------------------------------------------------------------
    def group(self) -> DuckDBGroup:
        if self._db.read_only:
            raise SinkError(f"DuckDB file {self.path} is open read-only")
        return DuckDBGroup(self)

    def table_owner(self, table: str) -> dict[str, Any] | None:
        if not self.table_exists(OWNERS_TABLE):
            return None
        cur = self._cursor()
        try:
            return read_owner(cur, table)
        finally:
            cur.close()

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
        hidden = (STATE_TABLE, OWNERS_TABLE)
        return [r[0] for r in rows if r[0] not in hidden and not r[0].startswith(STAGE_PREFIX)]

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
            release(self._db)


def _flag_json(schema: pa.Schema, json_cols: set[str]) -> pa.Schema:
    """Mark JSON columns the way shaping does, so a read-back schema matches what was written."""
    if not json_cols:
        return schema
    fields = [f.with_metadata({JSON_META_KEY: JSON_META_VALUE}) if f.name in json_cols else f for f in schema]
    return pa.schema(fields, metadata=schema.metadata)
