"""Reading a dataset's table for people: preview rows, column types, and whole-table exports (CSV/Parquet).

Front ends never open a destination themselves; they ask the DataCenter, which reads through here.

A dataset loads one table, named in the dataset, except on a report with one table per type ("Custom
Objects"): those tables are named with the dataset's table as prefix and recorded as the dataset's in the
destination's ownership records, which is where `tables()` finds them. Preview, columns and export then take
one of them (`table`, the first by default) and name the choices when asked for another.

DuckDB lets one process at a time hold a file once anyone writes it, so every read takes the home's
cross-process destination lock (`destlock`, shared within this process): a run in another process then
waits for a preview instead of failing on DuckDB's lock, and a read during such a run answers "busy" at
once. Short reads open the file read-only; an export, which may stream for minutes, opens it read-write,
because that is the instance this process's own scheduler runs share (a read-only one would make them
wait and fail).
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from closesync.datacenter import destlock
from closesync.datacenter.errors import DatasetBusyError, NotFoundError, ValidationError
from closesync.datacenter.models import Column, Dataset, Export, Preview, table_owner_id

FORMATS = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}


class Tables:
    """Reads the tables datasets load (never creating one just to look)."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self._counted: dict[int, tuple[tuple[Any, ...], int | None]] = {}  # dataset id -> (as of, rows)
        self._counted_lock = threading.Lock()

    def row_counts(self, datasets: Sequence[Dataset], wait_s: float) -> dict[int, int | None]:
        """Rows in each dataset's table now, by dataset id (None: no table yet, or it could not be counted).

        Counting is cheap (count(*), Parquet footers) but a destination may be busy or slow: what is not
        counted within `wait_s` is None, and is kept when it arrives. A count stands until the dataset's
        next run (or a change of its table); a running dataset is counted afresh each time.
        """
        results: dict[int, int | None] = {}
        todo: dict[str, list[Dataset]] = {}
        with self._counted_lock:
            for dataset in datasets:
                known = self._counted.get(dataset.id)
                if known is not None and known[0] == _count_key(dataset):
                    results[dataset.id] = known[1]
                else:
                    todo.setdefault(dataset.destination, []).append(dataset)
        workers = [  # one per destination, so a slow one holds up none of the others
            threading.Thread(target=self._count, args=(group,), daemon=True, name="closesync-count")
            for group in todo.values()
        ]
        deadline = time.monotonic() + wait_s
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        with self._counted_lock:
            for group in todo.values():
                for dataset in group:
                    known = self._counted.get(dataset.id)
                    results[dataset.id] = known[1] if known is not None and known[0] == _count_key(dataset) else None
        return results

    def _count(self, datasets: Sequence[Dataset]) -> None:
        """Count the tables of one destination, one after the other (a dataset's tables together); a
        failure counts as unknown."""
        for dataset in datasets:
            try:
                with self._open(dataset) as sink:
                    names = [] if sink is None else _dataset_tables(sink, dataset)
                    rows = sum(int(sink.row_count(name)) for name in names) if names else None
            except Exception:  # busy, unreachable or dropped: the list shows "—", the page says why
                rows = None
            with self._counted_lock:
                self._counted[dataset.id] = (_count_key(dataset), rows)

    def tables(self, dataset: Dataset) -> list[str]:
        """The tables the dataset loads now: its own, or its per-type tables; [] before the first run."""
        with self._open(dataset) as sink:
            return [] if sink is None else _dataset_tables(sink, dataset)

    @contextlib.contextmanager
    def _open(self, dataset: Dataset, *, read_only: bool = True) -> Iterator[Any]:
        """The dataset's sink, or None when its destination holds nothing yet; errors as DataCenter errors."""
        from closesync.sinks import SinkError, SinkLockedError, open_sink, parse_destination

        dest = parse_destination(dataset.destination)
        if dest.kind == "duckdb" and not Path(dest.target).exists():
            yield None
            return
        if not destlock.try_acquire(self.home, dataset.destination):
            raise DatasetBusyError(
                f"The table of {dataset.name!r} is being written by another closesync process; "
                "try again when that run ends."
            )
        try:
            try:
                sink = open_sink(dest, read_only=read_only)
            except SinkLockedError as exc:
                raise DatasetBusyError(f"The table of {dataset.name!r} cannot be read right now: {exc}") from None
            except SinkError as exc:
                raise NotFoundError(f"Cannot read table {dataset.table!r} of {dataset.name!r}: {exc}") from None
            try:
                yield sink
            except SinkError as exc:
                raise NotFoundError(f"Cannot read the tables of {dataset.name!r}: {exc}") from None
            finally:
                sink.close()
        finally:
            destlock.release(self.home, dataset.destination)

    @contextlib.contextmanager
    def _open_table(
        self, dataset: Dataset, table: str | None, *, read_only: bool = True
    ) -> Iterator[tuple[Any, str]]:
        """The sink (None while the table does not exist yet) and the name of the table to read: `table`,
        which must be one of the dataset's (ValidationError naming them otherwise), or its first."""
        with self._open(dataset, read_only=read_only) as sink:
            names = [] if sink is None else _dataset_tables(sink, dataset)
            if table is not None and table != dataset.table and table not in names:
                choices = ", ".join(names) or "none yet: run it first"
                raise ValidationError(
                    f"DataSet {dataset.name!r} has no table {table!r}; its tables: {choices}.", field="table"
                )
            chosen = table or (names[0] if names else dataset.table)
            yield (sink if chosen in names else None), chosen

    def preview(self, dataset: Dataset, limit: int, table: str | None = None) -> Preview:
        with self._open_table(dataset, table) as (sink, name):
            if sink is None:
                return Preview(name, [], [])
            rows_read = sink.preview(name, limit=max(1, int(limit)))
            names = _dataset_tables(sink, dataset)
        columns = rows_read.column_names
        rows = [tuple(r[c] for c in columns) for r in rows_read.to_pylist()]
        return Preview(name, columns, rows, names)

    def columns(self, dataset: Dataset, table: str | None = None) -> list[Column]:
        with self._open_table(dataset, table) as (sink, name):
            if sink is None:
                return []
            return [Column(str(column), str(kind)) for column, kind in sink.columns(name)]

    def export(self, dataset: Dataset, fmt: str, table: str | None = None) -> Export:
        """Check now that there is a table to export (errors before any byte); stream it when iterated."""
        fmt = (fmt or "").lower()
        if fmt not in FORMATS:
            raise ValidationError("The download format must be csv or parquet.", field="format")
        with self._open_table(dataset, table) as (sink, name):
            if sink is None:
                raise NotFoundError(f"DataSet {dataset.name!r} has no table yet: run it first.")
        return Export(f"{name}.{fmt}", FORMATS[fmt], self._chunks(dataset, name, fmt))

    def _chunks(self, dataset: Dataset, table: str, fmt: str) -> Iterator[bytes]:
        """The table encoded batch by batch, so memory stays flat whatever its size."""
        with self._open_table(dataset, table, read_only=False) as (sink, _):
            if sink is None:  # dropped since export() looked: an empty file is all there is
                return
            out = _Chunks()
            writer: Any = None
            try:
                for batch in sink.iter_batches(table):
                    if writer is None:
                        writer = _writer(out, fmt, batch.schema)
                    writer.write_batch(_csv_safe(batch) if fmt == "csv" else batch)
                    if chunk := out.take():
                        yield chunk
                if writer is None:  # no rows: still a valid file, with the header / schema
                    schema = sink.preview(table, limit=1).schema
                    empty = pa.RecordBatch.from_arrays([pa.array([], f.type) for f in schema], schema=schema)
                    writer = _writer(out, fmt, schema)
                    writer.write_batch(_csv_safe(empty) if fmt == "csv" else empty)
                writer.close()
                writer = None
                if chunk := out.take():
                    yield chunk
            finally:
                if writer is not None:  # the client went away mid-download
                    with contextlib.suppress(Exception):
                        writer.close()


