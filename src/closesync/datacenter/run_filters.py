"""Which runs a history query asks for: validated here once, so the CLI, the web pages and the JSON API
accept and refuse the same filters, and turned into SQL from fixed fragments with every value bound."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from closesync.datacenter.errors import ValidationError
from closesync.datacenter.models import MAX_RUNS_LIMIT, RUN_STATUSES
from closesync.datacenter.store import to_iso


@dataclass(frozen=True)
class RunFilter:
    """Runs of one dataset (or all), of one status (or any), started in [since, until)."""

    dataset_id: int | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None  # exclusive

    def where(self) -> tuple[str, list[Any]]:
        """A WHERE clause over `runs r` (or "" for all runs) and its bound parameters."""
        clauses: list[str] = []
        params: list[Any] = []
        for clause, value in (
            ("r.dataset_id = ?", self.dataset_id),
            ("r.status = ?", self.status),
            ("r.started_at >= ?", to_iso(self.since)),
            ("r.started_at < ?", to_iso(self.until)),
        ):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def check_status(status: str | None) -> str | None:
    if status is None or status == "":
        return None
    if status not in RUN_STATUSES:
        raise ValidationError(f"status must be one of {', '.join(RUN_STATUSES)}, not {status!r}.", field="status")
    return status


def _is_day(value: str | date | datetime) -> bool:
    if isinstance(value, datetime):
        return False
    if isinstance(value, date):
        return True
    try:
        date.fromisoformat(value.strip())
    except ValueError:
        return False
    return len(value.strip()) == 10


def parse_bound(value: str | date | datetime | None, field: str, *, end: bool = False) -> datetime | None:
    """`since` / `until` as UTC. A bare day as `until` means the end of that day: it is included."""
    from closesync.close.timestamps import parse_timestamp

    if value is None or value == "":
        return None
    moment = parse_timestamp(value)
    if moment is None:
        raise ValidationError(f"{value!r} is not a date: write 2026-01-31 or 2026-01-31T08:00:00Z.", field=field)
    return moment + timedelta(days=1) if end and _is_day(value) else moment


def check_page(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_RUNS_LIMIT:
        raise ValidationError(f"limit must be between 1 and {MAX_RUNS_LIMIT}.", field="limit")
    if offset < 0:
        raise ValidationError("offset must be 0 or more.", field="offset")
