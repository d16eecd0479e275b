"""Schedule specs ("every 15 minutes", "daily at 06:00", cron, ...) and retry-delay durations.

Every form becomes either a fixed interval anchored at the Unix epoch (so "every 15 minutes" fires at
:00, :15, :30, :45 whichever process computes it) or a cron expression evaluated by croniter. Times of day
are UTC unless the spec ends with an IANA time zone ("daily at 06:00 Europe/Berlin").
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter

from closesync.errors import ClosesyncError

SCHEDULE_FORMS = (
    "manual  (only when run by hand; the default)",
    "every 15 minutes | every 2 hours | every 1 day",
    "hourly | daily | weekly",
    "daily at 06:00",
    "weekly on mon at 06:00  (mon, tue, wed, thu, fri, sat, sun; several: mon,wed,fri)",
    "a cron expression, e.g. '*/30 * * * *' or '0 6 * * 1-5'",
    "times are UTC; add a time zone to change that: 'daily at 06:00 Europe/Berlin'",
)

#: Which of the accepted forms a schedule is; "hourly" is "every" 1 hour, "daily"/"weekly" run at 00:00.
ScheduleKind = Literal["manual", "every", "daily", "weekly", "cron"]
IntervalUnit = Literal["minute", "hour", "day"]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: The longest interval or duration accepted: anything longer is a typo, and would overflow the store.
MAX_INTERVAL = timedelta(days=366)
_UNITS: dict[IntervalUnit, int] = {"minute": 60, "hour": 3600, "day": 86400}
_EVERY = re.compile(r"^every\s+(?:(\d+)\s+)?(minute|hour|day)s?$")
_DAILY = re.compile(r"^daily\s+at\s+(\d{1,2}):(\d{2})$")
_WEEKLY = re.compile(r"^weekly\s+on\s+([a-z,\s]+?)\s+at\s+(\d{1,2}):(\d{2})$")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d)?(?![a-z])")


class ScheduleError(ClosesyncError, ValueError):
    """A schedule or duration that cannot be understood; the message lists the accepted forms."""


def _bad(spec: str, why: str = "") -> ScheduleError:
    forms = "\n".join(f"  - {form}" for form in SCHEDULE_FORMS)
    reason = f" ({why})" if why else ""
    return ScheduleError(f"Cannot understand the schedule {spec!r}{reason}. Accepted forms:\n{forms}")


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule: `spec` is its normal form (what the store keeps), the other fields its parts.

    `kind` "every" runs each `count` `unit`s (a fixed `interval`); "daily" and "weekly" run at the time of
    day `at` (weekly on `weekdays`); "cron" runs on the expression `cron`, which also computes the run
    times of daily and weekly schedules. `tz` is the IANA zone of times of day; None means UTC.
    """

    spec: str
    kind: ScheduleKind = "manual"
    interval: timedelta | None = None
    cron: str | None = None
    tz: str | None = None
    count: int | None = None
    unit: IntervalUnit | None = None
    at: time | None = None
    weekdays: tuple[str, ...] = ()

    @property
    def manual(self) -> bool:
        return self.kind == "manual"

    def next_after(self, moment: datetime) -> datetime | None:
        """The first run time strictly after `moment` (UTC), or None for a manual schedule."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        if self.interval is not None:
            step = self.interval.total_seconds()
            elapsed = (moment - _EPOCH).total_seconds()
            return _EPOCH + timedelta(seconds=(elapsed // step + 1) * step)
        zone = ZoneInfo(self.tz) if self.tz else UTC
        if self.at is not None:  # daily, weekly: by the local calendar, not by cron (see _next_local)
            return _next_local(self.at, self.weekdays, zone, moment)
        if self.cron is not None:
            nxt = croniter(self.cron, moment.astimezone(zone)).get_next(datetime)
            return nxt.astimezone(UTC)
        return None

    def upcoming(self, moment: datetime, count: int = 3) -> list[datetime]:
        out: list[datetime] = []
        nxt = self.next_after(moment)
        while nxt is not None and len(out) < count:
            out.append(nxt)
            nxt = self.next_after(nxt)
        return out

    def describe(self) -> str:
        if self.manual:
            return "Runs only when started by hand."
        zone = self.tz or "UTC"
        if self.interval is not None:
            return f"Runs {self.spec} (aligned to the clock, {zone})."
        return f"Runs on cron '{self.cron}' ({zone})."


def _next_local(at: time, weekdays: tuple[str, ...], zone: tzinfo, moment: datetime) -> datetime:
    """The first `at` (a wall-clock time in `zone`) strictly after `moment`, on one of `weekdays` (any day
    when empty): once per local day, whatever daylight saving does to the clock."""
    day = moment.astimezone(zone).date()
    while True:
        if not weekdays or WEEKDAYS[day.weekday()] in weekdays:
            run = _wall_time(day, at, zone)
            if run is not None and run > moment:
                return run
        day += timedelta(days=1)


def _wall_time(day: date, at: time, zone: tzinfo) -> datetime | None:
    """`at` on `day` in `zone`, as UTC. A time the autumn change shows twice is its first showing; one the
    spring change skips is the first minute after it that exists (03:00 for 02:30 in Berlin); None for a
    day the zone skipped altogether."""
    wall = datetime.combine(day, at)
    while wall.date() == day:
        moment = wall.replace(tzinfo=zone).astimezone(UTC)  # fold=0: the first of a repeated hour
        if moment.astimezone(zone).replace(tzinfo=None) == wall:  # else the clock never showed `wall`
            return moment
        wall += timedelta(minutes=1)
    return None


def _split_zone(spec: str) -> tuple[str, str | None]:
    head, _, last = spec.rpartition(" ")
    if head and ("/" in last or last.upper() == "UTC") and not last.startswith(("*", "/")):
        try:
            ZoneInfo(last)
        except (ZoneInfoNotFoundError, ValueError):
            raise _bad(spec, f"unknown time zone {last!r}") from None
        return head.strip(), last
    return spec, None


def _clock(spec: str, hour: str, minute: str) -> time:
    h, m = int(hour), int(minute)
    if h > 23 or m > 59:
        raise _bad(spec, f"{hour}:{minute} is not a time of day")
    return time(h, m)


def _every(spec: str, count: int, unit: IntervalUnit) -> Schedule:
    if count * _UNITS[unit] > MAX_INTERVAL.total_seconds():
        raise _bad(spec, f"the interval must be at most {MAX_INTERVAL.days} days")
    interval = timedelta(seconds=count * _UNITS[unit])
    return Schedule(spec, "every", interval=interval, count=count, unit=unit)


def _at(spec: str, at: time, weekdays: tuple[str, ...], zone: str | None) -> Schedule:
    """A daily (no weekdays) or weekly schedule at a time of day, run by its cron equivalent."""
    days = ",".join(weekdays) or "*"
    kind: ScheduleKind = "weekly" if weekdays else "daily"
    return Schedule(spec, kind, cron=f"{at.minute} {at.hour} * * {days}", tz=zone, at=at, weekdays=weekdays)


def parse_schedule(spec: str | None) -> Schedule:
    """Parse a user's schedule; raise ScheduleError listing the accepted forms if it is not one."""
    original = (spec or "").strip()
    text = " ".join(original.split())
    if text.lower() in ("", "manual", "none", "off"):
        return Schedule("manual")
    body, zone = _split_zone(text)
    lower = body.lower()
    suffix = f" {zone}" if zone else ""
    if match := _EVERY.match(lower):
        count = int(match.group(1) or 1)
        unit: IntervalUnit = match.group(2)  # type: ignore[assignment]
        if count < 1:
            raise _bad(original, "the interval must be at least 1")
        if zone:
            raise _bad(original, "intervals are aligned to UTC; a time zone only applies to times of day")
        return _every(f"every {count} {unit}{'s' if count > 1 else ''}", count, unit)
    if lower == "hourly":
        if zone:  # a zone an odd number of half hours off UTC moves the minute: keep it a cron
            return Schedule("hourly" + suffix, "cron", cron="0 * * * *", tz=zone)
        return _every("hourly", 1, "hour")
    if lower == "daily":
        return _at("daily" + suffix, time(0, 0), (), zone)
    if lower == "weekly":
        return _at("weekly" + suffix, time(0, 0), ("mon",), zone)
    if match := _DAILY.match(lower):
        at = _clock(original, match.group(1), match.group(2))
        return _at(f"daily at {at:%H:%M}{suffix}", at, (), zone)
    if match := _WEEKLY.match(lower):
        days = [d.strip()[:3] for d in re.split(r"[,\s]+", match.group(1)) if d.strip()]
        unknown = [d for d in days if d not in WEEKDAYS]
        if not days or unknown:
            raise _bad(original, f"unknown day {', '.join(unknown) or '(none)'}")
        at = _clock(original, match.group(2), match.group(3))
        weekdays = tuple(sorted(set(days), key=WEEKDAYS.index))
        return _at(f"weekly on {','.join(weekdays)} at {at:%H:%M}{suffix}", at, weekdays, zone)
    fields = body.split()
    if (len(fields) == 5 or (len(fields) == 1 and body.startswith("@"))) and croniter.is_valid(body):
        schedule = Schedule(body + suffix, "cron", cron=body, tz=zone)
        try:  # valid field by field, yet e.g. "0 0 31 2 *" (31 February) has no run time at all
            schedule.next_after(datetime.now(UTC))
        except CroniterBadDateError:
            raise _bad(original, "it never runs: no date matches it") from None
        return schedule
    raise _bad(original)


