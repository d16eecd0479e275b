"""The pipeline: read reports from Close, shape them into Arrow batches and load them into a destination.

One source read (say `/lead/`) feeds every report that shares it (leads and its four nested tables), and
sources run concurrently on one client, whose pacer keeps each endpoint group inside its rate limit. A
report's table is published only when its whole read succeeded, so a failure leaves the previous table as it
was; one source failing never stops the others.

Incremental loads upsert, and the read says which target rows each load covers (`SourceRead.changes()`):
the children of every re-read parent and the records Close's event log reports deleted. Those keys go to
the writer (`TableWriter.cover`), which deletes their rows in the same transaction as the upsert, so
nested tables lose stale children and deleted records disappear without a full refresh. When Close's event
log refuses a query, the read compares the ids Close has with those the destination holds (`held_values`).

The tables of one read are published together (a publish group: one transaction, or one manifest), so a
failure leaves all of them as they were. Append adds each record version once (`WriteSpec.version_key`),
so records re-read at the cursor boundary or by the activities' look-back, and a retried run, add nothing.
Cursors are saved after the tables they describe are published: a run killed in between re-reads that
window next time, which both absorb.

Every table records who loads it (`closesync sync` or a dataset: see sinks.ownership); a load into a
table another writer owns is refused before anything is read, unless `force` adopts it. A full read of a
filtered report (a user, a date range) in upsert mode replaces only the rows inside that filter, and the
deletions of an incremental read stay inside it too.

Memory: one `MemoryBudget` (closesync.memory_budget, `memory_limit`) covers the whole sync. The runtime and the
destination's cache (DuckDB's memory_limit) take their shares first; each source then reserves a slot
before it reads and sizes its shaping buffer from it, so as many sources run at once as slots fit.

A full read whose records changed while it ran sends their rows "late" (see `extract.py`): they are held
and, once the read's tables are published, upserted over them, so a replaced table never holds two rows
with one key and each record is in its last version. Append adds them like any other version.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Literal, Protocol

import pyarrow as pa
import pyarrow.compute as pc

from closesync.close import DEFAULT_BASE_URL, CloseClient
from closesync.close.budget import shared_pacer
from closesync.close.errors import AuthenticationError, CloseError, RateLimitError, RequestTimeoutError
from closesync.memory_budget import DEFAULT_MEMORY_LIMIT, RUNTIME_BYTES, SLOT_BYTES, MemoryBudget
from closesync.reports import (
    CLASSIC_REPORTS,
    REPORTS,
    ReportParams,
    ReportSpec,
    get_report,
    group_by_source,
    open_read,
)
from closesync.reports.custom_objects import expand_per_type
from closesync.reports.extract import COVER, LATE, LATE_COVER, ROWS
from closesync.sinks import open_sink
from closesync.sinks.base import Sink
from closesync.sinks.destination import METHODS, Method
from closesync.sinks.errors import SinkError
from closesync.sinks.ownership import RESERVED_PREFIX, SYNC_OWNER, TableClaim, is_reserved
from closesync.sinks.writespec import ScopeCondition, WriteSpec

DEFAULT_DESTINATION = "duckdb:data/close.duckdb"
CUSTOM_FIELDS_TABLE = "_closesync_custom_fields"


class StateStore(Protocol):
    """Where incremental cursors live: the destination for `closesync sync`, the dataset for the Data Center."""

    def get(self, key: str) -> dict | None: ...

    def put(self, key: str, value: dict) -> None: ...


class SinkStateStore:
    """Keeps cursors in the destination itself (`_closesync_state`), next to the tables they describe."""

    def __init__(self, sink: Sink) -> None:
        self._sink = sink

    def get(self, key: str) -> dict | None:
        return self._sink.read_state(key)

    def put(self, key: str, value: dict) -> None:
        self._sink.write_state(key, value)


@dataclass
class ReportResult:
    """What one report's run did; updated in place while it runs, so a progress display can render it."""

    slug: str
    name: str
    table: str
    status: Literal["pending", "running", "success", "failed"] = "pending"
    rows: int = 0
    requests: int = 0
    throttle_waits: int = 0
    retries: int = 0
    incremental: bool = False
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    http_status: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        if not self.started_at:
            return 0.0
        end = self.finished_at or datetime.now(UTC)
        return (end - self.started_at).total_seconds()

    def to_dict(self) -> dict:
        return {
            "report": self.name,
            "slug": self.slug,
            "table": self.table,
            "status": self.status,
            "rows": self.rows,
            "requests": self.requests,
            "throttle_waits": self.throttle_waits,
            "retries": self.retries,
            "incremental": self.incremental,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "duration_s": round(self.duration_s, 3),
            "error": self.error,
            "http_status": self.http_status,
            "notes": self.notes,
        }


