"""`close_source`: a dlt source whose resources are closesync's reports.

Each resource is one report's table, as Arrow tables from closesync's own extraction and shaping: the
source runs closesync's pipeline (`closesync.pipeline.sync`: sources read once and concurrently, paced,
incremental, deletes from Close's event log) into a `StagingSink`, then each resource yields its staged
table with the hints closesync's load would have (`hints.py`): merge on the primary key for upsert,
replace, append; deletes as dlt hard deletes. Custom fields are typed columns, because shaping makes them
so. Cursors live in dlt's source state (``closesync``), saved with the load like any dlt state.

    pipeline = dlt.pipeline("close", destination="bigquery", dataset_name="crm")
    pipeline.run(close_source(reports=["leads", "opportunities"]))   # api_key from dlt's secrets

A full read whose records changed while it ran is loaded as one replace: the rows superseded by the late
versions are left out, so each key is there once, in its last version. dlt's filesystem destination merges
only Delta/Iceberg tables (``table_format=``): with plain Parquet files use ``method="replace"`` or
``"append"``, since dlt would turn an upsert's merge into an append. For PostgreSQL, run with
``loader_file_format="insert_values"``: dlt's CSV loader reads empty strings as NULL.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import dlt
import pyarrow as pa

from closesync.close import DEFAULT_BASE_URL
from closesync.errors import ClosesyncError
from closesync.integrations.dlt.hints import resource_hints
from closesync.integrations.dlt.sink import SOURCE_NAME, STATE_SECTION
from closesync.integrations.dlt.staging import StagedWriter, StagingSink
from closesync.pipeline import SyncResult, resolve_reports, sync
from closesync.sinks.destination import METHODS, Method


class ReportFailedError(ClosesyncError):
    """A report of `close_source` could not be read; dlt's load stops with this reason."""


class DictStateStore:
    """closesync's cursors in a dict of dlt's source state."""

    def __init__(self, section: dict[str, Any]) -> None:
        self._section = section

    def get(self, key: str) -> dict | None:
        return self._section.get(key)

    def put(self, key: str, value: dict) -> None:
        self._section[key] = value


class _Read:
    """One closesync run shared by the source's resources: the first resource to be extracted runs it."""

    def __init__(self, reports: list[str], options: dict[str, Any]) -> None:
        self.reports = reports
        self.options = options
        self.sink: StagingSink | None = None
        self.result: SyncResult | None = None

    def tables(self, slug: str) -> Iterator[Any]:
        if self.sink is None:
            self.sink = StagingSink()
            state = dlt.current.source_state().setdefault(STATE_SECTION, {})
            self.result = sync(
                self.reports, destination=self.sink, state=DictStateStore(state), **self.options
            )
        assert self.result is not None
        report = next(r for r in self.result.reports if r.slug == slug)
        if report.status != "success":
            raise ReportFailedError(f"{report.name}: {report.error}")
        try:
            yield from staged_tables(self.sink.staged.get(slug, []))
        finally:
            if all(not w for w in self.sink.staged.values()):
                self.sink.close()


def staged_tables(writers: list[StagedWriter]) -> Iterator[Any]:
    """A report's staged loads as one dlt load: its hints on the first table, then its rows; late rows
    (upserts after a replace) replace the rows they supersede."""
    if not writers:
        return
    base, late = writers[0], writers[1:]
    exclude = None
    if late:
        if base.method != "replace" or any(w.method != "upsert" for w in late):
            raise ReportFailedError(f"{base.table}: unexpected loads {[w.method for w in writers]}")
        exclude = pa.concat_arrays([w.key_values() for w in late])
    tables = [base.tables(exclude, late[0].upsert_key if late else ())]
    tables += [w.tables(deletions=False) for w in late]  # their covers are in `exclude`
    hints = dlt.mark.make_hints(**resource_hints(base.spec))
    for i, table in enumerate(itertools.chain.from_iterable(tables)):
        yield dlt.mark.with_hints(table, hints) if i == 0 else table
    writers.clear()


@dlt.source(name=SOURCE_NAME, max_table_nesting=0)
def close_source(
    api_key: str = dlt.secrets.value,
    reports: Sequence[str] | None = None,
    organization_id: str | None = None,
    user_id: str | None = None,
    base_url: str = DEFAULT_BASE_URL,
    method: Method = "upsert",
    since: datetime | None = None,
    full_refresh: bool = False,
) -> Any:
    """closesync's reports (all 38 when none are named) as dlt resources, one per report.

    `method` as in `closesync sync`: upsert (incremental where a report has a cursor; merge on the
    primary key, deletions as hard deletes), replace, or append (each record version once). The API key
    may come from dlt's secrets (``sources.close.api_key``).
    """
    if method not in METHODS:
        raise ClosesyncError(f"Unknown update method {method!r}: use one of {', '.join(METHODS)}.")
    specs = resolve_reports(reports)
    read = _Read(
        [s.slug for s in specs],
        dict(
            api_key=api_key,
            base_url=base_url,
            method=method,
            organization_id=organization_id,
            user_id=user_id,
            since=since,
            full_refresh=full_refresh,
        ),
    )
    return [dlt.resource(read.tables(s.slug), name=s.slug, primary_key=list(s.primary_key)) for s in specs]
