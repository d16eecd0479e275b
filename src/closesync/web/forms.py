"""The New/Edit DataSet form: its fields, turning them into DataCenter arguments and back.

Only form plumbing lives here (which inputs make which schedule text, required fields, numbers);
whether a schedule, organization or name is acceptable is the DataCenter's call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from closesync.datacenter.schedule import format_duration

WEEKDAYS = [
    ("mon", "Monday"),
    ("tue", "Tuesday"),
    ("wed", "Wednesday"),
    ("thu", "Thursday"),
    ("fri", "Friday"),
    ("sat", "Saturday"),
    ("sun", "Sunday"),
]
METHODS = [
    ("upsert", "Upsert", "Insert new rows and update changed ones by primary key (recommended)."),
    ("replace", "Replace", "Swap the whole table for the fresh read on every run."),
    ("append", "Append", "Add every run's rows to the table, keeping earlier rows."),
]
DELAY_UNITS = [("s", "seconds"), ("m", "minutes"), ("h", "hours")]

_EVERY = re.compile(r"^every\s+(\d+)\s+(minute|minutes|hour|hours)$")
_DAILY = re.compile(r"^daily at (\d{1,2}:\d{2})$")
_WEEKLY = re.compile(r"^weekly on (\w{3}) at (\d{1,2}:\d{2})$")

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


DEFAULTS = {
    "schedule_kind": "manual",
    "every_n": "1",
    "every_unit": "hours",
    "at_time": "06:00",
    "weekday": "mon",
    "cron": "",
    "retries": "2",
    "retry_delay_n": "5",
    "retry_delay_unit": "m",
    "method": "upsert",
}

TEXT_FIELDS = (
    "account",
    "account_name",
    "report",
    "organization_id",
    "user_id",
    "since",
    "schedule_kind",
    "every_n",
    "every_unit",
    "at_time",
    "weekday",
    "cron",
    "retries",
    "retry_delay_n",
    "retry_delay_unit",
    "method",
    "name",
    "description",
    "destination",
    "table",
)


def from_submission(data: dict[str, Any]) -> DatasetForm:
    """Collect the submitted text fields; the API key is deliberately not kept (never shown again)."""
    values = dict(DEFAULTS)
    for key in TEXT_FIELDS:
        value = data.get(key)
        if isinstance(value, str):
            values[key] = value.strip() if key != "description" else value
    return DatasetForm(values=values)


def from_dataset(ds: Any) -> DatasetForm:
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
    """Put a saved schedule back into the form's inputs; anything else shows as advanced cron."""
    text = (spec or "manual").strip().lower()
    if text == "manual":
        return {"schedule_kind": "manual"}
    if text == "hourly":
        return {"schedule_kind": "every", "every_n": "1", "every_unit": "hours"}
    if m := _EVERY.match(text):
        unit = "hours" if m.group(2).startswith("hour") else "minutes"
        return {"schedule_kind": "every", "every_n": m.group(1), "every_unit": unit}
    if m := _DAILY.match(text):
        return {"schedule_kind": "daily", "at_time": m.group(1).zfill(5)}
    if m := _WEEKLY.match(text):
        return {"schedule_kind": "weekly", "weekday": m.group(1), "at_time": m.group(2).zfill(5)}
    return {"schedule_kind": "cron", "cron": spec}


def split_delay(seconds: int) -> dict[str, str]:
    """Show a retry delay in the largest whole unit (the DataCenter's own short form, split in two)."""
    text = format_duration(seconds)
    return {"retry_delay_n": text[:-1], "retry_delay_unit": text[-1]}


def schedule_spec(form: DatasetForm) -> str | None:
    """The schedule text the DataCenter accepts, from the Scheduling pane; None after an error."""
    kind = form.get("schedule_kind", "manual")
    if kind == "manual":
        return "manual"
    if kind == "every":
        n = _positive_int(form, "every_n", "schedule")
        if n is None:
            return None
        unit = "hours" if form.get("every_unit") == "hours" else "minutes"
        return f"every {n} {unit}"
    if kind in ("daily", "weekly"):
        at = form.get("at_time")
        if not re.fullmatch(r"\d{1,2}:\d{2}", at):
            form.error("schedule", "Enter a time of day as HH:MM, e.g. 06:00.")
            return None
        if kind == "daily":
            return f"daily at {at}"
        day = form.get("weekday", "mon")
        if day not in dict(WEEKDAYS):
            form.error("schedule", "Pick a day of the week.")
            return None
        return f"weekly on {day} at {at}"
    if kind == "cron":
        expr = form.get("cron")
        if not expr:
            form.error("schedule", "Enter a cron expression, e.g. 0 6 * * 1-5.")
            return None
        return expr
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


def dataset_arguments(form: DatasetForm, schedule: str | None) -> dict[str, Any] | None:
    """Keyword arguments for DataCenter.create_dataset / edit_dataset, or None if the form has errors."""
    if not form.get("name"):
        form.error("name", "Give the DataSet a name.")
    if not form.get("report"):
        form.error("report", "Pick a report.")
    if not form.get("account"):
        form.error("account", "Pick an account or add one.")
    retries = _positive_int(form, "retries", "retries", minimum=0)
    if retries is not None and retries > 20:
        form.error("retries", "At most 20 retries.")
    delay = _positive_int(form, "retry_delay_n", "retry_delay", minimum=0)
    unit = form.get("retry_delay_unit", "m")
    if unit not in dict(DELAY_UNITS):
        form.error("retry_delay", "Pick seconds, minutes or hours.")
    if form.get("method") not in {m[0] for m in METHODS}:
        form.error("method", "Pick an update method.")
    if form.errors or schedule is None:
        return None
    account: Any = form.get("account")
    if account.isdigit():
        account = int(account)
    args: dict[str, Any] = {
        "name": form.get("name"),
        "account": account,
        "report": form.get("report"),
        "organization_id": form.get("organization_id") or None,
        "user_id": form.get("user_id") or None,
        "since": form.get("since") or None,
        "method": form.get("method"),
        "schedule": schedule,
        "retries": retries,
        "retry_delay": f"{delay}{unit}",
        "description": form.get("description"),
    }
    if form.get("destination"):
        args["destination"] = form.get("destination")
    if form.get("table"):
        args["table"] = form.get("table")
    return args
