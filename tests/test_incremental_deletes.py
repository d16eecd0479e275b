"""Incremental (upsert) syncs drop what Close no longer has, end to end over HTTP into real destinations.

Two gaps closed here: a re-read parent with fewer children (or none) must lose the stale nested rows, and
records deleted in Close (seen through its event log) must leave their table and their children's tables.
Each test runs a full sync, mutates the sandbox, runs an incremental sync and compares every table with the
sandbox's data, for DuckDB, PostgreSQL and Parquet.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import closesync
from closesync.close.events import TASK_TYPES
from closesync.sandbox import Sandbox
from closesync.sinks import open_sink
from closesync.sinks.base import Sink
from sandbox_expect import NESTED_BY_POSITION, expected_ids, expected_positions

REPORTS = [
    "leads",
    "leads_addresses",
    "leads_contacts",
    "leads_opportunities",
    "leads_tasks",
    "contacts",
    "contacts_emails",
    "contacts_phones",
    "contacts_urls",
    "opportunities",
    "tasks",
    "activities_call",
]
@pytest.fixture(params=["duckdb", "postgres", "parquet"])
def destination(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "postgres":
        yield request.getfixturevalue("pg_sink_url")
    elif request.param == "duckdb":
        yield f"duckdb:{tmp_path / 'close.duckdb'}"
    else:
        yield f"parquet:{tmp_path / 'files'}"


def sync(sb: Sandbox, destination: str, reports: list[str] = REPORTS) -> closesync.SyncResult:
    result = closesync.sync(reports, api_key=sb.api_key, base_url=sb.base_url, destination=destination)
    assert result.ok, [r.error for r in result.failed]
    return result


def expected(sb: Sandbox, slug: str) -> list:
    if slug in NESTED_BY_POSITION:
        return sorted(expected_positions(sb, slug))
    return sorted(expected_ids(sb, slug))


def actual(sink: Sink, slug: str) -> list:
    rows = [r for b in sink.iter_batches(slug) for r in b.to_pylist()]
    if slug in NESTED_BY_POSITION:
        column = NESTED_BY_POSITION[slug][2]
        return sorted((r[column], r["position"]) for r in rows)
    return sorted(r["id"] for r in rows)


def assert_matches_sandbox(sb: Sandbox, destination: str) -> None:
    sink = open_sink(destination)
    try:
        for slug in REPORTS:
            assert actual(sink, slug) == expected(sb, slug), slug
    finally:
        sink.close()


def test_reread_parents_lose_children_they_no_longer_have(sandbox: Sandbox, destination: str) -> None:
    sync(sandbox, destination)
    data = sandbox.data
    leads = data.records("lead")
    with_address = next(lead for lead in leads if lead.get("addresses"))
    with_contacts = next(lead for lead in leads if len(lead.get("contacts") or []) >= 2)
    with_opps = next(lead for lead in leads if lead.get("opportunities"))
    with_tasks = next(lead for lead in leads if lead.get("tasks"))
    data.update("lead", with_address["id"], addresses=[])  # its last address removed
    kept = with_contacts["contacts"][:1]
    data.update("lead", with_contacts["id"], contacts=kept, contact_ids=[c["id"] for c in kept])
    data.update("lead", with_opps["id"], opportunities=[])
    data.update("lead", with_tasks["id"], tasks=with_tasks["tasks"][1:])
    contacts = data.records("contact")
    with_emails = next(c for c in contacts if len(c.get("emails") or []) >= 2)
    with_phones = next(c for c in contacts if c.get("phones"))
    data.update("contact", with_emails["id"], emails=with_emails["emails"][1:])
    data.update("contact", with_phones["id"], phones=[])

    second = sync(sandbox, destination)
    assert all(r.incremental for r in second.reports)
    assert_matches_sandbox(sandbox, destination)


def test_records_deleted_in_close_leave_every_table(sandbox: Sandbox, destination: str) -> None:
    sync(sandbox, destination)
    data = sandbox.data
    lead = next(
        lead
        for lead in data.records("lead")
        if lead.get("addresses") and lead.get("contacts") and lead.get("opportunities")
    )
    contact = next(c for c in data.records("contact") if c.get("emails") and c.get("lead_id") != lead["id"])
    data.delete("lead", lead["id"])
    data.delete("contact", contact["id"])
    data.delete("opportunity", data.records("opportunity")[0]["id"])
    data.delete("task", data.records("task")[-1]["id"])
    data.delete("activity/call", data.records("activity/call")[2]["id"])
    data.add("activity/call")  # a change alongside the deletions
    sandbox.reset_stats()

    second = sync(sandbox, destination)
    assert all(r.incremental for r in second.reports)
    # one event-log walk per object type (Close takes one object_type with action=deleted): leads,
    # contacts, opportunities, calls, and each of the task subtypes
    assert sandbox.stats()["requests"]["by_group"]["GET event"] == 4 + len(TASK_TYPES)
    assert_matches_sandbox(sandbox, destination)
    sink = open_sink(destination)
    try:
        for slug in ("leads_addresses", "leads_contacts", "leads_opportunities", "leads_tasks"):
            assert lead["id"] not in {r["lead_id"] for b in sink.iter_batches(slug) for r in b.to_pylist()}
    finally:
        sink.close()
    by_slug = {r.slug: r for r in second.reports}
    assert any("deletion(s) from Close applied" in n for n in by_slug["leads"].notes)

    # A third run sees the same deletions again (look-back) and changes nothing.
    sync(sandbox, destination)
    assert_matches_sandbox(sandbox, destination)


def test_unavailable_event_log_is_a_note_not_a_failure(sandbox: Sandbox, tmp_path: Path) -> None:
    destination = f"duckdb:{tmp_path / 'close.duckdb'}"
    sync(sandbox, destination, ["opportunities", "leads", "leads_addresses"])
    sandbox.data.update("lead", sandbox.data.records("lead")[0]["id"], addresses=[])
    sandbox.add_fault("403", path="event/", count=10)

    second = sync(sandbox, destination, ["opportunities", "leads", "leads_addresses"])
    for report in second.reports:
        assert report.incremental and report.status == "success"
        assert any("event log is unavailable" in n for n in report.notes), report.notes
        assert sandbox.api_key not in " ".join(report.notes)
    sink = open_sink(destination)
    try:
        for slug in ("leads", "leads_addresses", "opportunities"):
            assert actual(sink, slug) == expected(sandbox, slug), slug
    finally:
        sink.close()


def test_covers_come_only_from_incremental_reads(sandbox: Sandbox) -> None:
    """A full read covers nothing and never asks the event log; an incremental one covers every re-read
    parent (one with no children left included) and the deleted ids, in one event-log walk."""
    from closesync.close import CloseClient
    from closesync.reports import REPORTS, open_read
    from closesync.reports.extract import COVER

    specs = [s for s in REPORTS if s.source == "lead"]
    with CloseClient(sandbox.api_key, base_url=sandbox.base_url) as client:
        sandbox.reset_stats()
        full = open_read(client, specs, states={})
        assert all(kind != COVER for _, kind, _ in full.changes())
        assert "GET event" not in sandbox.stats()["requests"]["by_group"]

        data = sandbox.data
        emptied, gone = data.records("lead")[1], data.records("lead")[2]
        data.update("lead", emptied["id"], addresses=[], contacts=[], opportunities=[], tasks=[])
        data.delete("lead", gone["id"])
        sandbox.reset_stats()
        read = open_read(client, specs, states=full.new_states)
        covered: dict[str, set[str]] = {s.slug: set() for s in specs}
        for slug, kind, batch in read.changes():
            if kind == COVER:
                covered[slug].update(batch.column(0).to_pylist())
        assert sandbox.stats()["requests"]["by_group"]["GET event"] == 1
    assert read.deleted == 1
    assert covered["leads"] == {gone["id"]}
    for slug in ("leads_addresses", "leads_contacts", "leads_opportunities", "leads_tasks"):
        assert {emptied["id"], gone["id"]} <= covered[slug], slug


def test_event_log_takes_only_documented_filter_combinations(sandbox: Sandbox) -> None:
    """Close's event log refuses `action` alone; `object_type` with `action` is a supported combination."""
    from fixtures_sandbox import sandbox_client

    with sandbox_client(sandbox) as http:
        refused = http.get("event/", params={"action": "deleted"})
        assert refused.status_code == 400 and "combination" in refused.json()["errors"][0]
        assert http.get("event/", params={"object_type": "lead", "action": "deleted"}).status_code == 200
        assert http.get("event/", params={"lead_id": "lead_x", "object_type": "lead"}).status_code == 200
        assert http.get("event/", params={"object_id": "lead_x"}).status_code == 400
        sandbox.event_filters = "any"
        assert http.get("event/", params={"action": "deleted"}).status_code == 200


