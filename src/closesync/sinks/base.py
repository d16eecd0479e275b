"""The sink interface every destination implements, plus helpers the destinations share.

A sink is a place tables land (a DuckDB file, a PostgreSQL schema, a folder of Parquet/CSV files). The
pipeline only talks to this interface:

    with sink.writer(WriteSpec("leads", schema, method="upsert", primary_key=("id",))) as w:
        for batch in batches:
            w.write(batch)          # staged, never visible to readers yet
    w.rows                          # rows committed

The writer publishes on a clean exit of the ``with`` block and aborts (target untouched) on an exception.

Tables that describe one read (leads and its four nested tables) are published together through a
publish group: every table changes, or none does (one transaction in a database, a manifest and renames
in a folder), so a failure half-way through never leaves some tables new and others old:

    with sink.group() as group:
        leads, contacts = group.writer(leads_spec), group.writer(contacts_spec)
        ...                         # write to both
    # both published here, atomically; an exception in the block aborts both

``sink.writer(spec)`` is a group of one.

Covered keys (upsert only): ``w.cover(keys)`` tells the writer that this load covers every target row with
these key values (the upsert key: ``parent_key`` if given, else ``primary_key``), whether or not a staged
row carries them. At commit, in the same transaction, rows of covered keys are deleted together with those
of staged keys, then the staged rows are inserted. That is how an incremental load drops the children a
re-read parent no longer has (cover every re-read parent's key) and records deleted in Close (cover their
ids with no staged rows). ``replace`` and ``append`` ignore covered keys.
Several writers of one sink may be open at once from different threads, so sinks keep per-writer state
(cursor, staging table, temp file) in the writer and guard shared state with a lock.

Helpers here are deliberately destination-neutral: Arrow field -> logical type, identifier quoting and
batch conformance, so DuckDB, PostgreSQL and the file sinks agree on types. Destination strings live in
sinks.destination, the writer's arguments in sinks.writespec.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import pyarrow as pa

from closesync.sinks.destination import Destination
from closesync.sinks.errors import SinkError
from closesync.sinks.ownership import TableClaim
from closesync.sinks.writespec import WriteSpec

#: Field metadata key/value that marks a string column as JSON text (sinks store it as JSON / JSONB).
JSON_META_KEY = b"closesync.type"
JSON_META_VALUE = b"json"

#: Table holding per-report incremental state inside a database sink.
STATE_TABLE = "_closesync_state"


# --------------------------------------------------------------------------------------------------
# Types


@dataclass(frozen=True)
class LogicalType:
    """Destination-neutral column type derived from an Arrow field.

    kind: timestamp (UTC instant) | date | integer | float | boolean | string | json | binary | list.
    ``item`` is set for lists (the element's logical type).
    """

    kind: str
    item: LogicalType | None = None

    def __str__(self) -> str:
        return f"list<{self.item}>" if self.kind == "list" and self.item else self.kind


def is_json_field(field: pa.Field) -> bool:
    """True when the field is JSON text (string column flagged in field metadata)."""
    meta = field.metadata or {}
    return meta.get(JSON_META_KEY) == JSON_META_VALUE


def json_field(name: str, nullable: bool = True) -> pa.Field:
    """A string field flagged as JSON, so every sink stores it as its JSON type."""
    return pa.field(name, pa.string(), nullable=nullable, metadata={JSON_META_KEY: JSON_META_VALUE})


def logical_type(field_or_type: pa.Field | pa.DataType) -> LogicalType:
    """Map an Arrow field (or type) to a LogicalType. Unknown/nested structs fall back to json."""
    if isinstance(field_or_type, pa.Field):
        if is_json_field(field_or_type):
            return LogicalType("json")
        t = field_or_type.type
    else:
        t = field_or_type
    if pa.types.is_timestamp(t):
        return LogicalType("timestamp")
    if pa.types.is_date(t):
        return LogicalType("date")
    if pa.types.is_boolean(t):
        return LogicalType("boolean")
    if pa.types.is_integer(t):
        return LogicalType("integer")
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return LogicalType("float")
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return LogicalType("string")
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return LogicalType("binary")
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return LogicalType("list", logical_type(t.value_field))
    if pa.types.is_null(t):
        return LogicalType("string")
    return LogicalType("json")


# --------------------------------------------------------------------------------------------------
# SQL helpers


def quote_ident(name: str) -> str:
    """Quote an SQL identifier (DuckDB and PostgreSQL both double embedded quotes).

    Custom-field names come from users, so every identifier goes through here; NUL can't be quoted
    safely in either database and is rejected.
    """
    if "\x00" in name:
        raise SinkError(f"identifier contains a NUL character: {name!r}")
    if not name:
        raise SinkError("empty identifier")
    return '"' + name.replace('"', '""') + '"'


# --------------------------------------------------------------------------------------------------
# Batches


def conform_batch(batch: pa.RecordBatch | pa.Table, schema: pa.Schema) -> pa.RecordBatch | pa.Table:
    """Reorder/cast a batch to ``schema``; columns the batch lacks become NULL, extra ones are an error.

    Shaping already produces the declared schema, so this is normally a cheap no-op check.
    """
    if batch.schema.equals(schema, check_metadata=False):
        return batch
    extra = [n for n in batch.schema.names if schema.get_field_index(n) < 0]
    if extra:
        raise SinkError(f"batch has columns not in the writer's schema: {extra}")
    arrays = []
    for field in schema:
        idx = batch.schema.get_field_index(field.name)
        if idx < 0:
            arrays.append(pa.nulls(batch.num_rows, type=field.type))
        else:
            col = batch.column(idx)
            if not col.type.equals(field.type):
                col = col.cast(field.type)
            arrays.append(col)
    if isinstance(batch, pa.Table):
        return pa.Table.from_arrays(arrays, schema=schema)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


# --------------------------------------------------------------------------------------------------
# Interface


class TableWriter(ABC):
    """Stages batches for one table and publishes them all at once.

    Subclasses implement ``_write``, ``_abort`` and the publish steps their group calls; this class supplies
    the context-manager protocol and the one-shot lifecycle so every sink behaves the same on errors.
    """

    def __init__(self, group: PublishGroup, spec: WriteSpec) -> None:
        quote_ident(spec.table)
        self.group = group
        self.spec = spec
        self.table = spec.table
        self.schema = spec.schema
        self.method = spec.method
        self.primary_key = spec.primary_key
        self.parent_key = spec.parent_key
        self.upsert_key = spec.upsert_key
        self.rows = 0  # rows committed (0 until commit)
        self.staged_rows = 0
        self.covered_keys = 0  # key rows passed to cover() (before de-duplication)
        self._state = "new"  # new -> open -> committed | aborted

    # -- lifecycle -------------------------------------------------------------------------------
    def __enter__(self) -> TableWriter:
        self.open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()

    def open(self) -> None:
        """Prepare staging. Idempotent so callers may use write() without an explicit open()."""
        if self._state == "new":
            self._open()
            self._state = "open"
        elif self._state != "open":
            raise SinkError(f"writer for {self.table!r} is already {self._state}")

    def write(self, batch: pa.RecordBatch | pa.Table) -> None:
        """Stage a batch; it becomes visible only at commit."""
        self.open()
        batch = conform_batch(batch, self.schema)
        if batch.num_rows == 0:
            return
        self._write(batch)
        self.staged_rows += batch.num_rows

    def cover(self, keys: pa.RecordBatch | pa.Table) -> None:
        """Declare upsert-key values this load covers: their target rows are deleted at commit (see above).

        ``keys`` must hold the ``upsert_key`` columns (others are ignored); a no-op for replace/append.
        """
        self.open()
        if self.method != "upsert" or keys.num_rows == 0:
            return
        names = self.upsert_key
        missing = [k for k in names if k not in keys.schema.names]
        if missing:
            raise SinkError(f"cover() keys lack column(s) {missing} of {self.table!r}")
        schema = pa.schema([self.schema.field(k) for k in names])
        batch = conform_batch(keys.select(list(names)), schema)
        self._cover(batch)
        self.covered_keys += batch.num_rows

    def commit(self) -> int:
        """Publish staged rows per ``method`` (with the rest of the writer's group); returns the rows written."""
        self.open()
        self.group.commit()
        return self.rows

    def abort(self) -> None:
        """Throw staged rows away (the whole group's); the targets stay as they were. Safe to call twice."""
        self.group.abort()

    def _discard(self) -> None:
        """Abort this writer alone (its group is aborting)."""
        if self._state in ("committed", "aborted"):
            return
        was_open = self._state == "open"
        self._state = "aborted"
        if was_open:
            self._abort()

    # -- for subclasses ------------------------------------------------------------------------------
    def _open(self) -> None:  # noqa: B027 - optional hook
        """Create staging (table, temp file). Default: nothing."""

    @abstractmethod
    def _write(self, batch: pa.RecordBatch | pa.Table) -> None: ...

    def _cover(self, keys: pa.RecordBatch | pa.Table) -> None:
        """Stage covered keys (columns = ``upsert_key``, typed as in ``schema``) for deletion at commit."""
        raise SinkError(f"{type(self).__name__} does not support covered keys")

    @abstractmethod
    def _abort(self) -> None: ...


class PublishGroup(ABC):
    """Writers whose tables are published together: all of them change, or none (see the module docstring).

    Sinks subclass it: ``_new_writer`` makes a writer bound to the group, ``_publish`` publishes every
    writer at once (returning the rows each wrote) and leaves the targets untouched if it raises.
    Writers of one group are used from one thread.
    """

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.writers: list[TableWriter] = []
        self._state = "open"  # open -> committed | aborted

    def writer(self, spec: WriteSpec) -> TableWriter:
        if self._state != "open":
            raise SinkError(f"the publish group is already {self._state}")
        writer = self._new_writer(spec)
        self.writers.append(writer)
        return writer

    def commit(self) -> None:
        """Publish every writer's staged rows at once; on failure nothing is published and all are aborted."""
        if self._state == "committed":
            return
        if self._state != "open":
            raise SinkError(f"the publish group is already {self._state}")
        writers = list(self.writers)
        try:
            for w in writers:
                w.open()
            rows = self._publish(writers) if writers else []
        except BaseException:
            self.abort()
            raise
        self._state = "committed"
        for w, n in zip(writers, rows, strict=True):
            w.rows, w._state = n, "committed"

    def abort(self) -> None:
        """Throw every writer's staged rows away; the targets stay exactly as they were. Safe to call twice."""
        if self._state != "open":
            return
        self._state = "aborted"
        for w in self.writers:
            w._discard()
        self._release()

    def __enter__(self) -> PublishGroup:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()

    @abstractmethod
    def _new_writer(self, spec: WriteSpec) -> TableWriter: ...

    @abstractmethod
    def _publish(self, writers: Sequence[TableWriter]) -> list[int]: ...

    def _release(self) -> None:  # noqa: B027 - optional hook
        """Free what the group holds after an abort (e.g. a shared connection). Default: nothing."""


class Sink(ABC):
    """A destination: hands out writers and answers the reads the pipeline and the web preview need."""

    destination: Destination

    def __init__(self) -> None:
        self._lock = threading.RLock()

    @abstractmethod
    def group(self) -> PublishGroup:
        """A new publish group: writers made by ``group.writer(spec)`` are published together."""

    def writer(self, spec: WriteSpec) -> TableWriter:
        """A writer for ``spec.table`` alone (a group of one); use it as a context manager."""
        return self.group().writer(spec)

    @abstractmethod
    def table_owner(self, table: str) -> dict[str, Any] | None:
        """The ownership record of ``table`` (see sinks.ownership) or None."""

    def check_claim(self, table: str, claim: TableClaim) -> None:
        """Fail early (before reading anything) if another writer owns ``table`` (TableOwnedError).

        Publishing checks again, in its transaction; this only spares a doomed read.
        """
        claim.check(table, self.table_owner(table))

    @abstractmethod
    def read_state(self, key: str) -> dict[str, Any] | None:
        """Stored incremental state for ``key`` or None."""

    @abstractmethod
    def write_state(self, key: str, value: dict[str, Any]) -> None:
        """Store incremental state for ``key`` (JSON-serialisable dict), replacing any previous value."""

    @abstractmethod
    def table_exists(self, table: str) -> bool: ...

    @abstractmethod
    def tables(self) -> list[str]:
        """User tables (not the sink's own bookkeeping tables), sorted."""

    @abstractmethod
    def columns(self, table: str) -> list[tuple[str, str]]:
        """(column name, destination type name) in table order; raises TableNotFoundError."""

    @abstractmethod
    def preview(self, table: str, limit: int = 100) -> pa.Table:
        """The first ``limit`` rows as Arrow (for the web preview and tests)."""

    @abstractmethod
    def iter_batches(self, table: str, batch_size: int = 65_536) -> Iterator[pa.RecordBatch]:
        """Stream the whole table as Arrow batches (exports, comparisons)."""

    def limit_memory(self, cache_bytes: int, batch_bytes: int) -> None:  # noqa: B027 - optional hook
        """Keep the destination's own cache within `cache_bytes` and each writer's batches waiting to be
        written within about `batch_bytes` (its shares of the sync's memory budget); sinks that hold
        nothing beyond the batch being written ignore it."""

    def row_count(self, table: str) -> int:
        """Number of rows; sinks override with something cheaper than streaming."""
        return sum(b.num_rows for b in self.iter_batches(table))

    @abstractmethod
    def drop(self, table: str) -> None:
        """Remove the table if it exists."""

    @abstractmethod
    def close(self) -> None:
        """Release connections/handles. Safe to call twice."""

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
