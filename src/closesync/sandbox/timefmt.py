"""Timestamps in the formats Close really emits, plus a lenient parser for filter values.

Internally every instant is an int of milliseconds since the epoch (UTC). Rendering never loses information
the filters use: a value rendered without microseconds is generated on a whole second.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any

UTC = dt.UTC
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
DAY_MS = 86_400_000


def ms_of(value: dt.datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH) // dt.timedelta(milliseconds=1)


def now_ms() -> int:
    return ms_of(dt.datetime.now(UTC))


@lru_cache(maxsize=8192)
def _day(days: int) -> str:
    return (_EPOCH + dt.timedelta(days=days)).strftime("%Y-%m-%d")


_HM = [f"T{h:02d}:{m:02d}:" for h in range(24) for m in range(60)]
_SS = [f"{sec:02d}" for sec in range(60)]
_FRAC = [f".{ms:03d}000" for ms in range(1000)]


def iso(ms: int, *, micros: bool = True, offset: bool = True) -> str:
    """`2013-02-01T00:54:51.337000+00:00`; `micros=False` drops the fraction, `offset=False` the zone.

    Assembled from lookup tables: it runs millions of times when large accounts are generated.
    """
    days, rest = divmod(ms, DAY_MS)
    secs, frac = divmod(rest, 1000)
    minute, sec = divmod(secs, 60)
    text = _day(days) + _HM[minute] + _SS[sec]
    if micros:
        text += _FRAC[frac]
    return text + "+00:00" if offset else text


def iso_date(ms: int) -> str:
    """A bare `YYYY-MM-DD` (task `date` sometimes, `date_won`)."""
    return _day(ms // DAY_MS)


@lru_cache(maxsize=8192)
def _rfc_day(days: int) -> str:
    return (_EPOCH + dt.timedelta(days=days)).strftime("%a, %d %b %Y ")


def rfc2822(ms: int) -> str:
    """E-mail envelope dates: `Fri, 08 Feb 2013 05:03:15 +0000`."""
    days, rest = divmod(ms, DAY_MS)
    minute, sec = divmod(rest // 1000, 60)
    return _rfc_day(days) + _HM[minute][1:] + _SS[sec] + " +0000"


def parse_us(value: str) -> int:
    """Parse an ISO date or datetime filter value (offset optional, `Z` allowed) to epoch microseconds.

    Raises ValueError for anything else so the API can answer 400.
    """
    text = value.strip().replace(" ", "T")
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    if len(text) == 10:
        text += "T00:00:00+00:00"
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return (parsed - _EPOCH) // dt.timedelta(microseconds=1)


def ms_or_none(value: Any) -> int | None:
    """A record's timestamp field in epoch ms; None when it is missing or not a timestamp."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_us(value) // 1000
    except ValueError:
        return None


def ms_range(op: str, us: int) -> tuple[int | None, int | None]:
    """Turn `field__<op>=<us>` into a half-open [lo, hi) range of epoch ms (None = unbounded)."""
    floor_ms = us // 1000
    ceil_ms = -(-us // 1000)
    if op == "gte":
        return ceil_ms, None
    if op == "gt":
        return floor_ms + 1, None
    if op == "lt":
        return None, ceil_ms
    if op == "lte":
        return None, floor_ms + 1
    raise ValueError(op)
