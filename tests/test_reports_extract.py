"""Extraction against the sandbox over real HTTP: every report yields exactly the sandbox's records, once;
incremental reads ask only for what changed; deep collections are complete under a tiny skip cap."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest

from closesync.close import CloseClient
from closesync.close.errors import NotFoundError
from closesync.close.events import TASK_TYPES
from closesync.close.timestamps import parse_timestamp
from closesync.reports import (
    REPORTS,
    ReportParams,
    ReportSpec,
    SourceRead,
    get_report,
    group_by_source,
    open_read,
)
from closesync.reports.catalog import CLASSIC
from closesync.sandbox import Sandbox


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[CloseClient]:
    with CloseClient(sandbox.api_key, base_url=sandbox.base_url) as c:
        yield c


def read_all(
    client: CloseClient,
    specs: Sequence[ReportSpec],
    params: ReportParams | None = None,
    states: dict[str, Any] | None = None,
    **kwargs: Any,
) -> tuple[SourceRead, dict[str, pa.Table]]:
    read = open_read(client, specs, params or ReportParams(), states or {}, **kwargs)
    batches: dict[str, list[pa.RecordBatch]] = defaultdict(list)
    for slug, batch in read.batches():
        assert batch.schema == read.schemas[slug]
        batches[slug].append(batch)
    tables = {s.slug: pa.Table.from_batches(batches[s.slug], schema=read.schemas[s.slug]) for s in read.specs}
    return read, tables


def keys(table: pa.Table, spec: ReportSpec) -> list[tuple[Any, ...]]:
    columns = [table.column(k).to_pylist() for k in spec.primary_key]
    return list(zip(*columns, strict=True))


def positions(parents: list[dict], key: str, parent_key: str = "id") -> list[tuple[Any, int]]:
    return [(p[parent_key], i) for p in parents for i, _ in enumerate(p.get(key) or [])]


def ids(items: list[dict]) -> list[tuple[Any, ...]]:
    return [(r["id"],) for r in items]


def expected_keys(sb: Sandbox, client: CloseClient, spec: ReportSpec) -> list[tuple[Any, ...]]:
    """The sandbox's own records for a report, computed from its data (not through our code)."""
    data = sb.data
    leads, contacts = data.records("lead"), data.records("contact")
    org, me = data.organization(), data.me()
    nested_of_lead = {
        "leads_contacts": "contacts",
        "leads_opportunities": "opportunities",
        "leads_tasks": "tasks",
    }
    if spec.slug in nested_of_lead:
        return [(c["id"],) for lead in leads for c in lead[nested_of_lead[spec.slug]]]
    if spec.slug == "leads_addresses":
        return positions(leads, "addresses")
    if spec.slug.startswith("contacts_"):
        return positions(contacts, spec.slug.split("_")[1])
    if spec.slug == "leads":
        return ids(leads)
    if spec.slug == "contacts":
        return ids(contacts)
    if spec.slug == "organizations":
        return [(org["id"],)]
    if spec.slug == "organizations_opportunity_statuses":
        return [(s["id"],) for p in org["pipelines"] for s in p["statuses"]]
    if spec.source == "organization":
        assert spec.nested is not None
        return ids(org[spec.nested.path[0]])
    if spec.source == "me":
        assert spec.nested is not None
        return ids(me[spec.nested.path[0]])
    if spec.slug == "reporting_sent_emails":
        stats = client.get(f"report/sent_emails/{org['id']}/")["sent_email_stats"]
        return [(org["id"], i) for i in range(len(stats))]
    if spec.slug == "reporting_activity":
        return []  # checked separately (rows depend on the range)
    return ids(data.records(spec.path.strip("/")))


