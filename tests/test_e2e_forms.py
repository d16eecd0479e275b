"""End to end in Chromium (issue 13 §6): the schedule previews its next runs as you type, every error shows
at once under its field (a table clash opens the advanced section), Since is a date picker, and a lost
link lands on a page for people. Screenshots go to build/screenshots/."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from closesync.datacenter import DataCenter
from fixtures_web import LiveServer
from test_e2e_web import browser, page, shot  # noqa: F401 - the Chromium fixtures

pytestmark = pytest.mark.browser


def _preview(pg: Any) -> str:
    return str(pg.inner_text("#schedule-preview"))


def test_schedule_preview_and_every_error_at_once(page: Any, web_home: Path, sandbox: Any) -> None:  # noqa: F811
    from playwright.sync_api import expect

    dc = DataCenter(web_home)
    account = dc.add_account("Acme", api_key=sandbox.api_key, base_url=sandbox.base_url)
    dc.create_dataset("Leads", account=account.id, report="leads")
    with LiveServer(web_home, scheduler=False) as srv:
        page.goto(f"{srv.url}/datasets/new")
        preview = page.locator("#schedule-preview")
        expect(preview).to_have_text("Runs only when started by hand.")

        # Every…: three run times, and new ones as the number changes
        page.check("input[name=schedule_kind][value=every]")
        expect(preview).to_have_text(re.compile(r"^Next runs: "))
        hourly = _preview(page)
        assert hourly.count("·") == 2 and "UTC" in hourly
        page.fill("#every_n", "")
        page.type("#every_n", "6")
        expect(preview).not_to_have_text(hourly)
        assert _preview(page).startswith("Next runs:")

        # Daily in a time zone: the times are shown in that zone
        page.check("input[name=schedule_kind][value=daily]")
        page.fill("#at_time", "06:30")
        page.type("#zone", "Europe/Berlin")
        expect(preview).to_contain_text("06:30 Europe/Berlin")
        assert _preview(page).count("06:30 Europe/Berlin") == 3

        # A cron expression typed key by key: wrong while incomplete, three runs once it is whole
        page.fill("#zone", "")
        page.check("input[name=schedule_kind][value=cron]")
        page.type("#cron", "0 7 * * 1-5", delay=30)
        expect(preview).to_contain_text("07:00 UTC")
        assert _preview(page).count("07:00 UTC") == 3
        assert not page.locator("#schedule-preview.error").count()
        shot(page, "schedule-preview")
        page.fill("#cron", "")
        page.type("#cron", "whenever")
        expect(preview).to_contain_text("Cannot understand the schedule 'whenever'")
        expect(preview).to_have_class(re.compile(r"\berror\b"))

        # Submit with four mistakes: no name, negative retries, a bad schedule, a table another DataSet loads
        page.select_option("#report", label="Leads")
        page.fill("#retries", "-1")
        assert page.locator("#advanced").get_attribute("open") is None
        page.click("#save")
        page.wait_for_selector("#error-name")
        for field in ("name", "retries", "schedule", "table"):
            assert page.locator(f"#error-{field}").is_visible(), field
        assert "already loads table" in page.inner_text("#error-table")
        assert page.locator("#advanced").get_attribute("open") is not None  # opened to show the Table error
        assert "Please fix the 4 highlighted fields" in page.inner_text(".flash.error")
        assert page.input_value("#cron") == "whenever" and page.input_value("#retries") == "-1"
        assert page.inner_text("#pane-scheduling").count("Cannot understand the schedule") == 1  # said once
        shot(page, "dataset-form-errors")

        # Fix them; Since is a date picker
        page.select_option("#report", label="Activities Call")
        assert page.get_attribute("#since", "type") == "date"
        page.fill("#since", "2024-01-31")
        page.fill("#name", "Calls since 2024")
        page.fill("#retries", "0")
        page.fill("#cron", "")
        page.type("#cron", "0 7 * * 1-5")
        page.fill("#table", "")
        page.click("#save")
        page.wait_for_url(re.compile(r"/datasets/\d+$"))
        saved = DataCenter(web_home).get_dataset("Calls since 2024")
        assert saved.since is not None and saved.since.date().isoformat() == "2024-01-31"
        assert saved.table == "activities_call" and saved.schedule == "0 7 * * 1-5"

        # Its page: rows in the table beside the rows the last run read, settings by name
        run = DataCenter(web_home).run_dataset(saved.id)
        assert run.ok
        page.reload()
        assert page.inner_text("[data-live=table-rows]") == f"{run.rows:,}"
        assert page.inner_text("[data-live=rows]") == f"{run.rows:,}"
        assert "2024-01-31" in page.inner_text(".kv:not(.status-kv)")
        shot(page, "dataset-rows")
        page.goto(f"{srv.url}/datasets")
        row = page.locator("#datasets tbody tr", has_text="Calls since 2024")
        assert f"{run.rows:,} read last run" in row.inner_text()
        shot(page, "datasets-rows")
        assert page.console_errors == []  # type: ignore[attr-defined]


def test_a_lost_link_lands_on_a_page_for_people(page: Any, web_home: Path) -> None:  # noqa: F811
    with LiveServer(web_home, scheduler=False) as srv:
        response = page.goto(f"{srv.url}/datasets/9999")
        assert response is not None and response.status == 404
        assert page.locator("#not-found").is_visible()
        assert "No dataset" in page.inner_text("#not-found")
        shot(page, "not-found")
        page.click("#not-found >> text=Your DataSets")
        page.wait_for_url(re.compile(r"/datasets$"))