def next_run(spec: str, moment: datetime) -> datetime | None:
    """The first run time of a stored schedule after `moment`; ScheduleError when it cannot be planned
    (a row written by an older version or edited in the store, not validated by parse_schedule then)."""
    try:
        return parse_schedule(spec).next_after(moment)
    except ScheduleError as exc:
        raise ScheduleError(str(exc).splitlines()[0].removesuffix(" Accepted forms:")) from None
    except (CroniterBadDateError, OverflowError, ValueError) as exc:
        raise ScheduleError(f"The schedule {spec!r} cannot be planned ({exc}).") from None


def retry_at(moment: datetime, delay_s: int) -> datetime:
    """When a retry `delay_s` seconds after `moment` is due; ScheduleError for a stored delay out of bounds."""
    if not isinstance(delay_s, int) or not 0 <= delay_s <= MAX_INTERVAL.total_seconds():
        raise ScheduleError(f"The retry delay of {delay_s}s is longer than {MAX_INTERVAL.days} days.")
    return moment + timedelta(seconds=delay_s)


def plan_problem(spec: str, delay_s: int, moment: datetime) -> str | None:
    """Why a stored dataset's runs cannot be planned (its schedule, or its retry delay), else None."""
    try:
        next_run(spec, moment)
        retry_at(moment, delay_s)
    except ScheduleError as exc:
        return f"{exc} Edit the dataset to fix it."
    return None


