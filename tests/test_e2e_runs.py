"""End to end in Chromium: the Runs page, a DataSet page's chart and history, and a failed run's page.

Real runs against the sandbox fill nine days of history (tests/runs_helpers.py plus a run a day, some
failing); the pages are driven under the app's CSP (a refused inline style or script is a console error,
which fails the test) and saved as build/screenshots/runs.png, dataset-chart.png and run-detail.png.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fixtures_web import LiveServer
from runs_helpers import XSS_NAME, make_history
from test_e2e_web import browser, page, shot  # noqa: F401 - the Chromium fixtures

pytestmark = pytest.mark.browser


def _history(home: Path, sandbox: Any) -> Any:
    """Three days from make_history, then one Users run a day for six days (days 5 and 8 fail), to today."""
    today = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
    history = make_history(home, sandbox, day1=today - timedelta(days=8))
    for day in range(3, 9):
        history.clock.set(today - timedelta(days=8 - day))
        if day in (5, 8):
            sandbox.add_fault("503", path="user/", count=1)
        history.run("Users")
    return history


def test_runs_page_dataset_chart_and_run_detail(page: Any, web_home: Path, sandbox: Any) -> None:  # noqa: F811
    history = _history(web_home, sandbox)
    users = history.datasets["Users"]
    with LiveServer(web_home, scheduler=False) as srv:
        page.goto(f"{srv.url}/runs")
        assert page.locator("#runs tbody tr").count() == len(history.runs)
        chart = page.locator("#runs-chart svg")
        assert chart.is_visible() and chart.bounding_box()["width"] > 600
        assert page.locator("#runs-chart svg text", has_text="Runs per day").count() == 1
        assert XSS_NAME in page.inner_text("#runs")  # a name shown as text, never run
        assert page.dialogs == []
        shot(page, "runs")

        # filters: failed runs of Users, from the form
        page.select_option("#f-dataset", label="Users")
        page.select_option("#f-status", value="failed")
        page.click("#run-filters button[type=submit]")
        page.wait_for_url(re.compile(r"status=failed"))
        statuses = page.locator("#runs tbody tr .badge").all_inner_texts()
        assert statuses and set(statuses) == {"failed"} and len(statuses) == 3
        assert page.locator("#runs-chart svg text", has_text="Users · failed").count() == 1

        # the dataset page: chart, then history with trigger and throttle waits, each row linking its run
        page.goto(f"{srv.url}/datasets/{users.id}")
        assert page.locator("#run-chart svg").is_visible()
        headers = page.locator("#history thead th").all_inner_texts()
        assert [h.upper() for h in headers] == [
            "RUN", "STATUS", "TRIGGER", "STARTED", "DURATION", "ROWS", "REQUESTS", "THROTTLE WAITS", "ATTEMPT",
            "ERROR",
        ]
        first = page.locator("#history tbody tr").last.locator("td").all_inner_texts()
        assert first[2] == "manual" and first[7] == "1"  # the first run waited once for the rate limit
        page.locator("#run-chart").scroll_into_view_if_needed()
        shot(page, "dataset-chart")

        # "Run now": the row the page adds live has the same cells and a link
        page.click("text=Run now")
        newest = history.runs[-1].id + 1
        page.wait_for_selector(f'#history tbody tr[data-run="{newest}"] .badge.success', timeout=60_000)
        cells = page.locator(f'#history tbody tr[data-run="{newest}"] td').all_inner_texts()
        assert len(cells) == len(headers) and cells[2] == "manual"
        assert page.locator(f'#history a[href="/runs/{newest}"]').count() == 1

        # a failed run's page from its history row: the error in full
        failed = next(r for r in reversed(history.runs) if r.status == "failed" and r.dataset_name == "Broken")
        page.goto(f"{srv.url}/runs?dataset={failed.dataset_id}")
        page.click(f'#runs a[href="/runs/{failed.id}"]')
        page.wait_for_url(re.compile(rf"/runs/{failed.id}$"))
        assert page.inner_text("#run-error pre") == failed.error
        assert page.locator("h1 .badge.failed").is_visible()

        # a run that failed in Close: its report's line, the HTTP status and the error
        unavailable = history.runs[-1]
        assert unavailable.status == "failed" and unavailable.http_status == 503
        page.goto(f"{srv.url}/runs/{unavailable.id}")
        assert page.inner_text("#run-error pre") == unavailable.error
        assert "Users" in page.inner_text("#run-reports tbody") and "failed" in page.inner_text("#run-reports tbody")
        shot(page, "run-detail")

        assert page.console_errors == []