@dataclass
class SyncResult:
    """The outcome of one `sync`: a result per report, in catalog order."""

    reports: list[ReportResult]
    requests: int = 0  # every HTTP request made, /me/ included; sources shared by reports count once

    @property
    def ok(self) -> bool:
        return all(r.status == "success" for r in self.reports)

    @property
    def rows(self) -> int:
        return sum(r.rows for r in self.reports)

    @property
    def failed(self) -> list[ReportResult]:
        return [r for r in self.reports if r.status == "failed"]

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "rows": self.rows,
            "requests": self.requests,
            "reports": [r.to_dict() for r in self.reports],
        }


Progress = Callable[[ReportResult], None]


def resolve_reports(names: Iterable[str] | None, *, all_reports: bool = False) -> list[ReportSpec]:
    """Reports by display name or slug, in catalog order and without repeats; when none are named, the 38
    classic ones (the connector's contract), or every report of the catalog with `all_reports`."""
    names = list(names or ())
    if names and all_reports:
        raise ValueError("Name reports or ask for all of them, not both.")
    if not names:
        return list(REPORTS if all_reports else CLASSIC_REPORTS)
    wanted = {get_report(n).slug for n in names}
    return [spec for spec in REPORTS if spec.slug in wanted]


def state_key(spec: ReportSpec, params: ReportParams) -> str:
    """Cursors are kept per report and parameters, so two datasets with other filters never share one."""
    since = params.since.isoformat() if params.since else ""
    return f"{spec.slug}|org={params.organization_id or ''}|user={params.user_id or ''}|since={since}"


#: What to do about a failure that a run can avoid, by its kind: said wherever the error is shown.
ADVICE: dict[type[CloseError], str] = {
    RateLimitError: (
        "Close kept refusing requests over the API key's rate limit: read less per run (a Since date, a User "
        "ID) or schedule fewer reports in the same slot, since they share the key's budget."
    ),
    RequestTimeoutError: (
        "Close may be busy: a retry or the next run often gets through; a Since date or a User ID makes each "
        "read smaller."
    ),
}


def describe_error(exc: BaseException) -> tuple[str, int | None]:
    """A readable one-line reason (Close's own message where there is one, and what to do) and the HTTP status."""
    if isinstance(exc, AuthenticationError):
        return f"{exc.detail} Check the API key (Close: Settings → Developer → API Keys).", exc.status
    if isinstance(exc, CloseError):  # the status travels on its own: every display names it once
        advice = next((text for kind, text in ADVICE.items() if isinstance(exc, kind)), None)
        return (f"{exc.detail.rstrip('.')}. {advice}" if advice else exc.detail), exc.status
    if isinstance(exc, SinkError):
        return f"Destination error: {exc}", None
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({exc.filename})" if exc.filename else ""
        return f"Destination error: {exc.strerror}{where}", None
    return f"{type(exc).__name__}: {exc}", None


