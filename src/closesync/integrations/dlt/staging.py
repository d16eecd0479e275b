"""A sink that stages closesync's Arrow batches in temporary Parquet files and hands them to dlt.

The pipeline writes to it like to any sink (`closesync.sinks.base`); a publish group's tables then go to
dlt together: `DltSink` runs one dlt load per group, `close_source` yields them from its resources. Rows
stay on disk until dlt reads them (memory stays flat); covered keys, few and small, stay in memory and
become hard-delete rows (`hints.deletion_rows`).
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from closesync.integrations.dlt.hints import deletion_rows, joined_key, rows
from closesync.sinks.base import PublishGroup, Sink, TableWriter
from closesync.sinks.errors import TableNotFoundError
from closesync.sinks.writespec import WriteSpec

READ_BATCH_ROWS = 65_536


class StagedWriter(TableWriter):
    """Stages one table's rows in a Parquet file and its covered keys in memory."""

    def __init__(self, group: PublishGroup, spec: WriteSpec, path: Path, can_merge: bool = True) -> None:
        super().__init__(group, spec)
        self.path = path
        self.can_merge = can_merge
        self.covers: list[pa.Table] = []
        self._file: pq.ParquetWriter | None = None

    def _write(self, batch: pa.RecordBatch | pa.Table) -> None:
        if self._file is None:
            self._file = pq.ParquetWriter(self.path, self.schema)
        table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
        self._file.write_table(table)

    def _cover(self, keys: pa.RecordBatch | pa.Table) -> None:
        self.covers.append(keys if isinstance(keys, pa.Table) else pa.Table.from_batches([keys]))

    def _abort(self) -> None:
        self.finish()
        self.path.unlink(missing_ok=True)

    def finish(self) -> None:
        """Close the staging file (every row written)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def tables(
        self, exclude: pa.Array | None = None, key: Sequence[str] = (), deletions: bool = True
    ) -> Iterator[pa.Table]:
        """The staged load for dlt: an empty table with the schema (so dlt applies the hints even to an
        empty read), the rows (those whose `key` is in `exclude` left out), then the deletion rows.
        The staging file is removed once read."""
        self.finish()
        yield rows(self.spec, self.schema.empty_table(), self.can_merge)
        if self.path.exists():
            try:
                for batch in pq.ParquetFile(self.path).iter_batches(READ_BATCH_ROWS):
                    table = pa.Table.from_batches([batch], self.schema)
                    if exclude is not None:
                        table = table.filter(pc.invert(pc.is_in(joined_key(table, key), value_set=exclude)))
                    yield rows(self.spec, table, self.can_merge)
            finally:
                self.path.unlink(missing_ok=True)
        for keys in self.covers if deletions else ():
            yield deletion_rows(self.spec, keys)

    def key_values(self) -> pa.Array:
        """Every upsert-key value this load stages or covers (for late rows: what they supersede)."""
        self.finish()
        parts = [joined_key(t, self.upsert_key) for t in self.covers]
        if self.path.exists():
            keys = pq.read_table(self.path, columns=list(self.upsert_key))
            parts.append(joined_key(keys, self.upsert_key))
        chunks = [c for p in parts for c in (p.chunks if isinstance(p, pa.ChunkedArray) else [p])]
        return pa.concat_arrays(chunks) if chunks else pa.array([], pa.string())


class StagingGroup(PublishGroup):
    """The tables of one read; publishing hands them to the sink's `load`."""

    sink: StagingSink

    def _new_writer(self, spec: WriteSpec) -> TableWriter:
        return StagedWriter(self, spec, self.sink.folder / f"{uuid.uuid4().hex}.parquet", self.sink.can_merge)

    def _publish(self, writers: Sequence[TableWriter]) -> list[int]:
        staged = [w for w in writers if isinstance(w, StagedWriter)]
        for w in staged:
            w.finish()
        self.sink.load(staged)
        return [w.staged_rows for w in staged]


class StagingSink(Sink):
    """Stages loads and keeps them (`staged`, by table, in publish order) for whoever hands them to dlt.

    It stores nothing itself: no state (a `StateStore` is given to the pipeline), no tables to read back.
    """

    def __init__(self) -> None:
        super().__init__()
        self._folder = tempfile.TemporaryDirectory(prefix="closesync-dlt-")
        self.folder = Path(self._folder.name)
        self.staged: dict[str, list[StagedWriter]] = {}
        self.can_merge = True  # whether the destination merges (dlt's filesystem without a table format not)

    def group(self) -> StagingGroup:
        return StagingGroup(self)

    def load(self, writers: Sequence[StagedWriter]) -> None:
        """Publish a group's staged tables; here, keep them."""
        with self._lock:
            for w in writers:
                self.staged.setdefault(w.table, []).append(w)

    def table_owner(self, table: str) -> dict[str, Any] | None:
        return None  # dlt's datasets keep no closesync ownership records

    def read_state(self, key: str) -> dict[str, Any] | None:
        return None

    def write_state(self, key: str, value: dict[str, Any]) -> None:
        pass

    def table_exists(self, table: str) -> bool:
        return False

    def tables(self) -> list[str]:
        return []

    def columns(self, table: str) -> list[tuple[str, str]]:
        raise TableNotFoundError(f"no table {table!r}: a staging sink keeps none")

    def preview(self, table: str, limit: int = 100) -> pa.Table:
        raise TableNotFoundError(f"no table {table!r}: a staging sink keeps none")

    def iter_batches(self, table: str, batch_size: int = 65_536) -> Iterator[pa.RecordBatch]:
        raise TableNotFoundError(f"no table {table!r}: a staging sink keeps none")

    def drop(self, table: str) -> None:
        pass

    def close(self) -> None:
        self._folder.cleanup()
