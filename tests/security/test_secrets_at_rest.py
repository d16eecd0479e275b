"""Secrets at rest: destination passwords are encrypted like API keys and hidden from every message; the
master key file is refused when others can read it, and its loss is explained with the way back; the files
closesync creates (metadata, keys, CRM data) are readable by their owner only."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner, Result

from closesync.cli import cli
from closesync.datacenter import DataCenter, SecretKeyError, ValidationError
from closesync.datacenter.migrations import migrate
from closesync.datacenter.secrets import KEY_FILE, Secrets
from closesync.datacenter.store import DB_NAME
from closesync.private_files import SHARED_ENV
from closesync.sinks import SinkError, UnknownDestinationError, open_sink, parse_destination
from dc_helpers import add_account, make_dc, store_bytes

PASSWORD = "Wh1sper-Hunter2-Xq"


def with_password(url: str, password: str) -> str:
    """`url` (postgresql://user@host…) with `password` written into its userinfo."""
    parts = urlsplit(url)
    user, _, host = parts.netloc.rpartition("@")
    return parts._replace(netloc=f"{user or 'postgres'}:{password}@{host}").geturl()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def run(home: Path) -> Any:
    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, ["--home", str(home), *args])

    return invoke


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The common default umask, under which files would be readable by everyone."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


