"""Close's timestamps: read leniently (with or without offset and microseconds, or a bare date) as UTC, and
written in the one form every Close date filter accepts. Also what the CLI, the Data Center and the web use
to read a date a person typed."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any


def parse_timestamp(value: Any) -> datetime | None:
    """Close timestamps come with or without offset/microseconds, sometimes as a bare date: read all as UTC."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    elif isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_timestamp(value: datetime) -> str:
    """ISO-8601 in UTC with an explicit offset, the form every Close date filter accepts."""
    return value.astimezone(UTC).isoformat()
