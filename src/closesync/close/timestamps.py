"""Close's timestamps: the one lenient reader (everything becomes aware UTC) and the one form written into
Close filters. The client's date windows and searches, the reports' shaping and cursors, the CLI, the Data
Center and the web all read dates through `parse_timestamp`, so a value means the same thing everywhere."""

from __future__ import annotations

from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from typing import Any

# Epoch numbers above this are milliseconds (1e11 seconds is the year 5138).
_EPOCH_MS_ABOVE = 1e11


def parse_timestamp(value: Any) -> datetime | None:
    """Read a timestamp as aware UTC, or None if it is none we understand. A missing offset means UTC.

    Close sends ISO-8601 with or without offset and microseconds (`2013-02-01T00:54:51.337000+00:00`,
    pipeline dates without offset), bare dates (task `date`), the odd `Z`/`z` and RFC 2822 e-mail dates;
    numbers are epoch seconds (milliseconds when implausibly large). Booleans are not timestamps.
    """
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            parsed = datetime.fromisoformat(text)  # the common case first: Close's own ISO forms, and "Z"
        except ValueError:
            odd = _parse_odd(text)
            if odd is None:
                return None
            parsed = odd
    elif isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value / 1000 if abs(value) > _EPOCH_MS_ABOVE else value, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    else:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _parse_odd(text: str) -> datetime | None:
    """What `fromisoformat` refuses: a lower-case `z` offset and RFC 2822 (e-mail envelope dates)."""
    if text[-1] == "z":
        try:
            return datetime.fromisoformat(text[:-1] + "+00:00")
        except ValueError:
            return None
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None


def parse_bound(value: datetime | str | None) -> datetime | None:
    """A caller's `start`/`end`: None stays None (unbounded); anything else must be a timestamp."""
    if value is None:
        return None
    parsed = parse_timestamp(value)
    if parsed is None:
        raise ValueError(f"not a timestamp: {value!r}")
    return parsed


def format_timestamp(value: datetime) -> str:
    """ISO-8601 in UTC with an explicit `+00:00` offset: the one form closesync writes into Close filters,
    search conditions, report ranges and incremental cursors. A naive value is taken as UTC."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat()
