"""closesync's reports through dlt, for real: the sandbox over HTTP, dlt's duckdb, postgres and filesystem
destinations, and closesync's own DuckDB sink as the reference.

`close_source` (a dlt source) and ``dlt:…`` destinations (`closesync sync --destination dlt:…`, datasets)
must load the same table contents as closesync's DuckDB sink from the same sandbox data, custom-field
columns included (dlt's own ``_dlt_`` columns and the hard-delete column aside), and stay equal after an
incremental run that applies changes and deletions made in the sandbox between runs.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import dlt
import pyarrow as pa
import pytest
from click.testing import CliRunner

import closesync
from closesync.cli import cli
from closesync.integrations.dlt import close_source
from closesync.integrations.dlt.sink import read_table
from closesync.integrations.dlt.source import staged_tables
from closesync.integrations.dlt.staging import StagingSink
from closesync.reports import get_report
from closesync.sandbox import Sandbox
from closesync.sinks import open_sink
from closesync.sinks.destination import DltTarget, parse_destination, parse_dlt_target, redact_destination
from closesync.sinks.errors import UnknownDestinationError
from closesync.sinks.writespec import WriteSpec

REPORTS = [
    "leads",
    "leads_addresses",
    "leads_contacts",
    "contacts",
    "contacts_emails",
    "opportunities",
    "activities_call",
]
WITH_CUSTOM_FIELDS = ("leads", "opportunities")


# --------------------------------------------------------------------------------------------------
# Helpers


def _plain(value: Any) -> Any:
    """A value as comparable Python: JSON text parsed (dlt stores lists as JSON), instants in UTC."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return _plain(json.loads(value))
        except ValueError:
            return value
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    return value


def contents(table: pa.Table, slug: str) -> tuple[list[str], list[dict]]:
    """(sorted column names, rows sorted by the report's key) without dlt's columns and closesync's own
    (the hard-delete flag, an append's version)."""
    names = [n for n in table.column_names if not n.startswith(("_dlt_", "_closesync_"))]
    key = get_report(slug).primary_key
    rows = [{k: _plain(v) for k, v in row.items()} for row in table.select(names).to_pylist()]
    return sorted(names), sorted(rows, key=lambda r: tuple(str(r[k]) for k in (*key, *names)))


def reference(destination: str, slug: str) -> tuple[list[str], list[dict]]:
    sink = open_sink(destination)
    try:
        return contents(pa.Table.from_batches(list(sink.iter_batches(slug))), slug)
    finally:
        sink.close()


def sync_reference(sb: Sandbox, destination: str, method: str = "upsert") -> closesync.SyncResult:
    result = closesync.sync(
        REPORTS, api_key=sb.api_key, base_url=sb.base_url, destination=destination, method=method
    )
    assert result.ok, [r.error for r in result.failed]
    return result


def assert_same_tables(read_dlt: Any, ref: str) -> None:
    """Every report's table through dlt holds what closesync's DuckDB sink holds."""
    for slug in REPORTS:
        (names, rows), (want_names, want_rows) = read_dlt(slug), reference(ref, slug)
        assert names == want_names, slug
        assert len(rows) == len(want_rows), slug
        diffs = [
            (slug, k, r.get(k), w.get(k))
            for r, w in zip(rows, want_rows, strict=True)
            for k in w
            if r[k] != w[k]
        ]
        assert not diffs, diffs[:3]
    for slug in WITH_CUSTOM_FIELDS:  # custom fields arrived as typed columns of their own
        declared = {c.name for c in get_report(slug).columns}
        names, _ = reference(ref, slug)
        assert set(names) - declared, slug


def mutate(sb: Sandbox) -> str:
    """Changes and deletions between runs (as tests/test_incremental_deletes.py); returns a deleted lead id."""
    data = sb.data
    leads = data.records("lead")
    gone = next(lead for lead in leads if lead.get("addresses") and lead.get("contacts"))
    emptied = next(lead for lead in leads if lead.get("addresses") and lead["id"] != gone["id"])
    data.update("lead", emptied["id"], addresses=[])
    contact = next(
        c
        for c in data.records("contact")
        if len(c.get("emails") or []) >= 2 and c.get("lead_id") != gone["id"]
    )
    data.update("contact", contact["id"], emails=contact["emails"][1:])
    data.delete("lead", gone["id"])
    data.delete("opportunity", data.records("opportunity")[0]["id"])
    data.delete("activity/call", data.records("activity/call")[1]["id"])
    data.add("activity/call")
    return gone["id"]


