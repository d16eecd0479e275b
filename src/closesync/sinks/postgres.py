"""PostgreSQL destination: `postgres://user@host:port/db?schema=close` (psycopg 3, COPY bulk load).

Why it looks like this:
- Rows go in with `COPY … FROM STDIN (FORMAT csv)`; each Arrow batch is encoded to CSV by pyarrow's C++
  writer (lists are turned into PostgreSQL array literals with vectorised compute first), so no Python
  loop runs per row except for the rare nested-list/struct/binary columns.
- Types: timestamp -> TIMESTAMPTZ, date -> DATE, integers -> BIGINT, floats -> DOUBLE PRECISION,
  bool -> BOOLEAN, string -> TEXT, JSON-flagged string -> JSONB, binary -> BYTEA. Lists of scalars
  become native arrays of the element type (TEXT[], BIGINT[], TIMESTAMPTZ[], …) so `'x' = ANY(col)` works;
  lists of lists/structs and struct columns become JSONB. NUL characters (which PostgreSQL text and JSONB
  cannot hold) are replaced with U+FFFD.
- replace: one transaction creates a fresh table, COPYs into it, indexes the key, copies the old table's
  GRANTs, drops the old table and renames the new one into place; readers see the old table until commit
  and the new one after, never an empty one (they wait only for the final drop/rename).
- append/upsert: COPY into a TEMP staging table (invisible, no locks on the target while loading), then one
  short transaction adds new columns (ALTER TABLE ADD COLUMN) and moves the rows: append = INSERT SELECT,
  upsert = DELETE by parent key (if given) + `INSERT … ON CONFLICT (primary key) DO UPDATE` backed by a
  unique index the sink creates. Staged duplicates are collapsed (last one wins). Covered keys (`cover()`)
  are COPYed into a second TEMP table between row COPYs (buffered up to COVER_FLUSH_ROWS) and their target
  rows deleted in the same transaction, before the insert.
- Identifiers are always composed with psycopg.sql.Identifier. Names longer than PostgreSQL's 63-byte
  limit (or containing NUL) are cut deterministically and suffixed with a hash of the full name; the full
  name is kept in the column comment and restored by columns()/preview()/iter_batches().
- A writer holds its own connection, so writers in several threads don't interfere; anything that fails
  (including the server dropping the connection) rolls back and leaves the target as it was. Commit
  phases on one table are serialised with a transaction-scoped advisory lock.
- Sessions run in UTC (naive timestamps are taken as UTC) with lz4 TOAST compression when available.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter
from psycopg.types.json import Jsonb

from closesync.sinks.base import (
    JSON_META_KEY,
    JSON_META_VALUE,
    STATE_TABLE,
    Destination,
    Sink,
    SinkError,
    TableNotFoundError,
    TableWriter,
    logical_type,
    redact_destination,
)

log = logging.getLogger(__name__)

MAX_IDENT_BYTES = 63  # NAMEDATALEN - 1: PostgreSQL silently truncates longer names, we do it ourselves
NAME_COMMENT_PREFIX = "closesync original name: "
SEQ_COLUMN = "_closesync_seq"
INTERNAL_PREFIX = "_closesync"
STAGING_PREFIXES = (f"{INTERNAL_PREFIX}_new_", f"{INTERNAL_PREFIX}_stage_")
INDEX_COMMENT = "closesync upsert key"
COVER_FLUSH_ROWS = 50_000  # covered keys buffered before their COPY (each ends the rows' COPY once)  # marks unique indexes the sink created (and may drop for append)

_SCALAR_PG = {
    "timestamp": "timestamptz",
    "date": "date",
    "integer": "bigint",
    "float": "double precision",
    "boolean": "boolean",
    "string": "text",
    "json": "jsonb",
    "binary": "bytea",
}
_TABLE_PRIVILEGES = {"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER", "MAINTAIN"}
_ARRAY_ITEMS = ("timestamp", "date", "integer", "float", "boolean", "string")

# PostgreSQL type (format_type output) -> Arrow type, for reading tables back.
_PG_TO_ARROW: dict[str, pa.DataType] = {
    "timestamp with time zone": pa.timestamp("us", tz="UTC"),
    "timestamp without time zone": pa.timestamp("us"),
    "date": pa.date32(),
    "bigint": pa.int64(),
    "integer": pa.int64(),
    "smallint": pa.int64(),
    "double precision": pa.float64(),
    "real": pa.float64(),
    "numeric": pa.float64(),
    "boolean": pa.bool_(),
    "text": pa.string(),
    "character varying": pa.string(),
    "bytea": pa.binary(),
    "jsonb": pa.string(),
    "json": pa.string(),
}


# --------------------------------------------------------------------------------------------------
# Names and URLs


def pg_ident(name: str) -> str:
    """The identifier PostgreSQL will store for `name`: unchanged if it fits, else cut + hash of the full name.

    Deterministic, so the same custom field maps to the same column on every run.
    """
    clean = name.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")
    if clean == name and name and len(name.encode("utf-8")) <= MAX_IDENT_BYTES:
        return name
    digest = hashlib.sha1(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    budget = MAX_IDENT_BYTES - len(digest) - 1
    prefix = clean.encode("utf-8")[:budget].decode("utf-8", "ignore")
    return f"{prefix}_{digest}"


def split_destination(url: str, schema: str | None = None) -> tuple[str, str]:
    """(libpq conninfo without our `schema` parameter, schema name); the kwarg wins over `?schema=`."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    url_schema = next(
        (v for k, v in reversed(query) if k == "schema"), None
    )  # the last one wins (CLI --schema)
    rest = [(k, v) for k, v in query if k != "schema"]
    conninfo = _unsplit(parts._replace(query=urlencode(rest)))
    chosen = schema or url_schema or "public"
    return conninfo, chosen


