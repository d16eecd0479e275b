"""Pure helpers of the web app: schedule inputs <-> schedule text, display filters."""

from __future__ import annotations

import datetime as dt

import pytest

from closesync.datacenter.schedule import parse_schedule
from closesync.web import filters, forms


@pytest.mark.parametrize(
    ("fields", "spec"),
    [
        ({"schedule_kind": "manual"}, "manual"),
        ({"schedule_kind": "every", "every_n": "15", "every_unit": "minutes"}, "every 15 minutes"),
        ({"schedule_kind": "every", "every_n": "2", "every_unit": "hours"}, "every 2 hours"),
        ({"schedule_kind": "every", "every_n": "2", "every_unit": "days"}, "every 2 days"),
        ({"schedule_kind": "daily", "at_time": "06:00"}, "daily at 06:00"),
        (
            {"schedule_kind": "daily", "at_time": "06:00", "zone": "Europe/Berlin"},
            "daily at 06:00 Europe/Berlin",
        ),
        ({"schedule_kind": "weekly", "weekday": "fri", "at_time": "18:15"}, "weekly on fri at 18:15"),
        ({"schedule_kind": "cron", "cron": "*/30 * * * *"}, "*/30 * * * *"),
    ],
)
def test_schedule_inputs_make_schedule_text_and_back(fields: dict[str, str], spec: str) -> None:
    form = forms.from_submission(fields)
    assert forms.schedule_spec(form) == spec and not form.errors
    back = forms.split_schedule(spec)
    for key, value in back.items():
        assert fields.get(key, forms.DEFAULTS.get(key)) == value


@pytest.mark.parametrize(
    "fields",
    [
        {"schedule_kind": "every", "every_n": "0"},
        {"schedule_kind": "every", "every_n": "x"},
        {"schedule_kind": "daily", "at_time": "6am"},
        {"schedule_kind": "weekly", "weekday": "someday", "at_time": "06:00"},
        {"schedule_kind": "cron", "cron": ""},
        {"schedule_kind": "sometimes"},
    ],
)
def test_bad_schedule_inputs_put_an_error_on_the_schedule_field(fields: dict[str, str]) -> None:
    form = forms.from_submission(fields)
    assert forms.schedule_spec(form) is None
    assert "schedule" in form.errors


def test_normal_forms_from_the_datacenter_map_back() -> None:
    assert forms.split_schedule("every 1 hour") == {
        "schedule_kind": "every",
        "every_n": "1",
        "every_unit": "hours",
    }
    assert forms.split_schedule("hourly")["schedule_kind"] == "every"
    assert forms.split_schedule("daily at 06:00 Europe/Berlin") == {
        "schedule_kind": "daily",
        "at_time": "06:00",
        "zone": "Europe/Berlin",
    }
    assert forms.split_schedule("weekly on mon,fri at 06:00") == {
        "schedule_kind": "cron",
        "cron": "weekly on mon,fri at 06:00",
    }


@pytest.mark.parametrize(
    "spec",
    [
        "manual",
        "every 2 days",
        "every 1 hour",
        "daily at 06:00 Europe/Berlin",
        "weekly on tue at 07:30 America/New_York",
        "0 6 * * 1-5 Europe/Berlin",
        "weekly on mon,fri at 06:00",
    ],
)
def test_saved_schedules_round_trip_through_the_form_inputs(spec: str) -> None:
    form = forms.from_submission(forms.split_schedule(spec))
    text = forms.schedule_spec(form)
    assert text is not None and not form.errors
    assert parse_schedule(text).spec == spec  # the DataCenter's normal form, as the page saves it


def test_delay_shown_in_largest_whole_unit() -> None:
    assert forms.split_delay(300) == {"retry_delay_n": "5", "retry_delay_unit": "m"}
    assert forms.split_delay(7200) == {"retry_delay_n": "2", "retry_delay_unit": "h"}
    assert forms.split_delay(45) == {"retry_delay_n": "45", "retry_delay_unit": "s"}


def test_dataset_arguments_leave_validation_to_the_datacenter() -> None:
    """What the user typed goes to the DataCenter as is (it checks every field at once); only what the form
    composes is checked here, and left out when it cannot be composed."""
    form = forms.from_submission({"retries": "many", "retry_delay_n": "-3", "method": "merge"})
    args = forms.dataset_arguments(form, "manual")
    assert not form.errors
    assert (args["retries"], args["retry_delay"], args["method"], args["name"]) == ("many", "-3m", "merge", "")
    form = forms.from_submission({"retry_delay_unit": "fortnights"})
    args = forms.dataset_arguments(form, None)
    assert set(form.errors) == {"retry_delay"} and "retry_delay" not in args and "schedule" not in args


def test_dataset_arguments_for_the_datacenter() -> None:
    form = forms.from_submission(
        {
            "name": " Calls ",
            "account": "3",
            "report": "activities_call",
            "retries": "2",
            "retry_delay_n": "90",
            "retry_delay_unit": "s",
            "method": "append",
            "description": "  kept as typed  ",
        }
    )
    args = forms.dataset_arguments(form, "every 2 hours")
    assert args == {
        "name": "Calls",
        "account": 3,
        "report": "activities_call",
        "organization_id": None,
        "user_id": None,
        "since": None,
        "method": "append",
        "schedule": "every 2 hours",
        "retries": 2,
        "retry_delay": "90s",
        "description": "  kept as typed  ",
    }


def test_api_key_is_never_kept_in_the_form() -> None:
    form = forms.from_submission({"api_key": "api_secret123456", "account_name": "x"})
    assert "api_key" not in form.values


def test_filters() -> None:
    now = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
    assert filters.when("2026-01-01T06:05:00+00:00") == "2026-01-01 06:05 UTC"
    assert filters.when(None) == "—"
    assert filters.ago(now - dt.timedelta(minutes=5), now) == "5 min ago"
    assert filters.ago(now + dt.timedelta(hours=3), now) == "in 3 h"
    assert filters.ago(now, now) == "just now"
    assert filters.duration(0.25) == "250 ms"
    assert filters.duration(12.34) == "12.3 s"
    assert filters.duration(250) == "4 min 10 s"
    assert filters.count(1234567) == "1,234,567"
    assert filters.cell(None) == ""
    assert filters.cell({"a": [1, "<b>"]}) == '{"a": [1, "<b>"]}'  # escaped later by Jinja, not here