def parse_duration(value: str | int | float | None, *, default: int = 300) -> int:
    """Seconds from "30s", "5m", "5 minutes", "1h30m", "2 hours" or a bare number of seconds."""
    if value is None or value == "":
        return default
    if isinstance(value, int | float):
        seconds = float(value) if abs(value) < 1e300 else math.inf
    else:
        text = value.strip().lower()
        pos, seconds = 0, 0.0
        for match in _DURATION.finditer(text):
            if text[pos : match.start()].strip(" ,and"):
                break
            unit = (match.group(2) or "s")[0]
            seconds += float(match.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
            pos = match.end()
        if pos == 0 or text[pos:].strip():
            raise ScheduleError(f"Cannot understand the duration {value!r}; write e.g. 30s, 5m, 1h or 1h30m.")
    if seconds < 0:
        raise ScheduleError(f"A duration cannot be negative: {value!r}.")
    if not seconds <= MAX_INTERVAL.total_seconds():  # also NaN and infinity
        raise ScheduleError(f"A duration must be at most {MAX_INTERVAL.days} days: {value!r} is not.")
    return int(round(seconds))


def format_duration(seconds: float) -> str:
    """The shortest whole-unit form parse_duration reads back ("2h", "5m", "45s"): CLI output and web forms."""
    seconds = int(round(seconds))
    if seconds and seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds and seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"
