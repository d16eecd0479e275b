"""End to end in Chromium: an open dataset page follows runs it did not start (issue 13 §2).

The scheduler thread of `closesync serve` starts a scheduled run while the page sits open; the page shows it
running and finished without a reload. A run Close throttles says what it waits for while it waits.
Screenshots: build/screenshots/live-scheduled-run.png and throttled-run.png.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import test_e2e_web
from closesync.datacenter import DataCenter
from closesync.datacenter.store import to_iso
from fixtures_web import LiveServer

browser, page, shot = test_e2e_web.browser, test_e2e_web.page, test_e2e_web.shot  # its Chromium fixtures
pytestmark = pytest.mark.browser


def _badge(status: str) -> str:
    """The status panel's badge once it shows `status` (the page's script sets its class)."""
    return f"#live [data-live=status].badge.{status}"


def _calls_dataset(home: Path, sandbox: Any, **options: Any) -> Any:
    dc = DataCenter(home)
    account = dc.add_account("Acme", api_key=sandbox.api_key, base_url=sandbox.base_url)
    return dc, dc.create_dataset("Calls", account=account.id, report="activities_call", method="replace", **options)


def test_a_scheduled_run_appears_and_finishes_on_an_open_page(  # noqa: F811
    page: Any, web_home: Path, make_sandbox: Any
) -> None:
    sandbox = make_sandbox(leads=10, activities_per_lead=100, latency_ms=1000)  # 5+ s: two polls or more
    dc, ds = _calls_dataset(web_home, sandbox, schedule="every 1 day")
    with LiveServer(web_home, scheduler=True) as srv:
        page.goto(f"{srv.url}/datasets/{ds.id}")
        assert page.inner_text("[data-live=status]") == "never run"
        page.evaluate("window.notReloaded = true")

        with dc.store.write() as conn:  # the schedule's slot comes now; the scheduler notices within 5 s
            conn.execute("UPDATE datasets SET next_run_at = ? WHERE id = ?", (to_iso(datetime.now(UTC)), ds.id))

        page.wait_for_selector(_badge("running"), timeout=30_000)
        page.wait_for_selector(_badge("success"), timeout=60_000)
        row = page.locator("#history tbody tr").first
        row.wait_for()
        assert "schedule" in row.inner_text() and "success" in row.inner_text()
        page.wait_for_selector("#preview tbody tr")  # the new table's rows, fetched when the run ended
        assert page.evaluate("window.notReloaded") is True
        assert page.inner_text("[data-live=runs]") == "1"
        shot(page, "live-scheduled-run")
        assert page.console_errors == []  # type: ignore[attr-defined]


def test_a_throttled_run_says_what_it_waits_for(page: Any, web_home: Path, make_sandbox: Any) -> None:  # noqa: F811
    sandbox = make_sandbox(leads=10)
    _dc, ds = _calls_dataset(web_home, sandbox)
    sandbox.add_fault("429", path="activity/call/", count=1, reset=8.0)
    with LiveServer(web_home, scheduler=False) as srv:
        page.goto(f"{srv.url}/datasets/{ds.id}")
        assert page.locator("#live-waiting").is_hidden()
        page.click("#run-form button")
        waiting = page.locator("#live-waiting")
        waiting.wait_for(state="visible", timeout=15_000)
        text = waiting.inner_text()
        assert text.startswith("Waiting ") and "for Close's rate limit on activity/call" in text
        assert "Close answered 429" in text and "rows read so far" in text
        assert page.inner_text("[data-live=status]") == "running"
        shot(page, "throttled-run")
        page.wait_for_selector(_badge("success"), timeout=30_000)
        assert waiting.is_hidden()
        assert page.locator("#history tbody tr").first.locator("td").nth(7).inner_text() == "1"  # throttle waits
        assert page.console_errors == []  # type: ignore[attr-defined]
