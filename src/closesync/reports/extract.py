"""Extraction: read one source once and feed every report that shares it, as typed Arrow batches.

`open_read` does the small metadata requests up front (the default organization from /me/, custom field
definitions once per kind, activity-report metrics) so the schemas are known before any data is read;
`SourceRead.batches()` then streams the source, buffering a bounded number of records, and shapes each
buffer for every report of the source (a lead buffer feeds leads and its four nested reports). The requests
themselves, one reader per `ReadKind`, are in `readers.py`.

Incremental state is one dict per report slug: ``{"field": "date_updated", "cursor": "<iso UTC>"}``. A read
starts at the oldest cursor of its reports (activities minus a look-back, to catch edits), and the new
cursor is the newest value seen, never later than the moment the read started.

Incremental reads also say which target rows they cover (`SourceRead.changes()` yields "cover" batches of
upsert-key values next to the rows): every re-read parent's key for its nested reports, so children a
parent no longer has go, and the ids Close's event log reports deleted since the cursor (minus the
look-back), for the report and for the nested rows of deleted parents. One event-log walk per object type.
When Close refuses an event-log query, the ids the destination holds (`held`, given by the caller) that
Close no longer has within the read's scope are the deleted ones (a full id comparison, `current_ids`).

A full read of a source whose records change (`date_updated` cursor) may meet a record twice: read early,
edited, and read again in its new version (and a record created meanwhile may come with it). Rows of
records changed since shortly before the read began come as "late" batches (with "late_cover" parent
keys for nested reports): the loader publishes the full read first and then upserts the late rows over
it, so the table holds every record once, in its last version.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from closesync.close.events import EVENT_OBJECT_TYPES
from closesync.close.paging import CLOCK_MARGIN
from closesync.close.records import Record
from closesync.close.timestamps import format_timestamp, parse_timestamp
from closesync.reports import timeparse
from closesync.reports.columns import Column
from closesync.reports.custom_fields import CustomField, snake_case
from closesync.reports.nesting import nested_rows
from closesync.reports.readers import (
    SourceQuery,
    activity_metrics,
    current_ids,
    custom_field_definitions,
    default_organization_id,
    deleted_ids,
    read_source,
    search_fields,
    shared_field_definitions,
)
from closesync.reports.shaping import Shaper
from closesync.reports.spec import ReadKind, ReportParams, ReportSpec

if TYPE_CHECKING:
    from closesync.close.client import CloseClient


DEFAULT_LOOKBACK = timedelta(hours=24)
# Records buffered before shaping: big enough for fast columnar work, small enough to keep memory flat
# (a lead with its contacts, opportunities and tasks is several times an activity's size). These are caps:
# the buffer also adapts to the records' size (see `_Plan.next_limit`), because an email thread is six times
# a call and 20,000 of them held as Python dicts cost most of a gigabyte.
BATCH_ROWS = {ReadKind.SEARCH: 5_000}
DEFAULT_BATCH_ROWS = 20_000
# Shaped bytes aimed at per buffer (over every report the buffer feeds). The first buffer is small, a probe
# of the records' width; each later one is sized from the previous one's bytes per record.
BUFFER_BYTES = 12 << 20
FIRST_BUFFER_ROWS = 1_000
MIN_BUFFER_ROWS = 200
EVENT_LOG_RETENTION = timedelta(days=30)  # Close keeps 30 days of events
DELETED_CHUNK = 5_000  # deleted ids per cover batch
ROWS, COVER = "rows", "cover"
LATE, LATE_COVER = "late", "late_cover"  # changed during a full read: upserted after it is published
_MUTABLE_CURSORS = {"date_updated"}


@dataclass
class SourceRead:
    """One pass over a source. `schemas`, `incremental`, `custom_fields` are known at once; `new_states`
    and the full `notes` after `batches()` is exhausted."""

    specs: list[ReportSpec]
    schemas: dict[str, pa.Schema]
    incremental: dict[str, bool]
    custom_fields: list[dict[str, Any]]
    notes: list[str]
    new_states: dict[str, dict[str, Any] | None]
    _records: Callable[[], Iterator[Record]] | None = field(repr=False, default=None)
    _shapers: dict[str, Shaper] = field(repr=False, default_factory=dict)
    _plan: _Plan | None = field(repr=False, default=None)
    _deleted: Callable[[], Iterator[str]] | None = field(repr=False, default=None)
    deleted: int = 0  # ids found deleted in Close: event log or id comparison (valid after the read)

    def batches(self) -> Iterator[tuple[str, pa.RecordBatch]]:
        """Yield (slug, RecordBatch) until the source is exhausted; then `new_states` is final. Late rows
        come too: a record changed during the read may come twice, the last time in its last version."""
        for slug, kind, batch in self.changes():
            if kind in (ROWS, LATE):
                yield slug, batch

    def changes(self) -> Iterator[tuple[str, str, pa.RecordBatch]]:
        """Yield (slug, kind, batch): "rows" to load, "cover" upsert-key values this load covers (pass them
        to `TableWriter.cover`; only for incremental reports), and for full reads "late" rows and
        "late_cover" parent keys of records changed while the read ran, to upsert once the full read is
        published (see the module docstring). Memory stays flat: parent keys go per buffer, deleted ids in
        chunks."""
        plan, records = self._plan, self._records
        assert plan is not None and records is not None, "SourceRead comes from open_read()"
        if self._deleted is not None:
            chunk: list[str] = []
            for record_id in self._deleted():
                chunk.append(record_id)
                if len(chunk) >= DELETED_CHUNK:
                    yield from self._deletion_covers(chunk)
                    chunk = []
            if chunk:
                yield from self._deletion_covers(chunk)
        limit = min(plan.batch_rows, FIRST_BUFFER_ROWS)
        buffer: list[Record] = []
        for record in records():
            buffer.append(record)
            if len(buffer) >= limit:
                shaped = 0
                for change in self._flush(buffer):
                    shaped += change[2].nbytes
                    yield change
                limit = plan.next_limit(len(buffer), shaped)
                buffer = []
        if buffer:
            yield from self._flush(buffer)
        self._finish()

    def _flush(self, parents: list[Record]) -> Iterator[tuple[str, str, pa.RecordBatch]]:
        plan = self._plan
        assert plan is not None
        late: list[Record] = []
        if plan.cursor_field:
            late_mask = plan.observe(parents)
            if late_mask is not None and not any(self.incremental.values()):
                late = [p for p, is_late in zip(parents, late_mask, strict=True) if is_late]
                parents = [p for p, is_late in zip(parents, late_mask, strict=True) if not is_late]
        for spec in self.specs:
            for batch_parents, rows_kind, cover_kind, cover in (
                (parents, ROWS, COVER, self.incremental.get(spec.slug)),
                (late, LATE, LATE_COVER, True),
            ):
                if not batch_parents:
                    continue
                if spec.nested is not None and cover:
                    covered = self._parent_keys(spec, batch_parents)
                    if covered is not None:
                        yield spec.slug, cover_kind, covered
                rows = batch_parents if spec.nested is None else nested_rows(spec, batch_parents, self.notes)
                if spec.row_filter:
                    rows = [r for r in rows if all(r.get(k) == v for k, v in spec.row_filter)]
                if rows:
                    yield spec.slug, rows_kind, self._shapers[spec.slug].shape(rows)

    def _parent_keys(self, spec: ReportSpec, parents: list[Record]) -> pa.RecordBatch | None:
        """The parent key of every re-read parent that carries the nested array (even empty): all of its
        current children are in this read, so any other row of that parent is stale."""
        nested = spec.nested
        assert nested is not None
        source = dict(nested.parent_columns)
        if not spec.parent_key or any(k not in source for k in spec.parent_key):
            return None
        arrays = (nested.path[0], *nested.fallback[:1])
        read = [p for p in parents if isinstance(p, dict) and any(a in p for a in arrays)]
        if not read:
            return None
        schema = pa.schema([self.schemas[spec.slug].field(k) for k in spec.parent_key])
        return pa.RecordBatch.from_arrays(
            [
                pa.array([p.get(source[k]) for p in read], f.type)
                for k, f in zip(spec.parent_key, schema, strict=True)
            ],
            schema=schema,
        )

    def _deletion_covers(self, ids: list[str]) -> Iterator[tuple[str, str, pa.RecordBatch]]:
        """Deleted records go from their report (by id) and from nested reports (by parent id)."""
        self.deleted += len(ids)
        for spec in self.specs:
            columns = _deletion_columns(spec) if self.incremental.get(spec.slug) else ()
            if columns:
                schema = pa.schema([self.schemas[spec.slug].field(c) for c in columns])
                values = pa.array(ids, pa.string())
                yield (
                    spec.slug,
                    COVER,
                    pa.RecordBatch.from_arrays([values.cast(f.type) for f in schema], schema=schema),
                )

    def _missing(self, present: set[str], held: Callable[[ReportSpec, str], Iterator[str]]) -> list[str]:
        """Ids the destination holds for this read's incremental reports (their own ids, or their parents'
        for nested reports) that Close no longer has (`present`)."""
        missing: dict[str, None] = {}
        for spec in self.specs:
            columns = _deletion_columns(spec) if self.incremental.get(spec.slug) else ()
            if columns:
                missing.update(dict.fromkeys(v for v in held(spec, columns[0]) if v not in present))
        return list(missing)

    def _finish(self) -> None:
        plan = self._plan
        assert plan is not None
        for spec in self.specs:
            self.new_states[spec.slug] = plan.new_state() if spec.cursor else None


@dataclass
class _Plan:
    """What one read asks for: where it starts, how it tracks the new cursor."""

    started: datetime
    cursor_field: str | None
    start: datetime | None
    previous: datetime | None
    batch_rows: int
    buffer_bytes: int = BUFFER_BYTES
    newest: datetime | None = None
    late_from: datetime | None = None  # records whose cursor is at or after this changed during the read

    def next_limit(self, rows: int, shaped_bytes: int) -> int:
        """Records in the next buffer: about `buffer_bytes` shaped, within [MIN_BUFFER_ROWS, batch_rows].

        Memory then depends on the buffer's bytes, not on how wide the records happen to be."""
        per_record = max(1.0, shaped_bytes / max(rows, 1))
        return max(min(MIN_BUFFER_ROWS, self.batch_rows), min(self.batch_rows, int(self.buffer_bytes / per_record)))

    def observe(self, records: Sequence[Record]) -> list[bool] | None:
        """Track the newest cursor value seen (vectorised: one parse per buffer, not per record); which
        records changed during the read, if this read tells (`late_from`)."""
        assert self.cursor_field is not None
        key = self.cursor_field
        array, _bad = timeparse.timestamps([r.get(key) if isinstance(r, dict) else None for r in records])
        newest = pc.max(array).as_py()
        if newest is not None and (self.newest is None or newest > self.newest):
            self.newest = newest
        if self.late_from is None:
            return None
        late = pc.fill_null(pc.greater_equal(array, pa.scalar(self.late_from, array.type)), False)
        return late.to_pylist()

    def new_state(self) -> dict[str, Any] | None:
        seen = [c for c in (self.newest, self.previous) if c is not None]
        if not seen:
            return None
        # never backwards (a look-back re-read sees older records), never past the start of the read
        cursor = min(max(seen), self.started)
        return {"field": self.cursor_field, "cursor": format_timestamp(cursor)}


