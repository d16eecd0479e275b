"""Datasets: one report of one account loaded into one table, with a schedule and a retry policy.

Every field is validated here, once, with messages that name the form field, so the CLI and the web app
accept and refuse exactly the same things. A destination holding a password is stored masked
(`destination`), the whole URL encrypted with the master key beside it (`destination_secret`).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections.abc import Callable
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

_SELECT = """SELECT d.*, a.name AS account_name, a.organizations AS account_organizations, a.users AS account_users,
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
    if dest.kind in ("postgres", "dlt"):  # a URL; dlt's own destination and parameters
        return str(dest)
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
    if dest.kind in ("postgres", "dlt"):
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


def _report(report: str) -> ReportSpec:
    if not report:
        raise ValidationError("Choose a report.", field="report")
    return report_spec(report)


def _method(method: str | None) -> str:
    method = (method or DEFAULT_METHOD).strip().lower()
    if method not in METHODS:
        raise ValidationError(f"The update method must be one of {', '.join(METHODS)}.", field="method")
    return method


def _schedule(schedule: str) -> str:
    try:
        return parse_schedule(schedule).spec
    except ScheduleError as exc:
        raise ValidationError(str(exc), field="schedule") from None


def _retry_delay(delay: str | int) -> int:
    try:
        return parse_duration(delay)
    except ScheduleError as exc:
        raise ValidationError(str(exc), field="retry_delay") from None


def _table_name(table: str) -> str:
    if not _TABLE.match(table):
        raise ValidationError(
            f"{table!r} is not a table name: use letters, digits and _, starting with a letter.", field="table"
        )
    if is_reserved(table):
        raise ValidationError(
            f"Table names starting with {RESERVED_PREFIX} are closesync's own bookkeeping; choose another.",
            field="table",
        )
    return table


def _check_name_free(conn: sqlite3.Connection, cols: dict[str, Any], dataset_id: int | None) -> None:
    if cols["name"] is None:
        return
    other = conn.execute("SELECT 1 FROM datasets WHERE name = ? AND id IS NOT ?", (cols["name"], dataset_id))
    if other.fetchone():
        raise ConflictError(f"A dataset named {cols['name']!r} exists already.", field="name")


def _check_table_free(conn: sqlite3.Connection, cols: dict[str, Any], dataset_id: int | None) -> None:
    """No two datasets load one table: destinations compared as resolved places (``..`` and symlinks
    resolved; stored masked, so two passwords of one database are one destination), table names as the
    destination compares them (case-insensitively in DuckDB)."""
    if cols["destination"] is None or cols["table_name"] is None:
        return
    wanted = table_identity(redact_destination(cols["destination"]), cols["table_name"])
    rows = conn.execute(
        "SELECT name, destination, table_name FROM datasets WHERE id IS NOT ?", (dataset_id,)
    ).fetchall()
    for name, destination, table in rows:
        if table_identity(destination, table) == wanted:
            raise ConflictError(
                f"Dataset {name!r} already loads table {table!r} in that destination; "
                "choose another table name.",
                field="table",
            )