def test_refused_event_log_query_is_a_note_and_deletions_still_apply(sandbox: Sandbox, tmp_path: Path) -> None:
    """A 400 on one event-log walk (Close refusing a filter combination) fails nothing: the run succeeds, the
    other walks' deletions apply, and the refused walk's source finds its deletions by a full id comparison
    (tests/test_real_close_deletions.py covers it in depth), with a note that says so."""
    destination = f"duckdb:{tmp_path / 'close.duckdb'}"
    reports = ["leads", "leads_addresses", "opportunities"]
    sync(sandbox, destination, reports)
    data = sandbox.data
    gone_lead = data.records("lead")[3]["id"]
    gone_opp = next(o["id"] for o in data.records("opportunity") if o["lead_id"] != gone_lead)
    data.delete("lead", gone_lead)
    data.delete("opportunity", gone_opp)
    # the first event-log request (the leads walk or the opportunities walk) is refused
    sandbox.add_fault("400", path="event/", count=1)

    second = sync(sandbox, destination, reports)
    assert all(r.status == "success" and r.incremental for r in second.reports)
    notes = [n for r in second.reports for n in r.notes]
    assert any("event log refused the query" in n and "full id comparison" in n for n in notes), notes
    assert_matches_subset(sandbox, destination, ["leads", "leads_addresses", "opportunities"])


def assert_matches_subset(sb: Sandbox, destination: str, slugs: list[str]) -> None:
    sink = open_sink(destination)
    try:
        for slug in slugs:
            assert actual(sink, slug) == expected(sb, slug), slug
    finally:
        sink.close()