def _unsplit(parts: SplitResult) -> str:
    """urlunsplit keeping `//` with an empty host (`postgresql:///db?host=/run/postgresql` is valid libpq)."""
    out = f"{parts.scheme}://{parts.netloc}{parts.path}"
    if parts.query:
        out += "?" + parts.query
    if parts.fragment:
        out += "#" + parts.fragment
    return out


def _advisory_key(schema: str, table: str) -> int:
    """A signed 64-bit lock key per target table, so commit phases of concurrent writers serialise."""
    h = hashlib.sha1(f"closesync\x00{schema}\x00{table}".encode()).digest()
    return int.from_bytes(h[:8], "big", signed=True)


# --------------------------------------------------------------------------------------------------
# Arrow -> CSV encoding


def _pg_type(field: pa.Field) -> str:
    """PostgreSQL column type for an Arrow field (trusted constant text, never user input)."""
    lt = logical_type(field)
    if lt.kind == "list":
        item = lt.item.kind if lt.item else "json"
        return f"{_SCALAR_PG[item]}[]" if item in _ARRAY_ITEMS else "jsonb"
    return _SCALAR_PG.get(lt.kind, "jsonb")


def _strip_nul(arr: pa.Array, json_text: bool = False) -> pa.Array:
    """PostgreSQL text can't hold NUL and JSONB rejects \\u0000: replace both with U+FFFD (checked first, cheap)."""
    if pc.any(pc.match_substring(arr, "\x00")).as_py():
        arr = pc.replace_substring(arr, "\x00", "\ufffd")
    if json_text and pc.any(pc.match_substring(arr, "\\u0000")).as_py():
        arr = pc.replace_substring(arr, "\\u0000", "\\ufffd")
    return arr


def _as_string(arr: pa.Array) -> pa.Array:
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if not pa.types.is_string(arr.type):
        arr = pc.cast(arr, pa.string())
    return arr


def _array_literal(arr: pa.Array) -> pa.Array:
    """list<scalar> -> PostgreSQL array literal text (`{"a",NULL}`), vectorised; NULL lists stay NULL."""
    if pa.types.is_large_list(arr.type) or pa.types.is_fixed_size_list(arr.type):
        arr = pc.cast(arr, pa.list_(arr.type.value_type))
    offsets = arr.offsets
    first, last = offsets[0].as_py(), offsets[-1].as_py()
    values = arr.values.slice(first, last - first)
    if first:
        offsets = pc.subtract(offsets, pa.scalar(first, offsets.type))
    text = _strip_nul(_as_string(values))
    text = pc.replace_substring(text, "\\", "\\\\")
    text = pc.replace_substring(text, '"', '\\"')
    quoted = pc.fill_null(pc.binary_join_element_wise('"', text, '"', ""), "NULL")
    lists = pa.ListArray.from_arrays(offsets, quoted, mask=arr.is_null() if arr.null_count else None)
    return pc.binary_join_element_wise("{", pc.binary_join(lists, ","), "}", "")


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _python_json(arr: pa.Array) -> pa.Array:
    """Nested lists/structs/maps -> JSON text (per-value Python; only for columns shaping left nested)."""
    out = [
        None if v is None else json.dumps(v, default=_json_default, ensure_ascii=False)
        for v in arr.to_pylist()
    ]
    return _strip_nul(pa.array(out, pa.string()), json_text=True)


