"""Vectorised timestamp and date columns for shaping, built on the one lenient parser
(`closesync.close.timestamps.parse_timestamp`).

Close sends ``2013-02-01T00:54:51.337000+00:00``, ``2014-12-07T04:10:46+00:00``, offset-less pipeline dates
(``2019-11-04T11:04:13.014979``), bare dates (task ``date``) and the odd ``Z``. Arrow's ISO-8601 cast handles
most of that in C++; a column only drops to `parse_timestamp` value by value when Arrow cannot read it, so a
million rows parse in tens of milliseconds and mean what they mean everywhere else. A missing offset means
UTC. Values that parse as nothing become null and are reported back to the caller so they can be kept (in
``extra``) instead of silently lost.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from closesync.close.timestamps import parse_timestamp

TIMESTAMP = pa.timestamp("us", tz="UTC")
_NAIVE = pa.timestamp("us")
_HAS_OFFSET = r"[T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|z|[+-]\d\d(:?\d\d)?)$"  # a bare date's "-08" is no offset
_DATE_PREFIX = re.compile(r"^\d{4}-\d{2}-\d{2}")


def parse_date(value: Any) -> date | None:
    """Parse one value into a date (the calendar date written in the string, offsets ignored)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        return None  # a number is no calendar date (20200101? epoch days?): keep it raw instead
    if _DATE_PREFIX.match(value):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    parsed = parse_timestamp(value)
    return parsed.date() if parsed else None


def _string_array(values: Sequence[Any]) -> pa.Array | None:
    try:
        return pa.array(values, pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeEncodeError):
        return None


def _cast_iso(arr: pa.Array) -> pa.Array | None:
    """Arrow's own ISO-8601 cast; offset-bearing and offset-less values are cast separately."""
    try:
        return pc.cast(arr, TIMESTAMP)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    try:
        has_offset = pc.fill_null(pc.match_substring_regex(arr, _HAS_OFFSET), False)
        aware = pc.cast(pc.if_else(has_offset, arr, pa.scalar(None, pa.string())), TIMESTAMP)
        naive = pc.cast(pc.cast(pc.if_else(has_offset, pa.scalar(None, pa.string()), arr), _NAIVE), TIMESTAMP)
        return pc.if_else(has_offset, aware, naive)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def timestamps(values: Sequence[Any]) -> tuple[pa.Array, dict[int, Any]]:
    """Parse a column of raw values; returns the array and {row: raw value} for values that did not parse."""
    arr = _string_array(values)
    if arr is not None:
        parsed = _cast_iso(arr)
        if parsed is not None:
            return parsed, {}
    out: list[datetime | None] = []
    bad: dict[int, Any] = {}
    for i, value in enumerate(values):
        parsed_value = parse_timestamp(value)
        if parsed_value is None and value is not None and value != "":
            bad[i] = value
        out.append(parsed_value)
    return pa.array(out, TIMESTAMP), bad


def dates(values: Sequence[Any]) -> tuple[pa.Array, dict[int, Any]]:
    """Parse a column into date32 (bare dates or the date part of timestamps)."""
    arr = _string_array(values)
    if arr is not None:
        try:
            return pc.cast(pc.utf8_slice_codeunits(arr, 0, 10), pa.date32()), {}
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    out: list[date | None] = []
    bad: dict[int, Any] = {}
    for i, value in enumerate(values):
        parsed = parse_date(value)
        if parsed is None and value is not None and value != "":
            bad[i] = value
        out.append(parsed)
    return pa.array(out, pa.date32()), bad
