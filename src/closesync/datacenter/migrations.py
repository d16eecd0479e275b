"""Versioned schema migrations of the metadata store.

Rules that keep an upgrade from ever losing a user's data: migrations only add (tables, columns, rows
computed from existing rows) or move a value into an encrypted column, each runs in one transaction together with its schema_version row, and the
file is copied to `closesync.sqlite.v<N>.bak` before an older store is upgraded.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from closesync.datacenter.errors import DataCenterError
from closesync.private_files import create_private_file


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]
    #: Rows computed from existing rows, given the connection and the home (the store's folder, if known).
    data: Callable[[sqlite3.Connection, Path | None], None] | None = None


V1 = (
    """CREATE TABLE accounts (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
        base_url TEXT NOT NULL,
        key_source TEXT NOT NULL CHECK (key_source IN ('stored', 'env')),
        key_ciphertext TEXT,
        key_env TEXT,
        key_hint TEXT NOT NULL,
        user_id TEXT,
        user_email TEXT,
        user_name TEXT,
        organizations TEXT NOT NULL DEFAULT '[]',
        users TEXT NOT NULL DEFAULT '[]',
        status TEXT NOT NULL DEFAULT 'ok',
        last_error TEXT,
        last_checked_at TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )""",
    """CREATE TABLE datasets (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
        account_id INTEGER NOT NULL REFERENCES accounts(id),
        report TEXT NOT NULL,
        organization_id TEXT,
        user_id TEXT,
        since TEXT,
        method TEXT NOT NULL,
        schedule TEXT NOT NULL DEFAULT 'manual',
        retries INTEGER NOT NULL DEFAULT 0,
        retry_delay_s INTEGER NOT NULL DEFAULT 300,
        destination TEXT NOT NULL,
        table_name TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )""",
    """CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
        status TEXT NOT NULL,
        trigger TEXT NOT NULL,
        attempt INTEGER NOT NULL DEFAULT 1,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        duration_s REAL,
        rows INTEGER NOT NULL DEFAULT 0,
        requests INTEGER NOT NULL DEFAULT 0,
        throttle_waits INTEGER NOT NULL DEFAULT 0,
        retries INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        error_report TEXT,
        http_status INTEGER,
        reports TEXT NOT NULL DEFAULT '[]'
    )""",
    "CREATE INDEX runs_by_dataset ON runs(dataset_id, id)",
)

V2 = (
    "ALTER TABLE datasets ADD COLUMN enabled INTEGER NOT NULL DEFAULT 1",
    "ALTER TABLE datasets ADD COLUMN next_run_at TEXT",
    "ALTER TABLE datasets ADD COLUMN pending_attempt INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE runs ADD COLUMN owner TEXT",
    """CREATE TABLE leases (
        dataset_id INTEGER PRIMARY KEY REFERENCES datasets(id) ON DELETE CASCADE,
        run_id INTEGER,
        owner TEXT NOT NULL,
        acquired_at TEXT NOT NULL,
        expires_at TEXT NOT NULL
    )""",
    """CREATE TABLE dataset_state (
        dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (dataset_id, key)
    )""",
    "CREATE INDEX datasets_due ON datasets(next_run_at)",
)


def _schedule_existing(conn: sqlite3.Connection, home: Path | None) -> None:
    """v1 had schedules but no scheduler: give every scheduled dataset its first next run."""
    from closesync.datacenter.schedule import ScheduleError, parse_schedule

    now = datetime.now(UTC)
    for row in conn.execute("SELECT id, schedule FROM datasets").fetchall():
        try:
            nxt = parse_schedule(row[1]).next_after(now)
        except ScheduleError:
            nxt = None
        if nxt is not None:
            conn.execute(
                "UPDATE datasets SET next_run_at = ? WHERE id = ?",
                (nxt.astimezone(UTC).isoformat(timespec="microseconds"), row[0]),
            )


V3 = ("ALTER TABLE datasets ADD COLUMN destination_secret TEXT",)


def _encrypt_destination_passwords(conn: sqlite3.Connection, home: Path | None) -> None:
    """v2 kept PostgreSQL URLs with their password in clear: keep them masked, the whole URL encrypted.

    secure_delete makes SQLite overwrite the old text instead of leaving it in free space of a page.
    """
    from closesync.datacenter.secrets import Secrets
    from closesync.sinks.destination import redact_destination

    clear = [(i, url) for i, url in conn.execute("SELECT id, destination FROM datasets")
             if redact_destination(url) != url]
    if not clear:
        return
    if home is None:
        raise DataCenterError("Encrypting destination passwords needs the metadata store's folder.")
    secrets = Secrets(home)
    conn.execute("PRAGMA secure_delete = ON")
    for dataset_id, url in clear:
        conn.execute(
            "UPDATE datasets SET destination = ?, destination_secret = ? WHERE id = ?",
            (redact_destination(url), secrets.encrypt(url), dataset_id),
        )


V4 = (
    """CREATE TABLE notifications (
        id INTEGER PRIMARY KEY,
        dataset_id INTEGER REFERENCES datasets(id) ON DELETE CASCADE,
        events TEXT NOT NULL,
        url_secret TEXT NOT NULL,
        url_display TEXT NOT NULL,
        created_at TEXT NOT NULL,
        last_sent_at TEXT,
        last_status TEXT,
        last_error TEXT
    )""",
    """CREATE TABLE alert_state (
        dataset_id INTEGER PRIMARY KEY REFERENCES datasets(id) ON DELETE CASCADE,
        failed_run_id INTEGER NOT NULL,
        since TEXT NOT NULL
    )""",
)

V5 = (
    "ALTER TABLE runs ADD COLUMN rows_written INTEGER",
    "ALTER TABLE runs ADD COLUMN full_refresh INTEGER NOT NULL DEFAULT 0",
    # a finished run published its rows only when it succeeded (sinks publish a table all at once)
    "UPDATE runs SET rows_written = CASE status WHEN 'success' THEN rows WHEN 'failed' THEN 0 END",
)

V6 = ("ALTER TABLE runs ADD COLUMN waiting TEXT",)  # JSON while a running run waits for Close's rate limit

V7 = (
    """CREATE TABLE account_leases (
        run_id INTEGER PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        owner TEXT NOT NULL,
        holding INTEGER NOT NULL DEFAULT 0,
        queued_at TEXT NOT NULL,
        expires_at TEXT NOT NULL
    )""",
    "CREATE INDEX account_leases_by_account ON account_leases(account_id, queued_at)",
)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "accounts, datasets and run history", V1),
    Migration(2, "scheduler: leases, next runs, retries queued, per-dataset state", V2, _schedule_existing),
    Migration(3, "destination passwords encrypted like API keys", V3, _encrypt_destination_passwords),
    Migration(4, "notification channels (URLs encrypted) and which datasets are failing", V4),
    Migration(5, "runs: rows written apart from rows read, and whether the run was a full refresh", V5),
    Migration(6, "runs: the rate-limit wait a running run is in, for pages that follow it", V6),
    Migration(7, "account leases: runs of one account share its key's budget across processes", V7),
)
LATEST = MIGRATIONS[-1].version


def current_version(conn: sqlite3.Connection) -> int:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_version ("
        " version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def _backup(conn: sqlite3.Connection, path: Path, version: int) -> None:
    target = path.with_name(f"{path.name}.v{version}.bak")
    if target.exists():
        return
    create_private_file(target)  # a copy of the store: as private as the store
    dest = sqlite3.connect(target)
    try:
        conn.backup(dest)
    finally:
        dest.close()


def migrate(conn: sqlite3.Connection, path: Path | None = None, target: int = LATEST) -> int:
    """Bring the store up to `target` (tests pass target=1 to build an old store); returns the version."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = current_version(conn)
    finally:
        conn.execute("COMMIT")
    if version > LATEST:
        raise DataCenterError(
            f"The metadata store {path or ''} has schema version {version}, newer than this closesync "
            f"understands ({LATEST}). Upgrade closesync."
        )
    if version >= target:
        return version
    if version > 0 and path is not None:
        _backup(conn, path, version)
    for migration in MIGRATIONS:
        if migration.version > target:
            break
        conn.execute("BEGIN IMMEDIATE")
        try:
            if current_version(conn) >= migration.version:  # another process got here first
                conn.execute("COMMIT")
                continue
            for statement in migration.statements:
                conn.execute(statement)
            if migration.data is not None:
                migration.data(conn, path.parent if path is not None else None)
            conn.execute(
                "INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.description, datetime.now(UTC).isoformat()),
            )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    return current_version(conn)
