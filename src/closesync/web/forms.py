"""The New/Edit DataSet form: its fields, turning them into DataCenter arguments and back.

Only form plumbing lives here (which inputs make which schedule text, required fields, numbers);
whether a schedule, organization or name is acceptable is the DataCenter's call.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

from closesync.datacenter import Dataset
from closesync.datacenter.schedule import WEEKDAYS as WEEKDAY_KEYS
from closesync.datacenter.schedule import ScheduleError, format_duration, parse_duration, parse_schedule
from closesync.datacenter.spec import (
    DATASET_FIELDS,
    DEFAULT_METHOD,
    DEFAULT_RETRY_DELAY,
    DEFAULT_SCHEDULE,
    METHOD_HELP,
    DatasetSpec,
)
from closesync.datacenter.spec import METHODS as METHOD_NAMES

_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
WEEKDAYS = list(zip(WEEKDAY_KEYS, _DAY_NAMES, strict=True))
# (value, label, help) per update method, the default first and marked as recommended.
METHODS = [
    (m, m.title(), METHOD_HELP[m][:1].upper() + METHOD_HELP[m][1:] + (" (recommended)." if m == DEFAULT_METHOD else "."))
    for m in sorted(METHOD_NAMES, key=lambda m: m != DEFAULT_METHOD)
]
DELAY_UNITS = [("s", "seconds"), ("m", "minutes"), ("h", "hours")]

EVERY_UNITS = ("minutes", "hours", "days")

# Spec fields the form does not show as one input of the same name: the inputs it composes them from.
SCHEDULE_INPUTS = ("schedule_kind", "every_n", "every_unit", "at_time", "weekday", "zone", "cron")
COMPOSED_INPUTS: dict[str, tuple[str, ...]] = {
    "schedule": SCHEDULE_INPUTS,
    "retry_delay": ("retry_delay_n", "retry_delay_unit"),
    "enabled": (),  # paused and resumed on the dataset's page, not in the form
}
# Left empty, these keep the saved value (or the DataCenter's default) instead of clearing it.
KEEP_WHEN_EMPTY = ("destination", "table")
_SPEC_DEFAULTS = {f.name: f.default for f in dataclasses.fields(DatasetSpec)}

# Names the DataCenter's ValidationError.field may use, mapped to where the form shows the message.
FIELD_ALIASES = {
    "account_id": "account",
    "report_slug": "report",
    "retry_delay_s": "retry_delay",
    "schedule_kind": "schedule",
    "api_key_env": "api_key",
}

# Fields the form template can show a message next to; anything else goes to the top of the form.
FIELD_SLOTS = frozenset(
    {
        "account",
        "account_name",
        "api_key",
        "base_url",
        "report",
        "organization_id",
        "user_id",
        "since",
        "schedule",
        "retries",
        "retry_delay",
        "method",
        "name",
        "description",
        "destination",
        "table",
        "general",
    }
)


@dataclass
class DatasetForm:
    """What the user typed (as text, so a failed submit shows it again) and the errors per field."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def get(self, name: str, default: str = "") -> str:
        return self.values.get(name, default)

    def error(self, name: str, message: str) -> None:
        """Keep the first message per field: it is the one to fix first."""
        name = FIELD_ALIASES.get(name, name)
        if name not in FIELD_SLOTS:  # no place for it next to a field: show it at the top of the form
            name = "general"
        self.errors.setdefault(name, message)


# Every input of the dataset form, in DatasetSpec order (plus the name of an account added on the way).
TEXT_FIELDS = (
    *(i for name in DATASET_FIELDS for i in COMPOSED_INPUTS.get(name, (name,))),
    "account_name",
)


def from_submission(data: dict[str, Any]) -> DatasetForm:
    """Collect the submitted text fields; the API key is deliberately not kept (never shown again)."""
    values = dict(DEFAULTS)
    for key in TEXT_FIELDS:
        value = data.get(key)
        if isinstance(value, str):
            values[key] = value.strip() if key != "description" else value
    return DatasetForm(values=values)


def from_dataset(ds: Dataset) -> DatasetForm:
    """Fill the edit form from a saved dataset."""
    values = dict(DEFAULTS)
    values.update(
        account=str(ds.account_id),
        report=ds.report,
        organization_id=ds.organization_id or "",
        user_id=ds.user_id or "",
        since=ds.since.date().isoformat() if ds.since else "",
        method=ds.method,
        retries=str(ds.retries),
        name=ds.name,
        description=ds.description or "",
        destination=ds.destination_display,
        table=ds.table,
    )
    values.update(split_schedule(ds.schedule))
    values.update(split_delay(int(ds.retry_delay_s)))
    return DatasetForm(values=values)