def test_every_report_yields_exactly_the_sandbox_records(sandbox: Sandbox, client: CloseClient) -> None:
    seen: set[str] = set()
    for group in group_by_source(CLASSIC):  # the classic 38; issue 14's: test_reports_activity_objects.py
        read, tables = read_all(client, group)
        for spec in group:
            seen.add(spec.slug)
            got = keys(tables[spec.slug], spec)
            dupes = [k for k, n in Counter(got).items() if n > 1]
            assert not dupes, f"{spec.slug}: duplicate keys {dupes[:3]}"
            if spec.slug == "reporting_activity":
                assert tables[spec.slug].num_rows > 0
                continue
            want = expected_keys(sandbox, client, spec)
            assert sorted(got) == sorted(want), spec.slug
            assert len(want) > 0, f"{spec.slug}: the sandbox should serve some rows"
            # every key the sandbox serves is a declared column: nothing lands in `extra`
            unknown = {k for e in tables[spec.slug].column("extra").to_pylist() if e for k in json.loads(e)}
            assert not unknown, f"{spec.slug}: undeclared keys {sorted(unknown)}"
        assert read.notes == []
    assert len(seen) == 38


def test_values_and_types_spot_checks(sandbox: Sandbox, client: CloseClient) -> None:
    _read, tables = read_all(client, [get_report("opportunities")])
    table = tables["opportunities"]
    assert table.schema.field("value").type == pa.int64()
    assert table.schema.field("date_updated").type == pa.timestamp("us", tz="UTC")
    by_id = {r["id"]: r for r in table.to_pylist()}
    for record in sandbox.data.records("opportunity"):
        row = by_id[record["id"]]
        assert row["value"] == record["value"]
        assert row["date_updated"] == parse_timestamp(record["date_updated"])
    _read, tables = read_all(client, [get_report("tasks")])
    assert tables["tasks"].schema.field("date").type == pa.timestamp("us", tz="UTC")
    assert {r["_type"] for r in tables["tasks"].to_pylist()} == {
        r["_type"] for r in sandbox.data.records("task")
    }


def test_custom_fields_are_named_typed_columns(sandbox: Sandbox, client: CloseClient) -> None:
    specs = [s for s in REPORTS if s.source == "lead"]
    read, tables = read_all(client, specs)
    leads = tables["leads"]
    definitions = {d["id"]: d for d in sandbox.data.records("custom_field/lead")}
    mapping = {(r["report"], r["field_id"]): r for r in read.custom_fields}
    assert {fid for report, fid in mapping if report == "leads"} == set(definitions)
    columns = {fid: mapping[("leads", fid)]["column"] for fid in definitions}
    assert len(set(columns.values())) == len(columns)
    names = {definitions[fid]["name"]: column for fid, column in columns.items()}
    if "Deal Size ($)" in names:
        assert names["Deal Size ($)"] == "deal_size"
        assert leads.schema.field("deal_size").type == pa.float64()
    if "Region" in names and "region" in names:
        assert names["Region"] != names["region"]
    by_id = {r["id"]: r for r in leads.to_pylist()}
    for record in sandbox.data.records("lead"):
        row = by_id[record["id"]]
        for fid, column in columns.items():
            value = record.get(f"custom.{fid}")
            if value is None:
                continue
            kind = definitions[fid]["type"]
            if definitions[fid]["accepts_multiple_values"]:
                assert row[column] == value
            elif kind == "number":
                assert row[column] == pytest.approx(float(value))
            elif kind in ("text", "choices", "user"):
                assert row[column] == value
    # contact custom fields appear on leads_contacts too, under the same names as on contacts
    contact_cols = {r["field_id"]: r["column"] for r in read.custom_fields if r["report"] == "leads_contacts"}
    assert contact_cols and set(contact_cols.values()) <= set(tables["leads_contacts"].column_names)
    # the same read twice gives the same column names
    again, _ = read_all(client, specs)
    assert sorted(map(sorted, (r.items() for r in again.custom_fields))) == sorted(
        map(sorted, (r.items() for r in read.custom_fields))
    )


