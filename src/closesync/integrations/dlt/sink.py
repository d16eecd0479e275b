"""`DltSink`: the ``dlt:DESTINATION[?dataset=…]`` destination, loaded through a dlt pipeline.

Every publish group of the closesync pipeline (a read's tables; then its late rows; the custom-field
map) becomes one dlt load of its staged tables, with the hints of `hints.py`. Incremental cursors are kept
in the dlt pipeline's state (``sources.close.closesync``, where `close_source` keeps them too), so they
travel with the dataset's loads and dlt restores them on a machine that lost its working folder.

What dlt does not offer, this sink does not pretend: tables are not published together across a group
(dlt loads each table in its own job), ownership records are not kept, and a destination that cannot
merge (dlt's ``filesystem`` without ``table_format=delta|iceberg``) refuses upsert loads instead of
silently appending.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa

from closesync.integrations.dlt.hints import merges, resource_hints
from closesync.integrations.dlt.staging import StagedWriter, StagingGroup, StagingSink
from closesync.sinks.destination import Destination, parse_dlt_target, redact_password
from closesync.sinks.errors import SinkError, TableNotFoundError
from closesync.sinks.ownership import is_reserved
from closesync.sinks.writespec import WriteSpec

log = logging.getLogger(__name__)
SOURCE_NAME = "close"  # the dlt source (and state section) of closesync's reports
STATE_SECTION = "closesync"
STATE_RESOURCE = "_closesync_state"  # the empty load that carries dlt's state (it creates no table)
RUN_OPTIONS = ("loader_file_format", "table_format")
#: dlt's file format per destination where its default changes data: files are Parquet, and PostgreSQL's
#: CSV loader reads empty strings as NULL (INSERT statements keep them).
FILE_FORMATS = {"filesystem": "parquet", "postgres": "insert_values"}


def open_dlt_sink(target: str) -> DltSink:
    """The sink for ``dlt:TARGET``; a clear error when the dlt extra is not installed."""
    try:
        import dlt  # noqa: F401
    except ImportError as exc:
        raise SinkError("dlt: destinations need the dlt extra: pip install 'closesync[dlt]'") from exc
    return DltSink(target)


class _DltGroup(StagingGroup):
    sink: DltSink

    def _new_writer(self, spec: WriteSpec) -> Any:
        if merges(spec) and not self.sink.can_merge and not is_reserved(spec.table):
            raise SinkError(
                f"dlt's {self.sink.target.destination} destination cannot merge plain files, so it cannot "
                "upsert: use --method replace (or append), or table_format=delta|iceberg (dlt's deltalake "
                "or pyiceberg extra)"
            )
        return super()._new_writer(spec)


class DltSink(StagingSink):
    """A closesync sink over one dlt pipeline (destination, dataset, working folder)."""

    def __init__(self, target: str) -> None:
        import dlt
        from dlt.common.destination import Destination as DltDestination

        super().__init__()
        self._unsent_state = False
        self.destination = Destination("dlt", target)
        self.target = target = parse_dlt_target(target)
        options = dict(target.options)
        self.run_options = {k: options.pop(k) for k in RUN_OPTIONS if k in options}
        self.run_options.setdefault("loader_file_format", FILE_FORMATS.get(target.destination))
        self.can_merge = target.destination != "filesystem" or "table_format" in self.run_options
        try:
            destination = DltDestination.from_reference(target.destination, **options)
            self.pipeline = dlt.pipeline(
                pipeline_name=target.pipeline_name,
                destination=destination,
                dataset_name=target.dataset,
                pipelines_dir=target.pipelines_dir,
            )
            self._lock = _pipeline_lock(self.pipeline.working_dir)
            if self.pipeline.first_run:  # a new working folder: take state and schema from the dataset
                with self._lock:
                    self.pipeline.sync_destination()
        except Exception as exc:
            raise SinkError(f"dlt could not open {target.destination}: {self._redact(exc)}") from exc

    def group(self) -> _DltGroup:
        return _DltGroup(self)

    def load(self, writers: Sequence[StagedWriter]) -> None:
        """One dlt load of a publish group's tables."""
        import dlt

        if not self.can_merge:  # closesync's own tables (the custom-field map) upsert: only where dlt merges
            writers = [w for w in writers if not is_reserved(w.table)]
        resources = [
            dlt.resource(w.tables(), name=w.table, **resource_hints(w.spec, self.can_merge)) for w in writers
        ]
        if not resources:
            return
        with self._lock:
            try:
                self.pipeline.run(resources, **self.run_options)
                self._unsent_state = False  # dlt sends its state with every load
            except Exception as exc:
                raise SinkError(
                    f"dlt load into {self.target.destination} failed: {self._redact(exc)}"
                ) from exc

    # -- state: the dlt pipeline's, next to close_source's -------------------------------------------
    def read_state(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            return _section(self.pipeline.state).get(key)

    def write_state(self, key: str, value: dict[str, Any]) -> None:
        with self._lock, self.pipeline.managed_state() as state:
            _section(state)[key] = value
            self._unsent_state = True

    def close(self) -> None:
        """Send cursors saved after the last load to the dataset (an empty load carries dlt's state), so
        a machine without this working folder resumes from them; then drop the staging folder."""
        import dlt

        with self._lock:
            if self._unsent_state:
                try:
                    self.pipeline.run(dlt.resource([], name=STATE_RESOURCE), **self.run_options)
                    self._unsent_state = False
                except Exception as exc:  # the cursors stay in the working folder: the next load sends them
                    log.warning("dlt could not send closesync's cursors: %s", self._redact(exc))
        super().close()

    # -- reading back (previews, comparisons) -------------------------------------------------------
    def tables(self) -> list[str]:
        with self._lock:
            if not self.pipeline.default_schema_name:
                return []
            names = self.pipeline.default_schema.data_table_names()
        return sorted(n for n in names if not is_reserved(n))

    def table_exists(self, table: str) -> bool:
        return table in self.tables()

    def columns(self, table: str) -> list[tuple[str, str]]:
        if not self.table_exists(table):
            raise TableNotFoundError(f"no table {table!r} in dlt dataset {self.target.dataset!r}")
        columns = self.pipeline.default_schema.get_table_columns(table)
        return [(name, str(c.get("data_type", ""))) for name, c in columns.items()]

    def preview(self, table: str, limit: int = 100) -> pa.Table:
        chunks = list(read_table(self.pipeline, table, limit=limit))
        return pa.concat_tables(chunks) if chunks else pa.table({})

    def iter_batches(self, table: str, batch_size: int = 65_536) -> Iterator[pa.RecordBatch]:
        self.columns(table)
        for chunk in read_table(self.pipeline, table, batch_size):
            yield from chunk.to_batches()

    def drop(self, table: str) -> None:
        raise SinkError(
            f"drop tables of a dlt dataset with dlt: dlt pipeline {self.pipeline.pipeline_name} drop"
        )

    def _redact(self, exc: BaseException) -> str:
        """dlt's message without the destination's passwords, cut to its first lines (dlt's can run long)."""
        lines = [line for line in str(exc).splitlines() if line.strip()][:4]
        return redact_password(" ".join(lines), self.destination.target)


def read_table(
    pipeline: Any, table: str, batch_size: int = 65_536, limit: int | None = None
) -> Iterator[pa.Table]:
    """A dlt dataset's table as Arrow, through the destination's SQL client (dlt's `dataset()` needs a
    sqlglot older than the one installed)."""
    with pipeline.sql_client() as client:
        query = f"SELECT * FROM {client.make_qualified_table_name(table)}"
        with client.execute_query(query + (f" LIMIT {int(limit)}" if limit is not None else "")) as cursor:
            yield from cursor.iter_arrow(chunk_size=batch_size)


#: One lock per dlt working folder: sinks of one process (datasets run at once) load one at a time.
_LOCKS: dict[str, threading.RLock] = {}
_LOCKS_GUARD = threading.Lock()


def _pipeline_lock(working_dir: str) -> threading.RLock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(working_dir, threading.RLock())


def _section(state: Any) -> dict[str, Any]:
    """closesync's cursors inside a dlt pipeline state (the `close` source's state)."""
    return state.setdefault("sources", {}).setdefault(SOURCE_NAME, {}).setdefault(STATE_SECTION, {})