def metric_type(key: str) -> str:
    """The column type of an activity-report metric: counts (`….count`) are whole numbers; sums, averages
    and durations may carry fractions."""
    return "int" if key.endswith(".count") else "float"


def _state_cursor(state: dict[str, Any] | None, field_name: str) -> datetime | None:
    if not state or state.get("field", field_name) != field_name:
        return None
    return parse_timestamp(state.get("cursor"))


def open_read(
    client: CloseClient,
    specs: Sequence[ReportSpec],
    params: ReportParams | None = None,
    states: dict[str, dict[str, Any] | None] | None = None,
    *,
    full_refresh: bool = False,
    lookback: timedelta = DEFAULT_LOOKBACK,
    batch_rows: int | None = None,
    buffer_bytes: int = BUFFER_BYTES,
    now: datetime | None = None,
    held: Callable[[ReportSpec, str], Iterator[str]] | None = None,
) -> SourceRead:
    """Prepare one pass over the source shared by `specs` (see `group_by_source`). `held(spec, column)`:
    the values of `column` the destination holds in `spec`'s table within the read's scope, for the full
    id comparison when Close's event log refuses a query (without it, a note says what stays).
    `buffer_bytes` is the shaped bytes each buffer aims at (the pipeline sizes it from its memory budget)."""
    specs = list(dict.fromkeys(specs))
    if not specs:
        raise ValueError("open_read needs at least one report")
    sources = {s.source for s in specs}
    if len(sources) != 1:
        raise ValueError(f"reports of different sources cannot share a read: {sorted(sources)}")
    params = params or ReportParams()
    states = states or {}
    started = (now or datetime.now(UTC)).astimezone(UTC)
    first = specs[0]
    notes: list[str] = []

    organization_id = params.organization_id
    if organization_id is None and any(s.uses_organization_id for s in specs):
        organization_id = default_organization_id(client)

    custom: list[CustomField] = []
    kinds = list(dict.fromkeys(s.custom_field_kind for s in specs if s.custom_field_kind))
    shared = shared_field_definitions(client, notes) if kinds else []
    for kind in kinds:
        custom += custom_field_definitions(client, kind, notes, shared)

    extra_columns: list[Column] = []
    metrics: list[str] = []
    if first.read is ReadKind.REPORT_ACTIVITY:  # its columns are the account's metrics
        metrics = activity_metrics(client)
        taken = {c.name for c in first.columns}
        for key in metrics:
            name = snake_case(key)
            while name in taken:
                name += "_"
            taken.add(name)
            extra_columns.append(Column(name, metric_type(key), key=key))

    shapers = {s.slug: Shaper(s, custom, extra_columns if s.read is ReadKind.REPORT_ACTIVITY else ()) for s in specs}

    # Incremental: the source cursor is the parent's; every report of the read must have a state.
    cursor_field = next((s.cursor for s in specs if s.cursor), None)
    previous: datetime | None = None
    if cursor_field and not full_refresh:
        cursors = [_state_cursor(states.get(s.slug), cursor_field) for s in specs]
        if cursors and all(c is not None for c in cursors):
            previous = min(c for c in cursors if c is not None)
    start = previous
    if start is not None and cursor_field == "date_created":
        start = start - lookback  # activities have no date_updated filter: re-read recent ones for edits
    if first.date_field and first.date_field == cursor_field and params.since is not None:
        start = params.since if start is None else max(start, params.since)

    plan = _Plan(
        started=started,
        cursor_field=cursor_field,
        start=start,
        previous=previous,
        batch_rows=batch_rows or BATCH_ROWS.get(first.read, DEFAULT_BATCH_ROWS),
        buffer_bytes=buffer_bytes,
        late_from=started - CLOCK_MARGIN if cursor_field in _MUTABLE_CURSORS else None,
    )
    read = SourceRead(
        specs=specs,
        schemas={slug: shaper.schema for slug, shaper in shapers.items()},
        incremental={s.slug: previous is not None for s in specs},
        custom_fields=[row for shaper in shapers.values() for row in shaper.custom_field_rows()],
        notes=notes,
        new_states={},
        _shapers=shapers,
        _plan=plan,
    )
    query = SourceQuery(
        client=client,
        specs=specs,
        params=params,
        cursor_field=cursor_field,
        start=start,
        organization_id=organization_id,
        metrics=metrics,
        fields=search_fields(specs, shapers),
        notes=notes,
    )
    read._records = lambda: read_source(query)
    if first.read is ReadKind.EVENTS and (start is None or start < started - EVENT_LOG_RETENTION):
        notes.append(
            f"Close keeps about 30 days of events: none before {(started - EVENT_LOG_RETENTION).date().isoformat()} "
            "could be read"
        )
    event_type = EVENT_OBJECT_TYPES.get(first.source)
    if previous is not None and event_type is not None:
        since = previous - lookback
        if since < started - EVENT_LOG_RETENTION:
            notes.append(
                f"records deleted in Close before {(started - EVENT_LOG_RETENTION).date().isoformat()} are no "
                "longer in its event log (30 days); a full refresh removes them"
            )
        compare = None if held is None else partial(_compare_ids, read, query, held)
        read._deleted = lambda: deleted_ids(client, event_type, since, notes, compare)
    return read


