"""Issue 10 §2 "Two writers, one table": every destination records who loads each table and refuses others.

Field reports: a dataset with `--table Opportunities` replaced another dataset's `opportunities`; a
user-filtered upsert dataset deleted the other users' rows an earlier `closesync sync` had loaded;
`--table _closesync_state` overwrote the bookkeeping table; `duckdb:HOME/sub/../close.duckdb` slipped past
the Data Center's clash check.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from writes_helpers import KINDS, make_destination, rows, run, snapshot

import closesync
from closesync.cli import cli
from closesync.datacenter.errors import ConflictError, ValidationError
from closesync.sandbox import Sandbox
from closesync.sinks import open_sink
from dc_helpers import add_account, make_dc

TEAM = {"owner": "dataset:1", "owner_label": "dataset 'team'"}


@pytest.fixture(params=KINDS)
def destination(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return make_destination(request, tmp_path)


def owners(sb: Sandbox) -> Counter:
    return Counter(o["user_id"] for o in sb.data.records("opportunity"))


def test_a_table_another_owner_loads_is_refused_untouched_until_forced(
    sandbox: Sandbox, destination: str
) -> None:
    assert run(sandbox, destination, ["opportunities"], **TEAM).ok
    before = snapshot(destination, ["opportunities"])
    user = owners(sandbox).most_common(1)[0][0]

    refused = run(sandbox, destination, ["opportunities"], user_id=user, method="replace")
    assert not refused.ok
    error = refused.reports[0].error or ""
    assert "dataset 'team'" in error and "--force" in error, error
    assert refused.requests <= 1  # refused before reading anything (the /me/ lookup at most)
    assert snapshot(destination, ["opportunities"]) == before

    forced = run(sandbox, destination, ["opportunities"], user_id=user, method="replace", force=True)
    assert forced.ok, [r.error for r in forced.failed]
    sink = open_sink(destination)
    try:
        assert sink.table_owner("opportunities")["owner"] == "closesync sync"  # adopted
        assert "_closesync_tables" not in sink.tables()
    finally:
        sink.close()
    assert not run(sandbox, destination, ["opportunities"], **TEAM).ok  # and now the dataset is refused


def test_duckdb_table_names_clash_whatever_their_case(sandbox: Sandbox, tmp_path: Path) -> None:
    destination = f"duckdb:{tmp_path / 'close.duckdb'}"
    assert run(sandbox, destination, ["opportunities"], **TEAM).ok
    before = snapshot(destination, ["opportunities"])
    other = run(sandbox, destination, ["users"], table="Opportunities", owner="dataset:2", owner_label="dataset 'b'")
    assert not other.ok and "dataset 'team'" in (other.reports[0].error or "")
    assert snapshot(destination, ["opportunities"]) == before


def test_closesync_names_are_reserved(sandbox: Sandbox, tmp_path: Path, home: Path) -> None:
    with pytest.raises(ValueError, match="_closesync_"):
        run(sandbox, f"duckdb:{tmp_path / 'x.duckdb'}", ["users"], table="_closesync_state")
    dc = make_dc(home)
    add_account(dc, sandbox)
    for table in ("_closesync_state", "_CLOSESYNC_tables"):
        with pytest.raises(ValidationError) as info:
            dc.create_dataset("x", account="acme", report="Users", table=table)
        assert info.value.field == "table"
    created = CliRunner().invoke(
        cli, ["--home", str(home), "datasets", "create", "y", "--account", "acme", "--report", "users",
              "--table", "_closesync_state"],
    )
    assert created.exit_code == 2 and "_closesync_" in created.output


def test_the_clash_check_compares_resolved_paths_and_duckdb_names(sandbox: Sandbox, home: Path) -> None:
    dc = make_dc(home)
    add_account(dc, sandbox)
    dc.create_dataset("a", account="acme", report="Opportunities")  # HOME/close.duckdb, opportunities
    (home / "sub").mkdir()
    os.symlink(home / "close.duckdb", home / "link.duckdb")
    for destination, table in (
        (f"duckdb:{home}/sub/../close.duckdb", "opportunities"),
        (f"duckdb:{home}/close.duckdb", "Opportunities"),
        (f"duckdb:{home}/link.duckdb", "OPPORTUNITIES"),
    ):
        with pytest.raises(ConflictError, match="'a' already loads"):
            dc.create_dataset("b", account="acme", report="Users", destination=destination, table=table)
    dc.create_dataset("b", account="acme", report="Users", destination=f"parquet:{home}/files", table="opportunities")


def test_a_filtered_upsert_replaces_only_its_own_rows(sandbox: Sandbox, destination: str) -> None:
    assert run(sandbox, destination, ["opportunities"]).ok
    user = owners(sandbox).most_common(1)[0][0]
    gone = next(o for o in sandbox.data.records("opportunity") if o["user_id"] == user)
    sandbox.data.delete("opportunity", gone["id"])

    first = run(sandbox, destination, ["opportunities"], user_id=user)  # a full read of one user's rows
    assert first.ok and not first.reports[0].incremental
    ids = [r["id"] for r in rows(destination, "opportunities")]
    assert sorted(ids) == sorted(o["id"] for o in sandbox.data.records("opportunity"))  # others kept, gone gone

    other = next(o for o in sandbox.data.records("opportunity") if o["user_id"] != user)
    sandbox.data.delete("opportunity", other["id"])  # outside the filtered read's scope
    again = run(sandbox, destination, ["opportunities"], user_id=user)
    assert again.ok and again.reports[0].incremental
    assert other["id"] in {r["id"] for r in rows(destination, "opportunities")}  # left for the unfiltered sync
    assert run(sandbox, destination, ["opportunities"]).ok
    assert other["id"] not in {r["id"] for r in rows(destination, "opportunities")}


def test_a_dataset_cannot_take_a_table_closesync_sync_loads_without_force(sandbox: Sandbox, home: Path) -> None:
    dc = make_dc(home)
    add_account(dc, sandbox)
    destination = f"duckdb:{home / 'close.duckdb'}"
    assert closesync.sync(
        ["opportunities"], api_key=sandbox.api_key, base_url=sandbox.base_url, destination=destination
    ).ok
    user = owners(sandbox).most_common(1)[0][0]
    dc.create_dataset("mine", account="acme", report="Opportunities", user_id=user, method="replace")

    refused = dc.run_dataset("mine")
    assert refused.status == "failed" and "closesync sync" in (refused.error or ""), refused.error
    assert len(rows(destination, "opportunities")) == len(sandbox.data.records("opportunity"))

    forced = CliRunner().invoke(cli, ["--home", str(home), "datasets", "run", "mine", "--force"])
    assert forced.exit_code == 0, forced.output
    assert {r["user_id"] for r in rows(destination, "opportunities")} == {user}
    assert dc.run_dataset("mine").status == "success"  # the table is the dataset's now


def test_a_dropped_table_is_free_again(sandbox: Sandbox, destination: str) -> None:
    assert run(sandbox, destination, ["opportunities"], **TEAM).ok
    sink = open_sink(destination)
    try:
        sink.drop("opportunities")  # e.g. `datasets delete --drop-table`
    finally:
        sink.close()
    assert run(sandbox, destination, ["opportunities"]).ok