# -- destination passwords ----------------------------------------------------------------------------------
@pytest.mark.postgres
def test_destination_password_is_encrypted_and_still_works(
    home: Path, sandbox: Any, pg_sink_url: str, run: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    dc = make_dc(home)
    add_account(dc, sandbox)
    url = with_password(pg_sink_url, PASSWORD)  # the test server trusts every login: any password connects
    dc.create_dataset("users", account="acme", report="users", destination=url)
    assert dc.run_dataset("users").ok  # decrypted for the run
    assert dc.get_dataset("users").destination == url
    with sqlite3.connect(dc.store.path) as conn:
        conn.execute("PRAGMA wal_checkpoint(FULL)")
        [(stored, secret)] = conn.execute("SELECT destination, destination_secret FROM datasets").fetchall()
    assert PASSWORD.encode() not in store_bytes(home)
    assert ":***@" in stored and Secrets(home).decrypt(secret) == url
    for args in (("datasets", "show", "users"), ("datasets", "list"), ("datasets", "show", "users", "--json")):
        shown = run(*args)
        assert shown.exit_code == 0 and PASSWORD not in shown.output, args
    assert PASSWORD not in caplog.text


@pytest.mark.postgres
def test_editing_other_fields_keeps_the_password(home: Path, sandbox: Any, pg_sink_url: str) -> None:
    dc = make_dc(home)
    add_account(dc, sandbox)
    url = with_password(pg_sink_url, PASSWORD)
    dc.create_dataset("users", account="acme", report="users", destination=url)
    dc.edit_dataset("users", description="nightly", destination=dc.get_dataset("users").destination)
    assert dc.get_dataset("users").destination == url
    assert dc.run_dataset("users").ok


def test_clear_passwords_of_an_older_store_are_encrypted_on_upgrade(home: Path) -> None:
    url = f"postgresql://alice:{PASSWORD}@db.example:5432/crm?schema=close"
    home.mkdir()
    conn = sqlite3.connect(home / DB_NAME, isolation_level=None)
    migrate(conn, home / DB_NAME, target=2)
    now = "2026-01-01T00:00:00.000000+00:00"
    conn.execute(
        "INSERT INTO accounts (name, base_url, key_source, key_env, key_hint, created_at, updated_at) "
        "VALUES ('acme', 'https://api.close.com/api/v1/', 'env', 'ACME_KEY', 'api_…wxyz', ?, ?)", (now, now))
    conn.execute(
        "INSERT INTO datasets (name, account_id, report, method, destination, table_name, created_at, "
        "updated_at) VALUES ('calls', 1, 'activities_call', 'upsert', ?, 'calls', ?, ?)", (url, now, now))
    conn.close()
    dc = DataCenter(home)
    assert dc.get_dataset("calls").destination == url
    with sqlite3.connect(dc.store.path) as check:
        check.execute("PRAGMA wal_checkpoint(FULL)")
    live = b"".join((home / name).read_bytes() for name in (DB_NAME, f"{DB_NAME}-wal") if (home / name).exists())
    assert PASSWORD.encode() not in live
    backup = home / f"{DB_NAME}.v2.bak"  # the pre-upgrade copy keeps what it had: private, like the store
    assert backup.exists() and mode(backup) == 0o600


def test_unknown_destination_error_does_not_echo_a_password(home: Path, sandbox: Any) -> None:
    conninfo = f"host=db.example user=alice password={PASSWORD}"
    with pytest.raises(UnknownDestinationError) as info:
        parse_destination(conninfo)
    assert PASSWORD not in str(info.value)
    dc = make_dc(home)
    add_account(dc, sandbox)
    with pytest.raises(ValidationError) as refused:
        dc.create_dataset("users", account="acme", report="users", destination=conninfo)
    assert PASSWORD not in str(refused.value)


@pytest.mark.parametrize(
    ("password", "pieces"),
    [("se@cret-Pw9", ["se@cret-Pw9", "cret-Pw9"]), ("p@ss/w:rd-Zz", ["ss/w", "rd-Zz"]),
     ("Pa%40ssQ7", ["Pa%40ssQ7", "Pa@ssQ7", "ssQ7"]), ("k3y@ab:cd@ef", ["ab:cd", "cd@ef", "'ab'"])],
)
def test_libpq_never_shows_a_piece_of_the_password(password: str, pieces: list[str]) -> None:
    """libpq splits a URL at the first "@": the rest of such a password becomes a host name it reports."""
    sink = open_sink(f"postgresql://alice:{password}@nohost.invalid:5999/crm")
    with pytest.raises(SinkError) as info:
        sink.tables()
    message = str(info.value)
    assert "cannot connect to PostgreSQL" in message and info.value.__cause__ is None
    assert not [piece for piece in pieces if piece in message], message


def test_run_history_and_logs_hide_the_password(
    home: Path, sandbox: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    dc = make_dc(home)
    add_account(dc, sandbox)
    dc.create_dataset("users", account="acme", report="users",
                      destination="postgresql://alice:Zq9@Hidd3nPart@nohost.invalid:5999/crm")
    failed = dc.run_dataset("users")
    assert not failed.ok and failed.error
    for text in (failed.error, caplog.text, repr(dc.get_dataset("users")), str(dc.history("users"))):
        assert "Hidd3nPart" not in text and "Zq9" not in text


# -- the master key -----------------------------------------------------------------------------------------
def test_a_key_file_others_can_read_is_refused_with_the_fix(home: Path, sandbox: Any, run: Any) -> None:
    dc = make_dc(home)
    add_account(dc, sandbox)
    key_file = home / KEY_FILE
    key_file.chmod(0o644)
    result = run("accounts", "add", "other", "--api-key", sandbox.api_key, "--base-url", sandbox.base_url)
    assert result.exit_code != 0
    assert f"chmod 600 {key_file}" in result.output and "readable by other users" in result.output
    dc.create_dataset("users", account="acme", report="users")
    failed = make_dc(home).run_dataset("users")  # a new process: the key is read again
    assert not failed.ok and "chmod 600" in (failed.error or "")
    key_file.chmod(0o600)
    assert make_dc(home).run_dataset("users").ok


def test_a_lost_key_file_says_how_to_recover(home: Path, sandbox: Any, run: Any) -> None:
    dc = make_dc(home)
    add_account(dc, sandbox)
    dc.create_dataset("users", account="acme", report="users")
    (home / KEY_FILE).unlink()
    failed = make_dc(home).run_dataset("users")
    assert not failed.ok
    message = failed.error or ""
    assert "cannot be decrypted" in message and "from a backup" in message
    assert "closesync accounts set-key NAME" in message
    checked = run("accounts", "check", "acme")
    assert "from a backup" in checked.output
    typed_again = CliRunner().invoke(  # the advice works: the key typed again under the new master key
        cli, ["--home", str(home), "accounts", "set-key", "acme"], input=sandbox.api_key + "\n"
    )
    assert typed_again.exit_code == 0, typed_again.output
    assert make_dc(home).run_dataset("users").ok


def test_a_lost_key_leaves_datasets_listed_and_the_password_can_be_typed_again(
    home: Path, sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACME_CLOSE_KEY", sandbox.api_key)  # the account's key is not the one lost
    dc = make_dc(home)
    dc.add_account("acme", api_key_env="ACME_CLOSE_KEY", base_url=sandbox.base_url)
    url = f"postgresql://alice:{PASSWORD}@nohost.invalid:5999/crm"
    dc.create_dataset("users", account="acme", report="users", destination=url)
    (home / KEY_FILE).unlink()
    dc = make_dc(home)
    assert [d.name for d in dc.list_datasets()] == ["users"]
    failed = dc.run_dataset("users")
    assert "database password of dataset 'users' cannot be decrypted" in (failed.error or "")
    with pytest.raises(SecretKeyError):
        dc.edit_dataset("users", description="x")
    dc.edit_dataset("users", destination=url)
    assert dc.get_dataset("users").destination == url


# -- file modes ---------------------------------------------------------------------------------------------
def test_files_closesync_creates_are_owner_only(
    home: Path, sandbox: Any, tmp_path: Path, umask_022: None
) -> None:
    dc = make_dc(home)
    add_account(dc, sandbox)
    out = tmp_path / "exports" / "parquet"
    dc.create_dataset("users", account="acme", report="users")
    dc.create_dataset("leads", account="acme", report="leads", destination=f"parquet:{out}", method="append")
    assert dc.run_dataset("users").ok and dc.run_dataset("leads").ok
    assert mode(home) == 0o700
    with dc.store.connect() as conn:  # SQLite removes its -wal and -shm files when the last connection closes
        conn.execute("SELECT 1 FROM accounts").fetchall()
        for path in (home / DB_NAME, home / f"{DB_NAME}-wal", home / f"{DB_NAME}-shm", home / KEY_FILE,
                     home / "close.duckdb"):
            assert mode(path) == 0o600, path
    assert mode(out) == 0o700 and mode(out.parent) == 0o700
    written = [p for p in out.rglob("*") if p.is_file()]
    assert written and all(mode(p) == 0o600 for p in written), [(p.name, oct(mode(p))) for p in written]


def test_shared_files_follow_the_umask(
    home: Path, sandbox: Any, tmp_path: Path, umask_022: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SHARED_ENV, "1")
    dc = make_dc(home)
    add_account(dc, sandbox)
    out = tmp_path / "shared"
    dc.create_dataset("leads", account="acme", report="leads", destination=f"csv:{out}")
    assert dc.run_dataset("leads").ok
    assert mode(out) == 0o755 and mode(out / "leads.csv") == 0o644
    assert mode(home / KEY_FILE) == 0o600  # the master key stays private whatever is shared
