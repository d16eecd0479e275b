"""PostgresTableWriter: stages a load with COPY on its own connection, then publishes it in one transaction.

See the package docstring for what each method does; the catalog queries it needs are in `catalog`.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

import psycopg
import pyarrow as pa
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter

from closesync.sinks.base import PublishGroup, TableWriter
from closesync.sinks.errors import SinkError
from closesync.sinks.postgres.catalog import (
    Column,
    comment_names,
    copy_grants,
    existing_columns,
    free_relname,
    is_own_index,
    key_index,
    same_type,
)
from closesync.sinks.postgres.encoding import encode_csv, encoder, pg_type
from closesync.sinks.postgres.names import INTERNAL_PREFIX, SEQ_COLUMN, pg_ident, pg_message
from closesync.sinks.writespec import WriteSpec

if TYPE_CHECKING:
    from closesync.sinks.postgres.publish import PostgresGroup
    from closesync.sinks.postgres.sink import PostgresSink

log = logging.getLogger(__name__)

#: Covered keys buffered before their COPY (each such COPY ends the rows' COPY once).
COVER_FLUSH_ROWS = 50_000


class PostgresTableWriter(TableWriter):
    """Stages batches with COPY on its group's connection; see the package docstring for each method."""

    group: PostgresGroup

    def __init__(self, group: PublishGroup, sink: PostgresSink, spec: WriteSpec) -> None:
        super().__init__(group, spec)
        table, schema, method = spec.table, spec.schema, spec.method
        self.sink = sink
        self.ident = pg_ident(table)
        self.columns = [Column(f.name, pg_ident(f.name), pg_type(f)) for f in schema]
        idents = [c.ident for c in self.columns]
        if len(set(idents)) != len(idents) or SEQ_COLUMN in idents:
            raise SinkError(f"column names of {table!r} collide after PostgreSQL name truncation")
        self._encoders = [encoder(f) for f in schema]
        self._conn: psycopg.Connection | None = None
        self._stage: sql.Composable | None = None
        self._cursor: psycopg.Cursor | None = None
        self._copy: psycopg.Copy | None = None
        self._copy_cm: contextlib.AbstractContextManager[psycopg.Copy] | None = None
        self._stage_name = (
            f"{INTERNAL_PREFIX}_{'new' if method == 'replace' else 'stage'}_{uuid.uuid4().hex[:12]}"
        )
        by_name = {c.name: c for c in self.columns}
        self._key_columns = [by_name[k] for k in self.upsert_key] if method == "upsert" else []
        self._key_encoders = [encoder(schema.field(k)) for k in self.upsert_key] if method == "upsert" else []
        self._keys_stage = sql.Identifier(f"{self._stage_name}_keys")
        self._pending_keys: list[pa.RecordBatch | pa.Table] = []
        self._pending_key_rows = 0
        self._has_keys = False

    # -- helpers -------------------------------------------------------------------------------------
    def _target(self) -> sql.Composed:
        return sql.Identifier(self.sink.schema, self.ident)

    def _column_defs(self) -> sql.Composed:
        return sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(c.ident), sql.SQL(c.pg_type)) for c in self.columns
        )

    def _col_list(self) -> sql.Composed:
        return sql.SQL(", ").join(sql.Identifier(c.ident) for c in self.columns)

    def _fail(self, action: str, e: BaseException) -> SinkError:
        conn = self._conn
        lost = conn is None or conn.closed or conn.broken or isinstance(e, psycopg.OperationalError)
        if lost:
            return SinkError(
                f"lost the PostgreSQL connection while {action} table {self.table!r} "
                f"({pg_message(e)}); nothing was committed, the table is unchanged"
            )
        return SinkError(
            f"PostgreSQL error while {action} table {self.table!r}: {pg_message(e)}; "
            "nothing was committed, the table is unchanged"
        )

    # -- lifecycle hooks -----------------------------------------------------------------------------
    def _open(self) -> None:
        self.sink.ensure_schema()
        self._conn = self.group.connection()
        self.group.use(self)
        try:
            with self._conn.cursor() as cur:
                if self.method == "replace":
                    self._stage = sql.Identifier(self.sink.schema, self._stage_name)
                    cur.execute(sql.SQL("CREATE TABLE {} ({})").format(self._stage, self._column_defs()))
                    comment_names(cur, self._stage, self.columns)
                else:
                    self._stage = sql.Identifier(self._stage_name)
                    cur.execute(
                        sql.SQL(
                            "CREATE TEMP TABLE {} ({}, {} bigint GENERATED ALWAYS AS IDENTITY) ON COMMIT DROP"
                        ).format(self._stage, self._column_defs(), sql.Identifier(SEQ_COLUMN))
                    )
                    if self._key_columns:
                        cur.execute(
                            sql.SQL("CREATE TEMP TABLE {} ({}) ON COMMIT DROP").format(
                                self._keys_stage,
                                sql.SQL(", ").join(
                                    sql.SQL("{} {}").format(sql.Identifier(c.ident), sql.SQL(c.pg_type))
                                    for c in self._key_columns
                                ),
                            )
                        )
        except psycopg.Error as e:
            raise self._fail("preparing", e) from e

    def _write(self, batch: pa.RecordBatch | pa.Table) -> None:
        assert self._conn is not None and self._stage is not None
        data = encode_csv(batch, self._encoders)
        try:
            self.group.use(self)
            if self._copy is None:
                # One COPY for the whole load; a psycopg worker thread sends while we encode the next batch.
                self._cursor = self._conn.cursor()
                # replace fills a table created in this transaction: FREEZE writes rows already frozen,
                # sparing the first readers the hint-bit writes and VACUUM the freeze pass.
                options = sql.SQL("FORMAT csv, FREEZE" if self.method == "replace" else "FORMAT csv")
                copy_sql = sql.SQL("COPY {} ({}) FROM STDIN ({})").format(
                    self._stage, self._col_list(), options
                )
                self._copy_cm = self._cursor.copy(copy_sql, writer=QueuedLibpqWriter(self._cursor))
                self._copy = self._copy_cm.__enter__()
            self._copy.write(data)
        except psycopg.Error as e:
            raise self._fail("loading", e) from e

    def _cover(self, keys: pa.RecordBatch | pa.Table) -> None:
        self._pending_keys.append(keys)
        self._pending_key_rows += keys.num_rows
        if self._pending_key_rows >= COVER_FLUSH_ROWS:
            self._flush_keys()

    def _flush_keys(self) -> None:
        """COPY buffered covered keys into their TEMP table (ending the rows' COPY; the next write restarts it)."""
        if not self._pending_keys:
            return
        assert self._conn is not None
        pending, self._pending_keys, self._pending_key_rows = self._pending_keys, [], 0
        try:
            self._finish_copy()
            self.group.use(self)
            with self._conn.cursor() as cur:
                copy_sql = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
                    self._keys_stage, sql.SQL(", ").join(sql.Identifier(c.ident) for c in self._key_columns)
                )
                with cur.copy(copy_sql) as copy:
                    for keys in pending:
                        if keys.num_rows:
                            copy.write(encode_csv(keys, self._key_encoders))
        except psycopg.Error as e:
            raise self._fail("loading", e) from e
        self._has_keys = True

    def _finish_copy(self, error: BaseException | None = None) -> None:
        """End the COPY: on success wait for the server to take every row; with `error` cancel it."""
        cm, self._copy_cm, self._copy = self._copy_cm, None, None
        if cm is not None:
            if error is None:
                cm.__exit__(None, None, None)
            else:
                with contextlib.suppress(psycopg.Error, OSError, SinkError):
                    cm.__exit__(type(error), error, None)
        if self._cursor is not None:
            with contextlib.suppress(psycopg.Error):
                self._cursor.close()
            self._cursor = None

    def _prepare(self) -> None:
        """End this writer's COPYs, so the group can publish on the shared connection."""
        try:
            self._finish_copy()
            self._flush_keys()
        except psycopg.Error as e:
            raise self._fail("loading", e) from e

    def _publish(self, cur: psycopg.Cursor) -> int:
        """Runs in the group's transaction, after the group took this table's advisory lock."""
        try:
            publish = self._publish_replace if self.method == "replace" else self._publish_merge
            return publish(cur)
        except psycopg.Error as e:
            raise self._fail("committing", e) from e

    def _abort(self) -> None:
        """Cancel a running COPY; the group rolls the shared transaction back."""
        self._finish_copy(SinkError("writer aborted"))
        self._conn = None

    # -- publishing ----------------------------------------------------------------------------------
    def _publish_replace(self, cur: psycopg.Cursor) -> int:
        """Index the new table, then drop the old one and rename: readers wait only for this last step."""
        assert self._stage is not None
        index_name = self._key_index(cur, self._stage_name, self.primary_key, temp_name=True)
        copy_grants(cur, self.sink.schema, self.ident, self._stage, self.table)
        cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(self._target()))
        cur.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(self._stage, sql.Identifier(self.ident)))
        if index_name:
            final = free_relname(cur, self.sink.schema, pg_ident(f"{self.ident}_pkey"))
            cur.execute(
                sql.SQL("ALTER INDEX {} RENAME TO {}").format(
                    sql.Identifier(self.sink.schema, index_name), sql.Identifier(final)
                )
            )
        return self.staged_rows

    def _publish_merge(self, cur: psycopg.Cursor) -> int:
        assert self._stage is not None
        existing = existing_columns(cur, self.sink.schema, self.ident)
        target = self._target()
        if existing is None:
            cur.execute(sql.SQL("CREATE TABLE {} ({})").format(target, self._column_defs()))
            comment_names(cur, target, self.columns)
            existing = {c.ident: c.pg_type for c in self.columns}
        else:
            new = [c for c in self.columns if c.ident not in existing]
            for c in new:
                cur.execute(
                    sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {}").format(
                        target, sql.Identifier(c.ident), sql.SQL(c.pg_type)
                    )
                )
                existing[c.ident] = c.pg_type
            comment_names(cur, target, new)
        # Cast where an existing column has another type than this run's schema (e.g. a retyped field).
        select = sql.SQL(", ").join(
            sql.Identifier(c.ident)
            if same_type(existing[c.ident], c.pg_type)
            else sql.SQL("CAST({} AS {})").format(sql.Identifier(c.ident), sql.SQL(existing[c.ident]))
            for c in self.columns
        )
        if self.method == "append":
            return self._append(cur, select)
        return self._upsert(cur, select, list(existing))

    def _append(self, cur: psycopg.Cursor, select: sql.Composable) -> int:
        """INSERT SELECT; append may repeat keys, so an upsert-key index of ours that objects is dropped."""
        insert = sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} AS s {} ORDER BY {}").format(
            self._target(), self._col_list(), select, self._stage, self._new_versions(), sql.Identifier(SEQ_COLUMN)
        )
        cur.execute("SAVEPOINT closesync_append")
        try:
            cur.execute(insert)
        except psycopg.errors.UniqueViolation as e:
            index = getattr(e.diag, "constraint_name", None)
            cur.execute("ROLLBACK TO SAVEPOINT closesync_append")
            if not index or not is_own_index(cur, self.sink.schema, index):
                raise
            log.info("append repeats keys of %r: dropping its upsert index %s", self.table, index)
            cur.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(self.sink.schema, index)))
            cur.execute(insert)
        return max(cur.rowcount, 0)

    def _new_versions(self) -> sql.Composable:
        """Append: a WHERE clause keeping staged rows (alias s) whose version_key neither the table nor a later
        staged row has. Key columns compare with = (so PostgreSQL can hash-join), the others NULL-safely."""
        if not self.spec.version_key:
            return sql.SQL("")

        def same(alias: str) -> sql.Composable:
            return sql.SQL(" AND ").join(
                sql.SQL("{0}.{1} {2} s.{1}").format(
                    sql.Identifier(alias),
                    sql.Identifier(pg_ident(k)),
                    sql.SQL("=" if k in self.primary_key else "IS NOT DISTINCT FROM"),
                )
                for k in self.spec.version_key
            )

        return sql.SQL(
            "WHERE NOT EXISTS (SELECT 1 FROM {target} AS t WHERE {in_table}) "
            "AND NOT EXISTS (SELECT 1 FROM {stage} AS l WHERE {in_stage} AND l.{seq} > s.{seq})"
        ).format(
            target=self._target(),
            in_table=same("t"),
            stage=self._stage,
            in_stage=same("l"),
            seq=sql.Identifier(SEQ_COLUMN),
        )

    def _scope(self) -> sql.Composable:
        """The load's scope as a condition on the target (alias t); TRUE when it has none."""
        if not self.spec.scope:
            return sql.SQL("TRUE")
        return sql.SQL(" AND ").join(
            sql.SQL("t.{} {} {}").format(sql.Identifier(pg_ident(c)), sql.SQL(op), sql.Literal(v))
            for c, op, v in self.spec.scope
        )

    def _upsert(self, cur: psycopg.Cursor, select: sql.Composable, target_cols: list[str]) -> int:
        target = self._target()
        pk = [pg_ident(k) for k in self.primary_key]
        pk_ids = sql.SQL(", ").join(sql.Identifier(k) for k in pk)
        if self.spec.clear_scope:  # a full read of a filtered report replaces exactly its scope
            cur.execute(sql.SQL("DELETE FROM {} t WHERE {}").format(target, self._scope()))
        if self._has_keys:  # covered keys: their rows go whether or not a staged row carries the key
            cover = [c.ident for c in self._key_columns]
            cur.execute(
                sql.SQL("DELETE FROM {} t USING (SELECT DISTINCT {} FROM {}) s WHERE {} AND {}").format(
                    target,
                    sql.SQL(", ").join(sql.Identifier(k) for k in cover),
                    self._keys_stage,
                    sql.SQL(" AND ").join(sql.SQL("t.{0} = s.{0}").format(sql.Identifier(k)) for k in cover),
                    self._scope(),
                )
            )
        if self.parent_key:
            parent = [pg_ident(k) for k in self.parent_key]
            cur.execute(
                sql.SQL("DELETE FROM {} t USING (SELECT DISTINCT {} FROM {}) s WHERE {}").format(
                    target,
                    sql.SQL(", ").join(sql.Identifier(k) for k in parent),
                    self._stage,
                    sql.SQL(" AND ").join(sql.SQL("t.{0} = s.{0}").format(sql.Identifier(k)) for k in parent),
                )
            )
        if not self.primary_key:  # children replaced per parent, no row identity of their own
            cur.execute(
                sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ORDER BY {}").format(
                    target, self._col_list(), select, self._stage, sql.Identifier(SEQ_COLUMN)
                )
            )
            return max(cur.rowcount, 0)
        has_index = self._key_index(cur, self.ident, tuple(pk)) is not None
        source = sql.SQL("SELECT {} FROM {}").format(select, self._stage)
        dupes = cur.execute(
            sql.SQL("SELECT 1 FROM {} GROUP BY {} HAVING count(*) > 1 LIMIT 1").format(self._stage, pk_ids)
        ).fetchone()
        if dupes:  # a source repeated a record: keep the last one (ON CONFLICT can't touch a row twice)
            source = sql.SQL("SELECT DISTINCT ON ({pk}) {sel} FROM {stage} ORDER BY {pk}, {seq} DESC").format(
                pk=pk_ids, sel=select, stage=self._stage, seq=sql.Identifier(SEQ_COLUMN)
            )
        alias = sql.Identifier(f"{INTERNAL_PREFIX}_target")
        insert = sql.SQL("INSERT INTO {} AS {} ({}) ").format(target, alias, self._col_list()) + source
        if has_index:
            updates = [c for c in target_cols if c not in pk]
            if updates:
                # Rows that come back unchanged (look-back windows, re-runs) are not rewritten: no dead tuples.
                insert += sql.SQL(
                    " ON CONFLICT ({}) DO UPDATE SET {} WHERE ({}) IS DISTINCT FROM ({})"
                ).format(
                    pk_ids,
                    sql.SQL(", ").join(
                        sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in updates
                    ),
                    sql.SQL(", ").join(sql.SQL("{}.{}").format(alias, sql.Identifier(c)) for c in updates),
                    sql.SQL(", ").join(sql.Identifier("excluded", c) for c in updates),
                )
            else:
                insert += sql.SQL(" ON CONFLICT ({}) DO NOTHING").format(pk_ids)
        else:
            # No unique index (existing duplicates prevent one): delete by key, then insert.
            cur.execute(
                sql.SQL("DELETE FROM {} t USING (SELECT DISTINCT {} FROM {}) s WHERE {}").format(
                    target,
                    pk_ids,
                    self._stage,
                    sql.SQL(" AND ").join(sql.SQL("t.{0} = s.{0}").format(sql.Identifier(k)) for k in pk),
                )
            )
        cur.execute(insert)
        if not has_index:
            return max(cur.rowcount, 0)
        # rowcount leaves out unchanged rows; report what was merged, like the other sinks.
        if not dupes:
            return self.staged_rows
        row = cur.execute(
            sql.SQL("SELECT count(*) FROM (SELECT DISTINCT {} FROM {}) k").format(pk_ids, self._stage)
        ).fetchone()
        return int(row[0]) if row else 0

    def _key_index(
        self, cur: psycopg.Cursor, relname: str, key: Sequence[str], temp_name: bool = False
    ) -> str | None:
        """A unique index on `key` of `relname` (see catalog.key_index); NULLS NOT DISTINCT from PostgreSQL 15."""
        return key_index(
            cur,
            self.sink.schema,
            relname,
            key,
            label=self.table,
            nulls_not_distinct=self.sink.server_version() >= 150000,
            temp_name=temp_name,
        )
