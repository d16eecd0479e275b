"""Plain result objects the service hands to front ends (JSON-safe via to_dict, never holding a key)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal, get_args

from closesync.sinks.destination import redact_destination


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


class _ToDict:
    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (datetimes as ISO strings)."""
        return _jsonable(self)


@dataclass(frozen=True)
class Choice(_ToDict):
    """One option of a select: the id stored, the label shown."""

    id: str
    label: str


@dataclass(frozen=True)
class ReportChoices(_ToDict):
    """What the Organization ID and User ID selects offer for one account."""

    organizations: list[Choice]
    users: list[Choice]


@dataclass(frozen=True)
class ReportInfo(_ToDict):
    """A report as a front end lists it."""

    slug: str
    name: str
    description: str
    uses_organization_id: bool
    uses_user_id: bool
    uses_date_range: bool
    family: str = ""  # the object family it is listed under
    classic: bool = False  # one of the 38 reports of the connector closesync replaces


@dataclass(frozen=True)
class Account(_ToDict):
    """A saved Close account. `key_hint` (api_…abcd) is all that is ever shown of the key."""

    id: int
    name: str
    base_url: str
    key_source: str  # "stored" (encrypted in the store) or "env" (read from key_env at run time)
    key_env: str | None
    key_hint: str
    user_id: str | None
    user_email: str | None
    user_name: str | None
    organizations: list[Choice]
    users: list[Choice]
    status: str  # "ok" or "invalid"
    last_error: str | None
    last_checked_at: datetime | None
    created_at: datetime
    updated_at: datetime
    dataset_count: int = 0
    run_count: int = 0  # runs in the history of its datasets (removed with them)


@dataclass(frozen=True)
class AccountCheck(_ToDict):
    """Outcome of re-validating an account's key."""

    ok: bool
    message: str
    account: Account


#: What a run's status may be: written "running" when it starts, one of the other two when it ends.
RunStatus = Literal["running", "success", "failed"]
RUN_STATUSES: tuple[str, ...] = get_args(RunStatus)
#: The most runs one history query returns (a page of the Runs page, `runs list --limit`, `GET /api/runs`).
MAX_RUNS_LIMIT = 10_000


@dataclass(frozen=True)
class Run(_ToDict):
    """One run of a dataset: a row of its history, also what run_dataset returns."""

    id: int
    dataset_id: int
    dataset_name: str
    status: str  # "running", "success" or "failed"
    trigger: str  # "manual", "schedule" or "retry"
    attempt: int
    started_at: datetime
    finished_at: datetime | None
    duration_s: float | None
    rows: int
    requests: int
    throttle_waits: int
    retries: int
    error: str | None
    error_report: str | None
    http_status: int | None
    reports: list[dict[str, Any]] = field(default_factory=list)
    rows_written: int | None = None  # rows published to the table (0 for a failed run); `rows` were read
    full_refresh: bool = False  # read everything, ignoring the saved cursors
    #: While running: the rate-limit wait holding it back (group, path, seconds, until, reason), else None.
    waiting: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.status == "success"


@dataclass(frozen=True)
class RunDay(_ToDict):
    """How many runs started on one UTC day with one status: a bar segment of the runs-per-day chart."""

    day: date
    status: str
    runs: int


@dataclass(frozen=True)
class Dataset(_ToDict):
    """A saved sync: one report of one account into one table, with schedule and retry policy."""

    id: int
    name: str
    account_id: int
    account_name: str
    report: str  # slug
    report_name: str
    organization_id: str | None
    user_id: str | None
    since: datetime | None
    method: str
    schedule: str
    retries: int
    retry_delay_s: int
    destination: str = field(repr=False)  # may hold a database password: show destination_display
    table: str
    description: str
    enabled: bool
    next_run_at: datetime | None
    pending_attempt: int  # > 0 when a retry of a failed run is queued
    created_at: datetime
    updated_at: datetime
    last_run: Run | None = None
    running: bool = False
    problem: str | None = None  # why its stored schedule or retry delay cannot be planned (None: fine)
    # What its settings mean to a person: the organization's and user's names (None when not known), and
    # which of organization_id, user_id and since its report takes.
    organization_label: str | None = None
    user_label: str | None = None
    parameters: list[str] = field(default_factory=list)
    # Rows in its table now, counted from the destination when a front end asks (None: not counted, no
    # table yet, or the destination was busy); `last_run.rows` is what the last run read.
    table_rows: int | None = None

    @property
    def organization_display(self) -> str | None:
        """The organization as a person reads it, "Acme (orga_…)", or None when the default is used."""
        return _named(self.organization_id, self.organization_label)

    @property
    def user_display(self) -> str | None:
        """The user as a person reads it, "Jane Doe <jane@…> (user_…)", or None for all users."""
        return _named(self.user_id, self.user_label)

    @property
    def destination_display(self) -> str:
        """The destination fit to show (a PostgreSQL password masked): what pages and the CLI print."""
        return redact_destination(self.destination)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe, with any password in a destination URL masked (front ends show this dict)."""
        data = _jsonable(self)
        data["destination"] = self.destination_display
        return data


def _named(choice_id: str | None, label: str | None) -> str | None:
    if choice_id is None:
        return None
    return f"{label} ({choice_id})" if label and label != choice_id else choice_id


def table_owner_id(dataset_id: int) -> str:
    """How a dataset's runs sign the ownership records of the tables they load."""
    return f"dataset:{dataset_id}"


@dataclass(frozen=True)
class Preview(_ToDict):
    """The first rows of a dataset's table."""

    table: str
    columns: list[str]
    rows: list[tuple[Any, ...]]
    tables: list[str] = field(default_factory=list)  # every table of the dataset (several: one per type)


@dataclass(frozen=True)
class Column(_ToDict):
    """One column of a dataset's table, with the destination's own type name (VARCHAR, jsonb, ...)."""

    name: str
    type: str


@dataclass(frozen=True)
class ScheduleInfo(_ToDict):
    """A validated schedule: its normal form, a sentence, and the next few run times."""

    spec: str
    description: str
    next_runs: list[datetime]


@dataclass(frozen=True)
class Export:
    """A table being exported: iterate `chunks` for the file's bytes (the table is read as they are taken)."""

    filename: str
    media_type: str
    chunks: Iterator[bytes]
