"""The whole pipeline, as a user runs it: `closesync.sync` against the sandbox over HTTP into real DuckDB files."""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb
import pytest

import closesync
from closesync.close.events import TASK_TYPES
from closesync.sandbox import Sandbox
from sandbox_expect import NESTED_BY_POSITION, expected_ids, expected_positions


def table_ids(db: Path, table: str, column: str = "id") -> list[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return [row[0] for row in con.execute(f'SELECT "{column}" FROM "{table}"').fetchall()]


def sync_into(sb: Sandbox, db: Path, reports: list[str] | None = None, **options):
    return closesync.sync(
        reports, api_key=sb.api_key, base_url=sb.base_url, destination=f"duckdb:{db}", **options
    )


def test_all_38_reports_land_with_exactly_the_sandbox_records(sandbox: Sandbox, tmp_path: Path) -> None:
    db = tmp_path / "close.duckdb"
    result = sync_into(sandbox, db)

    assert [r.error for r in result.failed] == []
    assert len(result.reports) == 38
    for report in result.reports:
        slug = report.slug
        if slug in NESTED_BY_POSITION:
            parent_key = NESTED_BY_POSITION[slug][2]
            with duckdb.connect(str(db), read_only=True) as con:
                got = con.execute(f'SELECT "{parent_key}", position FROM "{slug}"').fetchall()
            assert sorted(got) == sorted(expected_positions(sandbox, slug)), slug
        elif slug.startswith("reporting_"):
            assert report.rows > 0, slug
        else:
            got = table_ids(db, slug)
            assert len(got) == len(set(got)), f"{slug}: duplicate ids"
            assert sorted(got) == sorted(expected_ids(sandbox, slug)), slug
        assert report.rows == len(table_ids(db, slug, column=_first_column(db, slug))), slug


def _first_column(db: Path, table: str) -> str:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(f'DESCRIBE "{table}"').fetchall()[0][0]


def test_values_and_types_are_queryable_without_cleaning(sandbox: Sandbox, tmp_path: Path) -> None:
    db = tmp_path / "close.duckdb"
    result = sync_into(sandbox, db, ["Opportunities", "leads", "activities_call"])
    assert result.ok, [r.error for r in result.failed]

    with duckdb.connect(str(db), read_only=True) as con:
        types = {
            (t, c): ty
            for t, c, ty in con.execute(
                "SELECT table_name, column_name, data_type FROM information_schema.columns"
            ).fetchall()
        }
        assert types[("opportunities", "date_created")] == "TIMESTAMP WITH TIME ZONE"
        assert types[("opportunities", "value")] == "BIGINT"
        assert types[("activities_call", "duration")] == "BIGINT"
        first = sandbox.data.records("opportunity")[0]
        value = con.execute("SELECT value FROM opportunities WHERE id = ?", [first["id"]]).fetchone()[0]
        assert value == first["value"]
        mapping = con.execute(
            "SELECT \"column\", field_id FROM _closesync_custom_fields WHERE field_id LIKE 'cf_%'"
        ).fetchall()
    assert mapping, "custom fields are mapped back to their cf_ ids"
    lead_columns = {c for (t, c) in types if t == "leads"}
    assert any(column in lead_columns for column, _ in mapping)


def test_upsert_twice_never_duplicates_and_append_adds_each_version_once(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    db = tmp_path / "close.duckdb"
    reports = ["leads", "tasks", "activities_notes", "contacts_emails"]
    assert sync_into(sandbox, db, reports).ok
    first = {t: len(table_ids(db, t, _first_column(db, t))) for t in reports}
    assert sync_into(sandbox, db, reports).ok
    assert {t: len(table_ids(db, t, _first_column(db, t))) for t in reports} == first

    assert sync_into(sandbox, db, ["users"], method="append").ok
    users = len(sandbox.data.records("user"))
    assert len(table_ids(db, "users")) == users
    assert sync_into(sandbox, db, ["users"], method="append").ok
    assert len(table_ids(db, "users")) == users  # nothing changed: nothing added
    edited = sandbox.data.records("user")[0]["id"]
    sandbox.data.update("user", edited, first_name="Renamed")
    assert sync_into(sandbox, db, ["users"], method="append").ok
    assert sorted(table_ids(db, "users")) == sorted([*expected_ids(sandbox, "users"), edited])  # a new version


def test_replace_under_a_concurrent_reader_never_shows_an_empty_table(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    db = tmp_path / "close.duckdb"
    assert sync_into(sandbox, db, ["activities_call"], method="replace").ok
    expected = len(sandbox.data.records("activity/call"))
    from closesync.sinks import open_sink

    sink = open_sink(f"duckdb:{db}")  # the reader shares the sink's database, as the web app does
    seen: list[int] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            seen.append(len(sink.preview("activities_call", limit=1_000_000)))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for _ in range(3):
            assert closesync.sync(
                ["activities_call"],
                api_key=sandbox.api_key,
                base_url=sandbox.base_url,
                destination=sink,
                method="replace",
            ).ok
    finally:
        stop.set()
        reader.join()
        sink.close()
    assert seen and set(seen) == {expected}


def test_incremental_sync_reads_only_what_changed(sandbox: Sandbox, tmp_path: Path) -> None:
    db = tmp_path / "close.duckdb"
    reports = ["opportunities", "tasks", "activities_call", "leads"]
    assert sync_into(sandbox, db, reports).ok

    data = sandbox.data
    changed_opp = data.records("opportunity")[0]["id"]
    data.update("opportunity", changed_opp, note="renegotiated")
    data.update("task", data.records("task")[0]["id"], is_complete=True)
    new_call = data.add("activity/call")
    new_lead = data.add("lead")
    sandbox.reset_stats()

    second = sync_into(sandbox, db, reports)
    assert second.ok, [r.error for r in second.failed]
    assert all(r.incremental for r in second.reports)
    # One request per report for what changed, plus the custom field definitions its columns come from
    # (its own kind's and the shared ones), plus one event-log walk per source for records deleted in Close.
    assert sandbox.stats()["requests"]["by_group"] == {
        "GET event": 3 + len(TASK_TYPES),
        "GET opportunity": 1,
        "GET task": 1,
        "GET activity/call": 1,
        "POST data/search": 1,
        "GET custom_field/lead": 1,
        "GET custom_field/opportunity": 1,
        "GET custom_field/shared": 2,
    }
    assert new_call["id"] in table_ids(db, "activities_call")
    assert new_lead["id"] in table_ids(db, "leads")
    with duckdb.connect(str(db), read_only=True) as con:
        note = con.execute("SELECT note FROM opportunities WHERE id = ?", [changed_opp]).fetchone()[0]
    assert note == "renegotiated"
    for slug in reports:
        got = table_ids(db, slug)
        assert sorted(got) == sorted(expected_ids(sandbox, slug)), slug


def test_skip_cap_of_100_still_reads_every_record_once(make_sandbox, tmp_path: Path) -> None:
    sb = make_sandbox(leads=300, activities_per_lead=12, skip_cap=100)
    assert len(sb.data.records("activity/call")) >= 1000
    db = tmp_path / "close.duckdb"
    result = sync_into(sb, db, ["activities_call", "leads", "contacts", "leads_contacts"])
    assert result.ok, [r.error for r in result.failed]
    for slug in ("activities_call", "leads", "contacts", "leads_contacts"):
        got = table_ids(db, slug)
        assert len(got) == len(set(got)), slug
        assert sorted(got) == sorted(expected_ids(sb, slug)), slug


def test_one_forbidden_report_does_not_stop_the_others(sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox.add_fault("403", path="email_template/", count=100)
    result = sync_into(sandbox, tmp_path / "close.duckdb", ["email_templates", "users", "lead_statuses"])

    assert not result.ok
    by_slug = {r.slug: r for r in result.reports}
    failed = by_slug["email_templates"]
    assert failed.status == "failed" and failed.http_status == 403
    assert "permission" in failed.error.lower() or "not allowed" in failed.error.lower()
    assert sandbox.api_key not in failed.error
    assert by_slug["users"].status == by_slug["lead_statuses"].status == "success"


@pytest.mark.postgres
def test_all_38_reports_land_in_postgres_as_in_duckdb(
    sandbox: Sandbox, tmp_path: Path, pg_sink_url: str
) -> None:
    from fixtures_postgres import assert_same_tables

    db = tmp_path / "close.duckdb"
    assert sync_into(sandbox, db).ok
    result = closesync.sync(api_key=sandbox.api_key, base_url=sandbox.base_url, destination=pg_sink_url)
    assert [r.error for r in result.failed] == []
    assert_same_tables(f"duckdb:{db}", pg_sink_url, [report.table for report in result.reports])