def sync(
    reports: Sequence[str] | None = None,
    *,
    api_key: str | None = None,
    client: CloseClient | None = None,
    base_url: str = DEFAULT_BASE_URL,
    destination: str | Sink = DEFAULT_DESTINATION,
    method: Method = "upsert",
    organization_id: str | None = None,
    user_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    full_refresh: bool = False,
    table: str | None = None,
    state: StateStore | None = None,
    progress: Progress | None = None,
    max_workers: int = 6,
    owner: str = SYNC_OWNER,
    owner_label: str | None = None,
    force: bool = False,
    all_reports: bool = False,
    memory_limit: str | int | MemoryBudget = DEFAULT_MEMORY_LIMIT,
) -> SyncResult:
    """Sync reports (the 38 classic ones by default, every report with `all_reports`) from Close into
    `destination`.

    `method`: `replace` reads everything and swaps each table atomically; `upsert` reads only what changed
    since the last run where a report has a cursor (a full read still replaces the table, so records deleted
    in Close disappear, or only its filter's rows); `append` adds each record version read once. `table`
    renames the table of a single report. `owner` (and `owner_label`, for messages) is recorded as the
    tables' owner; `force` loads a table another owner has, and takes it over. `memory_limit` (`400MB`,
    bytes, or a `MemoryBudget` to inspect afterwards) bounds the whole sync; at most `max_workers` sources
    are read at once, fewer when the budget holds fewer slots.
    """
    if method not in METHODS:
        raise ValueError(f"Unknown update method {method!r}: use one of {', '.join(METHODS)}.")
    specs = resolve_reports(reports, all_reports=all_reports)
    if table and len(specs) != 1:
        raise ValueError("A table name can only be given when syncing a single report.")
    if table and is_reserved(table):
        raise ValueError(f"Table names starting with {RESERVED_PREFIX} are closesync's own; choose another.")
    if client is None and not api_key:
        raise ValueError("An API key is needed: pass api_key or client.")
    budget = memory_limit if isinstance(memory_limit, MemoryBudget) else MemoryBudget(memory_limit)
    budget.return_freed_memory()

    with ExitStack() as stack:
        if client is None:
            # syncs of one key in this process (threads, Dagster steps) pace together
            pacer = shared_pacer(api_key, base_url)
            client = stack.enter_context(CloseClient(api_key, base_url=base_url, pacer=pacer))
        sink = destination if isinstance(destination, Sink) else open_sink(destination)
        if not isinstance(destination, Sink):
            stack.callback(sink.close)
        stack.enter_context(budget.reserve(RUNTIME_BYTES + budget.sink_bytes))
        sink.limit_memory(budget.sink_bytes, MemoryBudget.buffer_bytes(client.prefetch))
        store = state or SinkStateStore(sink)

        specs, results = _expand_per_type(client, specs, table, progress)
        if any(s.uses_organization_id for s in specs) and not organization_id:
            try:
                organization_id = _default_organization(client)
            except Exception as exc:  # every report depends on it: fail them all with the reason
                _fail(list(results.values()), exc, progress)
                return SyncResult(list(results.values()), client.stats.requests)
        params = ReportParams(organization_id=organization_id, user_id=user_id, since=since, until=until)

        claims = {
            s.slug: TableClaim(owner, s.slug, _claimed_parameters(params), owner_label or owner, force)
            for s in specs
        }
        runner = _SourceRunner(
            client, sink, store, params, method, full_refresh or method == "replace", progress, claims, budget
        )
        groups = group_by_source(specs)
        with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(groups), budget.slots))) as pool:
            for future in [pool.submit(runner.run, g, [results[s.slug] for s in g]) for g in groups]:
                future.result()
        return SyncResult(list(results.values()), client.stats.requests)


def _expand_per_type(
    client: CloseClient, specs: list[ReportSpec], table: str | None, progress: Progress | None
) -> tuple[list[ReportSpec], dict[str, ReportResult]]:
    """Specs to read and a result for each, in catalog order: a per-type template ("Custom Objects") becomes
    one report per type of the account; with no type it succeeds empty, and if the types cannot be read it
    fails alone with the reason. A `table` name prefixes each type's table."""
    out: list[ReportSpec] = []
    results: dict[str, ReportResult] = {}
    for spec in specs:
        if not spec.per_type:
            out.append(spec)
            results[spec.slug] = ReportResult(spec.slug, spec.name, table or spec.slug)
            continue
        try:
            typed = expand_per_type(client, [spec])
        except Exception as exc:
            results[spec.slug] = ReportResult(spec.slug, spec.name, table or spec.slug)
            _fail([results[spec.slug]], exc, progress)
            continue
        if not typed:
            now = datetime.now(UTC)
            results[spec.slug] = ReportResult(spec.slug, spec.name, table or spec.slug, "success")
            results[spec.slug].started_at = results[spec.slug].finished_at = now
            results[spec.slug].notes = ["this account has no custom object types"]
        for each in typed:
            name = (table + each.slug[len(spec.slug) :]) if table else each.slug
            out.append(each)
            results[each.slug] = ReportResult(each.slug, each.name, name)
    return out, results


def _claimed_parameters(params: ReportParams) -> dict[str, str | None]:
    """The read's parameters as recorded with the table's owner."""
    since, until = (t.isoformat() if t else None for t in (params.since, params.until))
    return {"organization_id": params.organization_id, "user_id": params.user_id, "since": since, "until": until}


