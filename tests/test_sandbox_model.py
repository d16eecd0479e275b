"""The sandbox's own model of Close (endpoint groups, event object types) against the client's.

The two are written separately from Close's reference, so where they disagree one of them misreads Close:
these tests name the disagreement instead of letting a shared assumption pass unnoticed.
"""

from __future__ import annotations

import pytest

from closesync.close import endpoint_group as client_group
from closesync.close.events import EVENT_OBJECT_TYPES, event_object_type
from closesync.reports import REPORTS
from closesync.sandbox import SandboxData
from closesync.sandbox.event_types import OBJECT_TYPES, object_type
from closesync.sandbox.layout import ACTIVITY_MIX
from closesync.sandbox.routes import endpoint_group


@pytest.mark.parametrize(("method", "path", "group"), [
    ("GET", "lead", "GET lead"),
    ("GET", "lead/lead_8GnDcbyIxXyf0zXdMxfUcPWlcmvJqRnf7N1zKQvqKx0/", "GET lead"),
    ("put", "task/task_abc12345", "PUT task"),
    ("GET", "activity/status_change/opportunity/?_skip=100", "GET activity/status_change/opportunity"),
    ("GET", "organization/orga_PLACEHOLDER0/", "GET organization"),
    ("GET", "report/sent_emails/orga_x1/", "GET report/sent_emails"),
    ("GET", "report/activity/metrics/", "GET report/activity/metrics"),
    ("GET", "export/lead/expo_abc/", "GET export/lead"),
    ("POST", "export/opportunity/", "POST export/opportunity"),
    ("POST", "data/search/", "POST data/search"),
    ("GET", "no/such/endpoint/", "GET no/such/endpoint"),
])
def test_endpoint_group_is_the_route_without_the_object_id(method: str, path: str, group: str) -> None:
    assert endpoint_group(method, path) == group


def test_client_and_sandbox_agree_on_every_report_group() -> None:
    for spec in REPORTS:
        path = spec.path.replace("{organization_id}", "orga_PLACEHOLDER0").replace("{id}", "x_PLACEHOLDER0")
        assert endpoint_group(spec.method, path) == spec.group, spec.slug


def test_client_and_sandbox_agree_on_groups_of_single_records() -> None:
    data = SandboxData(seed=3, leads=3)
    for name in ("lead", "contact", "opportunity", "task", "event", "user", *ACTIVITY_MIX):
        record_id = data.records(name)[0]["id"]
        path = f"/api/v1/{name}/{record_id}/"
        assert endpoint_group("GET", path.removeprefix("/api/v1/")) == client_group("GET", path), path


def test_client_and_sandbox_agree_on_event_object_types() -> None:
    assert set(OBJECT_TYPES) | {"task"} == set(EVENT_OBJECT_TYPES)
    for collection in EVENT_OBJECT_TYPES:
        for record in ({}, {"_type": "missed_call"}):
            assert object_type(collection, record) == event_object_type(collection, record), collection
    assert object_type("user", {}) is None
