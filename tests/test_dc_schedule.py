"""Schedule specs and durations: parsing, normal forms, next-run arithmetic (pure, no clock, no sleep)."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from closesync.datacenter.schedule import ScheduleError, format_duration, parse_duration, parse_schedule

T = datetime(2026, 11, 26, 18, 37, 12, tzinfo=UTC)  # a Thursday


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("spec", "normal", "first", "second"),
    [
        ("every 15 minutes", "every 15 minutes", at(26, 18, 45), at(26, 19, 0)),
        ("every 2 hours", "every 2 hours", at(26, 20), at(26, 22)),
        ("Every  1  hour", "every 1 hour", at(26, 19), at(26, 20)),
        ("every minute", "every 1 minute", at(26, 18, 38), at(26, 18, 39)),
        ("every 1 day", "every 1 day", at(27, 0), at(28, 0)),
        ("hourly", "hourly", at(26, 19), at(26, 20)),
        ("daily", "daily", at(27, 0), at(28, 0)),
        ("daily at 06:00", "daily at 06:00", at(27, 6), at(28, 6)),
        ("daily at 6:05", "daily at 06:05", at(27, 6, 5), at(28, 6, 5)),
        ("daily at 19:00", "daily at 19:00", at(26, 19), at(27, 19)),
        ("weekly on mon at 06:00", "weekly on mon at 06:00", at(30, 6), at(7, 6, month=12)),
        ("weekly on Friday,mon at 07:30", "weekly on mon,fri at 07:30", at(27, 7, 30), at(30, 7, 30)),
        ("*/30 * * * *", "*/30 * * * *", at(26, 19), at(26, 19, 30)),
        ("0 6 * * 1-5", "0 6 * * 1-5", at(27, 6), at(30, 6)),
        ("daily at 06:00 Europe/Berlin", "daily at 06:00 Europe/Berlin", at(27, 5), at(28, 5)),
    ],
)
def test_schedule_forms_and_next_runs(spec: str, normal: str, first: datetime, second: datetime) -> None:
    schedule = parse_schedule(spec)
    assert schedule.spec == normal
    assert parse_schedule(schedule.spec) == schedule  # the normal form parses to itself
    assert schedule.upcoming(T, 2) == [first, second]


def test_next_run_is_strictly_after_a_boundary() -> None:
    schedule = parse_schedule("every 15 minutes")
    assert schedule.next_after(at(26, 18, 45)) == at(26, 19, 0)
    assert parse_schedule("daily at 06:00").next_after(at(27, 6)) == at(28, 6)


@pytest.mark.parametrize("spec", ["", "manual", "Manual", None])
def test_manual(spec: str | None) -> None:
    schedule = parse_schedule(spec)
    assert schedule.manual and schedule.spec == "manual"
    assert schedule.next_after(T) is None


@pytest.mark.parametrize(
    ("spec", "why"),
    [
        ("sometimes", ""),
        ("every 0 minutes", "at least 1"),
        ("daily at 25:00", "not a time of day"),
        ("weekly on funday at 06:00", "unknown day"),
        ("61 * * * *", ""),
        ("daily at 06:00 Mars/Olympus", "unknown time zone"),
    ],
)
def test_bad_schedule_lists_accepted_forms(spec: str, why: str) -> None:
    with pytest.raises(ScheduleError) as info:
        parse_schedule(spec)
    message = str(info.value)
    assert repr(spec) in message and why in message
    for form in ("manual", "every 15 minutes", "hourly", "daily at 06:00", "weekly on mon at 06:00", "cron"):
        assert form in message


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("5 minutes", 300), ("1h30m", 5400), ("2 hours", 7200), ("90", 90), (45, 45)],
)
def test_durations(text: str | int, seconds: int) -> None:
    assert parse_duration(text) == seconds


def test_bad_duration() -> None:
    with pytest.raises(ScheduleError, match="30s, 5m"):
        parse_duration("soon")
    assert parse_duration(None) == 300
    assert format_duration(300) == "5m" and format_duration(7200) == "2h" and format_duration(45) == "45s"


@pytest.mark.parametrize(
    ("spec", "parts"),
    [
        ("manual", {"kind": "manual"}),
        ("every 2 days", {"kind": "every", "count": 2, "unit": "day"}),
        ("hourly", {"kind": "every", "count": 1, "unit": "hour"}),
        ("hourly Asia/Kolkata", {"kind": "cron", "cron": "0 * * * *", "tz": "Asia/Kolkata"}),
        ("daily", {"kind": "daily", "at": time(0, 0), "weekdays": ()}),
        ("daily at 06:00 Europe/Berlin", {"kind": "daily", "at": time(6, 0), "tz": "Europe/Berlin"}),
        ("weekly on fri,mon at 07:30", {"kind": "weekly", "at": time(7, 30), "weekdays": ("mon", "fri")}),
        ("0 6 * * 1-5 Europe/Berlin", {"kind": "cron", "cron": "0 6 * * 1-5", "tz": "Europe/Berlin"}),
    ],
)
def test_a_schedule_exposes_its_parts(spec: str, parts: dict[str, object]) -> None:
    schedule = parse_schedule(spec)
    assert {name: getattr(schedule, name) for name in parts} == parts
