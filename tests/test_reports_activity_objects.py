"""Issue 14's activity and object reports (remaining activity types, outcomes, custom activity and object
types, custom field definitions, one table per custom object type, the event log): synced from the sandbox
over HTTP into real DuckDB, PostgreSQL and Parquet, and compared with the sandbox's truth."""

from __future__ import annotations

from pathlib import Path

import duckdb
import httpx
import pytest

import closesync
from closesync.reports.catalog import CLASSIC, REPORTS
from closesync.reports.catalog_activity_objects import ACTIVITY_OBJECT_REPORTS
from closesync.sandbox import Sandbox
from fixtures_sandbox import sandbox_client
from sandbox_expect import LIST_SOURCES, custom_object_types, expected_ids

NEW = [spec.slug for spec in ACTIVITY_OBJECT_REPORTS]


def _sync(sb: Sandbox, destination: str, reports: list[str] = NEW, **options) -> closesync.SyncResult:
    return closesync.sync(
        reports, api_key=sb.api_key, base_url=sb.base_url, destination=destination, **options
    )


def _ids(db: Path, table: str) -> list[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return [row[0] for row in con.execute(f'SELECT id FROM "{table}"').fetchall()]


def _expected(sb: Sandbox, table: str) -> list[str]:
    """The ids the sandbox's truth endpoint lists for a table (never its paged API)."""
    if table == "custom_activity_types":
        return expected_ids(sb, table)
    types = custom_object_types(sb)
    if table in types:
        return [r["id"] for r in sb.truth("custom_object") if r["custom_object_type_id"] == types[table]]
    return [r["id"] for r in sb.truth(LIST_SOURCES[table])]


def test_the_classic_38_come_first_and_every_new_report_is_described() -> None:
    assert REPORTS[: len(CLASSIC)] == tuple(s for s in REPORTS if s.classic) and len(CLASSIC) == 38
    assert set(NEW) <= {s.slug for s in REPORTS}
    for spec in ACTIVITY_OBJECT_REPORTS:
        assert spec.family and spec.description and spec.primary_key == ("id",) and not spec.classic, (
            spec.name
        )
        assert spec.slug in LIST_SOURCES or spec.slug in ("custom_activity_types", "custom_objects"), (
            spec.slug
        )
    events = next(s for s in ACTIVITY_OBJECT_REPORTS if s.slug == "events")
    assert events.cursor == "date_updated" and "30 days" in events.description


def test_every_new_report_lands_once_per_record_with_a_small_skip_cap(make_sandbox, tmp_path: Path) -> None:
    sb = make_sandbox(leads=60, skip_cap=10, shared_custom_fields=True)
    db = tmp_path / "close.duckdb"
    result = _sync(sb, f"duckdb:{db}")

    assert [r.error for r in result.failed] == []
    tables = [r.table for r in result.reports]
    assert set(custom_object_types(sb)) <= set(tables) and "custom_objects" not in tables
    for report in result.reports:
        got = _ids(db, report.table)
        assert len(got) == len(set(got)), f"{report.table}: duplicate ids"
        expected = _expected(sb, report.table)
        assert sorted(got) == sorted(expected) and expected, report.table
        assert report.rows == len(got), report.table
        with duckdb.connect(str(db), read_only=True) as con:  # every key served is a declared column
            extra = con.execute(f'SELECT count(*) FROM "{report.table}" WHERE extra IS NOT NULL').fetchall()
        assert extra == [(0,)], report.table
    # paging really hit the cap: more records than one skip-capped list could reach
    assert len(_ids(db, "activities_sms")) > 10 + 100 and len(_ids(db, "events")) > 50


def test_each_custom_object_type_has_its_own_typed_custom_field_columns(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    db = tmp_path / "close.duckdb"
    assert _sync(sandbox, f"duckdb:{db}", ["Custom Objects"]).ok
    truth = {r["id"]: r["custom"] for r in sandbox.truth_custom("custom_object")}
    fields = {f["name"]: f["id"] for f in sandbox.data.records("custom_field/custom_object_type")}
    with duckdb.connect(str(db), read_only=True) as con:
        vehicle = dict(
            con.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = 'custom_objects_vehicle'"
            ).fetchall()
        )
        contract = dict(
            con.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = 'custom_objects_support_contract'"
            ).fetchall()
        )
        years = dict(con.execute("SELECT id, model_year FROM custom_objects_vehicle").fetchall())
        extras = con.execute("SELECT count(*) FROM custom_objects_vehicle WHERE extra IS NOT NULL").fetchall()
    assert (
        vehicle["model_year"] == "DOUBLE" and vehicle["registered"] == "DATE" and vehicle["fuel"] == "VARCHAR"
    )
    assert "name" in vehicle and any(c.startswith("name_") for c in vehicle)  # the "Name" field kept apart
    assert contract["channels"] == "VARCHAR[]" and "tier" in contract and "vin" not in contract
    assert "tier" not in vehicle
    assert years == {i: truth[i].get(fields["Model Year"]) for i in years}
    assert extras == [(0,)]


