"""When Close's event log refuses the deletion queries (issue 12, §1 "Event log filters"), deletions are found
by a full id comparison instead: the ids Close has now (one cheap id-only walk per source, scoped like the
read) against the ids the destination holds. Over HTTP with the sandbox's `event_filters = "none"`, into
DuckDB and PostgreSQL: the deleted rows (and their children) go, nothing else does, and a note says why.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import closesync
from closesync.sandbox import Sandbox
from closesync.sinks import open_sink
from test_incremental_deletes import REPORTS, actual, assert_matches_sandbox, expected


@pytest.fixture(params=["duckdb", "postgres"])
def destination(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "postgres":
        yield request.getfixturevalue("pg_sink_url")
    else:
        yield f"duckdb:{tmp_path / 'close.duckdb'}"


def _sync(sb: Sandbox, destination: str, reports: list[str], **params: object) -> closesync.SyncResult:
    result = closesync.sync(reports, api_key=sb.api_key, base_url=sb.base_url, destination=destination,
                            **params)  # type: ignore[arg-type]
    assert result.ok, [r.error for r in result.failed]
    return result


def _comparison_notes(result: closesync.SyncResult) -> dict[str, list[str]]:
    return {r.slug: [n for n in r.notes if "full id comparison" in n] for r in result.reports}


def test_a_refused_event_log_falls_back_to_a_full_id_comparison(sandbox: Sandbox, destination: str) -> None:
    _sync(sandbox, destination, REPORTS)
    data = sandbox.data
    lead = next(lead for lead in data.records("lead")
                if lead.get("addresses") and lead.get("contacts") and lead.get("opportunities"))
    contact = next(c for c in data.records("contact") if c.get("emails") and c.get("lead_id") != lead["id"])
    opportunity = next(o for o in data.records("opportunity") if o["lead_id"] != lead["id"])
    task = next(t for t in data.records("task") if t.get("lead_id") != lead["id"])
    call = next(c for c in data.records("activity/call") if c.get("lead_id") != lead["id"])
    gone = {"leads": lead["id"], "contacts": contact["id"], "opportunities": opportunity["id"],
            "tasks": task["id"], "activities_call": call["id"]}
    for collection, record_id in zip(("lead", "contact", "opportunity", "task", "activity/call"), gone.values(),
                                     strict=True):
        data.delete(collection, record_id)
    sandbox.event_filters = "none"  # Close's event log takes none of the deletion queries

    second = _sync(sandbox, destination, REPORTS)
    assert all(r.incremental and r.status == "success" for r in second.reports)
    notes = _comparison_notes(second)
    for slug in gone:
        assert notes[slug], second.reports
        assert "refused" in notes[slug][0] and re.search(r"\d+ requests?", notes[slug][0]), notes[slug]
    assert_matches_sandbox(sandbox, destination)  # the deleted rows are gone, every other row is there
    sink = open_sink(destination)
    try:
        for slug, record_id in gone.items():
            assert record_id not in actual(sink, slug), slug
        for slug in ("leads_addresses", "leads_contacts", "leads_opportunities", "leads_tasks"):
            assert lead["id"] not in {r["lead_id"] for b in sink.iter_batches(slug) for r in b.to_pylist()}
    finally:
        sink.close()


def test_the_id_comparison_keeps_to_the_reads_scope(make_sandbox, tmp_path: Path) -> None:
    """A user's dataset compares the user's ids only (the same filter as its read), deletes the user's
    deleted records and nothing of the rest."""
    sb = make_sandbox(leads=30, activities_per_lead=3)
    destination = f"duckdb:{tmp_path / 'close.duckdb'}"
    reports = ["opportunities", "activities_call", "tasks"]
    collections = {"opportunities": ("opportunity", "user_id"), "activities_call": ("activity/call", "user_id"),
                   "tasks": ("task", "assigned_to")}
    user = sb.data.records("opportunity")[0]["user_id"]
    _sync(sb, destination, reports, user_id=user)
    gone = {}
    for slug, (collection, column) in collections.items():
        mine = [r for r in sb.data.records(collection) if r.get(column) == user]
        assert len(mine) >= 2, slug
        gone[slug] = mine[0]["id"]
        sb.data.delete(collection, mine[0]["id"])
    sb.event_filters = "none"

    second = _sync(sb, destination, reports, user_id=user)
    assert all(notes for notes in _comparison_notes(second).values()), second.reports
    sink = open_sink(destination)
    try:
        for slug, (collection, column) in collections.items():
            want = sorted(r["id"] for r in sb.data.records(collection) if r.get(column) == user)
            assert actual(sink, slug) == want, slug
            assert gone[slug] not in want
    finally:
        sink.close()


def test_without_a_refusal_no_id_comparison_is_made(sandbox: Sandbox, tmp_path: Path) -> None:
    destination = f"duckdb:{tmp_path / 'close.duckdb'}"
    _sync(sandbox, destination, ["leads", "opportunities"])
    sandbox.data.delete("opportunity", sandbox.data.records("opportunity")[0]["id"])
    second = _sync(sandbox, destination, ["leads", "opportunities"])
    assert not any(_comparison_notes(second).values())
    sink = open_sink(destination)
    try:
        assert actual(sink, "opportunities") == expected(sandbox, "opportunities")
    finally:
        sink.close()