def read_scope(spec: ReportSpec, params: ReportParams) -> tuple[ScopeCondition, ...]:
    """The rows a read of `spec` with `params` covers, as column conditions (() when it covers the table).

    Close's reports (`reporting_*`) are snapshots of their own parameters and are always replaced whole.
    """
    if spec.read.is_report:
        return ()
    wanted: list[ScopeCondition] = []
    if params.user_id and spec.user_filter:
        wanted.append((spec.user_filter, "=", params.user_id))
    if spec.date_field:
        wanted += [(spec.date_field, op, t) for op, t in ((">=", params.since), ("<", params.until)) if t]
    return tuple(wanted)


def held_values(sink: Sink, table: str, column: str, scope: Sequence[ScopeCondition]) -> Iterator[str]:
    """The distinct values of `column` in `table` among the rows inside `scope` (those a load may delete)."""
    if not sink.table_exists(table):
        return
    compare = {"=": pc.equal, ">=": pc.greater_equal, "<": pc.less}
    for batch in sink.iter_batches(table):
        if column not in batch.schema.names:
            return
        inside = pa.array([True] * batch.num_rows)
        for name, operator, bound in scope:
            limit = pa.scalar(bound, batch.schema.field(name).type)
            inside = pc.and_(inside, compare[operator](batch.column(name), limit))
        values = batch.column(column).filter(inside)
        yield from (str(v) for v in pc.unique(values).to_pylist() if v is not None)


def version_key(spec: ReportSpec, schema: pa.Schema) -> tuple[str, ...]:
    """What identifies a record version for append: its key and `date_updated`, else its key and every
    scalar column (records without a modification stamp: a changed row is a new version)."""
    if "date_updated" in schema.names:
        return (*spec.primary_key, "date_updated")
    scalar = [f.name for f in schema if not pa.types.is_nested(f.type) and f.name not in spec.primary_key]
    return (*spec.primary_key, *scalar)


def _default_organization(client: CloseClient) -> str:
    """Close's own scripts use the key owner's first organization; so do we."""
    organizations = client.get("me/").get("organizations") or []
    if not organizations:
        raise ValueError("This API key's user belongs to no organization: pass an Organization ID.")
    return organizations[0]["id"]


def _fail(results: list[ReportResult], exc: BaseException, progress: Progress | None) -> None:
    message, status = describe_error(exc)
    now = datetime.now(UTC)
    for r in results:
        r.status, r.error, r.http_status = "failed", message, status
        r.started_at = r.started_at or now
        r.finished_at = now
        if progress:
            progress(r)