def _bytea_hex(arr: pa.Array) -> pa.Array:
    return pa.array([None if v is None else "\\x" + v.hex() for v in arr.to_pylist()], pa.string())


def _encoder(field: pa.Field) -> Callable[[pa.Array], pa.Array]:
    """How one column becomes CSV-writable Arrow (most types pass through to pyarrow's CSV writer)."""
    lt = logical_type(field)
    t = field.type
    if lt.kind == "json":
        if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
            return lambda a: _strip_nul(_as_string(a), json_text=True)
        return _python_json
    if lt.kind == "string":
        if pa.types.is_null(t):
            return lambda a: pa.nulls(len(a), pa.string())
        return lambda a: _strip_nul(_as_string(a))
    if lt.kind == "list":
        return _array_literal if (lt.item and lt.item.kind in _ARRAY_ITEMS) else _python_json
    if lt.kind == "binary":
        return _bytea_hex
    if lt.kind == "float" and (pa.types.is_float16(t) or pa.types.is_decimal(t)):
        return lambda a: pc.cast(a, pa.float64())
    if pa.types.is_dictionary(t):
        return lambda a: a.dictionary_decode()
    return lambda a: a


_CSV_OPTIONS = pacsv.WriteOptions(include_header=False, batch_size=8192)


def encode_csv(
    batch: pa.RecordBatch | pa.Table, encoders: Sequence[Callable[[pa.Array], pa.Array]]
) -> memoryview:
    """One batch as PostgreSQL-CSV bytes: strings always quoted, NULL as an unquoted empty field."""
    if isinstance(batch, pa.Table):
        batch = batch.combine_chunks().to_batches()[0] if batch.num_rows else batch.to_batches()[0]
    arrays = [enc(batch.column(i)) for i, enc in enumerate(encoders)]
    encoded = pa.RecordBatch.from_arrays(arrays, names=[f"c{i}" for i in range(len(arrays))])
    sink = pa.BufferOutputStream()
    pacsv.write_csv(encoded, sink, _CSV_OPTIONS)
    return memoryview(sink.getvalue())  # zero-copy: psycopg slices it into protocol-sized chunks


# --------------------------------------------------------------------------------------------------
# The sink


@dataclass(frozen=True)
class _Column:
    name: str  # name in the Arrow schema
    ident: str  # name in PostgreSQL
    pg_type: str


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
            raise SinkError(
                f"cannot connect to PostgreSQL at {self.destination.target}: {_pg_message(e)}"
            ) from e
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
                    raise SinkError(f"PostgreSQL error: {_pg_message(e)}") from e
                except psycopg.Error as e:
                    raise SinkError(f"PostgreSQL error: {_pg_message(e)}") from e
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
    def writer(
        self,
        table: str,
        schema: pa.Schema,
        method: str = "replace",
        primary_key: Sequence[str] | str | None = ("id",),
        parent_key: Sequence[str] | str | None = (),
    ) -> PostgresTableWriter:
        return PostgresTableWriter(self, table, schema, method, primary_key, parent_key)

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
        return [r[0] for r in rows if r[0] != STATE_TABLE and not r[0].startswith(STAGING_PREFIXES)]

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
        return _arrow_schema(cols).empty_table()

    def iter_batches(
        self, table: str, batch_size: int = 65_536, *, limit: int | None = None, order_by: Sequence[str] = ()
    ) -> Iterator[pa.RecordBatch]:
        """Stream through a server-side cursor on its own connection; JSONB comes back as JSON text."""
        cols = self._run(lambda c: self._columns(c, table))
        schema = _arrow_schema(cols)
        select = [_read_expr(ident, typ) for _, ident, typ in cols]
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
                    yield _rows_to_batch(rows, schema)
            conn.rollback()
        except psycopg.Error as e:
            raise SinkError(f"reading {table!r} from PostgreSQL failed: {_pg_message(e)}") from e
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


_NATIVE_READ = {
    t for t in _PG_TO_ARROW if t not in ("jsonb", "json", "numeric")
}  # psycopg gives Arrow-ready values


def _base_type(pg_type: str) -> str:
    """format_type without modifiers: `character varying(20)` -> `character varying`."""
    return re.sub(r"\(\d+(,\d+)?\)", "", pg_type)