@pytest.fixture(params=["duckdb", "postgres"])
def dlt_pipeline(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[dlt.Pipeline, dict]]:
    """A dlt pipeline into dlt's duckdb or postgres destination (the test PostgreSQL, a fresh schema), and
    the run's options: PostgreSQL loads INSERTs, because dlt's CSV loader reads empty strings as NULL."""
    if request.param == "duckdb":
        destination, dataset, options = dlt.destinations.duckdb(str(tmp_path / "dlt.duckdb")), "crm", {}
    else:
        url = request.getfixturevalue("pg_url").replace("postgres@", "postgres:unused@", 1)
        destination, dataset = dlt.destinations.postgres(url), request.getfixturevalue("pg_schema")
        options = {"loader_file_format": "insert_values"}
    pipeline = dlt.pipeline(
        "close_test", destination=destination, dataset_name=dataset, pipelines_dir=str(tmp_path / "pipelines")
    )
    yield pipeline, options


def dlt_reader(pipeline: dlt.Pipeline) -> Any:
    return lambda slug: contents(pa.concat_tables(read_table(pipeline, slug)), slug)


# --------------------------------------------------------------------------------------------------
# close_source


def test_close_source_loads_what_closesync_loads_then_applies_changes_and_deletes(
    sandbox: Sandbox, dlt_pipeline: tuple[dlt.Pipeline, dict], tmp_path: Path
) -> None:
    dlt_pipeline, options = dlt_pipeline
    ref = f"duckdb:{tmp_path / 'ref.duckdb'}"
    sync_reference(sandbox, ref)
    dlt_pipeline.run(
        close_source(api_key=sandbox.api_key, base_url=sandbox.base_url, reports=REPORTS), **options
    )
    assert_same_tables(dlt_reader(dlt_pipeline), ref)
    cursors = dlt_pipeline.state["sources"]["close"]["closesync"]
    assert {key.split("|")[0] for key in cursors} == set(REPORTS)  # incremental state is dlt's state

    gone = mutate(sandbox)
    sync_reference(sandbox, ref)
    sandbox.reset_stats()
    dlt_pipeline.run(
        close_source(api_key=sandbox.api_key, base_url=sandbox.base_url, reports=REPORTS), **options
    )
    assert "GET event" in sandbox.stats()["requests"]["by_group"]  # an incremental read, deletions included
    assert_same_tables(dlt_reader(dlt_pipeline), ref)
    lead_ids = {r["id"] for r in dlt_reader(dlt_pipeline)("leads")[1]}
    assert gone not in lead_ids
    assert gone not in {r["lead_id"] for r in dlt_reader(dlt_pipeline)("leads_contacts")[1]}
    schema = dlt_pipeline.default_schema.get_table("leads")
    assert schema["write_disposition"] == "merge" and schema["columns"]["id"].get("primary_key")


def test_close_source_append_adds_each_record_version_once(sandbox: Sandbox, tmp_path: Path) -> None:
    ref = f"duckdb:{tmp_path / 'ref.duckdb'}"
    pipeline = dlt.pipeline(
        "close_append",
        destination=dlt.destinations.duckdb(str(tmp_path / "dlt.duckdb")),
        dataset_name="crm",
        pipelines_dir=str(tmp_path / "pipelines"),
    )
    for run in range(2):
        if run:
            mutate(sandbox)
        sync_reference(sandbox, ref, method="append")
        pipeline.run(
            close_source(api_key=sandbox.api_key, base_url=sandbox.base_url, reports=REPORTS, method="append")
        )
    assert_same_tables(dlt_reader(pipeline), ref)


def test_close_source_into_parquet_files_replaces_tables(sandbox: Sandbox, tmp_path: Path) -> None:
    """dlt's filesystem destination (Parquet) cannot merge plain files: the replace method reloads each run."""
    ref = f"duckdb:{tmp_path / 'ref.duckdb'}"
    pipeline = dlt.pipeline(
        "close_files",
        destination=dlt.destinations.filesystem(str(tmp_path / "lake")),
        dataset_name="crm",
        pipelines_dir=str(tmp_path / "pipelines"),
    )
    for run in range(2):
        if run:
            mutate(sandbox)
        sync_reference(sandbox, ref, method="replace")
        source = close_source(
            api_key=sandbox.api_key, base_url=sandbox.base_url, reports=REPORTS, method="replace"
        )
        pipeline.run(source, loader_file_format="parquet")
        assert_same_tables(dlt_reader(pipeline), ref)
    assert list((tmp_path / "lake" / "crm" / "leads").glob("*.parquet"))