def test_incremental_reads_request_only_what_changed(sandbox: Sandbox, client: CloseClient) -> None:
    data = sandbox.data
    sources = [
        [get_report("activities_call")],
        [get_report("opportunities")],
        [get_report("tasks")],
        [s for s in REPORTS if s.source == "lead"],
        [s for s in REPORTS if s.source == "contact"],
    ]
    states: dict[str, Any] = {}
    for specs in sources:
        read, _ = read_all(client, specs)
        assert not any(read.incremental.values())
        states.update(read.new_states)
    assert all(states[s.slug] for specs in sources for s in specs)

    new_call = data.add("activity/call")
    lead = data.records("lead")[3]
    changed_lead = data.update("lead", lead["id"], name="Renamed Ltd")
    opportunity = data.update("opportunity", data.records("opportunity")[0]["id"], value=123456)
    task = data.update("task", data.records("task")[0]["id"], is_complete=True)
    contact = data.update("contact", data.records("contact")[0]["id"], title="Chief Tester")

    def since(name: str, cursor_field: str, cursor: str, back: timedelta = timedelta(0)) -> set[str]:
        moment = parse_timestamp(cursor) - back  # type: ignore[operator]
        return {r["id"] for r in data.records(name) if parse_timestamp(r[cursor_field]) >= moment}

    paginated: list[str] = []
    paginate = client.paginate

    def counting_paginate(path: str, *args: Any, **kwargs: Any) -> Iterator[dict]:
        paginated.append(path)
        return paginate(path, *args, **kwargs)

    client.paginate = counting_paginate  # type: ignore[method-assign]
    sandbox.reset_stats()
    read, tables = read_all(client, sources[0], states=states)
    assert read.incremental == {"activities_call": True}
    got = set(tables["activities_call"].column("id").to_pylist())
    cursor = states["activities_call"]["cursor"]
    assert got == since("activity/call", "date_created", cursor, timedelta(hours=24))
    assert new_call["id"] in got and len(got) < data.count("activity/call")

    read, tables = read_all(client, sources[1], states=states)
    got = set(tables["opportunities"].column("id").to_pylist())
    assert opportunity["id"] in got
    assert got == since("opportunity", "date_updated", states["opportunities"]["cursor"])
    assert tables["opportunities"].filter(pa.compute.equal(tables["opportunities"]["id"], opportunity["id"]))[
        "value"
    ].to_pylist() == [123456]

    read, tables = read_all(client, sources[2], states=states)
    assert task["id"] in set(tables["tasks"].column("id").to_pylist())
    assert set(tables["tasks"].column("id").to_pylist()) == since(
        "task", "date_updated", states["tasks"]["cursor"]
    )

    read, tables = read_all(client, sources[3], states=states)
    assert all(read.incremental.values())
    got = set(tables["leads"].column("id").to_pylist())
    assert changed_lead["id"] in got
    assert got == since("lead", "date_updated", states["leads"]["cursor"])
    assert set(tables["leads_addresses"].column("lead_id").to_pylist()) <= got  # nested follow their parent
    assert {r["name"] for r in tables["leads"].to_pylist() if r["id"] == lead["id"]} == {"Renamed Ltd"}

    read, tables = read_all(client, sources[4], states=states)
    assert contact["id"] in set(tables["contacts"].column("id").to_pylist())
    assert tables["contacts"].num_rows < data.count("contact")

    groups = sandbox.stats()["requests"]["by_group"]
    # one page each (the client may read a couple of pages ahead; nothing like a full read)
    assert all(groups[g] <= 3 for g in ("GET activity/call", "GET opportunity", "GET task"))
    assert groups["POST data/search"] == 2  # one cursor page per search source
    assert all(groups[g] <= 3 * 2 for g in groups if g.startswith("GET custom_field"))
    # definitions are read once per kind per read: opportunities; leads (lead, contact, opportunity); contacts;
    # shared ones once per read
    assert Counter(p for p in paginated if p.startswith("custom_field/")) == {
        "custom_field/opportunity/": 2,
        "custom_field/lead/": 1,
        "custom_field/contact/": 2,
        "custom_field/shared/": 3,
    }
    # one walk of the event log (deletions) per object type: four sources, and tasks per subtype
    assert groups["GET event"] == 4 + len(TASK_TYPES)
    assert set(groups) == {
        "GET event",
        "GET activity/call",
        "GET opportunity",
        "GET task",
        "POST data/search",
        "GET custom_field/lead",
        "GET custom_field/contact",
        "GET custom_field/opportunity",
        "GET custom_field/shared",
    }

    # state moves forward; never past the start of the read
    read, _ = read_all(client, sources[3], states=states, now=datetime(2024, 1, 1, tzinfo=UTC))
    assert read.new_states["leads"] == {"field": "date_updated", "cursor": "2024-01-01T00:00:00+00:00"}