def _read_expr(ident: str, pg_type: str) -> sql.Composable:
    """Select native values where they convert to Arrow directly, text otherwise (JSONB, uuid, …)."""
    base = _base_type(pg_type)
    if base.endswith("[]"):
        if base[:-2] in _NATIVE_READ and base[:-2] != "bytea":
            return sql.Identifier(ident)
        return sql.SQL("{}::text[]").format(sql.Identifier(ident))
    if base in _NATIVE_READ or base == "numeric":
        return sql.Identifier(ident)
    return sql.SQL("{}::text").format(sql.Identifier(ident))


def _arrow_type(pg_type: str) -> pa.DataType:
    base = _base_type(pg_type)
    if base.endswith("[]"):
        item = base[:-2]
        return pa.list_(_PG_TO_ARROW[item] if item in _NATIVE_READ and item != "bytea" else pa.string())
    return _PG_TO_ARROW.get(base, pa.string())


def _arrow_schema(cols: list[tuple[str, str, str]]) -> pa.Schema:
    fields = []
    for name, _, typ in cols:
        meta = {JSON_META_KEY: JSON_META_VALUE} if typ in ("jsonb", "json") else None
        fields.append(pa.field(name, _arrow_type(typ), metadata=meta))
    return pa.schema(fields)


def _rows_to_batch(rows: list[tuple[Any, ...]], schema: pa.Schema) -> pa.RecordBatch:
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
    arrays = []
    for values, field in zip(columns, schema, strict=True):
        if pa.types.is_floating(field.type):
            values = [None if v is None else float(v) for v in values]
        arrays.append(pa.array(values, type=field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _pg_message(e: BaseException) -> str:
    """The server's primary message (psycopg's str() can carry context lines we don't need)."""
    diag = getattr(e, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    return (primary or str(e) or type(e).__name__).strip().splitlines()[0]


# --------------------------------------------------------------------------------------------------
# The writer


class PostgresTableWriter(TableWriter):
    """Stages batches with COPY on its own connection; see the module docstring for each method."""

    def __init__(
        self,
        sink: PostgresSink,
        table: str,
        schema: pa.Schema,
        method: str,
        primary_key: Sequence[str] | str | None,
        parent_key: Sequence[str] | str | None,
    ) -> None:
        super().__init__(table, schema, method, primary_key, parent_key)
        self.sink = sink
        self.ident = pg_ident(table)
        self.columns = [_Column(f.name, pg_ident(f.name), _pg_type(f)) for f in schema]
        idents = [c.ident for c in self.columns]
        if len(set(idents)) != len(idents) or SEQ_COLUMN in idents:
            raise SinkError(f"column names of {table!r} collide after PostgreSQL name truncation")
        self._encoders = [_encoder(f) for f in schema]
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
        self._key_encoders = (
            [_encoder(schema.field(k)) for k in self.upsert_key] if method == "upsert" else []
        )
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
                f"({_pg_message(e)}); nothing was committed, the table is unchanged"
            )
        return SinkError(
            f"PostgreSQL error while {action} table {self.table!r}: {_pg_message(e)}; "
            "nothing was committed, the table is unchanged"
        )

    def _comment_names(
        self, cur: psycopg.Cursor, relation: sql.Composable, columns: Sequence[_Column]
    ) -> None:
        """Keep names we had to shorten in the column comment, so reads can give them back."""
        for c in columns:
            if c.ident != c.name:
                cur.execute(
                    sql.SQL("COMMENT ON COLUMN {}.{} IS {}").format(
                        relation, sql.Identifier(c.ident), sql.Literal(NAME_COMMENT_PREFIX + c.name)
                    )
                )

    # -- lifecycle hooks -----------------------------------------------------------------------------
    def _open(self) -> None:
        self.sink.ensure_schema()
        self._conn = self.sink.connect(autocommit=False)
        try:
            with self._conn.cursor() as cur:
                if self.method == "replace":
                    self._stage = sql.Identifier(self.sink.schema, self._stage_name)
                    cur.execute(sql.SQL("CREATE TABLE {} ({})").format(self._stage, self._column_defs()))
                    self._comment_names(cur, self._stage, self.columns)
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
            err = self._fail("preparing", e)
            self._close_conn()
            raise err from e

    def _write(self, batch: pa.RecordBatch | pa.Table) -> None:
        assert self._conn is not None and self._stage is not None
        data = encode_csv(batch, self._encoders)
        try:
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

    def _commit(self) -> int:
        assert self._conn is not None
        try:
            self._finish_copy()
            self._flush_keys()
            with self._conn.cursor() as cur:
                cur.execute(
                    "SELECT pg_advisory_xact_lock(%s)", (_advisory_key(self.sink.schema, self.ident),)
                )
                cur.execute("SET LOCAL work_mem = '64MB'")  # key dedupe/delete joins stay in memory
                publish = self._publish_replace if self.method == "replace" else self._publish_merge
                rows = publish(cur)
            self._conn.commit()
        except psycopg.Error as e:
            raise self._fail("committing", e) from e
        self._close_conn()
        return rows

    def _abort(self) -> None:
        self._finish_copy(SinkError("writer aborted"))
        conn = self._conn
        if conn is not None and not conn.closed and not conn.broken:
            try:
                conn.rollback()
            except psycopg.Error:
                log.debug("rollback failed for %s", self.table, exc_info=True)
        self._close_conn()

    def _close_conn(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except psycopg.Error:
                log.debug("close failed", exc_info=True)
            self._conn = None

    # -- publishing ----------------------------------------------------------------------------------
    def _publish_replace(self, cur: psycopg.Cursor) -> int:
        """Index the new table, then drop the old one and rename: readers wait only for this last step."""
        assert self._stage is not None
        index_name = self._key_index(cur, self._stage_name, self.primary_key, temp_name=True)
        self._copy_grants(cur)
        cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(self._target()))
        cur.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(self._stage, sql.Identifier(self.ident)))
        if index_name:
            final = self._free_relname(cur, pg_ident(f"{self.ident}_pkey"))
            cur.execute(
                sql.SQL("ALTER INDEX {} RENAME TO {}").format(
                    sql.Identifier(self.sink.schema, index_name), sql.Identifier(final)
                )
            )
        return self.staged_rows

    def _copy_grants(self, cur: psycopg.Cursor) -> None:
        """Give the new table the old one's privileges, so e.g. a BI role can still read it after replace."""
        rows = cur.execute(
            "SELECT CASE WHEN a.grantee = 0 THEN NULL ELSE pg_get_userbyid(a.grantee) END, a.privilege_type, "
            "a.is_grantable FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a "
            "WHERE n.nspname = %s AND c.relname = %s AND c.relacl IS NOT NULL AND a.grantee <> c.relowner",
            (self.sink.schema, self.ident),
        ).fetchall()
        for role, privilege, grantable in rows:
            if privilege not in _TABLE_PRIVILEGES:
                continue
            grant = sql.SQL("GRANT {} ON {} TO {}{}").format(
                sql.SQL(privilege),
                self._stage,
                sql.SQL("PUBLIC") if role is None else sql.Identifier(role),
                sql.SQL(" WITH GRANT OPTION") if grantable else sql.SQL(""),
            )
            cur.execute("SAVEPOINT closesync_grant")
            try:
                cur.execute(grant)
            except psycopg.Error as e:
                cur.execute("ROLLBACK TO SAVEPOINT closesync_grant")
                log.warning(
                    "could not carry %s on %r over to the new table: %s",
                    privilege,
                    self.table,
                    _pg_message(e),
                )
            else:
                cur.execute("RELEASE SAVEPOINT closesync_grant")

    def _publish_merge(self, cur: psycopg.Cursor) -> int:
        assert self._stage is not None
        existing = self._existing_columns(cur)
        target = self._target()
        if existing is None:
            cur.execute(sql.SQL("CREATE TABLE {} ({})").format(target, self._column_defs()))
            self._comment_names(cur, target, self.columns)
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
            self._comment_names(cur, target, new)
        # Cast where an existing column has another type than this run's schema (e.g. a retyped field).
        select = sql.SQL(", ").join(
            sql.Identifier(c.ident)
            if _same_type(existing[c.ident], c.pg_type)
            else sql.SQL("CAST({} AS {})").format(sql.Identifier(c.ident), sql.SQL(existing[c.ident]))
            for c in self.columns
        )
        if self.method == "append":
            return self._append(cur, select)
        return self._upsert(cur, select, list(existing))

    def _append(self, cur: psycopg.Cursor, select: sql.Composable) -> int:
        """INSERT SELECT; append may repeat keys, so an upsert-key index of ours that objects is dropped."""
        insert = sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ORDER BY {}").format(
            self._target(), self._col_list(), select, self._stage, sql.Identifier(SEQ_COLUMN)
        )
        cur.execute("SAVEPOINT closesync_append")
        try:
            cur.execute(insert)
        except psycopg.errors.UniqueViolation as e:
            index = getattr(e.diag, "constraint_name", None)
            cur.execute("ROLLBACK TO SAVEPOINT closesync_append")
            if not index or not self._is_own_index(cur, index):
                raise
            log.info("append repeats keys of %r: dropping its upsert index %s", self.table, index)
            cur.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(self.sink.schema, index)))
            cur.execute(insert)
        return max(cur.rowcount, 0)

    def _is_own_index(self, cur: psycopg.Cursor, index: str) -> bool:
        row = cur.execute(
            "SELECT obj_description(c.oid, 'pg_class') FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s",
            (self.sink.schema, index),
        ).fetchone()
        return bool(row and row[0] == INDEX_COMMENT)

    def _upsert(self, cur: psycopg.Cursor, select: sql.Composable, target_cols: list[str]) -> int:
        target = self._target()
        pk = [pg_ident(k) for k in self.primary_key]
        pk_ids = sql.SQL(", ").join(sql.Identifier(k) for k in pk)
        if self._has_keys:  # covered keys: their rows go whether or not a staged row carries the key
            cover = [c.ident for c in self._key_columns]
            cur.execute(
                sql.SQL("DELETE FROM {} t USING (SELECT DISTINCT {} FROM {}) s WHERE {}").format(
                    target,
                    sql.SQL(", ").join(sql.Identifier(k) for k in cover),
                    self._keys_stage,
                    sql.SQL(" AND ").join(sql.SQL("t.{0} = s.{0}").format(sql.Identifier(k)) for k in cover),
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

    def _existing_columns(self, cur: psycopg.Cursor) -> dict[str, str] | None:
        rows = cur.execute(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped "
            "ORDER BY a.attnum",
            (self.sink.schema, self.ident),
        ).fetchall()
        return {r[0]: r[1] for r in rows} if rows else None

    def _key_index(
        self, cur: psycopg.Cursor, relname: str, key: Sequence[str], temp_name: bool = False
    ) -> str | None:
        """Name of a unique index on exactly `key` (creating one if missing); None if duplicates prevent it."""
        if not key:
            return None
        key = [pg_ident(k) for k in key]
        rows = cur.execute(
            "SELECT i.relname, array(SELECT a.attname FROM unnest(x.indkey) k "
            "JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k) "
            "FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid "
            "JOIN pg_namespace n ON n.oid = t.relnamespace "
            "WHERE n.nspname = %s AND t.relname = %s AND x.indisunique AND x.indpred IS NULL "
            "AND x.indexprs IS NULL",
            (self.sink.schema, relname),
        ).fetchall()
        for name, cols in rows:
            if sorted(cols) == sorted(key):
                return str(name)
        name = (
            f"{INTERNAL_PREFIX}_pk_{uuid.uuid4().hex[:12]}"
            if temp_name
            else self._free_relname(cur, pg_ident(f"{relname}_pkey"))
        )
        nulls = sql.SQL(" NULLS NOT DISTINCT") if (self.sink.server_version() >= 150000) else sql.SQL("")
        cur.execute("SAVEPOINT closesync_index")
        try:
            cur.execute(
                sql.SQL("CREATE UNIQUE INDEX {} ON {} ({}){}").format(
                    sql.Identifier(name),
                    sql.Identifier(self.sink.schema, relname),
                    sql.SQL(", ").join(sql.Identifier(k) for k in key),
                    nulls,
                )
            )
        except psycopg.errors.UniqueViolation:
            cur.execute("ROLLBACK TO SAVEPOINT closesync_index")
            log.warning("table %r has duplicate keys %s; no unique index created", self.table, list(key))
            return None
        cur.execute(
            sql.SQL("COMMENT ON INDEX {} IS {}").format(
                sql.Identifier(self.sink.schema, name), sql.Literal(INDEX_COMMENT)
            )
        )
        cur.execute("RELEASE SAVEPOINT closesync_index")
        return name

    def _free_relname(self, cur: psycopg.Cursor, wanted: str) -> str:
        """`wanted` if no relation in the schema has that name yet, else a hashed variant."""
        taken = cur.execute(
            "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = %s",
            (self.sink.schema, wanted),
        ).fetchone()
        return pg_ident(f"{wanted}\x00{uuid.uuid4().hex[:6]}") if taken else wanted


def _same_type(existing: str, wanted: str) -> bool:
    return existing == {
        "timestamptz": "timestamp with time zone",
        "timestamptz[]": "timestamp with time zone[]",
    }.get(wanted, wanted)