def _dataset_tables(sink: Any, dataset: Dataset) -> list[str]:
    """The dataset's table if it exists, else the tables named with it as prefix that the dataset loads
    (per-type reports), sorted; [] before the first run."""
    if sink.table_exists(dataset.table):
        return [dataset.table]
    owner = table_owner_id(dataset.id)
    prefix = f"{dataset.table}_".lower()
    return [
        name
        for name in sink.tables()
        if name.lower().startswith(prefix) and (sink.table_owner(name) or {}).get("owner") == owner
    ]


def _count_key(dataset: Dataset) -> tuple[Any, ...]:
    """What a stored count is valid for: the same table after the same finished run."""
    run = dataset.last_run
    if dataset.running or (run is not None and run.status == "running"):
        return ("running", time.monotonic())  # never equal to a stored one
    return (dataset.destination, dataset.table, run.id if run else None, run.status if run else None)


class _Chunks(io.RawIOBase):
    """A write-only file whose writes are collected, so Arrow writers can feed a stream."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        out = b"".join(self.parts)
        self.parts.clear()
        return out


def _writer(out: _Chunks, fmt: str, schema: pa.Schema) -> Any:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if fmt == "csv":
        return pacsv.CSVWriter(out, _csv_schema(schema))
    return pq.ParquetWriter(out, schema, compression="zstd")


# Cells a spreadsheet would run as a formula when the CSV is opened (OWASP "CSV injection").
_FORMULA_START = r"^([=+\-@\t\r])"


def _defused(text: str) -> str:
    """A header or cell that starts like a formula, with a leading ' so spreadsheets show it as text."""
    return "'" + text if re.match(_FORMULA_START, text) else text


def _csv_type(dtype: pa.DataType) -> pa.DataType:
    nested = pa.types.is_nested(dtype) or pa.types.is_binary(dtype) or pa.types.is_large_binary(dtype)
    return pa.string() if nested else dtype


def _csv_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema([pa.field(_defused(f.name), _csv_type(f.type)) for f in schema])


def _csv_safe(batch: pa.RecordBatch) -> pa.RecordBatch:
    """CSV cannot hold lists or structs: write those columns as JSON text, bytes as text. Text that starts
    like a formula gets a leading ' (CRM values are typed by anyone); numbers stay numbers."""
    import pyarrow.compute as pc

    columns = []
    for fld, col in zip(batch.schema, batch.columns, strict=True):
        if pa.types.is_nested(fld.type):
            col = pa.array([None if v is None else _json(v) for v in col.to_pylist()], pa.string())
        elif pa.types.is_binary(fld.type) or pa.types.is_large_binary(fld.type):
            col = pc.cast(col, pa.string(), safe=False)
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            col = pc.replace_substring_regex(col, pattern=_FORMULA_START, replacement=r"'\1")
        columns.append(col)
    return pa.RecordBatch.from_arrays(columns, schema=_csv_schema(batch.schema))


def _json(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)
