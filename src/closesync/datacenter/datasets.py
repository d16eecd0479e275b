"""Datasets: one report of one account loaded into one table, with a schedule and a retry policy.

Every field is validated here, once, with messages that name the form field, so the CLI and the web app
accept and refuse exactly the same things. A destination holding a password is stored masked
(`destination`), the whole URL encrypted with the master key beside it (`destination_secret`).
"""

from __future__ import annotations

import os
import re
import sqlite3
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from closesync.datacenter import history, leases
from closesync.datacenter.accounts import Accounts, Clock, check_name
from closesync.datacenter.errors import ConflictError, DatasetBusyError, SecretKeyError, ValidationError
from closesync.datacenter.models import Account, Choice, Dataset, Run
from closesync.datacenter.schedule import ScheduleError, parse_duration, parse_schedule
from closesync.datacenter.spec import DATASET_FIELDS, MAX_RETRIES, DatasetSpec
from closesync.datacenter.state import DatasetState
from closesync.datacenter.store import Store, from_iso, row_by_name_or_id, to_iso
from closesync.sinks.destination import DEFAULT_METHOD, METHODS, redact_destination
from closesync.sinks.ownership import RESERVED_PREFIX, is_reserved

if TYPE_CHECKING:
    from closesync.reports import ReportSpec

_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
# Changing any of these points the dataset at other data: its incremental cursors no longer apply.
_RESETS_STATE = ("account_id", "report", "organization_id", "user_id", "since", "destination", "table_name")

_SELECT = """SELECT d.*, a.name AS account_name,
                    EXISTS (SELECT 1 FROM leases l WHERE l.dataset_id = d.id) AS running
             FROM datasets d JOIN accounts a ON a.id = d.account_id"""


def report_spec(report: str) -> ReportSpec:
    """The catalog entry for a report name or slug, or a ValidationError naming the field."""
    from closesync.reports import UnknownReportError, get_report

    try:
        return get_report(report)
    except (UnknownReportError, KeyError, ValueError) as exc:
        message = str(exc.args[0]) if exc.args else str(exc)
        raise ValidationError(message or f"Unknown report {report!r}.", field="report") from None


def parse_since(value: str | date | datetime | None) -> datetime | None:
    """A dataset's `since`: a date or ISO timestamp, read as UTC when it has no offset."""
    from closesync.close.timestamps import parse_timestamp

    if value is None or value == "":
        return None
    parsed = parse_timestamp(value)
    if parsed is None:
        raise ValidationError(f"{value!r} is not a date: write 2024-01-31 or 2024-01-31T08:00:00Z.", field="since")
    return parsed


def normalize_destination(destination: str) -> str:
    """Parse, and make file paths absolute so the scheduler finds them from any working directory."""
    from closesync.sinks.destination import parse_destination
    from closesync.sinks.errors import UnknownDestinationError

    try:
        dest = parse_destination(destination)
    except UnknownDestinationError as exc:
        raise ValidationError(f"Destination: {exc}", field="destination") from None
    if dest.kind == "postgres":
        return dest.target
    return f"{dest.kind}:{Path(dest.target).expanduser().absolute()}"


def table_identity(destination: str, table: str) -> tuple[str, str, str]:
    """(kind, place, table) as the destination tells tables apart: file paths resolved (``..``, symlinks),
    DuckDB table names case-insensitive; postgres URLs and file-sink names as they are."""
    from closesync.sinks.destination import parse_destination
    from closesync.sinks.errors import UnknownDestinationError

    try:
        dest = parse_destination(destination)
    except UnknownDestinationError:
        return ("", destination, table)
    if dest.kind == "postgres":
        return (dest.kind, dest.target, table)
    place = os.path.realpath(Path(dest.target).expanduser())
    return (dest.kind, place, table.lower() if dest.kind == "duckdb" else table)


def _retries(value: object) -> int:
    try:
        retries = int(value or 0)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise ValidationError("Retries must be a whole number.", field="retries") from None
    if not 0 <= retries <= MAX_RETRIES:
        raise ValidationError(f"Retries must be between 0 and {MAX_RETRIES}.", field="retries")
    return retries


