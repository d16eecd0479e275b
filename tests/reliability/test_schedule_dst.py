"""Daylight saving: a daily or weekly schedule runs once per local day or week (issue 10 §3).

On the autumn change day a time of day between the two clock readings happens twice: it runs at the first.
On the spring change day it may not happen at all: it runs at the first minute after it that does.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from closesync.datacenter.schedule import parse_schedule


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def test_daily_runs_once_on_the_autumn_change_day() -> None:
    schedule = parse_schedule("daily at 02:30 Europe/Berlin")
    assert schedule.upcoming(utc(10, 23, 12), 4) == [
        utc(10, 24, 0, 30),  # CEST
        utc(10, 25, 0, 30),  # 02:30 CEST, the first of the two 02:30s; not again at 01:30 UTC (02:30 CET)
        utc(10, 26, 1, 30),  # CET
        utc(10, 27, 1, 30),
    ]
    assert schedule.next_after(utc(10, 25, 0, 30)) == utc(10, 26, 1, 30)
    assert schedule.next_after(utc(10, 25, 1, 0)) == utc(10, 26, 1, 30)


def test_a_time_that_does_not_exist_runs_at_the_next_valid_minute() -> None:
    schedule = parse_schedule("daily at 02:30 Europe/Berlin")
    assert schedule.upcoming(utc(3, 27, 12), 3) == [
        utc(3, 28, 1, 30),  # CET
        utc(3, 29, 1, 0),  # 02:30 does not exist on 29 March: 03:00 CEST
        utc(3, 30, 0, 30),  # CEST
    ]


def test_weekly_runs_once_in_the_week_of_each_change() -> None:
    schedule = parse_schedule("weekly on sun at 02:30 Europe/Berlin")
    assert schedule.upcoming(utc(10, 20, 0), 2) == [utc(10, 25, 0, 30), utc(11, 1, 1, 30)]
    assert schedule.upcoming(utc(3, 24, 0), 2) == [utc(3, 29, 1, 0), utc(4, 5, 0, 30)]


def test_new_york_repeats_01_30_in_november() -> None:
    schedule = parse_schedule("daily at 01:30 America/New_York")
    assert schedule.upcoming(utc(10, 31, 12), 3) == [utc(11, 1, 5, 30), utc(11, 2, 6, 30), utc(11, 3, 6, 30)]


@pytest.mark.parametrize(
    ("zone", "at"),
    [
        ("Europe/Berlin", "02:30"),
        ("Europe/Berlin", "02:00"),
        ("America/New_York", "01:30"),
        ("America/New_York", "02:15"),
        ("Australia/Lord_Howe", "02:15"),  # a half-hour change
        ("Australia/Lord_Howe", "01:45"),
        ("UTC", "02:30"),
    ],
)
def test_every_local_day_of_a_year_runs_exactly_once(zone: str, at: str) -> None:
    schedule = parse_schedule(f"daily at {at} {zone}")
    local = ZoneInfo(zone)
    start = datetime(2026, 1, 1, tzinfo=local).astimezone(UTC) - timedelta(seconds=1)
    runs = schedule.upcoming(start, 365)
    days = [run.astimezone(local).date() for run in runs]
    assert days == [date(2026, 1, 1) + timedelta(days=n) for n in range(365)]
    wanted = time.fromisoformat(at)
    for run in runs:  # at the time of day, or (spring change day) at the first minute after it that exists
        shown = run.astimezone(local)
        late = datetime.combine(shown.date(), shown.time()) - datetime.combine(shown.date(), wanted)
        assert timedelta(0) <= late <= timedelta(hours=1) and (
            late == timedelta(0) or shown.minute in (0, 30)
        )
    assert runs == sorted(set(runs))
