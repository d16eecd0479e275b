"""The analytics models for real: the sandbox's data synced over HTTP into DuckDB and PostgreSQL, `dbt build`
(models and tests) through closesync.analytics, and the marts checked against the sandbox's own data."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import tomllib
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

import duckdb
import httpx
import psycopg
import pytest
from click.testing import CliRunner
from psycopg import sql

from closesync import sync
from closesync.analytics import (
    MARTS,
    OPTIONAL_REPORTS,
    REQUIRED_REPORTS,
    BuildResult,
    DbtNotInstalledError,
    ModelsBuildError,
    ModelsInputError,
    build_models,
    models_schema,
)
from closesync.cli import cli
from closesync.datacenter import DataCenter
from closesync.datacenter.marts import build_marts
from closesync.datacenter.progress import RunProgress, describe_wait
from closesync.reports import get_report
from closesync.sandbox import Sandbox
from closesync.sandbox.data import SandboxData

ROOT = Path(__file__).resolve().parents[1]
PROJECT = Path(str(files("closesync.analytics") / "dbt_project"))
MODEL_FILES = sorted(PROJECT.glob("models/*/*.sql"))
SECRET = "pw-Zq81-never-shown"

NOT_HELD = {"canceled", "declined-by-lead", "declined-by-org"}  # meetings that did not take place

Query = Callable[[str], list[tuple[Any, ...]]]


class Built:
    """A destination with the sandbox's data synced and the models built: where, what, and a query helper."""

    def __init__(self, destination: str, result: BuildResult, data: SandboxData, query: Query) -> None:
        self.destination, self.result, self.data, self.query = destination, result, data, query

    def mart(self, name: str) -> str:
        return f"{models_schema(self.destination)}.{name}"


def _sync_sandbox(destination: str) -> SandboxData:
    """Every report the models read, the optional meetings and SMS included (the sandbox generates them)."""
    reports = [*REQUIRED_REPORTS, *OPTIONAL_REPORTS]
    with Sandbox(seed=3, leads=60) as sandbox:
        result = sync(
            reports,
            api_key=sandbox.api_key,
            base_url=sandbox.base_url,
            destination=destination,
            method="replace",
        )
        assert [r.status for r in result.reports] == ["success"] * len(reports)
        return sandbox.data


@pytest.fixture(scope="module")
def duckdb_built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    folder = tmp_path_factory.mktemp("duck")
    destination = f"duckdb:{folder / 'close.duckdb'}"
    data = _sync_sandbox(destination)
    result = build_models(destination, work_dir=folder / "dbt", strict=True)

    def query(text: str) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(folder / "close.duckdb"), read_only=True) as con:
            return con.sql(text).fetchall()

    return Built(destination, result, data, query)


