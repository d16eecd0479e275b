"""The metadata store: WAL, migrations from an old store without losing data, the master key file."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from closesync.datacenter import DataCenter, DataCenterError, SecretKeyError
from closesync.datacenter.migrations import LATEST, migrate
from closesync.datacenter.secrets import Secrets, key_hint, redact
from closesync.datacenter.store import DB_NAME, Store, StoreError

KEY = "api_4xQbTnq0eCkLmZ7pR2sVwYd9aFhJ3uGi"


def test_new_store_is_wal_and_latest(tmp_path: Path) -> None:
    store = Store(tmp_path / "home")
    assert store.path == tmp_path / "home" / DB_NAME
    with store.connect() as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY version")]
    assert versions == list(range(1, LATEST + 1))
    Store(tmp_path / "home")  # opening again is a no-op


def _v1_store(home: Path) -> None:
    """A store as the first release wrote it, with an account, a scheduled dataset and a run."""
    home.mkdir(parents=True)
    conn = sqlite3.connect(home / DB_NAME, isolation_level=None)
    assert migrate(conn, home / DB_NAME, target=1) == 1
    now = "2026-01-01T00:00:00.000000+00:00"
    conn.execute(
        """INSERT INTO accounts (name, base_url, key_source, key_env, key_hint, user_id, user_email,
               organizations, users, created_at, updated_at)
           VALUES ('acme', 'https://api.close.com/api/v1/', 'env', 'ACME_KEY', 'api_…wxyz', 'user_1',
                   'ann@acme.test', '[{"id": "orga_1", "label": "Acme"}]', '[]', ?, ?)""",
        (now, now),
    )
    conn.execute(
        """INSERT INTO datasets (name, account_id, report, method, schedule, retries, retry_delay_s,
               destination, table_name, created_at, updated_at)
           VALUES ('calls', 1, 'activities_call', 'upsert', 'daily at 06:00', 2, 60, 'duckdb:/tmp/x.duckdb',
                   'activities_call', ?, ?)""",
        (now, now),
    )
    conn.execute(
        """INSERT INTO runs (dataset_id, status, trigger, attempt, started_at, finished_at, duration_s, rows,
               requests) VALUES (1, 'success', 'manual', 1, ?, ?, 1.5, 42, 3)""",
        (now, now),
    )
    conn.close()


def test_upgrade_from_v1_keeps_everything(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _v1_store(home)
    dc = DataCenter(home)
    with dc.store.connect() as conn:
        assert conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == LATEST
        dataset = conn.execute("SELECT * FROM datasets").fetchone()
        run = conn.execute("SELECT * FROM runs").fetchone()
    [account] = dc.list_accounts()
    assert (account.name, account.key_env, account.user_email, account.dataset_count) == ("acme", "ACME_KEY", "ann@acme.test", 1)
    assert account.organizations[0].id == "orga_1"
    assert (dataset["name"], dataset["retries"], dataset["retry_delay_s"], dataset["enabled"]) == ("calls", 2, 60, 1)
    assert dataset["next_run_at"] is not None and dataset["next_run_at"][11:16] == "06:00"  # scheduled by v2
    assert (run["rows"], run["requests"], run["status"]) == (42, 3, "success")
    assert (home / f"{DB_NAME}.v1.bak").exists()  # the pre-upgrade copy


def test_store_from_the_future_is_refused(tmp_path: Path) -> None:
    Store(tmp_path)
    with sqlite3.connect(tmp_path / DB_NAME) as conn:
        conn.execute("INSERT INTO schema_version VALUES (999, 'future', 'now')")
    with pytest.raises(DataCenterError, match="newer than this closesync"):
        Store(tmp_path)


def test_master_key_file_is_private_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLOSESYNC_SECRET_KEY", raising=False)
    secrets = Secrets(tmp_path)
    token = secrets.encrypt(KEY)
    assert KEY not in token
    key_file = tmp_path / "secret.key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert Secrets(tmp_path).decrypt(token) == KEY  # a new process reads the same file


def test_master_key_from_env_and_wrong_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOSESYNC_SECRET_KEY", Fernet.generate_key().decode())
    token = Secrets(tmp_path).encrypt(KEY)
    assert not (tmp_path / "secret.key").exists()
    monkeypatch.setenv("CLOSESYNC_SECRET_KEY", Fernet.generate_key().decode())
    with pytest.raises(SecretKeyError, match="not the one it was saved with") as info:
        Secrets(tmp_path).decrypt(token)
    assert KEY not in str(info.value)
    monkeypatch.setenv("CLOSESYNC_SECRET_KEY", "not-a-key")
    with pytest.raises(SecretKeyError, match="Generate one with"):
        Secrets(tmp_path).encrypt(KEY)


def test_key_hint_and_redaction() -> None:
    assert key_hint(KEY) == "api_…3uGi"
    assert key_hint("short") == "api_…"
    text = redact(f"failed for {KEY} and api_someOtherKey123456", KEY)
    assert KEY not in text and "api_someOtherKey123456" not in text and "api_…3uGi" in text
    assert redact("GET /api/v1/lead/") == "GET /api/v1/lead/"


def test_store_file_is_private(tmp_path: Path) -> None:
    store = Store(tmp_path / "home")
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600


@pytest.mark.parametrize(
    ("failure", "cause"),
    [
        ("database or disk is full", "the disk is full"),
        ("attempt to write a readonly database", "read-only"),
        ("database disk image is malformed", "damaged"),
    ],
)
def test_store_failures_are_readable_data_center_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: str, cause: str
) -> None:
    """Issue 10 §3: a full or read-only home was an `sqlite3.OperationalError` traceback (exit 1); it is a
    DataCenterError (exit 2) naming the store and the cause. Injected here; a real full and read-only
    tmpfs is in tests/reliability/test_errors_unusable.py."""
    dc = DataCenter(tmp_path / "home")
    kind = sqlite3.DatabaseError if "malformed" in failure else sqlite3.OperationalError

    def broken() -> sqlite3.Connection:
        raise kind(failure)

    monkeypatch.setattr(dc.store, "_open", broken)
    for call in (dc.list_datasets, dc.list_accounts, lambda: dc.history("x")):
        with pytest.raises(StoreError) as caught:
            call()
        assert cause in str(caught.value) and str(dc.store.path) in str(caught.value)
        assert isinstance(caught.value, DataCenterError) and isinstance(caught.value, sqlite3.OperationalError)


def test_a_callers_integrity_error_is_not_a_store_error(tmp_path: Path) -> None:
    store = Store(tmp_path / "home")
    with pytest.raises(sqlite3.IntegrityError), store.write() as conn:
        conn.execute("INSERT INTO schema_version (version, applied_at) VALUES (1, 'now')")
