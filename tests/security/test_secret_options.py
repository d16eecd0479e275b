"""Secrets given on the command line are visible to every user of the machine in `ps`: `serve` reads its
password from an environment variable or a prompt, says so when it refuses a bind, and every option that
takes a secret as a value warns when it is used."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from closesync.cli import cli
from fixtures_web import free_port

PASSWORD = "correct-horse-battery-9"
VISIBLE = "visible to other users"


@pytest.fixture
def run(home: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.delenv("CLOSESYNC_PASSWORD", raising=False)

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, ["--home", str(home), *args])

    return invoke


def serve(home: Path, *args: str, **env: str) -> tuple[int, str]:
    """Start `closesync serve` on 0.0.0.0 with `args`; the status of an API call with PASSWORD as its bearer
    token, and what the process wrote to stderr once stopped."""
    port = free_port()
    command = [sys.executable, "-m", "closesync", "--home", str(home), "serve", "--host", "0.0.0.0"]
    environ = {k: v for k, v in os.environ.items() if k != "CLOSESYNC_PASSWORD"} | env
    proc = subprocess.Popen(
        [*command, "--port", str(port), "--no-scheduler", *args],
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url, end = f"http://127.0.0.1:{port}/api/datasets", time.monotonic() + 30
    try:
        while True:
            try:
                status = httpx.get(
                    url, headers={"Authorization": f"Bearer {PASSWORD}"}, timeout=2
                ).status_code
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > end:
                    status = 0
                    break
                time.sleep(0.1)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    return status, err


def test_serve_reads_its_password_from_the_variable_password_env_names(home: Path) -> None:
    status, err = serve(home, "--password-env", "DC_PASSWORD", DC_PASSWORD=PASSWORD)
    assert status == 200, err
    assert VISIBLE not in err


def test_a_literal_serve_password_still_works_but_is_warned_about(home: Path) -> None:
    status, err = serve(home, "--password", PASSWORD)
    assert status == 200, err
    assert VISIBLE in err and "--password-env" in err and PASSWORD not in err


def test_the_refusal_to_bind_without_a_password_names_the_safe_ways(run: Any) -> None:
    refused = run("serve", "--host", "0.0.0.0")
    assert refused.exit_code == 2
    assert "--password-env VAR" in refused.output and "CLOSESYNC_PASSWORD" in refused.output
    assert "--password VALUE" not in refused.output


def test_password_env_must_name_a_set_variable_and_excludes_password(
    run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DC_UNSET", raising=False)
    unset = run("serve", "--host", "0.0.0.0", "--password-env", "DC_UNSET")
    assert unset.exit_code == 2 and "DC_UNSET is not set" in unset.output
    monkeypatch.setenv("DC_PASSWORD", PASSWORD)
    both = run("serve", "--password", PASSWORD, "--password-env", "DC_PASSWORD")
    assert both.exit_code == 2 and "not both" in both.output


def test_api_key_on_the_command_line_is_warned_about(
    run: Any, sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = str(tmp_path / "close.duckdb")
    synced = run("sync", "users", "--api-key", sandbox.api_key, "--base-url", sandbox.base_url, "--db", db)
    assert synced.exit_code == 0, synced.output
    assert (
        VISIBLE in synced.stderr and "--api-key-env" in synced.stderr and sandbox.api_key not in synced.output
    )
    added = run("accounts", "add", "acme", "--api-key", sandbox.api_key, "--base-url", sandbox.base_url)
    assert added.exit_code == 0, added.output
    assert VISIBLE in added.stderr and sandbox.api_key not in added.output
    monkeypatch.setenv("SB_KEY", sandbox.api_key)  # the way to pass it: no warning
    from_env = run("accounts", "add", "acme2", "--api-key-env", "SB_KEY", "--base-url", sandbox.base_url)
    assert from_env.exit_code == 0 and from_env.stderr == ""