def test_close_source_fails_with_closes_message(sandbox: Sandbox, tmp_path: Path) -> None:
    pipeline = dlt.pipeline(
        "close_bad",
        destination=dlt.destinations.duckdb(str(tmp_path / "x.duckdb")),
        pipelines_dir=str(tmp_path / "pipelines"),
    )
    with pytest.raises(Exception, match="API key") as failure:
        pipeline.run(close_source(api_key="api_wrong", base_url=sandbox.base_url, reports=["users"]))
    assert "api_wrong" not in str(failure.value)


# --------------------------------------------------------------------------------------------------
# dlt: destinations (closesync sync, datasets)


def dlt_destination(tmp_path: Path, kind: str = "duckdb") -> str:
    where = (
        f"credentials={tmp_path / 'dlt.duckdb'}" if kind == "duckdb" else f"bucket_url={tmp_path / 'lake'}"
    )
    return f"dlt:{kind}?dataset=crm&{where}&pipelines_dir={tmp_path / 'pipelines'}"


def sink_reader(destination: str) -> Any:
    def read(slug: str) -> tuple[list[str], list[dict]]:
        sink = open_sink(destination)
        try:
            return contents(pa.Table.from_batches(list(sink.iter_batches(slug))), slug)
        finally:
            sink.close()

    return read