def split_schedule(spec: str) -> dict[str, str]:
    """Put a saved schedule back into the form's inputs; what they cannot show goes to the text field."""
    try:
        schedule = parse_schedule(spec)
    except ScheduleError:
        return {"schedule_kind": "cron", "cron": spec}
    zone = {"zone": schedule.tz} if schedule.tz else {}
    if schedule.kind == "every" and schedule.count is not None:
        return {"schedule_kind": "every", "every_n": str(schedule.count), "every_unit": f"{schedule.unit}s"}
    if schedule.kind in ("daily", "weekly") and schedule.at is not None and len(schedule.weekdays) <= 1:
        parts = {"schedule_kind": schedule.kind, "at_time": f"{schedule.at:%H:%M}", **zone}
        return parts | ({"weekday": schedule.weekdays[0]} if schedule.weekdays else {})
    if schedule.kind == "cron" and schedule.cron:
        return {"schedule_kind": "cron", "cron": schedule.cron, **zone}
    if schedule.manual:
        return {"schedule_kind": "manual"}
    return {"schedule_kind": "cron", "cron": schedule.spec}  # e.g. several weekdays: the text itself


def split_delay(seconds: int) -> dict[str, str]:
    """Show a retry delay in the largest whole unit (the DataCenter's own short form, split in two)."""
    text = format_duration(seconds)
    return {"retry_delay_n": text[:-1], "retry_delay_unit": text[-1]}


def _defaults() -> dict[str, str]:
    """A new form's inputs: DatasetSpec's defaults (those of the CLI and the API), as the form shows them."""
    return {
        "every_n": "1",
        "every_unit": "hours",
        "at_time": "06:00",
        "weekday": "mon",
        "zone": "",
        "cron": "",
        **split_schedule(DEFAULT_SCHEDULE),
        "retries": str(_SPEC_DEFAULTS["retries"]),
        **split_delay(parse_duration(DEFAULT_RETRY_DELAY)),
        "method": DEFAULT_METHOD,
    }


#: A new form's inputs (DatasetSpec's defaults, as the CLI and the API have them).
DEFAULTS = _defaults()


def schedule_spec(form: DatasetForm) -> str | None:
    """The schedule text the DataCenter accepts, from the Scheduling pane; None after an error."""
    kind = form.get("schedule_kind", "manual")
    zone = f" {form.get('zone')}" if form.get("zone") else ""
    if kind == "manual":
        return "manual"
    if kind == "every":  # intervals are aligned to UTC: the zone only applies to times of day
        n = _positive_int(form, "every_n", "schedule")
        if n is None:
            return None
        unit = form.get("every_unit")
        return f"every {n} {unit if unit in EVERY_UNITS else 'minutes'}"
    if kind in ("daily", "weekly"):
        at = form.get("at_time")
        if not re.fullmatch(r"\d{1,2}:\d{2}", at):
            form.error("schedule", "Enter a time of day as HH:MM, e.g. 06:00.")
            return None
        if kind == "daily":
            return f"daily at {at}{zone}"
        day = form.get("weekday", "mon")
        if day not in WEEKDAY_KEYS:
            form.error("schedule", "Pick a day of the week.")
            return None
        return f"weekly on {day} at {at}{zone}"
    if kind == "cron":
        expr = form.get("cron")
        if not expr:
            form.error("schedule", "Enter a cron expression, e.g. 0 6 * * 1-5.")
            return None
        return expr + zone
    form.error("schedule", "Pick how often this DataSet runs.")
    return None


def _positive_int(form: DatasetForm, name: str, error_field: str, minimum: int = 1) -> int | None:
    text = form.get(name)
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < minimum:
        form.error(error_field, f"Enter a whole number (at least {minimum}).")
        return None
    return value


def dataset_arguments(form: DatasetForm, schedule: str | None) -> dict[str, Any]:
    """Keyword arguments for DataCenter.create_dataset / edit_dataset / check_dataset.

    The DataCenter validates every value; only what the form composes (the schedule, the retry delay) is
    checked here. An input it could not compose is left out (its error is in `form.errors`), so
    check_dataset can still report every other field's error at once.
    """
    args: dict[str, Any] = {}
    for name in DATASET_FIELDS:
        text = form.get(name)
        if name in COMPOSED_INPUTS or (name in KEEP_WHEN_EMPTY and not text):
            continue
        args[name] = (text or None) if _SPEC_DEFAULTS[name] is None else text
    account, retries = args["account"], args["retries"]
    args["account"] = int(account) if account.isdigit() else account
    args["retries"] = int(retries) if retries.isdigit() else retries  # anything else: the DataCenter says why
    if schedule is not None:
        args["schedule"] = schedule
    unit = form.get("retry_delay_unit", "m")
    if unit in dict(DELAY_UNITS):
        args["retry_delay"] = f"{form.get('retry_delay_n')}{unit}"
    else:
        form.error("retry_delay", "Pick seconds, minutes or hours.")
    return args
