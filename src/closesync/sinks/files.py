"""Parquet and CSV file sinks: ``parquet:DIR`` / ``csv:DIR``, one file per table.

Layout inside DIR (``<t>`` is the table name, percent-encoded so any name is a safe file name):

    <t>.parquet                     the table (or <t>.csv)
    <t>.part-<utc time>-<id>.parquet  rows added by ``append`` after the table existed, oldest first
    .closesync/<t>.schema           the table's Arrow schema (types and JSON flags; CSV needs it to read back)
    _closesync_state.json           incremental state (read_state / write_state)
    .<t>.tmp-<id>.parquet           a writer's staging file (hidden; never matched by the globs below)

Every file of a table matches one glob, ``DIR/<t>.*parquet`` (``DIR/<t>.*csv``), e.g. in DuckDB
``SELECT * FROM read_parquet('DIR/leads.*parquet', union_by_name = true)``; ``preview``/``iter_batches``
read the same set and align columns by name.

Methods: ``replace`` writes the staging file and ``os.replace``s it onto ``<t>.parquet`` (atomic on POSIX
and Windows; readers see the old file or the new), then removes parts. ``append`` renames staging into a
new part. ``upsert`` streams the current files minus rows whose key appears in staging or among the
covered keys (``cover()``; key columns only, held in memory like the staged keys of the merge), followed by
the staged rows, into a new file and renames it into place. Caveat: while parts exist, a replace/upsert swaps
the main file first and removes the parts right after, so a reader globbing in that instant can see the
new table plus old parts; with replace-only or upsert-only use there are no parts and no window.

CSV: JSON columns are written as their JSON text, lists as JSON arrays, timestamps as ISO-8601 UTC.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from closesync.private_files import create_private_file, make_private_dirs
from closesync.sinks.base import Sink, TableWriter, conform_batch, logical_type
from closesync.sinks.destination import Destination
from closesync.sinks.errors import SinkError, TableNotFoundError
from closesync.sinks.writespec import WriteSpec

STATE_FILE = "_closesync_state.json"
META_DIR = ".closesync"
#: Rows gathered before writing one Parquet row group / CSV chunk.
FLUSH_ROWS = 100_000
#: Staging files untouched this long are leftovers of a killed writer and are removed at open.
STALE_TMP_SECONDS = 3600


def encode_table(table: str) -> str:
    """A file-name-safe, reversible form of a table name (slugs stay as they are)."""
    if not table or "\x00" in table:
        raise SinkError(f"invalid table name {table!r}")
    return quote(table, safe="").replace(".", "%2E")


def decode_table(encoded: str) -> str:
    return unquote(encoded)


def _is_temporal(t: pa.DataType) -> bool:
    return pa.types.is_timestamp(t) or pa.types.is_date(t) or pa.types.is_time(t)


def _csv_schema(schema: pa.Schema) -> pa.Schema:
    """The schema as written to CSV: list columns become JSON text."""
    return pa.schema(
        [pa.field(f.name, pa.string(), metadata=f.metadata) if _is_list(f.type) else f for f in schema]
    )


def _is_list(t: pa.DataType) -> bool:
    return pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)


def _lists_to_json(batch: pa.RecordBatch | pa.Table, csv_schema: pa.Schema) -> pa.Table:
    """Replace list columns with their JSON text for CSV (temporal items as ISO strings)."""
    arrays = []
    for field, col in zip(batch.schema, batch.columns, strict=True):
        if _is_list(field.type):
            if _is_temporal(field.type.value_type):
                col = col.cast(pa.list_(pa.string()))
            texts = [None if v is None else json.dumps(v, ensure_ascii=False) for v in col.to_pylist()]
            col = pa.array(texts, pa.string())
        arrays.append(col)
    return pa.Table.from_arrays(arrays, schema=csv_schema)


def _json_to_lists(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Inverse of _lists_to_json, for the list columns of ``schema`` present in ``table``."""
    for i, name in enumerate(table.column_names):
        idx = schema.get_field_index(name)
        if idx < 0 or not _is_list(schema.field(idx).type):
            continue
        target = schema.field(idx).type
        values = [None if v is None else json.loads(v) for v in table.column(i).to_pylist()]
        if _is_temporal(target.value_type):
            arr = pa.array(values, pa.list_(pa.string())).cast(target)
        else:
            arr = pa.array(values, target)
        table = table.set_column(i, schema.field(idx), arr)
    return table