def test_incremental_second_run_reads_only_what_changed(sandbox: Sandbox, tmp_path: Path) -> None:
    db = tmp_path / "close.duckdb"
    reports = ["activities_sms", "custom_objects", "events"]
    first = _sync(sandbox, f"duckdb:{db}", reports)
    assert first.ok, [r.error for r in first.failed]
    first_rows = {r.table: r.rows for r in first.reports}

    data = sandbox.data
    new_sms = data.add("activity/sms")
    vehicle = next(r for r in data.records("custom_object") if r["name"].startswith("Vehicle"))
    data.update("custom_object", vehicle["id"], name="Renamed vehicle")
    new_contract = data.add(
        "custom_object",
        name="New contract",
        custom_object_type_id=custom_object_types(sandbox)["custom_objects_support_contract"],
    )
    data.update("lead", data.records("lead")[0]["id"], description="changed")  # logs an event
    sandbox.reset_stats()

    second = _sync(sandbox, f"duckdb:{db}", reports)
    assert second.ok, [r.error for r in second.failed]
    assert all(r.incremental for r in second.reports)
    by_group = sandbox.stats()["requests"]["by_group"]
    assert by_group["GET activity/sms"] == 1 and by_group["POST data/search"] == 1
    assert by_group["GET event"] == 3  # the Events report, and one deletion walk each for SMS, custom objects
    for r in second.reports:
        assert r.rows < first_rows[r.table] / 2, (r.table, r.rows, first_rows[r.table])
    assert new_sms["id"] in _ids(db, "activities_sms")
    assert new_contract["id"] in _ids(db, "custom_objects_support_contract")
    with duckdb.connect(str(db), read_only=True) as con:
        renamed = con.execute(
            "SELECT name FROM custom_objects_vehicle WHERE id = ?", [vehicle["id"]]
        ).fetchall()
        updated = con.execute(
            "SELECT object_type, count(*) FROM events WHERE action = 'updated' GROUP BY ALL ORDER BY ALL"
        ).fetchall()
    assert renamed == [("Renamed vehicle",)] and updated == [("custom_object", 1), ("lead", 1)]
    for table in ("activities_sms", "custom_objects_vehicle", "custom_objects_support_contract", "events"):
        assert sorted(_ids(db, table)) == sorted(_expected(sandbox, table)), table


def test_custom_objects_without_types_or_unreadable_types_fail_alone(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    sandbox.add_fault("403", path="custom_object_type/", count=10)
    result = _sync(sandbox, f"duckdb:{tmp_path / 'close.duckdb'}", ["custom_objects", "outcomes"])
    by_slug = {r.slug: r for r in result.reports}
    assert by_slug["custom_objects"].status == "failed" and by_slug["custom_objects"].http_status == 403
    assert by_slug["outcomes"].status == "success" and by_slug["outcomes"].rows == 3


def test_a_table_name_prefixes_each_custom_object_types_table(sandbox: Sandbox, tmp_path: Path) -> None:
    db = tmp_path / "close.duckdb"
    result = _sync(sandbox, f"duckdb:{db}", ["custom_objects"], table="things")
    assert result.ok and sorted(r.table for r in result.reports) == [
        "things_support_contract",
        "things_vehicle",
    ]
    assert sorted(_ids(db, "things_vehicle")) == sorted(_expected(sandbox, "custom_objects_vehicle"))


def test_the_sandbox_lists_custom_objects_per_lead_only(sandbox: Sandbox) -> None:
    with sandbox_client(sandbox) as http:
        refused = http.get("custom_object/")
        lead_id = sandbox.data.records("custom_object")[0]["lead_id"]
        listed = http.get("custom_object/", params={"lead_id": lead_id})
    assert refused.status_code == 400 and "lead_id" in refused.json()["field-errors"]
    assert listed.status_code == 200 and {r["lead_id"] for r in listed.json()["data"]} == {lead_id}


@pytest.mark.postgres
def test_new_reports_land_in_postgres_as_in_duckdb(
    sandbox: Sandbox, tmp_path: Path, pg_sink_url: str
) -> None:
    from fixtures_postgres import assert_same_tables

    db = tmp_path / "close.duckdb"
    assert _sync(sandbox, f"duckdb:{db}").ok
    result = _sync(sandbox, pg_sink_url)
    assert [r.error for r in result.failed] == []
    assert_same_tables(f"duckdb:{db}", pg_sink_url, [report.table for report in result.reports])


def test_new_reports_land_in_parquet_as_in_duckdb(sandbox: Sandbox, tmp_path: Path) -> None:
    from closesync.sinks import open_sink
    from fixtures_postgres import table_rows

    db, folder = tmp_path / "close.duckdb", tmp_path / "files"
    assert _sync(sandbox, f"duckdb:{db}").ok
    result = _sync(sandbox, f"parquet:{folder}")
    assert [r.error for r in result.failed] == []
    duck, files = open_sink(f"duckdb:{db}"), open_sink(f"parquet:{folder}")
    try:
        for report in result.reports:
            assert table_rows(files, report.table) == table_rows(duck, report.table), report.table
    finally:
        duck.close()
        files.close()


def test_new_records_over_http_are_the_truth(sandbox: Sandbox) -> None:
    """The truth endpoint answers for every new collection, custom objects with their type."""
    with httpx.Client(base_url=sandbox.base_url.replace("/api/v1/", "/"), timeout=10) as http:
        for collection in (*(LIST_SOURCES[s] for s in NEW if s in LIST_SOURCES), "custom_object"):
            answer = http.get(f"_sandbox/truth/{collection}")
            records = answer.json()["records"]
            assert answer.status_code == 200 and (records or collection == "custom_field/shared"), collection
    assert all("custom_object_type_id" in r for r in sandbox.truth("custom_object"))


def test_an_account_without_custom_object_types_syncs_custom_objects_empty(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    for object_type in sandbox.data.records("custom_object_type"):
        sandbox.data.delete("custom_object_type", object_type["id"])
    result = _sync(sandbox, f"duckdb:{tmp_path / 'close.duckdb'}", ["custom_objects"])
    assert result.ok and [(r.slug, r.rows) for r in result.reports] == [("custom_objects", 0)]
    assert result.reports[0].notes == ["this account has no custom object types"]
