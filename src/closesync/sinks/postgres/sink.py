"""PostgresSink: tables in one schema of a PostgreSQL database; connections, state and reads."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import psycopg
import pyarrow as pa
from psycopg import sql
from psycopg.types.json import Jsonb

from closesync.sinks.base import STATE_TABLE, Sink
from closesync.sinks.destination import Destination, redact_destination, redact_password
from closesync.sinks.errors import SinkError, TableNotFoundError
from closesync.sinks.ownership import OWNERS_TABLE
from closesync.sinks.postgres.names import (
    NAME_COMMENT_PREFIX,
    STAGING_PREFIXES,
    pg_ident,
    pg_message,
    split_destination,
)
from closesync.sinks.postgres.publish import PostgresGroup, owners_ddl, read_owner
from closesync.sinks.postgres.reading import arrow_schema, read_expr, rows_to_batch


class PostgresSink(Sink):
    """Tables in one schema of a PostgreSQL database."""

    def __init__(self, url: str, schema: str | None = None, *, connect_timeout: int = 15) -> None:
        super().__init__()
        self._conninfo, self.schema = split_destination(url, schema)
        if not self.schema or "\x00" in self.schema:
            raise SinkError("invalid PostgreSQL schema name")
        self.schema = pg_ident(self.schema)
        self._connect_timeout = connect_timeout
        self.destination = Destination("postgres", redact_destination(url))
        self._meta: psycopg.Connection | None = None
        self._schema_ready = False
        self._closed = False
        self._server_version: int | None = None

    def __repr__(self) -> str:
        return f"PostgresSink({self.destination.target!r}, schema={self.schema!r})"

    # -- connections ---------------------------------------------------------------------------------
    def connect(self, autocommit: bool = False) -> psycopg.Connection:
        """A new session in UTC (so naive timestamps mean UTC and TIMESTAMPTZ reads back as UTC)."""
        try:
            conn = psycopg.connect(
                self._conninfo,
                autocommit=True,
                connect_timeout=self._connect_timeout,
                application_name="closesync",
            )
        except psycopg.Error as e:
            reason = redact_password(pg_message(e), self._conninfo)  # libpq may name a piece of it as a host
            raise SinkError(f"cannot connect to PostgreSQL at {self.destination.target}: {reason}") from None
        conn.execute("SET TimeZone = 'UTC'")
        # Staging is a TEMP table: its pages live in temp_buffers (8MB default), too small for a big load.
        conn.execute("SET temp_buffers = '128MB'")
        # lz4 compresses TOASTed values (email bodies, JSON) several times faster than the default pglz.
        with contextlib.suppress(psycopg.Error):
            conn.execute("SET default_toast_compression = 'lz4'")
        conn.autocommit = autocommit
        if self._server_version is None:
            self._server_version = conn.info.server_version
        return conn

    def _run(self, fn: Callable[[psycopg.Connection], Any]) -> Any:
        """Run a short read/bookkeeping call on the shared autocommit connection (reconnecting once)."""
        with self._lock:
            if self._closed:
                raise SinkError("sink is closed")
            for attempt in (1, 2):
                if self._meta is None or self._meta.closed or self._meta.broken:
                    self._meta = self.connect(autocommit=True)
                try:
                    return fn(self._meta)
                except psycopg.OperationalError as e:
                    if self._meta.closed or self._meta.broken:
                        self._meta = None
                        if attempt == 1:
                            continue
                    raise SinkError(f"PostgreSQL error: {pg_message(e)}") from e
                except psycopg.Error as e:
                    raise SinkError(f"PostgreSQL error: {pg_message(e)}") from e
        raise AssertionError("unreachable")

    def server_version(self) -> int:
        if self._server_version is None:
            self._run(lambda c: None)
        assert self._server_version is not None
        return self._server_version

    def ensure_schema(self) -> None:
        """Create the schema if missing, committed at once on the shared connection.

        Not inside a writer's transaction: an uncommitted CREATE SCHEMA would make concurrent writers block
        and then fail on the duplicate. Existence is checked first because CREATE SCHEMA IF NOT EXISTS still
        needs CREATE rights on the database.
        """
        if self._schema_ready:
            return

        def create(conn: psycopg.Connection) -> None:
            exists = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (self.schema,)).fetchone()
            if not exists:
                with contextlib.suppress(psycopg.errors.UniqueViolation):  # another process won the race
                    conn.execute(
                        sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema))
                    )
            self._schema_ready = True

        self._run(create)

    def qualified(self, table: str) -> sql.Composed:
        return sql.Identifier(self.schema, pg_ident(table))

    # -- writers -------------------------------------------------------------------------------------
    def group(self) -> PostgresGroup:
        return PostgresGroup(self)

    def ensure_owners_table(self) -> None:
        """Create the ownership table, committed at once (like the schema, not inside a group's transaction)."""
        self.ensure_schema()

        def create(conn: psycopg.Connection) -> None:
            if not self._exists(conn, OWNERS_TABLE):
                with contextlib.suppress(psycopg.errors.UniqueViolation):  # two writers created it at once
                    conn.execute(owners_ddl(self.schema))

        self._run(create)

    def table_owner(self, table: str) -> dict[str, Any] | None:
        def q(conn: psycopg.Connection) -> dict[str, Any] | None:
            if not self._exists(conn, OWNERS_TABLE):
                return None
            return read_owner(conn, self.schema, table)

        return self._run(q)

    # -- state ---------------------------------------------------------------------------------------
    def _ensure_state_table(self, conn: psycopg.Connection) -> None:
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (key text PRIMARY KEY, value jsonb NOT NULL, "
                "updated_at timestamptz NOT NULL DEFAULT now())"
            ).format(sql.Identifier(self.schema, STATE_TABLE))
        )

    def read_state(self, key: str) -> dict[str, Any] | None:
        def q(conn: psycopg.Connection) -> dict[str, Any] | None:
            if not self._exists(conn, STATE_TABLE):
                return None
            row = conn.execute(
                sql.SQL("SELECT value FROM {} WHERE key = %s").format(
                    sql.Identifier(self.schema, STATE_TABLE)
                ),
                (key,),
            ).fetchone()
            return None if row is None else row[0]

        return self._run(q)

    def write_state(self, key: str, value: dict[str, Any]) -> None:
        self.ensure_schema()

        def q(conn: psycopg.Connection) -> None:
            with contextlib.suppress(psycopg.errors.UniqueViolation):  # two threads created it at once
                self._ensure_state_table(conn)
            conn.execute(
                sql.SQL(
                    "INSERT INTO {} (key, value, updated_at) VALUES (%s, %s, now()) "
                    "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()"
                ).format(sql.Identifier(self.schema, STATE_TABLE)),
                (key, Jsonb(value)),
            )

        self._run(q)

    # -- reads ---------------------------------------------------------------------------------------
    def _exists(self, conn: psycopg.Connection, table: str) -> bool:
        row = conn.execute(
            "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'f')",
            (self.schema, pg_ident(table)),
        ).fetchone()
        return row is not None

    def table_exists(self, table: str) -> bool:
        return bool(self._run(lambda c: self._exists(c, table)))

    def tables(self) -> list[str]:
        rows = self._run(
            lambda c: c.execute(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'f') ORDER BY c.relname",
                (self.schema,),
            ).fetchall()
        )
        # Like the DuckDB sink: hide state and in-flight staging, keep e.g. _closesync_custom_fields.
        hidden = (STATE_TABLE, OWNERS_TABLE)
        return [r[0] for r in rows if r[0] not in hidden and not r[0].startswith(STAGING_PREFIXES)]

    def _columns(self, conn: psycopg.Connection, table: str) -> list[tuple[str, str, str]]:
        """(original name, PostgreSQL name, type) in table order; raises TableNotFoundError."""
        rows = conn.execute(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod), col_description(c.oid, a.attnum) "
            "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped "
            "ORDER BY a.attnum",
            (self.schema, pg_ident(table)),
        ).fetchall()
        if not rows:
            raise TableNotFoundError(f"table {table!r} not found in PostgreSQL schema {self.schema!r}")
        out = []
        for ident, typ, comment in rows:
            name = ident
            if comment and comment.startswith(NAME_COMMENT_PREFIX):
                name = comment[len(NAME_COMMENT_PREFIX) :]
            out.append((name, ident, typ))
        return out

    def columns(self, table: str) -> list[tuple[str, str]]:
        return [(name, typ) for name, _, typ in self._run(lambda c: self._columns(c, table))]

    def row_count(self, table: str) -> int:
        def q(conn: psycopg.Connection) -> int:
            if not self._exists(conn, table):
                raise TableNotFoundError(f"table {table!r} not found in PostgreSQL schema {self.schema!r}")
            return int(
                conn.execute(sql.SQL("SELECT count(*) FROM {}").format(self.qualified(table))).fetchone()[0]
            )

        return self._run(q)

    def preview(self, table: str, limit: int = 100) -> pa.Table:
        batches = list(self.iter_batches(table, batch_size=max(1, limit), limit=limit))
        if batches:
            return pa.Table.from_batches(batches)
        cols = self._run(lambda c: self._columns(c, table))
        return arrow_schema(cols).empty_table()

    def iter_batches(
        self, table: str, batch_size: int = 65_536, *, limit: int | None = None, order_by: Sequence[str] = ()
    ) -> Iterator[pa.RecordBatch]:
        """Stream through a server-side cursor on its own connection; JSONB comes back as JSON text."""
        cols = self._run(lambda c: self._columns(c, table))
        schema = arrow_schema(cols)
        select = [read_expr(ident, typ) for _, ident, typ in cols]
        query = sql.SQL("SELECT {} FROM {}").format(sql.SQL(", ").join(select), self.qualified(table))
        if order_by:
            query += sql.SQL(" ORDER BY {}").format(
                sql.SQL(", ").join(sql.Identifier(pg_ident(c)) for c in order_by)
            )
        if limit is not None:
            query += sql.SQL(" LIMIT {}").format(sql.Literal(int(limit)))
        conn = self.connect(autocommit=False)
        try:
            with conn.cursor(name=f"closesync_read_{uuid.uuid4().hex[:8]}") as cur:
                cur.execute(query)
                while True:
                    rows = cur.fetchmany(batch_size)
                    if not rows:
                        break
                    yield rows_to_batch(rows, schema)
            conn.rollback()
        except psycopg.Error as e:
            raise SinkError(f"reading {table!r} from PostgreSQL failed: {pg_message(e)}") from e
        finally:
            conn.close()

    def drop(self, table: str) -> None:
        self._run(lambda c: c.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(self.qualified(table))))

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._meta is not None:
                self._meta.close()
                self._meta = None