def unify(old: pa.Schema | None, new: pa.Schema) -> pa.Schema:
    """Columns of ``old`` followed by columns only ``new`` has; a column in both takes ``new``'s type,
    unless ``new`` only saw NULLs there (type null): then the stored values keep their type, since they
    cannot be cast to null (a shared table such as ``_closesync_custom_fields`` gets such columns)."""
    if old is None:
        return new
    fields = [_newer_field(f, new) for f in old]
    fields += [f for f in new if old.get_field_index(f.name) < 0]
    return pa.schema(fields)


def _newer_field(old: pa.Field, new: pa.Schema) -> pa.Field:
    """``old``'s column as ``new`` declares it, unless ``new`` lacks it or only knows it as null."""
    if new.get_field_index(old.name) < 0 or pa.types.is_null(new.field(old.name).type):
        return old
    return new.field(old.name)


def _key_array(batch: pa.RecordBatch | pa.Table, key: Sequence[str]) -> pa.Array:
    """One comparable value per row for a (possibly composite) key."""
    if len(key) == 1:
        col = batch.column(key[0])
        return col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    parts = []
    for k in key:
        col = batch.column(k)
        text = pc.cast(col, pa.string())
        parts.append(pc.fill_null(text, "\x00"))
    joined = pc.binary_join_element_wise(*parts, "\x1f")
    return joined.combine_chunks() if isinstance(joined, pa.ChunkedArray) else joined


