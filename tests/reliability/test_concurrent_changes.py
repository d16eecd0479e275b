"""Reads stay correct while Close changes underneath (issue 10, section 1).

The sandbox creates, edits and deletes records in the middle of a read, triggered by request counts (so
every run is the same), and each synced table is compared with the sandbox's ground truth afterwards:
no live record lost, no key stored twice, and every record in its last version where the source can tell
versions apart (`date_updated`). A record deleted while the read ran may still be in the table (it was live
when read); the next incremental run's event-log walk removes it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

import closesync
from closesync.close import CloseClient
from closesync.close.timestamps import parse_timestamp
from closesync.sandbox import Sandbox
from closesync.sinks import open_sink


@dataclass(frozen=True)
class Case:
    """One source read while its collection changes: the report, its collection, the request group that
    paces the mutations, the sandbox size that makes the read several pages long, and whether the source
    has versions (`date_updated` is a cursor, so an edit during the read must arrive)."""

    report: str
    collection: str
    group: str
    leads: int
    versioned: bool


CASES = [
    Case("activities_call", "activity/call", "GET activity/call", 60, False),
    Case("activities_notes", "activity/note", "GET activity/note", 120, False),
    Case("opportunities", "opportunity", "GET opportunity", 600, True),
    Case("tasks", "task", "GET task", 1400, True),
    Case("leads", "lead", "POST data/search", 500, True),
    Case("contacts", "contact", "POST data/search", 400, True),
]


def _sync(sb: Sandbox, report: str, destination: str, method: str) -> closesync.SyncResult:
    result = closesync.sync([report], api_key=sb.api_key, base_url=sb.base_url, destination=destination,
                            method=method)  # type: ignore[arg-type]
    assert result.ok, [r.error for r in result.failed]
    return result


def _schedule_changes(sb: Sandbox, case: Case, first: int = 2) -> None:
    """Deletions, edits and creations before the 2nd and 3rd request of the read (pages 2 and 3)."""
    for after in (first, first + 1):
        sb.schedule_mutation(case.collection, "delete", 3, after=after, group=case.group)
        sb.schedule_mutation(case.collection, "edit", 2, after=after, group=case.group)
        sb.schedule_mutation(case.collection, "create", 2, after=after, group=case.group)


def _changed_ids(sb: Sandbox, action: str) -> set[str]:
    return {i for a in sb.mutations()["applied"] if a["action"] == action for i in a["ids"]}


def _assert_matches_truth(sb: Sandbox, case: Case, destination: str) -> None:
    sink = open_sink(destination)
    try:
        rows = [r for b in sink.iter_batches(case.report) for r in b.to_pylist()]
    finally:
        sink.close()
    truth = {r["id"]: parse_timestamp(r["date_updated"]) for r in sb.truth(case.collection)}
    counts = Counter(r["id"] for r in rows)
    duplicated = sorted(i for i, n in counts.items() if n > 1)
    lost = sorted(set(truth) - set(counts))
    extra = set(counts) - set(truth)
    assert not sb.mutations()["pending"], "the read ended before every scheduled change was applied"
    assert (lost, duplicated) == ([], []), f"lost {len(lost)}, duplicated {len(duplicated)}"
    assert extra <= _changed_ids(sb, "delete"), "rows that never existed"
    assert _changed_ids(sb, "create") <= set(counts)
    if case.versioned:
        stale = sorted((r["id"], r["date_updated"], truth[r["id"]]) for r in rows
                       if r["id"] in truth and r["date_updated"] != truth[r["id"]])
        assert stale == [], f"{len(stale)} records stored in an older version"


@pytest.fixture
def duckdb_destination(tmp_path: Path) -> str:
    return f"duckdb:{tmp_path / 'close.duckdb'}"


@pytest.mark.parametrize("method", ["replace", "upsert"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.report)
def test_full_read_while_records_change(make_sandbox, duckdb_destination: str, case: Case, method: str) -> None:
    """A full read (replace, or the first upsert run) under creates, edits and deletes loses nothing."""
    sb = make_sandbox(leads=case.leads)
    _schedule_changes(sb, case)
    _sync(sb, case.report, duckdb_destination, method)
    _assert_matches_truth(sb, case, duckdb_destination)


@pytest.mark.parametrize("case", [c for c in CASES if c.versioned], ids=lambda c: c.report)
def test_incremental_read_while_records_change(make_sandbox, duckdb_destination: str, case: Case) -> None:
    """An incremental upsert whose read spans pages keeps every change made while it ran."""
    sb = make_sandbox(leads=case.leads)
    _sync(sb, case.report, duckdb_destination, "upsert")
    for record in sb.truth(case.collection):  # every record changed since: the read spans pages
        sb.data.update(case.collection, record["id"])
    sb.reset_stats()
    sb.clear_mutations()
    _schedule_changes(sb, case, first=2)
    second = _sync(sb, case.report, duckdb_destination, "upsert")
    assert second.reports[0].incremental
    _assert_matches_truth(sb, case, duckdb_destination)


def test_parquet_replace_keeps_one_row_per_key(make_sandbox, tmp_path: Path) -> None:
    """The same guarantee on a destination without transactions."""
    case = next(c for c in CASES if c.report == "leads")
    sb = make_sandbox(leads=case.leads)
    _schedule_changes(sb, case)
    destination = f"parquet:{tmp_path / 'files'}"
    _sync(sb, case.report, destination, "replace")
    _assert_matches_truth(sb, case, destination)


def test_leads_read_with_nested_reports_while_leads_and_contacts_change(make_sandbox, duckdb_destination) -> None:
    """The reported failure: editing leads and contacts during a full leads read (nested reports too)."""
    sb = make_sandbox(leads=500)
    for after in (2, 3):
        sb.schedule_mutation("lead", "edit", 2, after=after, group="POST data/search")
        sb.schedule_mutation("contact", "edit", 2, after=after, group="POST data/search")
    closesync.sync(["leads", "leads_contacts", "leads_addresses"], api_key=sb.api_key, base_url=sb.base_url,
                   destination=duckdb_destination, method="replace")
    _assert_matches_truth(sb, Case("leads", "lead", "POST data/search", 500, True), duckdb_destination)
    sink = open_sink(duckdb_destination)
    try:
        contacts = [r["id"] for b in sink.iter_batches("leads_contacts") for r in b.to_pylist()]
    finally:
        sink.close()
    expected = [c["id"] for lead in sb.data.records("lead") for c in lead.get("contacts") or []]
    assert sorted(contacts) == sorted(expected)


def test_plain_list_read_while_records_come_and_go(make_sandbox) -> None:
    """`paginate` (the reader of lists without date filters) under deletes that shift its pages by more
    than their overlap, and creates above its position."""
    sb = make_sandbox(leads=60)
    for after in (2, 3):
        sb.schedule_mutation("activity/call", "delete", 4, after=after, group="GET activity/call")
        sb.schedule_mutation("activity/call", "create", 3, after=after, group="GET activity/call")
    with CloseClient(sb.api_key, base_url=sb.base_url) as client:
        ids = [r["id"] for r in client.paginate("activity/call/")]
    truth = {r["id"] for r in sb.truth("activity/call")}
    assert len(ids) == len(set(ids))
    assert truth <= set(ids)
    assert set(ids) - truth <= _changed_ids(sb, "delete")
