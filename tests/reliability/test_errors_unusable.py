"""Destinations and homes that cannot be used end in one readable error and the documented exit code,
never a traceback; with `--json`, stdout holds a JSON error object (issue 10 §3).

Read-only and full file systems are real: a small tmpfs mounted for the test (remounted read-only, or
filled up). Tests run as root, so a chmod would not stop a write; where mounting is not allowed (an
unprivileged container) those tests skip, and `tests/test_dc_store.py` still covers the full-disk path
with an injected `sqlite3.OperationalError`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from closesync.cli import cli
from closesync.cli.common import EXIT_BUSY, EXIT_FAILED, EXIT_INPUT
from closesync.datacenter import DataCenter
from closesync.sandbox import Sandbox


def closesync(home: Path, sb: Sandbox, *args: str) -> Result:
    return CliRunner(env={"SANDBOX_KEY": sb.api_key}).invoke(cli, ["--home", str(home), *args])


def sync_users(home: Path, sb: Sandbox, *args: str) -> Result:
    return closesync(
        home, sb, "sync", "users", "--api-key-env", "SANDBOX_KEY", "--base-url", sb.base_url, "--json", *args
    )


def assert_clean_error(result: Result, code: int, *words: str) -> str:
    """Exit `code`, one `Error: …` line naming `words`, no traceback; returns the message."""
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.stderr.startswith("Error: ") and "Traceback" not in result.output, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr
    return result.stderr


def assert_json_error(result: Result, *words: str) -> None:
    answer = json.loads(result.stdout)
    assert answer["ok"] is False and answer["status"] == "error", answer
    for word in words:
        assert word in answer["error"], answer


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs of our own, unmounted afterwards."""
    mount = tmp_path / "fs"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def read_only(mount: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)


def fill(mount: Path) -> None:
    """Write a file until the file system has no block left."""
    with (mount / "filler").open("wb") as filler:
        try:
            while True:
                filler.write(b"\0" * 65_536)
                filler.flush()
        except OSError:
            pass


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--destination", "csv:/dev/null"], ["/dev/null", "Not a directory"]),
        (["--destination", "parquet:/etc/hostname"], ["/etc/hostname", "Not a directory"]),
        (["--db", "/etc/hostname"], ["/etc/hostname", "not a valid DuckDB"]),
        (["--db", "/proc/no-such-folder/close.duckdb"], ["/proc/no-such-folder", "No such file"]),
    ],
)
def test_sync_into_an_unusable_destination(
    sandbox: Sandbox, home: Path, args: list[str], words: list[str]
) -> None:
    result = sync_users(home, sandbox, *args)
    assert_clean_error(result, EXIT_FAILED, *words)
    assert_json_error(result, *words)


@pytest.mark.timeout(60)
def test_sync_into_a_duckdb_file_locked_by_another_process(sandbox: Sandbox, tmp_path: Path) -> None:
    db = tmp_path / "held.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, sys; c = duckdb.connect({str(db)!r}); print('ok', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ok"
        result = sync_users(tmp_path / "home", sandbox, "--db", str(db))
    finally:
        holder.communicate("", timeout=30)
    assert_clean_error(result, EXIT_BUSY, "in use by another process", str(db))
    assert_json_error(result, "in use by another process")


@pytest.mark.timeout(120)
def test_read_only_file_system(sandbox: Sandbox, tmpfs: Path) -> None:
    """Each destination kind on a read-only mount, and the Data Center's home there."""
    home = tmpfs / "home"
    dc = DataCenter(home)
    dc.add_account("acme", api_key=sandbox.api_key, base_url=sandbox.base_url)
    dc.create_dataset("people", account="acme", report="users")
    assert dc.run_dataset("people").ok
    assert sync_users(home, sandbox, "--destination", f"parquet:{tmpfs / 'files'}").exit_code == 0
    read_only(tmpfs)

    result = sync_users(home, sandbox)  # HOME/close.duckdb
    assert_clean_error(result, EXIT_FAILED, "close.duckdb", "Read-only file system")
    assert_json_error(result, "Read-only file system")
    result = sync_users(home, sandbox, "--destination", f"csv:{tmpfs / 'new'}")
    assert_clean_error(result, EXIT_FAILED, "Read-only file system")
    result = sync_users(home, sandbox, "--destination", f"parquet:{tmpfs / 'files'}")
    assert result.exit_code == EXIT_FAILED and "Traceback" not in result.output
    assert json.loads(result.stdout)["reports"][0]["status"] == "failed"

    for args in (["list"], ["history", "people"], ["show", "people"], ["run", "people"]):
        assert_clean_error(
            closesync(home, sandbox, "datasets", *args), EXIT_INPUT, "metadata store", "read-only"
        )
    as_json = closesync(home, sandbox, "datasets", "run", "people", "--json")
    assert_clean_error(as_json, EXIT_INPUT, "read-only")
    assert json.loads(as_json.stdout)["status"] == "error"


@pytest.mark.timeout(120)
def test_full_home(sandbox: Sandbox, tmpfs: Path) -> None:
    home = tmpfs / "home"
    dc = DataCenter(home)
    dc.add_account("acme", api_key=sandbox.api_key, base_url=sandbox.base_url)
    dc.create_dataset("people", account="acme", report="users")
    del dc
    fill(tmpfs)
    for args in (["run", "people"], ["create", "more", "--account", "acme", "--report", "users"]):
        assert_clean_error(
            closesync(home, sandbox, "datasets", *args), EXIT_INPUT, "metadata store", "disk is full"
        )
    listed: Any = closesync(home, sandbox, "datasets", "list", "--json")
    assert listed.exit_code in (0, EXIT_INPUT) and "Traceback" not in listed.output  # reads may still work