class FileSink(Sink):
    """Tables as Parquet or CSV files in one folder."""

    def __init__(
        self, directory: str | os.PathLike[str], fmt: str = "parquet", *, compression: str = "zstd"
    ) -> None:
        super().__init__()
        if fmt not in ("parquet", "csv"):
            raise SinkError(f"unknown file format {fmt!r}; use parquet or csv")
        self.dir = Path(directory)
        self.fmt = fmt
        self.ext = "." + fmt
        self.compression = compression
        self.destination = Destination(fmt, str(directory))
        self._table_locks: dict[str, threading.Lock] = {}
        try:
            make_private_dirs(self.dir / META_DIR)
        except OSError as e:
            raise SinkError(f"cannot create folder {self.dir}: {e.strerror}") from None
        self._remove_stale_tmp()

    # -- paths ------------------------------------------------------------------------------------
    def main_path(self, table: str) -> Path:
        return self.dir / (encode_table(table) + self.ext)

    def part_paths(self, table: str) -> list[Path]:
        prefix = encode_table(table) + ".part-"
        names = sorted(n for n in os.listdir(self.dir) if n.startswith(prefix) and n.endswith(self.ext))
        return [self.dir / n for n in names]

    def files(self, table: str) -> list[Path]:
        """Every file holding rows of ``table``: the main file, then parts oldest first."""
        main = self.main_path(table)
        return ([main] if main.exists() else []) + self.part_paths(table)

    def _schema_path(self, table: str) -> Path:
        return self.dir / META_DIR / (encode_table(table) + ".schema")

    def _tmp_path(self, table: str) -> Path:
        return self.dir / f".{encode_table(table)}.tmp-{uuid.uuid4().hex}{self.ext}"

    def _new_part_path(self, table: str) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        return self.dir / f"{encode_table(table)}.part-{stamp}-{uuid.uuid4().hex[:8]}{self.ext}"

    def _table_lock(self, table: str) -> threading.Lock:
        with self._lock:
            return self._table_locks.setdefault(table, threading.Lock())

    def _remove_stale_tmp(self) -> None:
        cutoff = time.time() - STALE_TMP_SECONDS
        for entry in os.scandir(self.dir):
            if entry.name.startswith(".") and ".tmp-" in entry.name and entry.is_file():
                with contextlib.suppress(OSError):
                    if entry.stat().st_mtime < cutoff:
                        os.unlink(entry.path)

    # -- schema sidecar -----------------------------------------------------------------------------
    def table_schema(self, table: str) -> pa.Schema:
        """The table's schema: the sidecar, else (files written by others) the files' own schemas."""
        path = self._schema_path(table)
        if path.exists():
            return pa.ipc.read_schema(pa.py_buffer(path.read_bytes()))
        files = self.files(table)
        if not files:
            raise TableNotFoundError(f"table {table!r} does not exist in {self.dir}")
        if self.fmt == "parquet":
            return pa.unify_schemas([pq.read_schema(f) for f in files], promote_options="permissive")
        with pcsv.open_csv(files[0]) as reader:
            return reader.schema

    def _save_schema(self, table: str, schema: pa.Schema) -> None:
        path = self._schema_path(table)
        tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex}")
        create_private_file(tmp)
        tmp.write_bytes(schema.serialize().to_pybytes())
        os.replace(tmp, path)

    # -- writing ------------------------------------------------------------------------------------
    def writer(self, spec: WriteSpec) -> FileTableWriter:
        return FileTableWriter(self, spec)

    def _open_file_writer(self, path: Path, schema: pa.Schema) -> _FileWriter:
        create_private_file(path)  # CRM data: owner-only (see closesync.private_files); renames keep the mode
        return _FileWriter(path, schema, self.fmt, self.compression)

    # -- state --------------------------------------------------------------------------------------
    def _load_states(self) -> dict[str, Any]:
        path = self.dir / STATE_FILE
        if not path.exists():
            return {}
        return json.loads(path.read_text(encoding="utf-8"))

    def read_state(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            return self._load_states().get(key)

    def write_state(self, key: str, value: dict[str, Any]) -> None:
        with self._lock:
            states = self._load_states()
            states[key] = json.loads(json.dumps(value, default=str))
            path = self.dir / STATE_FILE
            tmp = path.with_name(f".{STATE_FILE}.tmp-{uuid.uuid4().hex}")
            create_private_file(tmp)
            tmp.write_text(json.dumps(states, indent=2, sort_keys=True) + "\n", encoding="utf-8")
            os.replace(tmp, path)

    # -- reading ------------------------------------------------------------------------------------
    def table_exists(self, table: str) -> bool:
        return bool(self.files(table))

    def tables(self) -> list[str]:
        found = set()
        for name in os.listdir(self.dir):
            if name.startswith(".") or not name.endswith(self.ext):
                continue
            stem = name[: -len(self.ext)]
            found.add(decode_table(stem.split(".part-", 1)[0]))
        return sorted(found)

    def columns(self, table: str) -> list[tuple[str, str]]:
        if not self.table_exists(table):
            raise TableNotFoundError(f"table {table!r} does not exist in {self.dir}")
        return [(f.name, str(logical_type(f))) for f in self.table_schema(table)]

    def _read_file(self, path: Path, schema: pa.Schema, batch_size: int) -> Iterator[pa.RecordBatch]:
        if self.fmt == "parquet":
            pf = pq.ParquetFile(path)
            for batch in pf.iter_batches(batch_size=batch_size):
                yield batch
            return
        with path.open(newline="", encoding="utf-8") as fh:
            header = next(csv.reader(fh), [])
        csv_types = _csv_schema(schema)
        types = {n: csv_types.field(n).type for n in header if csv_types.get_field_index(n) >= 0}
        reader = pcsv.open_csv(
            path,
            read_options=pcsv.ReadOptions(block_size=1 << 24),
            parse_options=pcsv.ParseOptions(newlines_in_values=True),
            convert_options=pcsv.ConvertOptions(
                column_types=types, strings_can_be_null=True, quoted_strings_can_be_null=False
            ),
        )
        with reader:
            for batch in reader:
                yield from _json_to_lists(pa.Table.from_batches([batch]), schema).to_batches()

    def iter_batches(self, table: str, batch_size: int = 65_536) -> Iterator[pa.RecordBatch]:
        schema = self.table_schema(table)
        for path in self.files(table):
            for batch in self._read_file(path, schema, batch_size):
                if batch.num_rows:
                    yield conform_batch(batch, schema)  # type: ignore[misc]

    def preview(self, table: str, limit: int = 100) -> pa.Table:
        schema = self.table_schema(table)
        out: list[pa.RecordBatch] = []
        remaining = limit
        for batch in self.iter_batches(table, batch_size=max(1, min(limit, 65_536))):
            if remaining <= 0:
                break
            out.append(batch.slice(0, remaining))
            remaining -= min(remaining, batch.num_rows)
        return pa.Table.from_batches(out, schema=schema)

    def row_count(self, table: str) -> int:
        if self.fmt == "parquet":
            return sum(pq.ParquetFile(f).metadata.num_rows for f in self.files(table))
        return super().row_count(table)

    def drop(self, table: str) -> None:
        with self._table_lock(table):
            for path in [*self.files(table), self._schema_path(table)]:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)

    def close(self) -> None:
        """Nothing to release: files are closed after each operation."""


class _FileWriter:
    """Streams batches into one Parquet or CSV file, gathering small batches into bigger row groups."""

    def __init__(self, path: Path, schema: pa.Schema, fmt: str, compression: str) -> None:
        self.path = path
        self.schema = schema
        self.fmt = fmt
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self._writer: pq.ParquetWriter | pcsv.CSVWriter
        if fmt == "parquet":
            self._writer = pq.ParquetWriter(path, schema, compression=compression)
        else:
            self._csv_schema = _csv_schema(schema)
            self._writer = pcsv.CSVWriter(path, self._csv_schema)

    def write(self, batch: pa.RecordBatch | pa.Table) -> None:
        self._pending.extend(batch.to_batches() if isinstance(batch, pa.Table) else [batch])
        self._pending_rows += batch.num_rows
        if self._pending_rows >= FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        table = pa.Table.from_batches(self._pending, schema=self.schema)
        self._pending, self._pending_rows = [], 0
        if self.fmt == "parquet":
            self._writer.write_table(table)  # type: ignore[call-arg]
        else:
            self._writer.write_table(_lists_to_json(table, self._csv_schema))

    def close(self) -> None:
        self.flush()
        self._writer.close()

    def discard(self) -> None:
        with contextlib.suppress(Exception):
            self._writer.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