def _compare_ids(
    read: SourceRead, query: SourceQuery, held: Callable[[ReportSpec, str], Iterator[str]], counting: CloseClient
) -> list[str]:
    """The full id comparison: ids the destination holds that Close (asked through `counting`) no longer has."""
    return read._missing(set(current_ids(replace(query, client=counting))), held)


def _deletion_columns(spec: ReportSpec) -> tuple[str, ...]:
    """The columns a deleted record's id is found in: a report's own `id`, a nested report's parent id."""
    if spec.nested is None:
        return spec.primary_key if spec.primary_key == ("id",) else ()
    columns = tuple(c for c, key in spec.nested.parent_columns if key == "id")
    return columns if columns == spec.parent_key else ()


def read_records(
    specs: Sequence[ReportSpec],
    records: Callable[[], Iterator[Record]],
    custom_fields: Sequence[CustomField] = (),
    *,
    batch_rows: int | None = None,
    now: datetime | None = None,
) -> SourceRead:
    """A full read over source records already at hand (e.g. a benchmark's generated records): the same
    buffering, shaping and nested reports as `open_read`, without asking the API for anything."""
    specs = list(dict.fromkeys(specs))
    if not specs or len({s.source for s in specs}) != 1:
        raise ValueError("read_records needs reports of exactly one source")
    shapers = {s.slug: Shaper(s, custom_fields) for s in specs}
    plan = _Plan(
        started=(now or datetime.now(UTC)).astimezone(UTC),
        cursor_field=next((s.cursor for s in specs if s.cursor), None),
        start=None,
        previous=None,
        batch_rows=batch_rows or BATCH_ROWS.get(specs[0].read, DEFAULT_BATCH_ROWS),
    )
    read = SourceRead(
        specs=specs,
        schemas={slug: shaper.schema for slug, shaper in shapers.items()},
        incremental=dict.fromkeys((s.slug for s in specs), False),
        custom_fields=[row for shaper in shapers.values() for row in shaper.custom_field_rows()],
        notes=[],
        new_states={},
        _shapers=shapers,
        _plan=plan,
    )
    read._records = records
    return read