@pytest.fixture(scope="module")
def postgres_built(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    user, _, rest = pg_url.partition("@")  # a password in the URL: the trust server ignores it
    destination = f"{user}:{SECRET}@{rest}{'&' if '?' in pg_url else '?'}schema={schema}"
    try:
        data = _sync_sandbox(destination)
        work = tmp_path_factory.mktemp("pgdbt")
        result = build_models(destination, work_dir=work, strict=True)
        assert SECRET not in (work / "profiles.yml").read_text()

        def query(text: str) -> list[tuple[Any, ...]]:
            with psycopg.connect(pg_url) as conn:
                return conn.execute(text).fetchall()  # type: ignore[arg-type]

        yield Built(destination, result, data, query)
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            for name in (schema, models_schema(destination)):
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def built(request: pytest.FixtureRequest) -> Built:
    return request.getfixturevalue(f"{request.param}_built")


def _utc_day(stamp: str) -> str:
    return datetime.fromisoformat(stamp).date().isoformat()


# -- dbt build ----------------------------------------------------------------------------------------------
def test_dbt_build_passes_with_every_model_and_test(built: Built) -> None:
    assert built.result.models == len(MODEL_FILES) == 23
    assert built.result.tests >= 60 and built.result.warnings == []  # strict: relationships are errors too
    for mart in MARTS:
        assert built.query(f"select count(*) from {built.mart(mart)}")[0][0] > 0, mart


def test_models_go_to_their_own_schema() -> None:
    assert models_schema("duckdb:x.duckdb") == "analytics"
    assert models_schema("postgres://u@h/db") == "analytics"
    assert models_schema("postgresql://u@h/db?schema=close") == "close_analytics"


# -- the marts against the sandbox's truth ------------------------------------------------------------------
def test_open_pipeline_value_matches_the_sandbox(built: Built) -> None:
    truth = sum(
        o["value"] or 0 for o in built.data.iter_records("opportunity") if o["status_type"] == "active"
    )
    got = built.query(
        f"select sum(total_value) from {built.mart('close_pipeline_now')} where status_type = 'active'"
    )
    assert truth > 0 and got[0][0] == truth


def test_calls_per_user_on_each_day_match_the_sandbox(built: Built) -> None:
    truth: Counter[tuple[str, str]] = Counter()
    for call in built.data.iter_records("activity/call"):
        truth[_utc_day(call["activity_at"] or call["date_created"]), call["user_id"]] += 1
    rows = built.query(
        f"select cast(activity_date as varchar), user_id, calls from {built.mart('close_activity_by_user_day')}"
        " where calls > 0"
    )
    assert len(truth) > 100 and {(day, user): n for day, user, n in rows} == dict(truth)
    (day, user), calls = truth.most_common(1)[0]  # one day and user, as a person would ask it
    one = built.query(
        f"select calls from {built.mart('close_activity_by_user_day')}"
        f" where activity_date = date '{day}' and user_id = '{user}'"
    )
    assert one == [(calls,)]


def _sms_column(sms: dict[str, Any]) -> str | None:
    if sms["direction"] == "inbound":
        return "sms_received"
    return "sms_sent" if sms["direction"] == "outbound" and sms["status"] == "sent" else None


def test_meetings_and_sms_per_user_on_each_day_match_the_sandbox(built: Built) -> None:
    """The real "Activities Meetings" and "Activities SMS" tables: a meeting counts unless it was canceled or
    declined, an SMS as sent only once Close sent it (not scheduled, not failed), as emails_sent does."""
    truth: dict[tuple[str, str], Counter[str]] = {}
    for kind, counted in (
        ("activity/meeting", lambda m: None if m["status"] in NOT_HELD else "meetings"),
        ("activity/sms", _sms_column),
    ):
        for record in built.data.iter_records(kind):
            day = _utc_day(record["activity_at"] or record["date_created"])
            truth.setdefault((day, record["user_id"]), Counter())[counted(record) or "other"] += 1
    expected = {
        key: (c["meetings"], c["sms_sent"], c["sms_received"])
        for key, c in truth.items()
        if c["meetings"] or c["sms_sent"] or c["sms_received"]
    }
    rows = built.query(
        f"select cast(activity_date as varchar), user_id, meetings, sms_sent, sms_received"
        f" from {built.mart('close_activity_by_user_day')} where meetings + sms_sent + sms_received > 0"
    )
    assert len(expected) > 50 and {(d, u): (m, s, r) for d, u, m, s, r in rows} == expected
    statuses = {r["status"] for r in built.data.iter_records("activity/sms") if r["direction"] == "outbound"}
    assert statuses - {"sent"}  # the sandbox has unsent SMS, so the check means something


def test_leads_in_each_status_match_the_sandbox(built: Built) -> None:
    truth = Counter(lead["status_id"] for lead in built.data.iter_records("lead"))
    rows = built.query(f"select status_id, leads_now from {built.mart('close_lead_status_funnel')}")
    assert {status: n for status, n in rows if n} == dict(truth)


def test_custom_fields_reach_the_lead_and_opportunity_marts_by_name(built: Built) -> None:
    deal_size = next(
        f["id"] for f in built.data.iter_records("custom_field/lead") if f["name"] == "Deal Size ($)"
    )
    truth = {lead["id"]: lead.get(f"custom.{deal_size}") for lead in built.data.iter_records("lead")}
    rows = built.query(f"select lead_id, deal_size from {built.mart('close_leads')}")
    assert {lead: (float(v) if v is not None else None) for lead, v in rows} == {
        lead: (float(v) if v is not None else None) for lead, v in truth.items()
    }
    seats = built.query(f"select count(seats) from {built.mart('close_opportunities')}")
    assert seats[0][0] > 0


def test_win_rate_counts_the_sandbox_won_and_lost(built: Built) -> None:
    opportunities = list(built.data.iter_records("opportunity"))
    won = sum(o["status_type"] == "won" for o in opportunities)
    lost = sum(o["status_type"] == "lost" for o in opportunities)
    days = sum(
        (date.fromisoformat(o["date_won"]) - datetime.fromisoformat(o["date_created"]).date()).days
        for o in opportunities
        if o["status_type"] == "won" and o["date_won"]
    )
    rows = built.query(
        "select sum(won_count), sum(lost_count), sum(total_days_to_close)"
        f" from {built.mart('close_won_lost_by_month')}"
    )
    assert tuple(rows[0]) == (won, lost, days)


# -- optional reports, errors, CLI --------------------------------------------------------------------------
def test_sms_and_meetings_tables_are_used_when_present(duckdb_built: Built, tmp_path: Path) -> None:
    source = Path(duckdb_built.destination.removeprefix("duckdb:"))
    copy = tmp_path / "with_sms.duckdb"
    shutil.copy(source, copy)
    user = duckdb_built.query("select id from users order by id limit 1")[0][0]
    with duckdb.connect(str(copy)) as con:  # only the columns any catalog gives an SMS activity
        con.execute(
            "create or replace table activities_sms as select id, direction, user_id, date_created from (values"
            " ('sms_1', 'outbound'), ('sms_2', 'outbound'), ('sms_3', 'inbound')) as t(id, direction),"
            f" (select '{user}' as user_id, timestamptz '2030-01-02 10:00:00+00' as date_created)"
        )
        con.execute(
            "create or replace table activities_meetings as select 'meet_1' as id, ? as user_id, 'x' as lead_id,"
            " timestamptz '2030-01-02 09:00:00+00' as activity_at, timestamptz '2029-12-30 00:00:00+00'"
            " as date_created, timestamptz '2030-01-03 00:00:00+00' as date_updated",
            [user],
        )
    build_models(f"duckdb:{copy}", work_dir=tmp_path / "dbt", strict=True)
    with duckdb.connect(str(copy), read_only=True) as con:
        rows = con.sql(
            "select sms_sent, sms_received, meetings from analytics.close_activity_by_user_day"
            f" where activity_date = date '2030-01-02' and user_id = '{user}'"
        ).fetchall()
    assert rows == [(2, 1, 1)]  # the meeting counts on its activity_at day, not its date_created


def _start_dataset_run(home: Path, sandbox: Sandbox, destination: str) -> subprocess.Popen[bytes]:
    """`closesync datasets run` of a DataSet loading `destination`, in another process (as the scheduler of
    `closesync serve` would), its first request held 6 s so it still writes when the caller looks."""
    dc = DataCenter(str(home))
    account = dc.add_account("Acme", api_key=sandbox.api_key, base_url=sandbox.base_url)
    dc.create_dataset(
        "Done tasks", account=account.id, report="Activities Task Completed", destination=destination
    )
    sandbox.add_fault("slow", path="activity/task_completed/", count=1, delay=6.0)
    command = [sys.executable, "-m", "closesync", "--home", str(home), "datasets", "run", "Done tasks"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while not dc.get_dataset("Done tasks").running:
        assert process.poll() is None and time.monotonic() < deadline, process.stdout.read().decode()  # type: ignore[union-attr]
        time.sleep(0.1)
    return process


def test_a_build_waits_for_a_sync_writing_the_duckdb_file(duckdb_built: Built, tmp_path: Path) -> None:
    """A Data Center build (`build_marts`, `models build --dataset`) and a sync of the same DuckDB file in
    another process take turns on the home's lock: the build says it waits, then both succeed."""
    copy = tmp_path / "shared.duckdb"
    shutil.copy(Path(duckdb_built.destination.removeprefix("duckdb:")), copy)
    home, destination = tmp_path / "home", f"duckdb:{copy}"
    notes: list[str] = []
    with Sandbox(seed=3, leads=60) as sandbox:
        process = _start_dataset_run(home, sandbox, destination)
        try:
            result = build_marts(home, destination, on_wait=notes.append)
        finally:
            output = process.communicate(timeout=120)[0].decode()
    assert process.returncode == 0, output
    assert notes == ["Waiting for a sync (or another use) of this DuckDB file to finish…"]
    assert result.models == len(MODEL_FILES)
    with duckdb.connect(str(copy), read_only=True) as con:
        assert con.sql("select count(*) from activities_task_completed").fetchall()[0][0] > 0


def test_a_sync_waits_for_a_build_of_its_duckdb_file(duckdb_built: Built, tmp_path: Path) -> None:
    """`closesync models build --dataset` in another process holds the file; a sync started meanwhile says it
    waits for it (no DuckDB lock error) and then loads its table."""
    copy = tmp_path / "shared.duckdb"
    shutil.copy(Path(duckdb_built.destination.removeprefix("duckdb:")), copy)
    home, destination = tmp_path / "home", f"duckdb:{copy}"
    with Sandbox(seed=3, leads=60) as sandbox:
        dc = DataCenter(str(home))
        account = dc.add_account("Acme", api_key=sandbox.api_key, base_url=sandbox.base_url)
        dc.create_dataset(
            "Done tasks", account=account.id, report="Activities Task Completed", destination=destination
        )
        command = [
            sys.executable,
            "-m",
            "closesync",
            "--home",
            str(home),
            "models",
            "build",
            "--dataset",
            "Done tasks",
        ]
        build = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while not (
                tmp_path / "home" / "analytics"
            ).exists():  # the build's work folder: it holds the lock
                assert build.poll() is None and time.monotonic() < deadline, build.stdout.read().decode()  # type: ignore[union-attr]
                time.sleep(0.1)
            progress = RunProgress()
            with ThreadPoolExecutor(1) as pool:
                running = pool.submit(dc.run_dataset, "Done tasks", progress=progress)
                while (wait := progress.snapshot()["wait"]) is None:  # what `datasets run` shows meanwhile
                    assert not running.done(), running.result()
                    time.sleep(0.05)
                said = describe_wait(wait, 0)
                run = running.result(timeout=300)
        finally:
            output = build.communicate(timeout=300)[0].decode()
    assert build.returncode == 0 and "Built 23 models" in output, output
    assert said and said.startswith("Waiting for another closesync process (a sync or a models build)")
    assert run.status == "success", run.error
    assert progress.snapshot()["wait"] is None


def test_in_one_process_a_build_and_syncs_of_its_duckdb_file_take_turns(
    duckdb_built: Built, tmp_path: Path
) -> None:
    """The web app's case: a build thread and sync threads on one file in one process. dbt-duckdb cannot
    share closesync's DuckDB instance, so the build waits for the running sync, and a sync started during
    the build waits for it and says so; all of them succeed."""
    copy = tmp_path / "shared.duckdb"
    shutil.copy(Path(duckdb_built.destination.removeprefix("duckdb:")), copy)
    home, destination = tmp_path / "home", f"duckdb:{copy}"
    notes: list[str] = []
    with Sandbox(seed=3, leads=60) as sandbox:
        dc = DataCenter(str(home))
        account = dc.add_account("Acme", api_key=sandbox.api_key, base_url=sandbox.base_url)
        dc.create_dataset(
            "Done tasks", account=account.id, report="Activities Task Completed", destination=destination
        )
        sandbox.add_fault("slow", path="activity/task_completed/", count=1, delay=4.0)
        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(dc.run_dataset, "Done tasks")
            deadline = time.monotonic() + 60
            while not dc.get_dataset("Done tasks").running:
                assert not first.done() and time.monotonic() < deadline, first.result()
                time.sleep(0.05)
            building = pool.submit(build_marts, home, destination, on_wait=notes.append)
            while not (home / "analytics").exists():  # the build holds the file now
                assert not building.done(), building.result()
                time.sleep(0.05)
            progress = RunProgress()
            second = dc.run_dataset("Done tasks", progress=progress, wait_s=300)
            assert first.result().status == "success", first.result().error
            assert building.result().models == len(MODEL_FILES)
    assert second.status == "success", second.error
    assert notes == ["Waiting for a sync (or another use) of this DuckDB file to finish…"]


def test_a_broken_relationship_warns_and_fails_when_strict(duckdb_built: Built, tmp_path: Path) -> None:
    copy = tmp_path / "orphan.duckdb"
    shutil.copy(Path(duckdb_built.destination.removeprefix("duckdb:")), copy)
    with duckdb.connect(str(copy)) as con:  # a call of a deleted lead, as a real account keeps them
        con.execute(
            "update activities_call set lead_id = 'lead_deleted' where id = (select min(id) from activities_call)"
        )
    destination, only_calls = f"duckdb:{copy}", ["stg_close__calls"]
    result = build_models(destination, work_dir=tmp_path / "dbt", select=only_calls)
    assert result.models == 1 and [w for w in result.warnings if "lead_id" in w]
    with pytest.raises(ModelsBuildError, match=r"test relationships_stg_close__calls_\w+: fail"):
        build_models(destination, work_dir=tmp_path / "dbt", select=only_calls, strict=True)


def test_missing_report_tables_are_named(tmp_path: Path) -> None:
    db = tmp_path / "partial.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create table users (id varchar)")
    with pytest.raises(ModelsInputError, match='sync them first: "Activities Call"'):
        build_models(f"duckdb:{db}", work_dir=tmp_path / "dbt")


def test_file_destinations_cannot_hold_models(tmp_path: Path) -> None:
    with pytest.raises(ModelsInputError, match="need a database"):
        build_models(f"parquet:{tmp_path}")


def test_missing_dbt_says_what_to_install(duckdb_built: Built, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dbt.cli.main", None)  # what an install without the extra looks like
    with pytest.raises(DbtNotInstalledError, match=r"pip install 'closesync\[models\]'"):
        build_models(duckdb_built.destination, work_dir=Path(duckdb_built.destination[7:]).parent / "dbt")


@pytest.mark.postgres
def test_cli_build_never_prints_the_password(postgres_built: Built, tmp_path: Path) -> None:
    outcome = CliRunner().invoke(
        cli, ["--home", str(tmp_path), "models", "build", "--destination", postgres_built.destination]
    )
    assert outcome.exit_code == 0, outcome.output
    assert "Built 23 models" in outcome.output and "/insights" in outcome.output
    assert SECRET not in outcome.output
    assert all(SECRET not in p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file())


def test_cli_build_on_an_unreachable_server_hides_the_password(tmp_path: Path) -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    destination = f"postgresql://someone:{SECRET}@127.0.0.1:{port}/db"
    outcome = CliRunner().invoke(
        cli, ["--home", str(tmp_path), "models", "build", "--destination", destination]
    )
    assert outcome.exit_code != 0 and "Error:" in outcome.output and "Traceback" not in outcome.output
    assert SECRET not in outcome.output


def test_cli_docs_serves_dbt_docs_on_localhost(duckdb_built: Built, tmp_path: Path) -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    command = [sys.executable, "-m", "closesync", "--home", str(tmp_path), "models", "docs",
               "--destination", duckdb_built.destination, "--port", str(port)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline, process.stdout.read().decode()  # type: ignore[union-attr]
                time.sleep(0.5)
        assert page.status_code == 200 and "dbt" in page.text.lower()
        assert httpx.get(f"http://127.0.0.1:{port}/manifest.json", timeout=5).json()["nodes"]
        with duckdb.connect(
            duckdb_built.destination.removeprefix("duckdb:")
        ) as con:  # not held while serving
            assert con.sql("select count(*) from analytics.close_leads").fetchall()[0][0] > 0
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_every_project_file_is_package_data() -> None:
    """`pip install 'closesync[models]'` outside the repo ships the whole dbt project."""
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"][
        "closesync"
    ]
    package = ROOT / "src" / "closesync"
    shipped = {p for p in PROJECT.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    packaged = {p for glob in globs for p in package.glob(glob)}
    assert len(shipped) >= len(MODEL_FILES) + 4
    assert shipped <= packaged, sorted(str(p.relative_to(package)) for p in shipped - packaged)


def test_the_dbt_sources_are_the_reports_the_contract_names() -> None:
    """_sources.yml and REQUIRED_REPORTS/OPTIONAL_REPORTS list the same tables (the slugs of the reports)."""
    import yaml

    sources = yaml.safe_load((PROJECT / "models" / "staging" / "_sources.yml").read_text())["sources"]
    tables = {table["name"] for table in sources[0]["tables"]}
    expected = {report.lower().replace(" ", "_") for report in (*REQUIRED_REPORTS, *OPTIONAL_REPORTS)}
    assert tables == expected
    assert {get_report(report).slug for report in REQUIRED_REPORTS} <= tables