def _saved_spec(row: sqlite3.Row, destination: str) -> DatasetSpec:
    """A stored dataset as the input that would create it again (edits are merged over this)."""
    return DatasetSpec(
        name=row["name"], account=row["account_id"], report=row["report"],
        organization_id=row["organization_id"], user_id=row["user_id"], since=row["since"],
        method=row["method"], schedule=row["schedule"], retries=row["retries"],
        retry_delay=row["retry_delay_s"], destination=destination, table=row["table_name"],
        description=row["description"], enabled=bool(row["enabled"]),
    )


def _check_choice(value: str | None, choices: list[Choice], what: str, field: str) -> str | None:
    value = (value or "").strip() or None
    if value is None or any(c.id == value for c in choices):
        return value
    offered = ", ".join(f"{c.id} ({c.label})" for c in choices[:10]) or "none recorded"
    raise ValidationError(
        f"{value} is not one of this account's {what}s. Choose one of: {offered}.", field=field
    )


class Datasets:
    """Dataset records in the store and their validation."""

    def __init__(self, store: Store, accounts: Accounts, clock: Clock, home: Path) -> None:
        self.store = store
        self.accounts = accounts
        self.clock = clock
        self.home = home

    # -- reading ---------------------------------------------------------------------------------------------
    def _row(self, conn: sqlite3.Connection, name_or_id: str | int) -> sqlite3.Row:
        return row_by_name_or_id(conn, _SELECT, "d", "dataset", name_or_id)

    def _destination(self, row: sqlite3.Row) -> str:
        """The destination as given, its password decrypted; SecretKeyError if the master key changed."""
        if row["destination_secret"] is None:
            return row["destination"]
        return self.accounts.secrets.decrypt(
            row["destination_secret"], f"The database password of dataset {row['name']!r}"
        )

    def destination_url(self, name_or_id: str | int) -> str:
        """The dataset's destination with its password, for opening the sink (and for nothing shown)."""
        with self.store.connect() as conn:
            return self._destination(self._row(conn, name_or_id))

    def _stored(self, cols: dict[str, Any]) -> dict[str, Any]:
        """Column values as stored: a destination with a password masked, the whole URL encrypted."""
        if "destination" not in cols:
            return cols
        url = cols["destination"]
        masked = redact_destination(url)
        secret = self.accounts.secrets.encrypt(url) if masked != url else None
        return {**cols, "destination": masked, "destination_secret": secret}

    def _to_dataset(self, row: sqlite3.Row, last_run: Run | None) -> Dataset:
        """The dataset; its destination masked when the master key cannot decrypt it (a run then says why)."""
        try:
            destination = self._destination(row)
        except SecretKeyError:
            destination = row["destination"]
        try:
            report_name = report_spec(row["report"]).name
        except ValidationError:
            report_name = row["report"]
        return Dataset(
            id=row["id"],
            name=row["name"],
            account_id=row["account_id"],
            account_name=row["account_name"],
            report=row["report"],
            report_name=report_name,
            organization_id=row["organization_id"],
            user_id=row["user_id"],
            since=from_iso(row["since"]),
            method=row["method"],
            schedule=row["schedule"],
            retries=row["retries"],
            retry_delay_s=row["retry_delay_s"],
            destination=destination,
            table=row["table_name"],
            description=row["description"],
            enabled=bool(row["enabled"]),
            next_run_at=from_iso(row["next_run_at"]),
            pending_attempt=row["pending_attempt"],
            created_at=from_iso(row["created_at"]),  # type: ignore[arg-type]
            updated_at=from_iso(row["updated_at"]),  # type: ignore[arg-type]
            last_run=last_run,
            running=bool(row["running"]),
        )

    def get(self, name_or_id: str | int) -> Dataset:
        with self.store.connect() as conn:
            row = self._row(conn, name_or_id)
            runs = history.for_dataset(conn, row["id"], limit=1)
        return self._to_dataset(row, runs[0] if runs else None)

    def list(self) -> list[Dataset]:
        with self.store.connect() as conn:
            last = history.latest(conn)
            rows = conn.execute(f"{_SELECT} ORDER BY d.name").fetchall()
        return [self._to_dataset(r, last.get(r["id"])) for r in rows]

    # -- validation ----------------------------------------------------------------------------------------
    def _validate(self, spec: DatasetSpec) -> dict[str, Any]:
        """Turn user input (merged over the current record when editing) into column values."""
        cols: dict[str, Any] = {}
        cols["name"] = check_name(spec.name, "dataset name")
        if not spec.account:
            raise ValidationError("Choose an account.", field="account")
        account = self.accounts.get(spec.account)
        cols["account_id"] = account.id
        if not spec.report:
            raise ValidationError("Choose a report.", field="report")
        report = report_spec(spec.report)
        cols["report"] = report.slug
        cols["organization_id"] = self._choice(account, report, spec.organization_id, "organization")
        cols["user_id"] = self._choice(account, report, spec.user_id, "user")
        cols["since"] = to_iso(parse_since(spec.since))
        method = (spec.method or DEFAULT_METHOD).strip().lower()
        if method not in METHODS:
            raise ValidationError(f"The update method must be one of {', '.join(METHODS)}.", field="method")
        cols["method"] = method
        try:
            cols["schedule"] = parse_schedule(spec.schedule).spec
        except ScheduleError as exc:
            raise ValidationError(str(exc), field="schedule") from None
        cols["retries"] = _retries(spec.retries)
        try:
            cols["retry_delay_s"] = parse_duration(spec.retry_delay)
        except ScheduleError as exc:
            raise ValidationError(str(exc), field="retry_delay") from None
        destination = (spec.destination or "").strip() or f"duckdb:{self.home / 'close.duckdb'}"
        cols["destination"] = normalize_destination(destination)
        table = (spec.table or "").strip() or report.slug
        if not _TABLE.match(table):
            raise ValidationError(
                f"{table!r} is not a table name: use letters, digits and _, starting with a letter.", field="table"
            )
        if is_reserved(table):
            raise ValidationError(
                f"Table names starting with {RESERVED_PREFIX} are closesync's own bookkeeping; choose another.",
                field="table",
            )
        cols["table_name"] = table
        cols["description"] = (spec.description or "").strip()
        cols["enabled"] = 1 if spec.enabled else 0
        return cols

    def _choice(self, account: Account, report: ReportSpec, value: str | None, what: str) -> str | None:
        value = (value or "").strip() or None
        if value is None:
            return None
        uses = report.uses_organization_id if what == "organization" else report.uses_user_id
        field = f"{what}_id"
        label = "Organization ID" if what == "organization" else "User ID"
        if not uses:
            raise ValidationError(f"The report {report.name} does not take a {label}.", field=field)
        choices = account.organizations if what == "organization" else account.users
        if not any(c.id == value for c in choices):  # maybe new since the last check: ask Close once
            check = self.accounts.check(account.id)
            if check.ok:
                account = check.account
                choices = account.organizations if what == "organization" else account.users
        return _check_choice(value, choices, what, field)

    def _check_table_free(self, conn: sqlite3.Connection, cols: dict[str, Any], dataset_id: int | None) -> None:
        """No two datasets load one table: destinations compared as resolved places (``..`` and symlinks
        resolved; stored masked, so two passwords of one database are one destination), table names as the
        destination compares them (case-insensitively in DuckDB)."""
        wanted = table_identity(redact_destination(cols["destination"]), cols["table_name"])
        rows = conn.execute(
            "SELECT name, destination, table_name FROM datasets WHERE id IS NOT ?", (dataset_id,)
        ).fetchall()
        for name, destination, table in rows:
            if table_identity(destination, table) == wanted:
                raise ConflictError(
                    f"Dataset {name!r} already loads table {table!r} in that destination; "
                    "choose another table name.",
                )

    def _next_run(self, cols: dict[str, Any]) -> str | None:
        if not cols["enabled"]:
            return None
        return to_iso(parse_schedule(cols["schedule"]).next_after(self.clock()))

    # -- writing ------------------------------------------------------------------------------------------
    def create(self, spec: DatasetSpec) -> Dataset:
        cols = self._validate(spec)
        now = to_iso(self.clock())
        cols.update(next_run_at=self._next_run(cols), pending_attempt=0, created_at=now, updated_at=now)
        try:
            with self.store.write() as conn:
                if conn.execute("SELECT 1 FROM datasets WHERE name = ?", (cols["name"],)).fetchone():
                    raise ConflictError(f"A dataset named {cols['name']!r} exists already.")
                self._check_table_free(conn, cols, None)
                stored = self._stored(cols)
                names = ", ".join(stored)
                marks = ", ".join("?" for _ in stored)
                cur = conn.execute(f"INSERT INTO datasets ({names}) VALUES ({marks})", tuple(stored.values()))
                dataset_id = int(cur.lastrowid)  # type: ignore[arg-type]
        except sqlite3.IntegrityError:
            raise ConflictError(f"A dataset named {cols['name']!r} exists already.") from None
        return self.get(dataset_id)

    def edit(self, name_or_id: str | int, **changes: Any) -> Dataset:
        """Change some fields (names of DATASET_FIELDS); cursors are dropped when the change points the
        dataset at other data."""
        unknown = set(changes) - set(DATASET_FIELDS)
        if unknown:
            raise ValidationError(f"Unknown dataset field(s): {', '.join(sorted(unknown))}.")
        with self.store.connect() as conn:
            row = self._row(conn, name_or_id)
        try:
            saved = {**dict(row), "destination": self._destination(row)}
        except SecretKeyError:
            if not changes.get("destination"):
                raise
            saved = dict(row)  # the master key was lost: typing the destination again is the way back
        spec = _saved_spec(row, saved["destination"])
        if changes.get("report") and report_spec(changes["report"]).slug != row["report"]:
            # a new report: ids and the default table name of the old one do not carry over
            spec = spec.replace(organization_id=None, user_id=None)
            if row["table_name"] == row["report"]:
                spec = spec.replace(table=None)
        cols = self._validate(spec.replace(**changes))
        changed = {k: v for k, v in cols.items() if saved[k] != v}
        if not changed:
            return self.get(row["id"])
        if "schedule" in changed or "enabled" in changed:
            changed["next_run_at"] = self._next_run(cols)
            changed["pending_attempt"] = 0
        changed["updated_at"] = to_iso(self.clock())
        try:
            with self.store.write() as conn:
                if "destination" in changed or "table_name" in changed:
                    self._check_table_free(conn, cols, row["id"])
                stored = self._stored(changed)
                sets = ", ".join(f"{k} = ?" for k in stored)
                conn.execute(f"UPDATE datasets SET {sets} WHERE id = ?", (*stored.values(), row["id"]))
        except sqlite3.IntegrityError:
            raise ConflictError(f"A dataset named {cols['name']!r} exists already.") from None
        if any(k in changed for k in _RESETS_STATE):
            DatasetState(self.store, row["id"]).clear()
        return self.get(row["id"])

    def delete(self, name_or_id: str | int, *, drop_table: bool = False) -> Dataset:
        """Forget the dataset, its history and cursors; with drop_table, also drop its table."""
        dataset = self.get(name_or_id)
        destination = self.destination_url(dataset.id) if drop_table else dataset.destination
        with self.store.write() as conn:
            lease = leases.current(conn, dataset.id)
            if lease is not None and not leases.is_stale(lease):
                raise DatasetBusyError(f"Dataset {dataset.name!r} is running; delete it when the run ends.")
            conn.execute("DELETE FROM datasets WHERE id = ?", (dataset.id,))
        if drop_table:
            from closesync.sinks import SinkError, open_sink

            try:
                sink = open_sink(destination)
                try:
                    if sink.table_exists(dataset.table):
                        sink.drop(dataset.table)
                finally:
                    sink.close()
            except SinkError as exc:
                raise ConflictError(
                    f"Dataset {dataset.name!r} was deleted but its table could not be dropped: {exc}"
                ) from None
        return dataset
