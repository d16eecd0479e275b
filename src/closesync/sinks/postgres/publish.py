"""PostgresGroup: the writers of one read share one connection and publish in its one transaction.

Each writer stages with COPY on the group's connection (one COPY runs at a time, so a writer ends the
previous writer's COPY before starting its own); publishing takes every table's advisory lock (sorted,
so concurrent groups never deadlock), runs each writer's publish step, checks and records the tables'
owners (``_closesync_tables``) and commits once. Anything failing rolls the whole group back.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from closesync.sinks.base import PublishGroup, TableWriter
from closesync.sinks.errors import SinkError
from closesync.sinks.ownership import OWNERS_TABLE
from closesync.sinks.postgres.names import advisory_key, pg_ident, pg_message
from closesync.sinks.postgres.writer import PostgresTableWriter
from closesync.sinks.writespec import WriteSpec

if TYPE_CHECKING:
    from closesync.sinks.postgres.sink import PostgresSink

OWNER_COLUMNS = ("table_name", "owner", "owner_label", "report", "parameters")


def owners_ddl(schema: str) -> sql.Composed:
    return sql.SQL(
        "CREATE TABLE IF NOT EXISTS {} (table_name text PRIMARY KEY, owner text NOT NULL, owner_label text, "
        "report text, parameters text, updated_at timestamptz NOT NULL DEFAULT now())"
    ).format(sql.Identifier(schema, OWNERS_TABLE))


def read_owner(cur: psycopg.Cursor | psycopg.Connection, schema: str, table: str) -> dict[str, Any] | None:
    """The ownership row of ``table`` (PostgreSQL names are case-sensitive, compared as stored); None when
    the table is gone (a record outlives a table dropped by hand)."""
    row = cur.execute(
        sql.SQL(
            "SELECT {} FROM {} o WHERE table_name = %s AND EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = o.table_name)"
        ).format(
            sql.SQL(", ").join(sql.Identifier(c) for c in OWNER_COLUMNS), sql.Identifier(schema, OWNERS_TABLE)
        ),
        (pg_ident(table), schema),
    ).fetchone()
    return dict(zip(OWNER_COLUMNS, row, strict=True)) if row else None


class PostgresGroup(PublishGroup):
    """Writers of one PostgreSQL schema sharing a connection and a transaction."""

    sink: PostgresSink

    def __init__(self, sink: PostgresSink) -> None:
        super().__init__(sink)
        self._conn: psycopg.Connection | None = None
        self._active: PostgresTableWriter | None = None

    def _new_writer(self, spec: WriteSpec) -> TableWriter:
        return PostgresTableWriter(self, self.sink, spec)

    def connection(self) -> psycopg.Connection:
        """The group's connection (opened on first use, in a transaction until the group ends)."""
        if self._conn is None:
            self._conn = self.sink.connect(autocommit=False)
        return self._conn

    def use(self, writer: PostgresTableWriter) -> None:
        """Let ``writer`` run statements: end another writer's COPY first (one COPY per connection)."""
        if self._active is not None and self._active is not writer:
            self._active._finish_copy()
        self._active = writer

    def _publish(self, writers: Sequence[TableWriter]) -> list[int]:
        pg = [w for w in writers if isinstance(w, PostgresTableWriter)]
        for w in pg:
            w._prepare()
        if any(w.spec.claim is not None for w in pg):
            self.sink.ensure_owners_table()
        conn = self.connection()
        schema = self.sink.schema
        try:
            with conn.cursor() as cur:
                for key in sorted({advisory_key(schema, w.ident) for w in pg}):
                    cur.execute("SELECT pg_advisory_xact_lock(%s)", (key,))
                cur.execute("SET LOCAL work_mem = '64MB'")  # key dedupe/delete joins stay in memory
                claimed = [w for w in pg if self._claims_anew(cur, w)]  # before publishing creates tables
                rows = [w._publish(cur) for w in pg]
                for w in claimed:
                    self._record_owner(cur, w)
            conn.commit()
        except psycopg.Error as e:
            names = ", ".join(repr(w.table) for w in pg)
            raise SinkError(
                f"PostgreSQL error while committing {names}: {pg_message(e)}; nothing was committed, "
                "the tables are unchanged"
            ) from e
        self._close()
        for w in pg:
            w._conn = None
        return rows

    def _claims_anew(self, cur: psycopg.Cursor, writer: PostgresTableWriter) -> bool:
        """Check the writer's claim (TableOwnedError for another owner's table); True if it must be recorded."""
        claim = writer.spec.claim
        return claim is not None and claim.check(writer.table, read_owner(cur, self.sink.schema, writer.table))

    def _record_owner(self, cur: psycopg.Cursor, writer: PostgresTableWriter) -> None:
        claim = writer.spec.claim
        assert claim is not None
        schema = self.sink.schema
        record = {**claim.record(writer.table), "table_name": writer.ident}
        cur.execute(
            sql.SQL(
                "INSERT INTO {} ({}, updated_at) VALUES ({}, now()) ON CONFLICT (table_name) DO UPDATE SET {}"
            ).format(
                sql.Identifier(schema, OWNERS_TABLE),
                sql.SQL(", ").join(sql.Identifier(c) for c in OWNER_COLUMNS),
                sql.SQL(", ").join(sql.Placeholder() for _ in OWNER_COLUMNS),
                sql.SQL(", ").join(
                    sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c))
                    for c in (*OWNER_COLUMNS[1:], "updated_at")
                ),
            ),
            [record[c] for c in OWNER_COLUMNS],
        )

    def _release(self) -> None:
        conn = self._conn
        if conn is not None and not conn.closed and not conn.broken:
            with contextlib.suppress(psycopg.Error):
                conn.rollback()
        self._close()

    def _close(self) -> None:
        self._active = None
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = None