def test_sync_into_a_dlt_destination_matches_duckdb_incremental_and_deletes(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    ref, destination = f"duckdb:{tmp_path / 'ref.duckdb'}", dlt_destination(tmp_path)
    sync_reference(sandbox, ref)
    sync_reference(sandbox, destination)
    assert_same_tables(sink_reader(destination), ref)

    gone = mutate(sandbox)
    sync_reference(sandbox, ref)
    second = sync_reference(sandbox, destination)
    assert all(r.incremental for r in second.reports)
    assert any("deletion(s) from Close applied" in n for n in second.reports[0].notes)
    assert_same_tables(sink_reader(destination), ref)
    assert gone not in {r["id"] for r in sink_reader(destination)("leads")[1]}
    sink = open_sink(destination)
    try:
        assert set(REPORTS) <= set(sink.tables())
        assert sink.read_state(next(iter(k for k in _state(sink) if k.startswith("leads|"))))
    finally:
        sink.close()


def test_dlt_destination_cursors_survive_losing_dlts_working_folder(sandbox: Sandbox, tmp_path: Path) -> None:
    """Cursors are dlt state sent with the loads: a machine without the working folder resumes from them."""
    destination = dlt_destination(tmp_path)
    sync_reference(sandbox, destination)
    shutil.rmtree(tmp_path / "pipelines")
    mutate(sandbox)
    second = sync_reference(sandbox, destination)
    assert all(r.incremental for r in second.reports)


def test_a_dataset_loads_into_a_dlt_destination(sandbox: Sandbox, home: Path, tmp_path: Path) -> None:
    """The Data Center schedules warehouse loads: a dataset whose destination is dlt:…, run twice."""
    dc = closesync.DataCenter(home)
    account = dc.add_account("Acme", api_key=sandbox.api_key, base_url=sandbox.base_url)
    destination = dlt_destination(tmp_path)
    dataset = dc.create_dataset("Leads to dlt", account=account.id, report="leads", destination=destination)
    assert dataset.destination == destination
    first = dc.run_dataset("Leads to dlt")
    assert first.status == "success", first.error
    gone = mutate(sandbox)
    second = dc.run_dataset("Leads to dlt")
    assert second.status == "success", second.error
    ids = {r["id"] for r in sink_reader(destination)("leads")[1]}
    assert gone not in ids and ids == {lead["id"] for lead in sandbox.data.records("lead")}


def _state(sink: Any) -> dict:
    return sink.pipeline.state["sources"]["close"]["closesync"]


def test_dlt_filesystem_refuses_upsert_instead_of_appending(sandbox: Sandbox, tmp_path: Path) -> None:
    destination = dlt_destination(tmp_path, "filesystem")
    first = closesync.sync(
        ["leads"], api_key=sandbox.api_key, base_url=sandbox.base_url, destination=destination
    )
    assert first.ok, [r.error for r in first.failed]  # a full read replaces
    second = closesync.sync(
        ["leads"], api_key=sandbox.api_key, base_url=sandbox.base_url, destination=destination
    )
    assert not second.ok
    assert "cannot merge" in (second.reports[0].error or "") and "--method replace" in (
        second.reports[0].error or ""
    )


def test_cli_sync_with_a_dlt_destination(sandbox: Sandbox, tmp_path: Path) -> None:
    destination = dlt_destination(tmp_path)
    result = CliRunner().invoke(
        cli,
        [
            "--home",
            str(tmp_path / "home"),
            "sync",
            "leads",
            "contacts",
            "--api-key",
            sandbox.api_key,
            "--base-url",
            sandbox.base_url,
            "--destination",
            destination,
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["ok"] and summary["rows"] > 0
    import duckdb

    with duckdb.connect(str(tmp_path / "dlt.duckdb"), read_only=True) as db:
        (leads,) = db.sql("SELECT count(*) FROM crm.leads").fetchall()[0]
    assert leads == len(sandbox.data.records("lead"))


# --------------------------------------------------------------------------------------------------
# Late rows of a full read, destination strings, light imports


def test_late_rows_replace_the_rows_they_supersede(tmp_path: Path) -> None:
    """A full read (replace) and the late upsert of records changed during it load as one replace."""
    schema = pa.schema([("lead_id", pa.string()), ("position", pa.int64()), ("v", pa.string())])
    sink = StagingSink()
    with sink.group() as group:
        group.writer(WriteSpec("kids", schema, "replace", ("lead_id", "position"))).write(
            pa.table({"lead_id": ["a", "a", "b"], "position": [0, 1, 0], "v": ["a0", "a1", "b0"]}, schema)
        )
    with sink.group() as group:
        late = group.writer(WriteSpec("kids", schema, "upsert", ("lead_id", "position"), ("lead_id",)))
        late.cover(pa.table({"lead_id": ["a"]}))
        late.write(pa.table({"lead_id": ["a"], "position": [0], "v": ["a0 new"]}, schema))
    pipeline = dlt.pipeline(
        "late",
        destination=dlt.destinations.duckdb(str(tmp_path / "late.duckdb")),
        pipelines_dir=str(tmp_path / "pipelines"),
    )
    pipeline.run(dlt.resource(staged_tables(sink.staged["kids"]), name="kids"))
    rows = pa.concat_tables(read_table(pipeline, "kids")).select(["lead_id", "position", "v"]).to_pylist()
    assert sorted(rows, key=str) == sorted(
        [{"lead_id": "a", "position": 0, "v": "a0 new"}, {"lead_id": "b", "position": 0, "v": "b0"}], key=str
    )
    assert pipeline.default_schema.get_table("kids")["write_disposition"] == "replace"
    sink.close()


def test_dlt_destination_strings() -> None:
    dest = parse_destination("dlt:bigquery?dataset=crm")
    assert (dest.kind, dest.target, str(dest)) == ("dlt", "bigquery?dataset=crm", "dlt:bigquery?dataset=crm")
    assert parse_dlt_target("duckdb") == DltTarget("duckdb")
    target = parse_dlt_target(
        "Postgres?dataset=crm&pipeline=p1&pipelines_dir=/x&credentials=postgresql://u@h/db"
    )
    assert (target.destination, target.dataset, target.pipeline_name, target.pipelines_dir) == (
        "postgres",
        "crm",
        "p1",
        "/x",
    )
    assert dict(target.options) == {"credentials": "postgresql://u@h/db"}
    assert parse_dlt_target("duckdb?dataset=crm").pipeline_name == "closesync_crm"
    for bad in ("dlt:", "dlt:big-query", "dlt:duckdb?dataset=a;drop"):
        with pytest.raises(UnknownDestinationError, match="dlt"):
            parse_destination(bad)
    shown = redact_destination("dlt:postgres?dataset=crm&credentials=postgresql://u:s3cret@h/db")
    assert "s3cret" not in shown and "***" in shown


def test_dataset_destination_of_dlt_form_is_kept_as_written() -> None:
    from closesync.datacenter.datasets import normalize_destination

    assert normalize_destination("dlt:snowflake?dataset=crm") == "dlt:snowflake?dataset=crm"


def test_the_integration_package_and_destination_parsing_stay_light() -> None:
    code = (
        "import sys, closesync.integrations.dlt, closesync.sinks;"
        "closesync.sinks.parse_destination('dlt:duckdb?dataset=x');"
        "print(sorted(m for m in ('dlt', 'pyarrow') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"
