"""The web app's one doorway to `closesync.datacenter`, plus what only a web server needs.

Accounts, datasets, runs, schedules and previews are the DataCenter's job; this module just opens it, runs
"Run now" in a background thread (DataCenter.run_dataset blocks) and streams a dataset's table for the
download buttons (through the sinks API, since the DataCenter returns rows only as a short preview).
"""

from __future__ import annotations

import contextlib
import io
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from closesync.datacenter import DataCenter, DatasetBusyError

log = logging.getLogger("closesync.web")


def open_datacenter(home: str | Path | None) -> DataCenter:
    """The DataCenter for `home` (the CLI passes CLOSESYNC_HOME / --home)."""
    return DataCenter(str(home) if home is not None else "./data")


def close_datacenter(dc: Any) -> None:
    """Release the DataCenter if it holds anything open (it opens short connections per call)."""
    closer = getattr(dc, "close", None)
    if callable(closer):
        closer()


def start_scheduler(dc: DataCenter) -> Any:
    """Run the DataCenter's scheduler in this process's background thread."""
    sched = dc.scheduler()
    sched.start()
    log.info("scheduler started")
    return sched


def stop_scheduler(sched: Any) -> None:
    """Stop the background scheduler; in-flight runs finish or are recovered on next start."""
    sched.stop()
    log.info("scheduler stopped")


class RunTracker:
    """Runs started from the web, one thread each, so "Run now" returns at once.

    The DataCenter's lease already stops two runs of one dataset; this only avoids starting a thread that
    would be refused, and lets the status endpoint say "running" before the run's history row exists.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._threads: dict[int, threading.Thread] = {}

    def is_running(self, dataset_id: int) -> bool:
        with self._lock:
            thread = self._threads.get(dataset_id)
            return thread is not None and thread.is_alive()

    def start(
        self, dc: DataCenter, dataset_id: int, full_refresh: bool = False, *, busy: bool = False
    ) -> None:
        """Start a run now; raises DatasetBusyError if one is already going (here, or elsewhere: `busy`)."""
        if busy:
            raise DatasetBusyError(
                "this dataset is running already (started by the scheduler or another process)"
            )
        with self._lock:
            thread = self._threads.get(dataset_id)
            if thread is not None and thread.is_alive():
                raise DatasetBusyError("this dataset is running already")
            thread = threading.Thread(
                target=self._run, args=(dc, dataset_id, full_refresh), name=f"run-{dataset_id}", daemon=True
            )
            self._threads[dataset_id] = thread
            thread.start()

    def wait(self, dataset_id: int, timeout: float | None = None) -> None:
        """Block until the dataset's web-started run ends (tests and shutdown)."""
        with self._lock:
            thread = self._threads.get(dataset_id)
        if thread is not None:
            thread.join(timeout)

    @staticmethod
    def _run(dc: DataCenter, dataset_id: int, full_refresh: bool) -> None:
        try:
            dc.run_dataset(dataset_id, full_refresh=full_refresh)
        except DatasetBusyError:
            log.info("dataset %s: already running elsewhere", dataset_id)
        except Exception as exc:  # the DataCenter records failed runs itself; this is a bug guard
            log.error("dataset %s: run crashed: %s", dataset_id, type(exc).__name__)


def display_destination(destination: str) -> str:
    """A destination fit to show: a password inside a PostgreSQL URL is hidden (the DataCenter's rule)."""
    from closesync.datacenter.datasets import display_destination as masked

    return str(masked(destination))


def table_columns(dataset: Any) -> list[tuple[str, str]]:
    """(name, type) of the dataset's table, empty before its first successful run."""
    from closesync.sinks import open_sink

    try:
        sink = open_sink(dataset.destination)
    except Exception as exc:  # a destination that cannot be opened has no table to describe
        log.info("dataset %s: cannot open destination: %s", dataset.id, type(exc).__name__)
        return []
    try:
        if not sink.table_exists(dataset.table):
            return []
        return [(str(name), str(kind)) for name, kind in sink.columns(dataset.table)]
    finally:
        sink.close()


def _batches(dataset: Any) -> Iterator[pa.RecordBatch]:
    from closesync.sinks import open_sink

    sink = open_sink(dataset.destination)
    try:
        yield from sink.iter_batches(dataset.table)
    finally:
        sink.close()


class _Chunks(io.RawIOBase):
    """A write-only file whose writes are collected, so Arrow writers can feed a streaming response."""

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


def stream_table(dataset: Any, fmt: str) -> Iterator[bytes]:
    """The dataset's whole table as CSV or Parquet bytes, batch by batch: memory stays flat."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    sink = _Chunks()
    writer: Any = None
    done = False
    try:
        for batch in _batches(dataset):
            out = _csv_safe(batch) if fmt == "csv" else batch
            if writer is None:
                writer = (
                    pacsv.CSVWriter(sink, out.schema)
                    if fmt == "csv"
                    else pq.ParquetWriter(sink, out.schema, compression="zstd")
                )
            writer.write_batch(out)
            chunk = sink.take()
            if chunk:
                yield chunk
        if writer is not None:
            writer.close()
        done = True
        tail = sink.take()
        if tail:
            yield tail
    finally:
        if writer is not None and not done:
            with contextlib.suppress(Exception):  # the client went away mid-download
                writer.close()


def _csv_safe(batch: pa.RecordBatch) -> pa.RecordBatch:
    """CSV cannot hold lists or structs: write those columns as JSON-ish text."""
    import pyarrow.compute as pc

    columns = []
    fields = []
    for fld, col in zip(batch.schema, batch.columns, strict=True):
        if pa.types.is_nested(fld.type):
            col = pa.array([None if v is None else _json(v) for v in col.to_pylist()], pa.string())
            fld = pa.field(fld.name, pa.string())
        elif pa.types.is_binary(fld.type) or pa.types.is_large_binary(fld.type):
            col = pc.cast(col, pa.string(), safe=False)
            fld = pa.field(fld.name, pa.string())
        columns.append(col)
        fields.append(fld)
    return pa.RecordBatch.from_arrays(columns, schema=pa.schema(fields))


def _json(value: Any) -> str:
    import json

    return json.dumps(value, default=str, ensure_ascii=False)