class FileTableWriter(TableWriter):
    """Writes a hidden staging file, then renames or merges it into the table's files."""

    def __init__(self, sink: FileSink, spec: WriteSpec) -> None:
        super().__init__(spec)
        encode_table(spec.table)
        self._sink = sink
        self._stage: _FileWriter | None = None
        self._covered: list[pa.Array] = []

    def _open(self) -> None:
        self._stage = self._sink._open_file_writer(self._sink._tmp_path(self.table), self.schema)

    def _write(self, batch: pa.RecordBatch | pa.Table) -> None:
        assert self._stage is not None
        self._stage.write(batch)

    def _cover(self, keys: pa.RecordBatch | pa.Table) -> None:
        self._covered.append(_key_array(keys, self.upsert_key))

    def _abort(self) -> None:
        self._covered = []
        if self._stage is not None:
            self._stage.discard()
            self._stage = None

    def _commit(self) -> int:
        assert self._stage is not None
        sink, stage = self._sink, self._stage
        stage.close()
        with sink._table_lock(self.table):
            existing = sink.files(self.table)
            if self.method == "replace" or not existing:
                if self.method == "upsert":
                    rows = self._merge([], stage.path)
                else:
                    os.replace(stage.path, sink.main_path(self.table))
                    rows = self.staged_rows
                sink._save_schema(self.table, self.schema)
                self._remove(sink.part_paths(self.table))
            elif self.method == "append":
                old = sink.table_schema(self.table)
                os.replace(stage.path, sink._new_part_path(self.table))
                sink._save_schema(self.table, unify(old, self.schema))
                rows = self.staged_rows
            else:
                rows = self._merge(existing, stage.path)
        self._stage = None
        return rows

    def _merge(self, existing: list[Path], staged: Path) -> int:
        """Upsert: current rows whose key is not staged, then staged rows (last per primary key)."""
        sink = self._sink
        old_schema = sink.table_schema(self.table) if existing else None
        schema = unify(old_schema, self.schema)
        staged_files = [staged]
        delete_key = self.parent_key or self.primary_key

        # Pass 1 over staging (key columns only): keys to delete and the last position of each record.
        delete_keys: list[pa.Array] = list(self._covered)
        pk_values: list[pa.Array] = []
        for batch in self._staged_batches(staged_files):
            delete_keys.append(_key_array(batch, delete_key))
            pk_values.append(_key_array(batch, self.primary_key))
        pks = pa.concat_arrays(pk_values) if pk_values else pa.array([], pa.string())
        positions = pa.table({"k": pks, "pos": pa.array(range(len(pks)), pa.int64())})
        keep = positions.group_by("k", use_threads=False).aggregate([("pos", "max")]).column("pos_max")
        deduped = len(keep) != len(pks)
        value_set = pa.concat_arrays(delete_keys).unique() if delete_keys else None

        out = sink._open_file_writer(sink._tmp_path(self.table), schema)
        try:
            for path in existing:
                for batch in sink._read_file(path, old_schema, 65_536):  # type: ignore[arg-type]
                    if value_set is not None and len(value_set):
                        mask = pc.invert(pc.is_in(_key_array(batch, delete_key), value_set=value_set))
                        batch = batch.filter(pc.fill_null(mask, True))
                    if batch.num_rows:
                        out.write(conform_batch(batch, schema))
            offset = rows = 0
            for batch in self._staged_batches(staged_files):
                n = batch.num_rows
                if deduped:
                    pos = pa.array(range(offset, offset + n), pa.int64())
                    batch = batch.filter(pc.is_in(pos, value_set=keep))
                offset += n
                rows += batch.num_rows
                out.write(conform_batch(batch, schema))
            out.close()
        except BaseException:
            out.discard()
            raise
        os.replace(out.path, sink.main_path(self.table))
        sink._save_schema(self.table, schema)
        self._remove([p for p in existing if p != sink.main_path(self.table)] + [staged])
        return rows

    def _staged_batches(self, files: list[Path]) -> Iterator[pa.RecordBatch]:
        for path in files:
            yield from self._sink._read_file(path, self.schema, 65_536)

    @staticmethod
    def _remove(paths: list[Path]) -> None:
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
