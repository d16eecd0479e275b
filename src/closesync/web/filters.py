"""Jinja filters that turn service values into short, readable text (dates, durations, counts)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from jinja2 import Environment

from closesync.close.timestamps import parse_timestamp


def when(value: Any) -> str:
    """`2026-11-26 18:35 UTC`: absolute, unambiguous, no locale surprises."""
    moment = parse_timestamp(value)
    if moment is None:
        return "—"
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def ago(value: Any, now: dt.datetime | None = None) -> str:
    """`5 min ago` / `in 2 h`: how far a run is from now, for list pages."""
    moment = parse_timestamp(value)
    if moment is None:
        return ""
    now = now or dt.datetime.now(dt.UTC)
    seconds = (moment - now).total_seconds()
    future = seconds > 0
    seconds = abs(seconds)
    if seconds < 45:
        text = "a few seconds" if future else "just now"
        return f"in {text}" if future else text
    if seconds < 3600:
        text = f"{round(seconds / 60)} min"
    elif seconds < 86400:
        text = f"{round(seconds / 3600)} h"
    else:
        text = f"{round(seconds / 86400)} d"
    return f"in {text}" if future else f"{text} ago"


def duration(value: Any) -> str:
    """Seconds as `850 ms`, `12.3 s` or `4 min 10 s`."""
    if value is None or value == "":
        return "—"
    seconds = float(value)
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def count(value: Any) -> str:
    """Thousands separators for row counts; dash when unknown."""
    if value is None or value == "":
        return "—"
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return str(value)


def cell(value: Any) -> str:
    """One preview cell as plain text; Jinja escapes it afterwards (never mark CRM text safe)."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=str, ensure_ascii=False)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def register(env: Environment) -> None:
    """Install the filters on the app's Jinja environment."""
    env.filters.update(when=when, ago=ago, duration=duration, cell=cell)
    env.filters["rowcount"] = count
