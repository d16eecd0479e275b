"""A Data Center dataset on "Custom Objects" loads one table per custom object type, named with the
dataset's table as prefix: its preview, columns, row count and exports find those tables (the first by
default, another with `table`/--table/?table=) and name them when asked for one it does not have.
Real sandbox over HTTP, real DuckDB, the CLI through click, the web app through TestClient."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from closesync.cli import cli
from closesync.datacenter import ValidationError
from sandbox_expect import custom_object_types

TABLES = ["things_support_contract", "things_vehicle"]


def _ids(sandbox: Any, table: str) -> list[str]:
    type_id = custom_object_types(sandbox)["custom_objects_" + table.removeprefix("things_")]
    return sorted(r["id"] for r in sandbox.data.records("custom_object") if r["custom_object_type_id"] == type_id)


@pytest.fixture
def things(dc: Any, account: Any) -> Any:
    """A Custom Objects dataset with table prefix "things", run once; and a Leads dataset in the same file
    whose table starts alike, which is none of its tables."""
    other = dc.create_dataset("Other", account=account.id, report="leads", table="things_leads")
    assert dc.run_dataset(other.id).ok
    dataset = dc.create_dataset("Things", account=account.id, report="custom_objects", table="things")
    run = dc.run_dataset(dataset.id)
    assert run.ok and sorted(r["table"] for r in run.reports) == TABLES, run
    return dataset


def test_the_data_center_reads_each_per_type_table(dc: Any, things: Any, sandbox: Any) -> None:
    assert dc.tables(things.id) == TABLES
    preview = dc.preview(things.id, limit=100)
    assert preview.table == TABLES[0] and preview.tables == TABLES
    assert sorted(r[preview.columns.index("id")] for r in preview.rows) == _ids(sandbox, TABLES[0])
    vehicle = dc.preview(things.id, limit=100, table="things_vehicle")
    assert sorted(r[vehicle.columns.index("id")] for r in vehicle.rows) == _ids(sandbox, "things_vehicle")
    assert {c.name for c in dc.columns(things.id, table="things_vehicle")} == set(vehicle.columns)
    [counted] = dc.with_table_rows([dc.get_dataset(things.id)])
    assert counted.table_rows == len(sandbox.data.records("custom_object"))

    export = dc.export(things.id, "csv", table="things_vehicle")
    assert export.filename == "things_vehicle.csv"
    rows = list(csv.DictReader(io.StringIO(b"".join(export.chunks).decode())))
    assert sorted(r["id"] for r in rows) == _ids(sandbox, "things_vehicle")

    for ask in (lambda: dc.preview(things.id, table="things_leads"), lambda: dc.export(things.id, "csv", table="x")):
        with pytest.raises(ValidationError, match="things_support_contract, things_vehicle") as info:
            ask()
        assert info.value.field == "table"


def test_cli_preview_and_export_pick_a_per_type_table(things: Any, web_home: Path, sandbox: Any,
                                                      tmp_path: Path) -> None:
    def run(*args: str) -> Any:
        return CliRunner().invoke(cli, ["--home", str(web_home), *args], catch_exceptions=False)

    first = run("datasets", "preview", "Things", "--columns", "id")
    assert first.exit_code == 0, first.output
    assert TABLES[0] in first.output and "things_support_contract, things_vehicle" in first.output
    assert all(i in first.output for i in _ids(sandbox, TABLES[0]))
    vehicle = run("datasets", "preview", "Things", "--table", "things_vehicle", "--columns", "id", "--limit", "500")
    assert vehicle.exit_code == 0 and all(i in vehicle.output for i in _ids(sandbox, "things_vehicle"))

    unknown = run("datasets", "preview", "Things", "--table", "things_leads")
    assert unknown.exit_code == 2 and "Traceback" not in unknown.output
    assert "no table 'things_leads'" in unknown.output and "things_vehicle" in unknown.output

    out = tmp_path / "vehicles.csv"
    exported = run("datasets", "export", "Things", "--table", "things_vehicle", "-o", str(out))
    assert exported.exit_code == 0, exported.output
    assert sorted(r["id"] for r in csv.DictReader(out.open())) == _ids(sandbox, "things_vehicle")
    parquet = run("datasets", "export", "Things", "--format", "parquet", "-o", str(tmp_path / "first.parquet"))
    assert parquet.exit_code == 0 and "things_support_contract" in parquet.output
    refused = run("datasets", "export", "Things", "--table", "nope", "-o", str(tmp_path / "nope.csv"))
    assert refused.exit_code == 2 and "things_support_contract, things_vehicle" in refused.output
    assert not (tmp_path / "nope.csv").exists()


def test_the_dataset_page_lists_and_shows_each_per_type_table(client: Any, things: Any, sandbox: Any) -> None:
    page = client.get(f"/datasets/{things.id}")
    assert page.status_code == 200
    html = page.text
    assert 'id="dataset-tables"' in html and all(f"?table={t}" in html for t in TABLES)
    assert "things_leads" not in html.split('id="dataset-tables"')[1].split("</nav>")[0]
    assert all(i in html for i in _ids(sandbox, TABLES[0]))
    assert f"/datasets/{things.id}/download.csv?table={TABLES[0]}" in html

    vehicle = client.get(f"/datasets/{things.id}", params={"table": "things_vehicle"}).text
    assert all(i in vehicle for i in _ids(sandbox, "things_vehicle"))
    assert 'aria-current="page">things_vehicle<' in vehicle

    unknown = client.get(f"/datasets/{things.id}", params={"table": "nope"})
    assert unknown.status_code == 200 and "no table &#39;nope&#39;" in unknown.text

    download = client.get(f"/datasets/{things.id}/download.csv", params={"table": "things_vehicle"})
    assert download.status_code == 200 and "things_vehicle.csv" in download.headers["content-disposition"]
    assert sorted(r["id"] for r in csv.DictReader(io.StringIO(download.text))) == _ids(sandbox, "things_vehicle")
    api = client.get(f"/api/datasets/{things.id}/preview", params={"table": "things_vehicle"})
    assert api.status_code == 200 and api.json()["tables"] == TABLES and api.json()["table"] == "things_vehicle"
    refused = client.get(f"/api/datasets/{things.id}/download", params={"table": "nope"})
    assert refused.status_code in (400, 422) and "things_vehicle" in json.dumps(refused.json())