def _label(choices_json: str, choice_id: str | None) -> str | None:
    """The name the account recorded for an organization or user id (None if unset or not known)."""
    if choice_id is None:
        return None
    return next((c["label"] for c in json.loads(choices_json or "[]") if c.get("id") == choice_id), None)


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
            report = report_spec(row["report"])
            report_name, parameters = report.name, [p for p in report.parameters if p != "until"]
        except ValidationError:
            report_name, parameters = row["report"], []
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
            organization_label=_label(row["account_organizations"], row["organization_id"]),
            user_label=_label(row["account_users"], row["user_id"]),
            parameters=parameters,
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
    def _validate(self, spec: DatasetSpec, dataset_id: int | None = None) -> dict[str, Any]:
        """Turn user input (merged over the current record when editing) into column values.

        Every field is checked, and one ValidationError names each wrong one (``errors``), so a form shows
        them all at once; a name or table another dataset has is a ConflictError when nothing else is wrong.
        """
        errors: dict[str, str] = {}

        def checked(field: str, check: Callable[..., Any], *args: Any) -> Any:
            try:
                return check(*args)
            except ValidationError as exc:
                errors.setdefault(exc.field or field, str(exc))
                return None

        cols: dict[str, Any] = {"name": checked("name", check_name, spec.name, "dataset name")}
        account = checked("account", self._account, spec.account)
        report = checked("report", _report, spec.report)
        cols["account_id"] = account.id if account else None
        cols["report"] = report.slug if report else None
        for what in ("organization", "user"):
            value = getattr(spec, f"{what}_id")
            field = f"{what}_id"
            cols[field] = checked(field, self._choice, account, report, value, what) if account and report else None
        cols["since"] = to_iso(checked("since", parse_since, spec.since))
        cols["method"] = checked("method", _method, spec.method)
        cols["schedule"] = checked("schedule", _schedule, spec.schedule)
        cols["retries"] = checked("retries", _retries, spec.retries)
        cols["retry_delay_s"] = checked("retry_delay", _retry_delay, spec.retry_delay)
        destination = (spec.destination or "").strip() or f"duckdb:{self.home / 'close.duckdb'}"
        cols["destination"] = checked("destination", normalize_destination, destination)
        table = (spec.table or "").strip() or (report.slug if report else "")
        cols["table_name"] = checked("table", _table_name, table) if table else None
        cols["description"] = (spec.description or "").strip()
        cols["enabled"] = 1 if spec.enabled else 0
        if errors:
            raise ValidationError(errors=errors | self._clashes(cols, dataset_id))
        clashes = self._clashes(cols, dataset_id)
        if clashes:
            raise ConflictError(errors=clashes)
        return cols

    def _account(self, account: str | int) -> Account:
        if not account:
            raise ValidationError("Choose an account.", field="account")
        return self.accounts.get(account)  # an unknown one is a NotFoundError, raised at once

    def _choice(
        self, account: Account, report: ReportSpec, value: str | None, what: str
    ) -> str | None:
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

    def _clashes(self, cols: dict[str, Any], dataset_id: int | None) -> dict[str, str]:
        """The name and table another dataset has already, as messages by field (checked again on write)."""
        clashes: dict[str, str] = {}
        with self.store.connect() as conn:
            for field, check in (("name", _check_name_free), ("table", _check_table_free)):
                try:
                    check(conn, cols, dataset_id)
                except ConflictError as exc:
                    clashes[field] = str(exc)
        return clashes

    def _next_run(self, cols: dict[str, Any]) -> str | None:
        if not cols["enabled"]:
            return None
        return to_iso(parse_schedule(cols["schedule"]).next_after(self.clock()))

    # -- writing ------------------------------------------------------------------------------------------
    def check(self, name_or_id: str | int | None, fields: dict[str, Any]) -> None:
        """Validate a new dataset's fields (or changes to a saved one) without saving anything: the errors
        create or edit would raise, every field at once."""
        if name_or_id is None:
            self._validate(DatasetSpec(**{"name": "", "account": "", "report": "", **fields}))
        else:
            row, _saved, spec = self._edit_spec(name_or_id, fields)
            self._validate(spec, row["id"])

    def create(self, spec: DatasetSpec) -> Dataset:
        cols = self._validate(spec)
        now = to_iso(self.clock())
        cols.update(next_run_at=self._next_run(cols), pending_attempt=0, created_at=now, updated_at=now)
        try:
            with self.store.write() as conn:
                _check_name_free(conn, cols, None)
                _check_table_free(conn, cols, None)
                stored = self._stored(cols)
                names = ", ".join(stored)
                marks = ", ".join("?" for _ in stored)
                cur = conn.execute(f"INSERT INTO datasets ({names}) VALUES ({marks})", tuple(stored.values()))
                dataset_id = int(cur.lastrowid)  # type: ignore[arg-type]
        except sqlite3.IntegrityError:
            raise ConflictError(f"A dataset named {cols['name']!r} exists already.", field="name") from None
        return self.get(dataset_id)

    def _edit_spec(
        self, name_or_id: str | int, changes: dict[str, Any]
    ) -> tuple[sqlite3.Row, dict[str, Any], DatasetSpec]:
        """The saved row, its values (destination decrypted) and the spec the changes make of it."""
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
        try:
            new_report = bool(changes.get("report")) and report_spec(changes["report"]).slug != row["report"]
        except ValidationError:
            new_report = False  # _validate says so, with the other fields' errors
        if new_report:  # ids and the default table name of the old report do not carry over
            spec = spec.replace(organization_id=None, user_id=None)
            if row["table_name"] == row["report"]:
                spec = spec.replace(table=None)
        return row, saved, spec.replace(**changes)

    def edit(self, name_or_id: str | int, **changes: Any) -> Dataset:
        """Change some fields (names of DATASET_FIELDS); cursors are dropped when the change points the
        dataset at other data."""
        row, saved, spec = self._edit_spec(name_or_id, changes)
        cols = self._validate(spec, row["id"])
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
                    _check_table_free(conn, cols, row["id"])
                stored = self._stored(changed)
                sets = ", ".join(f"{k} = ?" for k in stored)
                conn.execute(f"UPDATE datasets SET {sets} WHERE id = ?", (*stored.values(), row["id"]))
        except sqlite3.IntegrityError:
            raise ConflictError(f"A dataset named {cols['name']!r} exists already.", field="name") from None
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