@dataclass
class _SourceRunner:
    """Runs one source read and loads every report it feeds; safe to call from several threads."""

    client: CloseClient
    sink: Sink
    store: StateStore
    params: ReportParams
    method: Method
    full_refresh: bool
    progress: Progress | None
    claims: dict[str, TableClaim]
    budget: MemoryBudget
    _custom_fields_lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, specs: list[ReportSpec], results: list[ReportResult]) -> None:
        with self.budget.reserve(SLOT_BYTES):  # the source's share: its buffer, batches and pages ahead
            self._run(specs, results)

    def _run(self, specs: list[ReportSpec], results: list[ReportResult]) -> None:
        client = self.client.scoped()
        by_slug = {r.slug: r for r in results}
        started = datetime.now(UTC)
        for r in results:
            r.status, r.started_at = "running", started
            self._emit(r)
        try:
            for spec in specs:  # refuse another owner's table before reading anything
                self.sink.check_claim(by_slug[spec.slug].table, self.claims[spec.slug])
            keys = {s.slug: state_key(s, self.params) for s in specs}
            states = {} if self.full_refresh else {slug: self.store.get(k) for slug, k in keys.items()}
            held = partial(self._held, by_slug) if self.method == "upsert" else None  # only upserts delete
            read = open_read(
                client, specs, self.params, states, full_refresh=self.full_refresh, held=held,
                buffer_bytes=MemoryBudget.buffer_bytes(client.prefetch),
            )
            with self.sink.group() as group:  # the read's tables are published together, or not at all
                writers = {}
                for spec in specs:
                    incremental = bool(read.incremental.get(spec.slug))
                    by_slug[spec.slug].incremental = incremental
                    write = self._write_spec(spec, by_slug[spec.slug].table, read.schemas[spec.slug], incremental)
                    writers[spec.slug] = group.writer(write)
                late: list[tuple[str, str, pa.RecordBatch]] = []
                for slug, kind, batch in read.changes():
                    if kind in (LATE, LATE_COVER) and self.method != "append":
                        late.append((slug, kind, batch))  # upserted once this read's tables are published
                    elif kind in (COVER, LATE_COVER):
                        writers[slug].cover(batch)
                    else:
                        writers[slug].write(batch)
                    if kind in (ROWS, LATE):
                        by_slug[slug].rows += batch.num_rows
                        self._count(by_slug[slug], client)
            if late:
                self._publish_late(specs, read.schemas, late, by_slug)
            for spec in specs:
                new_state = read.new_states.get(spec.slug)
                if new_state is not None:
                    self.store.put(keys[spec.slug], new_state)
            if read.custom_fields:
                self._save_custom_fields(read.custom_fields)
            finished = datetime.now(UTC)
            deleted = [f"{read.deleted} deletion(s) from Close applied"] if read.deleted else []
            for r in results:
                r.notes = list(read.notes) + deleted
                r.status, r.finished_at = "success", finished
                self._count(r, client)
        except Exception as exc:
            for r in results:
                self._count(r, client)
            _fail(results, exc, self.progress)

    def _held(self, by_slug: dict[str, ReportResult], spec: ReportSpec, column: str) -> Iterator[str]:
        """The destination's side of a full id comparison (see `held_values`)."""
        return held_values(self.sink, by_slug[spec.slug].table, column, read_scope(spec, self.params))

    def _publish_late(
        self,
        specs: list[ReportSpec],
        schemas: dict[str, pa.Schema],
        late: list[tuple[str, str, pa.RecordBatch]],
        by_slug: dict[str, ReportResult],
    ) -> None:
        """Upsert the rows of records changed during a full read over its published tables (children
        replaced per parent), so each key holds its last version once."""
        by_spec = {s.slug: s for s in specs}
        with self.sink.group() as group:
            writers = {}
            for slug in dict.fromkeys(slug for slug, _, _ in late):
                spec = by_spec[slug]
                write = WriteSpec(
                    by_slug[slug].table, schemas[slug], "upsert", spec.primary_key, spec.parent_key,
                    claim=self.claims[slug],
                )
                writers[slug] = group.writer(write)
            for slug, kind, batch in late:
                if kind == LATE_COVER:
                    writers[slug].cover(batch)
                else:
                    writers[slug].write(batch)

    def _write_spec(self, spec: ReportSpec, table: str, schema: pa.Schema, incremental: bool) -> WriteSpec:
        """How the read's rows of `spec` load: append each version once; upsert within the read's scope."""
        claim = self.claims[spec.slug]
        if self.method == "append":
            return WriteSpec(
                table, schema, "append", spec.primary_key, version_key=version_key(spec, schema), claim=claim
            )
        scope = read_scope(spec, self.params)
        if not incremental and (self.method == "replace" or not scope):
            return WriteSpec(table, schema, "replace", spec.primary_key, claim=claim)
        return WriteSpec(
            table,
            schema,
            "upsert",
            spec.primary_key,
            parent_key=spec.parent_key if incremental else (),
            scope=scope,
            clear_scope=not incremental,  # a full read of a filtered report replaces its filter's rows
            claim=claim,
        )

    def _count(self, result: ReportResult, client: CloseClient) -> None:
        stats = client.stats
        result.requests = stats.requests
        result.throttle_waits = stats.throttled
        result.retries = stats.retries
        self._emit(result)

    def _emit(self, result: ReportResult) -> None:
        if self.progress:
            self.progress(result)

    def _save_custom_fields(self, rows: list[dict]) -> None:
        """Map each custom-field column back to Close's `cf_…` id, so users can join on either."""
        table = pa.Table.from_pylist(rows)
        key = tuple(k for k in ("report", "field_id") if k in table.column_names) or ("field_id",)
        with (
            self._custom_fields_lock,
            self.sink.writer(
                WriteSpec(CUSTOM_FIELDS_TABLE, table.schema, "upsert", primary_key=key)
            ) as writer,
        ):
            for batch in table.to_batches():
                writer.write(batch)
