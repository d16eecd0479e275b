"""Parquet and CSV file sinks: ``parquet:DIR`` / ``csv:DIR``, one file per table.

Layout inside DIR (``<t>`` is the table name, percent-encoded so any name is a safe file name):

    <t>.parquet                     the table (or <t>.csv)
    <t>.part-<utc time>-<id>.parquet  rows added by ``append`` after the table existed, oldest first
    .closesync/<t>.schema           the table's Arrow schema (types and JSON flags; CSV needs it to read back)
    .closesync/tables.json          who loads each table (sinks.ownership)
    .closesync/publish-<id>.json    a publish being applied (finished by the next open if it was killed)
    _closesync_state.json           incremental state (read_state / write_state)
    .<t>.tmp-<id>.parquet           a writer's staging file (hidden; never matched by the globs below)

Every file of a table matches one glob, ``DIR/<t>.*parquet`` (``DIR/<t>.*csv``), e.g. in DuckDB
``SELECT * FROM read_parquet('DIR/leads.*parquet', union_by_name = true)``; ``preview``/``iter_batches``
read the same set and align columns by name.

Methods: ``replace`` writes the staging file and ``os.replace``s it onto ``<t>.parquet`` (atomic on POSIX
and Windows; readers see the old file or the new), then removes parts. ``append`` renames staging (minus
the record versions the table has, with a ``version_key``) into a new part. ``upsert`` streams the current
files minus rows whose key appears in staging or among the covered keys (``cover()``; key columns only,
held in memory like the staged keys of the merge) within the load's scope, followed by the staged rows,
into a new file and renames it into place. Every rename of a publish group goes through one manifest
(sinks.manifest), so the tables of one read change together. Caveat: while parts exist, a replace/upsert swaps
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
from closesync.sinks.base import PublishGroup, Sink, TableWriter, conform_batch, logical_type
from closesync.sinks.destination import Destination
from closesync.sinks.errors import SinkError, TableNotFoundError
from closesync.sinks.manifest import FileGroup, Publication, read_owners, recover
from closesync.sinks.rowkeys import first_positions, key_array, scope_mask
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
        recover(self.dir / META_DIR)  # finish a publish a killed process left half-done
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

    def _stage_schema(self, table: str, schema: pa.Schema, publication: Publication) -> None:
        """Write the schema sidecar beside its place; the publication renames it in."""
        path = self._schema_path(table)
        tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex}")
        create_private_file(tmp)
        tmp.write_bytes(schema.serialize().to_pybytes())
        publication.rename(tmp, path)

    # -- writing ------------------------------------------------------------------------------------
    def group(self) -> FileGroup:
        return FileGroup(self)

    def table_owner(self, table: str) -> dict[str, Any] | None:
        """None when the table is gone (a record outlives files deleted by hand)."""
        return read_owners(self.dir / META_DIR).get(table) if self.table_exists(table) else None

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

    def __init__(self, group: PublishGroup, sink: FileSink, spec: WriteSpec) -> None:
        super().__init__(group, spec)
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
        self._covered.append(key_array(keys, self.upsert_key))

    def _abort(self) -> None:
        self._covered = []
        if self._stage is not None:
            self._stage.discard()
            self._stage = None

    def _prepare(self, publication: Publication) -> int:
        """Build the table's new files beside the old ones (the table's lock is held) and add to
        ``publication`` the renames and removals that publish them; returns the rows written."""
        assert self._stage is not None
        sink, stage = self._sink, self._stage
        stage.close()
        self._stage = None
        publication.discard_on_abort(stage.path)
        existing = sink.files(self.table)
        if self.method == "upsert":
            return self._merge(existing, stage.path, publication)
        if self.method == "append" and self.spec.version_key:
            staged, rows = self._new_versions(existing, stage.path, publication)
        else:
            staged, rows = stage.path, self.staged_rows
        if self.method == "replace" or not existing:
            publication.rename(staged, sink.main_path(self.table))
            sink._stage_schema(self.table, self.schema, publication)
            publication.remove(*sink.part_paths(self.table))
        else:
            publication.rename(staged, sink._new_part_path(self.table))
            sink._stage_schema(self.table, unify(sink.table_schema(self.table), self.schema), publication)
        return rows

    def _new_versions(self, existing: list[Path], staged: Path, publication: Publication) -> tuple[Path, int]:
        """Append: the staged rows whose ``version_key`` neither the table nor an earlier staged row has."""
        sink, key = self._sink, self.spec.version_key
        seen: pa.Array | None = None
        if existing:
            old_schema = sink.table_schema(self.table)
            if all(old_schema.get_field_index(k) >= 0 for k in key):
                arrays = [key_array(b, key) for p in existing for b in sink._read_file(p, old_schema, 65_536)]
                seen = pa.concat_arrays(arrays).unique() if arrays else None
        out = sink._open_file_writer(sink._tmp_path(self.table), self.schema)
        publication.discard_on_abort(out.path)
        rows = 0
        for batch in self._staged_batches([staged]):
            keys = key_array(batch, key)
            fresh = pc.invert(pc.is_in(keys, value_set=seen)) if seen is not None else None
            if fresh is not None:
                batch, keys = batch.filter(pc.fill_null(fresh, True)), keys.filter(pc.fill_null(fresh, True))
            unique = pc.equal(first_positions(keys), pa.array(range(len(keys)), pa.int64()))
            batch, keys = batch.filter(unique), keys.filter(unique)
            seen = keys if seen is None else pa.concat_arrays([seen, keys.cast(seen.type)])
            rows += batch.num_rows
            out.write(batch)
        out.close()
        publication.remove(staged)
        return out.path, rows

    def _merge(self, existing: list[Path], staged: Path, publication: Publication) -> int:
        """Upsert: current rows whose key is not staged (or covered, or in a cleared scope), then staged rows
        (last per primary key)."""
        sink = self._sink
        old_schema = sink.table_schema(self.table) if existing else None
        schema = unify(old_schema, self.schema)
        staged_files = [staged]
        delete_key = self.parent_key or self.primary_key

        # Pass 1 over staging (key columns only): keys to delete and the last position of each record.
        covered = pa.concat_arrays(self._covered).unique() if self._covered else None
        delete_keys: list[pa.Array] = []
        pk_values: list[pa.Array] = []
        for batch in self._staged_batches(staged_files):
            delete_keys.append(key_array(batch, delete_key))
            pk_values.append(key_array(batch, self.primary_key))
        pks = pa.concat_arrays(pk_values) if pk_values else pa.array([], pa.string())
        positions = pa.table({"k": pks, "pos": pa.array(range(len(pks)), pa.int64())})
        keep = positions.group_by("k", use_threads=False).aggregate([("pos", "max")]).column("pos_max")
        deduped = len(keep) != len(pks)
        value_set = pa.concat_arrays(delete_keys).unique() if delete_keys else None

        out = sink._open_file_writer(sink._tmp_path(self.table), schema)
        publication.discard_on_abort(out.path)
        for path in existing:
            for batch in sink._read_file(path, old_schema, 65_536):  # type: ignore[arg-type]
                batch = self._keep_unreplaced(batch, delete_key, value_set, covered)
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
        main = sink.main_path(self.table)
        publication.rename(out.path, main)
        sink._stage_schema(self.table, schema, publication)
        publication.remove(*[p for p in existing if p != main], staged)
        return rows

    def _keep_unreplaced(
        self, batch: pa.RecordBatch, key: Sequence[str], staged: pa.Array | None, covered: pa.Array | None
    ) -> pa.RecordBatch:
        """The rows of an existing batch this upsert keeps: not staged, not covered within the scope, not in
        a cleared scope."""
        in_scope = scope_mask(batch, self.spec.scope)
        drop = pc.and_(in_scope, pa.scalar(self.spec.clear_scope))
        keys = key_array(batch, key) if staged is not None or covered is not None else None
        if staged is not None and len(staged):
            drop = pc.or_(drop, pc.is_in(keys, value_set=staged))
        if covered is not None and len(covered):
            drop = pc.or_(drop, pc.and_(in_scope, pc.is_in(keys, value_set=covered)))
        return batch.filter(pc.invert(pc.fill_null(drop, False)))

    def _staged_batches(self, files: list[Path]) -> Iterator[pa.RecordBatch]:
        for path in files:
            yield from self._sink._read_file(path, self.schema, 65_536)
