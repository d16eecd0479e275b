"""The `accounts`, `datasets` and `scheduler` commands: output, JSON and exit codes (real sandbox)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from closesync.cli import cli
from closesync.datacenter import DataCenter

REVOKED = "api_revokedREVOKEDrevoked000000000"


@pytest.fixture
def run(home: Path) -> Any:

    def invoke(*args: str) -> Any:
        return CliRunner().invoke(cli, ["--home", str(home), *args], catch_exceptions=False)

    return invoke


def test_accounts_commands(run: Any, sandbox: Any) -> None:
    added = run("accounts", "add", "acme", "--api-key", sandbox.api_key, "--base-url", sandbox.base_url)
    assert added.exit_code == 0, added.output
    assert f"api_…{sandbox.api_key[-4:]}" in added.output and sandbox.data.me()["email"] in added.output
    listed = run("accounts", "list")
    assert listed.exit_code == 0 and "acme" in listed.output and f"api_…{sandbox.api_key[-4:]}" in listed.output
    as_json = json.loads(run("accounts", "list", "--json").output)
    assert as_json[0]["name"] == "acme" and "key_ciphertext" not in as_json[0]
    shown = run("accounts", "show", "acme")
    assert sandbox.data.me()["organizations"][0]["id"] in shown.output
    assert run("accounts", "check", "acme").exit_code == 0
    assert run("accounts", "rename", "acme", "acme2").exit_code == 0
    for result in (listed, shown, added):
        assert sandbox.api_key not in result.output

    wrong = run("accounts", "add", "bad", "--api-key", "api_wrongwrongwrong0000", "--base-url", sandbox.base_url)
    assert wrong.exit_code == 2 and "rejected the API key" in wrong.output and "api_wrongwrongwrong0000" not in wrong.output
    missing = run("accounts", "show", "nobody")
    assert missing.exit_code == 2 and "No account named 'nobody'" in missing.output
    assert run("accounts", "remove", "acme2").exit_code == 0
    assert "No accounts yet" in run("accounts", "list").output


def test_datasets_commands(run: Any, sandbox: Any, home: Path) -> None:
    run("accounts", "add", "acme", "--api-key", sandbox.api_key, "--base-url", sandbox.base_url)
    bad = run("datasets", "create", "u", "--account", "acme", "--report", "Users", "--schedule", "now and then")
    assert bad.exit_code == 2 and "--schedule" in bad.output and "weekly on mon at 06:00" in bad.output
    created = run("datasets", "create", "u", "--account", "acme", "--report", "Users", "--schedule", "daily at 06:00",
                  "--retries", "2", "--retry-delay", "30s", "--description", "everyone")
    assert created.exit_code == 0, created.output
    listed = run("datasets", "list")
    assert "daily at 06:00" in listed.output and "never" in listed.output

    ran = run("datasets", "run", "u", "--json")
    assert ran.exit_code == 0, ran.output
    result = json.loads(ran.output)
    assert result["status"] == "success" and result["rows"] == sandbox.data.count("user") and result["attempt"] == 1

    dc = DataCenter(home)  # the key gets revoked in Close
    with dc.store.write() as conn:
        conn.execute("UPDATE accounts SET key_ciphertext = ?", (dc._accounts.secrets.encrypt(REVOKED),))
    failed = run("datasets", "run", "u", "--json")
    assert failed.exit_code == 1 and json.loads(failed.output)["http_status"] == 401
    assert REVOKED not in failed.output
    text = run("datasets", "run", "u")
    assert text.exit_code == 1 and "HTTP 401" in text.output

    history = run("datasets", "history", "u")
    assert history.exit_code == 0 and "success" in history.output and "failed" in history.output
    preview = run("datasets", "preview", "u", "--limit", "3")
    assert preview.exit_code == 0 and "email" in preview.output
    shown = run("datasets", "show", "u")
    assert "everyone" in shown.output and "2 after 30s" in shown.output
    assert run("datasets", "edit", "u", "--schedule", "every 15 minutes", "--disable").exit_code == 0
    assert json.loads(run("datasets", "show", "u", "--json").output)["enabled"] is False
    assert run("datasets", "run", "nope").exit_code == 2
    assert run("accounts", "remove", "acme").exit_code == 2  # still used
    assert run("datasets", "delete", "u", "--drop-table").exit_code == 0
    assert "No datasets yet" in run("datasets", "list").output


def test_scheduler_once_with_nothing_due(run: Any) -> None:
    result = run("scheduler", "--once")
    assert result.exit_code == 0


def test_scheduler_runs_until_sigterm(home: Path) -> None:
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "closesync", "--home", str(home), "scheduler", "--poll", "0.1"],
        stderr=subprocess.PIPE, text=True,
    )
    assert proc.stderr is not None
    first = proc.stderr.readline()  # blocks until the loop has started
    assert "scheduler started" in first, first
    proc.send_signal(signal.SIGTERM)
    _, rest = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "scheduler stopped" in rest
