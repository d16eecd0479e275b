"""What the history says about a run is what happened (issue 10 §3): a killed run is not "running now" in
`datasets show`, an interrupted full refresh is retried as a full refresh, and a failed run says it wrote
nothing ("0 written (1000 read)") instead of "1000 rows"."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import closesync.pipeline
from closesync.cli import cli
from closesync.datacenter.migrations import MIGRATIONS, migrate
from closesync.datacenter.store import DB_NAME
from dc_helpers import FakeClock, add_account, make_dc


def closesync_cli(home: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["--home", str(home), *args], terminal_width=400)


def kill_mid_run(home: Path, sandbox: Any, *args: str) -> int:
    """Start `datasets run ARGS` in a process and SIGKILL it once it has sent requests; returns its pid."""
    sandbox.latency_ms = 200
    sandbox.reset_stats()
    proc = subprocess.Popen(
        [sys.executable, "-m", "closesync", "--home", str(home), "datasets", "run", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while sandbox.stats()["requests"]["total"] < 3:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run sent no request"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    sandbox.latency_ms = 0
    return proc.pid


@pytest.mark.timeout(120)
def test_show_recovers_a_killed_run_and_its_full_refresh_is_retried_as_one(home: Path, sandbox: Any) -> None:
    dc = make_dc(home)
    add_account(dc, sandbox)
    dc.create_dataset(
        "calls", account="acme", report="Activities Call", schedule="hourly", retries=1, retry_delay="0s"
    )
    assert dc.run_dataset("calls").ok  # saves the cursor: the next plain run would be incremental
    pid = kill_mid_run(home, sandbox, "calls", "--full-refresh")

    shown = closesync_cli(home, "datasets", "show", "calls")
    assert shown.exit_code == 0, shown.output
    assert "running now" not in shown.stdout and "failed" in shown.stdout
    as_json = json.loads(closesync_cli(home, "datasets", "show", "calls", "--json").stdout)
    assert as_json["running"] is False and as_json["last_run"]["status"] == "failed"
    killed = dc.history("calls")[0]
    assert "Interrupted" in (killed.error or "") and str(pid) in (killed.error or "")
    assert killed.full_refresh and killed.rows_written == 0

    sched = dc.scheduler()  # the retry is due at once (no retry delay)
    [retry_id] = sched.tick(wait=True)
    sched.stop()
    retry = dc.get_run(retry_id)
    assert retry.ok and retry.trigger == "retry" and retry.full_refresh
    assert [r["incremental"] for r in retry.reports] == [False]
    assert retry.rows == retry.rows_written == sandbox.data.count("activity/call")

    dc.run_dataset("calls")  # a full refresh that succeeded is not carried further
    plain = dc.history("calls")[0]
    assert not plain.full_refresh and [r["incremental"] for r in plain.reports] == [True]


def test_a_failed_run_says_it_wrote_nothing(
    home: Path, sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    dc = make_dc(home, FakeClock())
    add_account(dc, sandbox)
    dc.create_dataset("people", account="acme", report="Users")
    ok = dc.run_dataset("people")
    assert ok.rows == ok.rows_written == sandbox.data.count("user")

    def read_then_fail(reports: list[str], **options: Any) -> closesync.pipeline.SyncResult:
        report = closesync.pipeline.ReportResult(
            "users",
            "Users",
            "users",
            status="failed",
            rows=1000,
            requests=11,
            error="Destination error: disk full",
        )
        return closesync.pipeline.SyncResult([report], requests=11)

    monkeypatch.setattr(closesync.pipeline, "sync", read_then_fail)
    failed = dc.run_dataset("people")
    assert failed.status == "failed" and failed.rows == 1000 and failed.rows_written == 0

    listed = closesync_cli(home, "datasets", "list")
    assert "0 written (1000 read)" in listed.stdout
    history = closesync_cli(home, "datasets", "history", "people")
    assert "0 written (1000 read)" in history.stdout
    assert f"{ok.rows} " in history.stdout  # a successful run: just its rows
    as_json = json.loads(closesync_cli(home, "datasets", "history", "people", "--json").stdout)
    assert [(r["rows"], r["rows_written"]) for r in as_json] == [(1000, 0), (ok.rows, ok.rows)]


def test_migration_5_records_rows_written_of_earlier_runs(tmp_path: Path) -> None:
    """Earlier runs get `rows_written` from their status: a success wrote its rows, a failure none."""
    assert MIGRATIONS[4].version == 5
    home = tmp_path / "home"
    home.mkdir()
    conn = sqlite3.connect(home / DB_NAME, isolation_level=None)
    migrate(conn, home / DB_NAME, target=4)
    now = datetime(2026, 1, 1, tzinfo=UTC).isoformat()
    conn.execute(
        "INSERT INTO accounts (name, base_url, key_source, key_env, key_hint, created_at, updated_at) "
        "VALUES ('a', 'https://api.close.com/api/v1/', 'env', 'K', 'api_…', ?, ?)",
        (now, now),
    )
    conn.execute(
        "INSERT INTO datasets (name, account_id, report, method, destination, table_name, created_at, updated_at)"
        " VALUES ('d', 1, 'users', 'upsert', 'duckdb:/tmp/x.duckdb', 'users', ?, ?)",
        (now, now),
    )
    for status, rows in (("success", 8), ("failed", 1000), ("running", 3)):
        conn.execute(
            "INSERT INTO runs (dataset_id, status, trigger, attempt, started_at, rows) VALUES (1, ?, 'manual', 1, ?, ?)",
            (status, now, rows),
        )
    assert migrate(conn, home / DB_NAME) >= 5
    got = conn.execute("SELECT status, rows, rows_written, full_refresh FROM runs ORDER BY id").fetchall()
    conn.close()
    assert got == [("success", 8, 8, 0), ("failed", 1000, 0, 0), ("running", 3, None, 0)]