def test_full_refresh_ignores_state(client: CloseClient, sandbox: Sandbox) -> None:
    spec = get_report("opportunities")
    state = {"opportunities": {"field": "date_updated", "cursor": "2100-01-01T00:00:00+00:00"}}
    now = datetime(2030, 1, 1, tzinfo=UTC)
    read, tables = read_all(client, [spec], states=state, now=now)
    assert read.incremental["opportunities"] and tables["opportunities"].num_rows == 0
    # nothing seen: the cursor stays, but a cursor from the future is pulled back to the read's start
    assert read.new_states["opportunities"] == {"field": "date_updated", "cursor": now.isoformat()}
    read, tables = read_all(client, [spec], states=state, full_refresh=True)
    assert not read.incremental["opportunities"]
    assert tables["opportunities"].num_rows == sandbox.data.count("opportunity")


def test_nested_reports_need_their_own_state(client: CloseClient) -> None:
    leads = get_report("leads")
    state = {"leads": {"field": "date_updated", "cursor": "2100-01-01T00:00:00+00:00"}}
    read, tables = read_all(client, [leads, get_report("leads_addresses")], states=state)
    assert read.incremental == {"leads": False, "leads_addresses": False}  # a new table needs a full read
    assert tables["leads"].num_rows == 20


def test_user_and_date_parameters(sandbox: Sandbox, client: CloseClient) -> None:
    calls = sandbox.data.records("activity/call")
    user = Counter(r["user_id"] for r in calls).most_common(1)[0][0]
    _read, tables = read_all(client, [get_report("activities_call")], ReportParams(user_id=user))
    assert sorted(tables["activities_call"].column("id").to_pylist()) == sorted(
        r["id"] for r in calls if r["user_id"] == user
    )
    moments = sorted(parse_timestamp(r["date_created"]) for r in calls)
    since, until = moments[len(moments) // 4], moments[3 * len(moments) // 4]
    _read, tables = read_all(client, [get_report("activities_call")], ReportParams(since=since, until=until))
    assert sorted(tables["activities_call"].column("id").to_pylist()) == sorted(
        r["id"]
        for r in calls
        if since <= parse_timestamp(r["date_created"]) < until  # type: ignore[operator]
    )
    opportunities = sandbox.data.records("opportunity")
    created = sorted(parse_timestamp(r["date_created"]) for r in opportunities)
    since, until = created[len(created) // 3], created[2 * len(created) // 3]
    _read, tables = read_all(client, [get_report("opportunities")], ReportParams(since=since, until=until))
    assert sorted(tables["opportunities"].column("id").to_pylist()) == sorted(
        r["id"]
        for r in opportunities
        if since <= parse_timestamp(r["date_created"]) < until  # type: ignore[operator]
    )
    tasks = sandbox.data.records("task")
    assignee = tasks[0]["assigned_to"]
    _read, tables = read_all(client, [get_report("tasks")], ReportParams(user_id=assignee))
    assert sorted(tables["tasks"].column("id").to_pylist()) == sorted(
        r["id"] for r in tasks if r["assigned_to"] == assignee
    )
    window = ReportParams(since=datetime(2024, 1, 1, tzinfo=UTC), until=datetime(2024, 2, 1, tzinfo=UTC))
    _read, tables = read_all(client, [get_report("reporting_activity")], window)
    report = tables["reporting_activity"]
    assert report.num_rows > 0 and "calls_outbound_all_count" in report.column_names
    assert all(window.since <= d < window.until for d in report.column("datetime").to_pylist())  # type: ignore[operator]
    _read, tables = read_all(client, [get_report("reporting_sent_emails")], ReportParams(user_id=user))
    emails = tables["reporting_sent_emails"]
    assert set(emails.column("user_id").to_pylist()) == {user}
    assert emails.column("name").to_pylist()[0] == "All Emails"


def test_organization_parameter(sandbox: Sandbox, client: CloseClient) -> None:
    org_id = sandbox.data.organization()["id"]
    _read, tables = read_all(client, [get_report("organizations")], ReportParams(organization_id=org_id))
    assert tables["organizations"].column("id").to_pylist() == [org_id]
    with pytest.raises(NotFoundError):
        read_all(client, [get_report("organizations")], ReportParams(organization_id="orga_doesnotexist0"))


def test_keys_missing_on_real_close_yield_zero_rows_with_a_note(
    sandbox: Sandbox, client: CloseClient
) -> None:
    me = {k: v for k, v in sandbox.data.me().items() if k not in ("sip_numbers", "email_signatures")}
    org = {k: v for k, v in sandbox.data.organization().items() if k not in ("invoices", "pipelines")}
    sandbox.data.me = lambda: me  # type: ignore[method-assign]
    sandbox.data.organization = lambda: org  # type: ignore[method-assign]
    read, tables = read_all(client, [s for s in REPORTS if s.source == "me"])
    assert tables["users_self_email_signatures"].num_rows == 0
    assert sorted(tables["users_self_sip_numbers"].column("id").to_pylist()) == sorted(
        p["id"] for p in me["phone_numbers"]
    )
    assert any("email_signatures" in n for n in read.notes) and any("phone_numbers" in n for n in read.notes)
    read, tables = read_all(client, [s for s in REPORTS if s.source == "organization"])
    assert tables["organizations_invoices"].num_rows == 0 and any("invoices" in n for n in read.notes)
    assert sorted(tables["organizations_opportunity_statuses"].column("id").to_pylist()) == sorted(
        s["id"] for s in org["opportunity_statuses"]
    )


def test_skip_cap_100_reads_everything_once(make_sandbox: Any) -> None:
    sb = make_sandbox(
        leads=300, skip_cap=100, activities_per_lead=1000 / 300, activity_mix={"activity/call": 100}
    )
    assert sb.data.count("activity/call") == 1000
    with CloseClient(sb.api_key, base_url=sb.base_url) as client:
        _read, tables = read_all(client, [get_report("activities_call")])
        got = tables["activities_call"].column("id").to_pylist()
        assert len(got) == len(set(got)) == 1000
        assert set(got) == {r["id"] for r in sb.data.records("activity/call")}

        _read, tables = read_all(client, [s for s in REPORTS if s.source == "lead"])
        leads = tables["leads"].column("id").to_pylist()
        assert len(leads) == len(set(leads)) == 300
        contacts = tables["leads_contacts"].column("id").to_pylist()
        assert len(contacts) == len(set(contacts)) == sb.data.count("contact")

        _read, tables = read_all(client, [s for s in REPORTS if s.source == "contact"])
        contacts = tables["contacts"].column("id").to_pylist()
        assert len(contacts) == len(set(contacts)) == sb.data.count("contact") > 100
        assert set(contacts) == {r["id"] for r in sb.data.records("contact")}
        # small buffers: many batches, still each record once
        _read, tables = read_all(client, [get_report("activities_call")], batch_rows=64)
        assert tables["activities_call"].num_rows == 1000


def test_activity_look_back_is_configurable_and_cursor_never_goes_back(
    sandbox: Sandbox, client: CloseClient
) -> None:
    spec = get_report("activities_call")
    read, _ = read_all(client, [spec])
    state = read.new_states
    cursor = parse_timestamp(state["activities_call"]["cursor"])
    calls = sandbox.data.records("activity/call")
    newest = max(calls, key=lambda r: parse_timestamp(r["date_created"]))  # type: ignore[arg-type, return-value]
    assert parse_timestamp(newest["date_created"]) == cursor
    read, tables = read_all(client, [spec], states=state, lookback=timedelta(0))
    assert tables["activities_call"].column("id").to_pylist() == [newest["id"]]  # >= cursor, inclusive
    week = timedelta(days=7)
    read, tables = read_all(client, [spec], states=state, lookback=week)
    assert tables["activities_call"].num_rows == sum(
        1
        for r in calls
        if parse_timestamp(r["date_created"]) >= cursor - week  # type: ignore[operator]
    )
    sandbox.data.delete("activity/call", newest["id"])
    read, tables = read_all(client, [spec], states=state)
    assert newest["id"] not in tables["activities_call"].column("id").to_pylist()
    assert read.new_states == state  # older records seen in the look-back do not move the cursor back
