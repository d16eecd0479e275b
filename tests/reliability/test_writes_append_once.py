"""Issue 10 §2: append adds each record version once.

Records re-read at the cursor boundary (a search walks `date_updated >= cursor`) and by the activities'
24-hour look-back came back on every append run, even on an unchanged account.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from writes_helpers import KINDS, duplicated_versions, make_destination, rows, run

from closesync.sandbox import Sandbox

REPORTS = ["leads", "leads_contacts", "leads_addresses", "activities_call", "tasks", "users"]


@pytest.fixture(params=KINDS)
def destination(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return make_destination(request, tmp_path)


def counts(destination: str) -> dict[str, int]:
    return {slug: len(rows(destination, slug)) for slug in REPORTS}


def test_appending_an_unchanged_account_adds_nothing(sandbox: Sandbox, destination: str) -> None:
    assert run(sandbox, destination, REPORTS, method="append").ok
    first = counts(destination)
    for _ in range(2):
        second = run(sandbox, destination, REPORTS, method="append")
        assert second.ok, [r.error for r in second.failed]
        assert all(r.incremental for r in second.reports if r.slug != "users")
    assert counts(destination) == first
    for slug in REPORTS:
        assert duplicated_versions(destination, slug) == 0, slug


def test_appending_adds_new_records_and_new_versions_once(sandbox: Sandbox, destination: str) -> None:
    assert run(sandbox, destination, REPORTS, method="append").ok
    first = counts(destination)
    data = sandbox.data
    call = data.records("activity/call")[-1]  # inside the look-back window: read again with the new one
    data.update("activity/call", call["id"], note="edited")
    data.add("activity/call")
    data.update("lead", data.records("lead")[0]["id"], description="edited")

    for _ in range(2):
        assert run(sandbox, destination, REPORTS, method="append").ok
    after = counts(destination)
    assert after["activities_call"] == first["activities_call"] + 2  # one new call, one new version
    assert after["leads"] == first["leads"] + 1
    for slug in REPORTS:
        assert duplicated_versions(destination, slug) == 0, slug
