"""`closesync.integrations.dagster`: assets materialized by Dagster against the sandbox over real HTTP, rows
checked in the DuckDB file; Close's refusal fails the step with its message and never shows the key."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dagster import AssetKey, DagsterInstance, Definitions, EnvVar, materialize

from closesync.datacenter import DataCenter
from closesync.integrations.dagster import DagsterSetupError, closesync_assets
from closesync.reports.spec import UnknownReportError

EXAMPLE = Path(__file__).parents[1] / "examples" / "dagster" / "definitions.py"
WRONG_KEY = "api_wrongWRONGwrong0000000000000000"


def _tables(path: Path) -> dict[str, int]:
    with duckdb.connect(str(path), read_only=True) as db:
        names = [r[0] for r in db.sql("SELECT table_name FROM information_schema.tables").fetchall()]
        return {n: db.sql(f'SELECT count(*) FROM "{n}"').fetchall()[0][0] for n in names if not n.startswith("_")}


def _materialized(result: Any) -> dict[str, dict[str, Any]]:
    """Each materialized asset's last metadata, by its key's last part."""
    return {
        e.materialization.asset_key.path[-1]: {k: v.value for k, v in e.materialization.metadata.items()}
        for e in result.get_asset_materialization_events()
    }


@pytest.fixture
def key_env(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("CLOSE_TEST_KEY", sandbox.api_key)
    return "CLOSE_TEST_KEY"


def test_materialize_reads_each_source_once_and_records_each_report(
    sandbox: Any, key_env: str, tmp_path: Path
) -> None:
    db = tmp_path / "close.duckdb"
    assets = closesync_assets(
        reports=["Leads", "leads_addresses", "users"], destination=f"duckdb:{db}", api_key=EnvVar(key_env),
        base_url=sandbox.base_url, home=str(tmp_path / "home"),
    )
    assert len(assets) == 2  # /lead/ feeds Leads and Leads Addresses; /user/ feeds Users
    sandbox.reset_stats()
    result = materialize(assets)
    assert result.success

    rows = _tables(db)
    assert rows["leads"] == sandbox.data.count("lead") and rows["users"] == sandbox.data.count("user")
    assert rows["leads_addresses"] > 0
    meta = _materialized(result)
    assert set(meta) == {"leads", "leads_addresses", "users"}
    assert {slug: m["dagster/row_count"] for slug, m in meta.items()} == rows
    leads = meta["leads"]
    assert leads["report"] == "Leads" and leads["description"] == "Returns a list of Leads."
    assert leads["table"] == "leads" and leads["destination"] == f"duckdb:{db}" and leads["incremental"] is False
    assert leads["throttle_waits"] == 0 and leads["notes"] == [] and leads["duration_s"] >= 0
    # one read of /lead/ for both of its reports: every request the sandbox saw is counted once
    assert meta["leads_addresses"]["requests"] == leads["requests"]
    assert sandbox.stats()["requests"]["total"] == leads["requests"] + meta["users"]["requests"]

    again = _materialized(materialize(assets, selection=[AssetKey(["close", "leads"])]))
    assert set(again) == {"leads"} and again["leads"]["incremental"] is True  # the cursor kept in the file


def test_a_wrong_key_fails_with_closes_message_and_never_shows_the_key(
    sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLOSE_TEST_KEY", WRONG_KEY)
    db = tmp_path / "close.duckdb"
    assets = closesync_assets(
        reports=["users"], destination=f"duckdb:{db}", api_key=EnvVar("CLOSE_TEST_KEY"),
        base_url=sandbox.base_url, home=str(tmp_path / "home"),
    )
    with DagsterInstance.ephemeral() as instance:
        result = materialize(assets, instance=instance, raise_on_error=False)
        assert not result.success and not result.get_asset_materialization_events()
        [failure] = [e for e in result.all_events if e.is_step_failure]
        message = failure.step_failure_data.user_failure_data.description
        assert message.startswith("Users: GET user/: The server could not verify that you are authorized")
        assert "Check the API key" in message and message.endswith("(HTTP 401)")
        logged = [str(r) for r in instance.all_logs(result.run_id)]
        run_config = str(instance.get_run_by_id(result.run_id))
    assert WRONG_KEY not in "".join(logged) + run_config + str(result.all_events)
    assert any("HTTP 401" in line for line in logged)


def test_a_data_center_account_is_read_with_its_saved_key(sandbox: Any, home: Path, tmp_path: Path) -> None:
    DataCenter(home).add_account("acme", api_key=sandbox.api_key, base_url=sandbox.base_url)
    db = tmp_path / "close.duckdb"
    assets = closesync_assets(reports=["users"], destination=f"duckdb:{db}", account="acme", home=str(home))
    result = materialize(assets)
    assert _tables(db) == {"users": sandbox.data.count("user")}
    assert sandbox.api_key not in str(result.all_events)

    missing = closesync_assets(reports=["users"], destination=f"duckdb:{db}", account="nobody", home=str(home))
    failed = materialize(missing, raise_on_error=False)
    [failure] = [e for e in failed.all_events if e.is_step_failure]
    assert "No account named 'nobody'" in failure.step_failure_data.user_failure_data.description


def test_bad_arguments_are_refused_before_dagster_sees_them() -> None:
    with pytest.raises(DagsterSetupError, match=r"EnvVar\('CLOSE_API_KEY'\)"):
        closesync_assets(reports=["users"], api_key=WRONG_KEY)  # a key in plain text would be shown
    with pytest.raises(DagsterSetupError, match="account='NAME' or api_key"):
        closesync_assets(reports=["users"])
    with pytest.raises(DagsterSetupError, match="account='NAME' or api_key"):
        closesync_assets(reports=["users"], account="acme", api_key=EnvVar("CLOSE_API_KEY"))
    with pytest.raises(DagsterSetupError, match="update method 'merge'"):
        closesync_assets(reports=["users"], account="acme", method="merge")  # type: ignore[arg-type]
    with pytest.raises(UnknownReportError, match="unknown report 'nope'"):
        closesync_assets(reports=["nope"], account="acme")


def test_the_example_definitions_load_and_materialize(
    sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "close.duckdb"
    monkeypatch.setenv("CLOSE_API_KEY", sandbox.api_key)
    monkeypatch.setenv("CLOSE_BASE_URL", sandbox.base_url)
    monkeypatch.setenv("CLOSESYNC_DESTINATION", f"duckdb:{db}")
    monkeypatch.setenv("CLOSESYNC_HOME", str(tmp_path / "home"))
    example = runpy.run_path(str(EXAMPLE))
    defs: Definitions = example["defs"]
    Definitions.validate_loadable(defs)
    job = defs.resolve_job_def("close_tables")
    assert {k.path[-1] for k in job.asset_layer.executable_asset_keys} == {
        "leads", "leads_contacts", "opportunities", "users", "activities_call"
    }
    result = materialize(example["close_assets"], selection=[AssetKey(["close", "users"])])
    assert result.success and _tables(db) == {"users": sandbox.data.count("user")}



def test_the_example_job_runs_its_sources_in_parallel_processes_on_one_duckdb_file(
    sandbox: Any, tmp_path: Path
) -> None:
    """`dagster job execute` runs each source's step in its own process (the multiprocess executor): the
    steps take turns on the DuckDB file instead of failing on DuckDB's one-writer lock."""
    db = tmp_path / "close.duckdb"
    (tmp_path / "dagster").mkdir()
    env = {
        **os.environ, "DAGSTER_HOME": str(tmp_path / "dagster"), "CLOSE_API_KEY": sandbox.api_key,
        "CLOSE_BASE_URL": sandbox.base_url, "CLOSESYNC_DESTINATION": f"duckdb:{db}",
        "CLOSESYNC_HOME": str(tmp_path / "home"),
    }
    sandbox.add_fault("slow", delay=2.0, count=4)  # each source's first answer is slow: the steps overlap
    dagster = Path(sys.executable).parent / "dagster"
    done = subprocess.run(
        [str(dagster), "job", "execute", "-f", str(EXAMPLE), "-j", "close_tables"],
        env=env, capture_output=True, text=True, timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "RUN_SUCCESS" in done.stderr and "STEP_FAILURE" not in done.stderr
    assert sandbox.api_key not in done.stdout + done.stderr
    assert _tables(db)["users"] == sandbox.data.count("user")
    assert _tables(db)["leads"] == sandbox.data.count("lead")


def test_without_dagster_the_import_names_the_extra() -> None:
    code = "import sys; sys.modules['dagster'] = None; import closesync.integrations.dagster"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "ModuleNotFoundError: closesync.integrations.dagster needs Dagster: pip install 'closesync[dagster]'" in (
        done.stderr
    )
