"""DuckDBTableWriter: stages a load in a private table on its own cursor, then publishes it per method."""

from __future__ import annotations

import contextlib
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from closesync.sinks.base import LogicalType, PublishGroup, TableWriter, logical_type, quote_ident
from closesync.sinks.duckdb.database import STAGE_PREFIX
from closesync.sinks.errors import SinkError
from closesync.sinks.writespec import WriteSpec

if TYPE_CHECKING:
    from closesync.sinks.duckdb.sink import DuckDBSink

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


class DuckDBTableWriter(TableWriter):
    """Stages into ``_closesync_stage_<uuid>`` on its own cursor; its group publishes it per method."""

    def __init__(self, group: PublishGroup, sink: DuckDBSink, spec: WriteSpec) -> None:
        super().__init__(group, spec)
        schema = spec.schema
        _check_case_collisions(schema)
        self._sink = sink
        self._db = sink._db
        self._stage = STAGE_PREFIX + uuid.uuid4().hex
        self._keys_stage = self._stage + "_keys"
        self._pending_keys: list[pa.RecordBatch | pa.Table] = []
        self._keys_schema = (
            pa.schema([schema.field(k) for k in self.upsert_key]) if spec.method == "upsert" else None
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
        if self._pending_rows >= FLUSH_ROWS or self._pending_bytes >= (self._sink.flush_bytes or FLUSH_BYTES):
            self._flush()

    def _cover(self, keys: pa.RecordBatch | pa.Table) -> None:
        """Covered keys ride along with the next insert (same cursor, same writer thread)."""
        self._pending_keys.append(keys)
        self._pending_bytes += keys.nbytes
        if self._pending_bytes >= (self._sink.flush_bytes or FLUSH_BYTES):
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
        if keys:
            assert self._keys_schema is not None
            self._stage_batches(self._keys_stage, "*", self._keys_schema, keys, "covered keys")
        if not batches:
            return
        self._stage_batches(self._stage, self._select, self.schema, batches, "rows")
        assert self._cur is not None
        self._tx_bytes += sum(b.nbytes for b in batches)
        if self._tx_bytes >= min(STAGE_COMMIT_BYTES, self._sink.stage_commit_bytes or STAGE_COMMIT_BYTES):
            self._cur.commit()  # from here on an abort must drop the staging table (see _abort)
            self._staged_committed = True
            self._cur.begin()
            self._tx_bytes = 0

    def _stage_batches(
        self, stage: str, select: str, schema: pa.Schema, batches: list[pa.RecordBatch], what: str
    ) -> None:
        """INSERT the batches into a staging table through a registered view.

        A reader, not the batches themselves: DuckDB keeps a registered Table/RecordBatch alive (zero-copy
        strings) until the transaction commits, so memory would grow with the table; a reader is copied.
        """
        assert self._cur is not None
        self._cur.register(self._view, pa.RecordBatchReader.from_batches(schema, batches))
        try:
            self._sql(f"INSERT INTO {quote_ident(stage)} SELECT {select} FROM {quote_ident(self._view)}")
        except duckdb.Error as e:
            raise SinkError(f"staging {what} for {self.table!r} failed: {e}") from None
        finally:
            with contextlib.suppress(duckdb.Error):  # fails once the transaction is aborted; harmless
                self._cur.unregister(self._view)

    def _prepare(self) -> None:
        """Finish staging and commit it, so the group's publish transaction (another cursor) sees it."""
        assert self._cur is not None
        self._flush()
        self._drain()
        self._cur.commit()
        self._in_stage_tx = False
        self._staged_committed = True

    def _publish(self, cur: duckdb.DuckDBPyConnection) -> int:
        """Runs inside the group's publish transaction on ``cur``; returns rows written."""

        def run(query: str, params: list[Any] | None = None) -> duckdb.DuckDBPyConnection:
            return cur.execute(query, params or [])

        stage = quote_ident(self._stage)
        target = quote_ident(self.table)
        existing = self._existing_columns(run)
        merge = self.method == "upsert"
        dedupe_key = self.primary_key if merge else self.spec.version_key
        dedupe = bool(dedupe_key) and self.method != "replace" and self._has_duplicates(run, dedupe_key)
        tail = self._dedupe_clause(dedupe_key) if dedupe else ""
        keys_stage = quote_ident(self._keys_stage)
        if self._keys_schema is not None and (not merge or existing is None):
            run(f"DROP TABLE {keys_stage}")  # nothing to delete from
        if self.method == "replace" or existing is None:
            if existing is not None:
                run(f"DROP TABLE {target}")
            if dedupe:
                run(f"CREATE TABLE {target} AS SELECT * FROM {stage} {tail}")
                run(f"DROP TABLE {stage}")
                return int(run(f"SELECT count(*) FROM {target}").fetchone()[0])  # type: ignore[index]
            run(f"ALTER TABLE {stage} RENAME TO {target}")
            return self.staged_rows
        # append / upsert into an existing table: evolve the schema, then merge.
        for name, type_name in self._coldefs:
            if name.lower() not in existing:
                run(f"ALTER TABLE {target} ADD COLUMN {quote_ident(name)} {type_name}")
        where = ""
        if merge:
            self._delete_replaced(run, target, stage, keys_stage)
        elif self.spec.version_key:  # append each record version once
            same = " AND ".join(
                f"t.{quote_ident(k)} IS NOT DISTINCT FROM s.{quote_ident(k)}" for k in self.spec.version_key
            )
            where = f"WHERE NOT EXISTS (SELECT 1 FROM {target} AS t WHERE {same})"
        cols = ", ".join(quote_ident(n) for n, _ in self._coldefs)
        picked = ", ".join(f"s.{quote_ident(n)}" for n, _ in self._coldefs)
        count = run(f"INSERT INTO {target} ({cols}) SELECT {picked} FROM {stage} AS s {where} {tail}").fetchone()
        run(f"DROP TABLE {stage}")
        return int(count[0]) if count else self.staged_rows

    def _delete_replaced(self, run: Any, target: str, stage: str, keys_stage: str) -> None:
        """Upsert: delete the rows this load replaces (staged keys; covered keys and, with clear_scope, every
        row, but only within the load's scope)."""
        key = self.upsert_key
        keys = ", ".join(quote_ident(k) for k in key)
        cond = " AND ".join(f"{target}.{quote_ident(k)} = __closesync_keys.{quote_ident(k)}" for k in key)
        scope = " AND ".join(f"{target}.{quote_ident(c)} {op} ?" for c, op, _ in self.spec.scope)
        values = [v for _, _, v in self.spec.scope]
        if self.spec.clear_scope:
            run(f"DELETE FROM {target}" + (f" WHERE {scope}" if scope else ""), values)
        covered = f"SELECT {keys} FROM {keys_stage}"
        if scope:  # covered keys only delete inside the scope; staged keys are in it by definition
            run(f"DELETE FROM {target} USING ({covered}) AS __closesync_keys WHERE {cond} AND {scope}", values)
            covered = ""
        union = f" UNION {covered}" if covered else ""
        run(f"DELETE FROM {target} USING (SELECT {keys} FROM {stage}{union}) AS __closesync_keys WHERE {cond}")
        run(f"DROP TABLE {keys_stage}")

    def _existing_columns(self, run: Any) -> set[str] | None:
        rows = run(
            "SELECT lower(column_name) FROM duckdb_columns() WHERE database_name = current_database() "
            "AND schema_name = 'main' AND lower(table_name) = lower(?)",
            [self.table],
        ).fetchall()
        return {r[0] for r in rows} if rows else None

    def _has_duplicates(self, run: Any, key: tuple[str, ...]) -> bool:
        """A source may repeat a record within one run; upsert keeps the last one, append one per version."""
        keys = ", ".join(quote_ident(k) for k in key)
        row = run(
            f"SELECT count(*) FROM (SELECT {keys} FROM {quote_ident(self._stage)} GROUP BY ALL HAVING count(*) > 1)"
        ).fetchone()
        return bool(row and row[0])

    @staticmethod
    def _dedupe_clause(key: tuple[str, ...]) -> str:
        keys = ", ".join(quote_ident(k) for k in key)
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
