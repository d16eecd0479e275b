"""End to end: `closesync serve` + the sandbox + Debian's Chromium driven by Playwright.

A user adds an account, creates a DataSet through the panes, runs it, sees the rows and the history, and
sees a failing run's error. Each page is saved under build/screenshots/ for a human to look at.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fixtures_web import LiveServer

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("CLOSESYNC_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[1] / "build" / "screenshots"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium (never a downloaded one); with CI=true a missing browser fails the run."""
    if not Path(CHROMIUM).exists():
        message = (
            f"Chromium not found at {CHROMIUM}: run scripts/install-test-deps.sh (apt-get install chromium)"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page that records console errors (a CSP violation or a script error fails the test)."""
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    pg = context.new_page()
    pg.console_errors = []  # type: ignore[attr-defined]
    pg.dialogs = []  # type: ignore[attr-defined]
    expected = re.compile(r"Failed to load resource: .* status of (401|404|422)")  # validation answers

    def on_console(m: Any) -> None:
        if m.type == "error" and not expected.search(m.text):
            pg.console_errors.append(m.text)  # type: ignore[attr-defined]

    pg.on("console", on_console)
    pg.on("response", lambda r: r.status >= 500 and pg.console_errors.append(f"{r.status} {r.url}"))  # type: ignore[attr-defined]
    pg.on("pageerror", lambda e: pg.console_errors.append(str(e)))  # type: ignore[attr-defined]

    def on_dialog(d: Any) -> None:
        pg.dialogs.append(d.message)  # type: ignore[attr-defined]
        d.accept()

    pg.on("dialog", on_dialog)
    pg.set_default_timeout(20_000)
    yield pg
    context.close()


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_user_journey(page: Any, web_home: Path, sandbox: Any) -> None:
    with LiveServer(web_home, scheduler=True) as srv:
        base = srv.url
        page.goto(f"{base}/")
        assert page.url.endswith("/datasets")
        assert page.locator("text=No DataSets yet").is_visible()
        shot(page, "01-datasets-empty")

        # Accounts: add one through the Credentials pane; the key is validated live against the sandbox
        page.goto(f"{base}/accounts")
        page.fill("#account_name", "Bad key")
        page.fill("#api_key", "api_thisKeyIsWrong000")
        page.fill("#base_url", sandbox.base_url)
        page.click("text=Add account")
        assert page.locator("#add-account .error").is_visible()
        assert page.input_value("#account_name") == "Bad key"
        assert page.input_value("#api_key") == ""  # a key is never sent back to the browser
        shot(page, "02-accounts-wrong-key")
        page.fill("#account_name", "Acme Sales")
        page.fill("#api_key", sandbox.api_key)
        page.click("text=Add account")
        page.wait_for_selector("#accounts")
        row = page.locator("#accounts tbody tr").first
        assert "Acme Sales" in row.inner_text()
        assert sandbox.api_key not in page.content()
        shot(page, "03-accounts")

        # Rename it in place (the key stays)
        page.click("#accounts tbody tr details.rename summary")
        page.fill("#accounts tbody tr details.rename input[name=name]", "Acme Sales EU")
        page.click("#accounts tbody tr details.rename button")
        page.wait_for_selector(".flash.ok")
        assert "renamed to “Acme Sales EU”" in page.inner_text(".flash.ok")
        assert "Acme Sales EU" in page.locator("#accounts tbody tr").first.inner_text()

        # New DataSet through the four panes
        page.goto(f"{base}/datasets/new")
        assert page.locator("#field-organization_id").is_hidden()
        page.select_option("#report", label="Organizations")
        assert page.locator("#field-organization_id").is_visible()
        assert "Organization" in page.inner_text("#report-desc")
        page.select_option("#report", label="Reporting Activity")
        assert page.locator("#field-user_id").is_visible()
        assert page.locator("#organization_id option").count() >= 2  # filled from the account
        page.select_option("#report", label="Leads")
        assert page.locator("#field-organization_id").is_hidden()
        assert page.locator("#field-user_id").is_hidden()
        desc = page.inner_text("#report-desc")
        assert desc and desc != "Pick a report to see what it returns."
        page.check("input[name=schedule_kind][value=daily]")
        assert page.locator("#at_time").is_visible()
        assert page.locator("#cron").is_hidden()
        page.fill("#at_time", "06:30")
        page.check("input[name=method][value=replace]")
        shot(page, "04-new-dataset")
        page.click("#save")  # no name yet: the form comes back with the error next to the field
        assert page.locator("#error-name").is_visible()
        assert page.input_value("#at_time") == "06:30"
        assert page.locator("input[name=schedule_kind][value=daily]").is_checked()
        shot(page, "05-new-dataset-error")
        page.fill("#name", "All leads")
        page.fill("#description", "Every lead, refreshed each morning.")
        page.click("#save")
        page.wait_for_url(re.compile(r"/datasets/\d+$"))
        assert page.locator("h1").inner_text() == "All leads"
        dataset_url = page.url

        # Run now: the status updates live (no reload), then history and preview fill in
        page.evaluate("window.__noReload = true")
        sandbox.add_fault("slow", count=1, delay=2.0)  # keeps the run going long enough to watch it
        page.click("text=Run now")
        assert page.locator("#downloads").is_hidden()  # nothing to download before the first run
        page.wait_for_selector("#live [data-live=status].running")
        assert page.locator("#run-form button").is_disabled()
        page.wait_for_selector("#history tbody tr[data-run]")  # the run shows in the history as it goes
        shot(page, "06a-dataset-running")
        page.wait_for_selector("#live [data-live=status].success", timeout=60_000)
        assert page.locator("#run-form button").is_enabled()
        assert page.evaluate("window.__noReload") is True
        page.wait_for_selector("#history tbody tr")
        page.wait_for_selector("#preview tbody tr")
        assert page.locator("#history tbody tr").count() == 1
        assert page.locator("#preview tbody tr").count() == 20
        preview_text = page.inner_text("#preview")
        assert "<script>alert(1)</script>" in preview_text  # shown as text ...
        assert page.dialogs == []  # ... and never run
        assert page.locator("#downloads").is_visible()
        page.reload()
        assert page.locator("#columns tbody tr").count() > 5
        assert "<script>alert(1)</script>" in page.inner_text("#preview")
        assert page.dialogs == []
        shot(page, "06-dataset")

        # Edit
        page.click("text=Edit")
        assert page.input_value("#name") == "All leads"
        assert page.locator("input[name=schedule_kind][value=daily]").is_checked()
        shot(page, "07-edit-dataset")
        page.fill("#description", "Edited in the browser.")
        page.click("#save")
        page.wait_for_url(dataset_url)
        assert "Edited in the browser." in page.inner_text(".page-head")

        # A failing run shows its error in the status panel and the history
        blocker = web_home / "blocked"
        blocker.write_text("a file where a folder should be")
        page.goto(f"{base}/datasets/new")
        assert page.locator("#new-account").is_hidden()
        page.select_option("#account", value="new")  # the Credentials pane can add an account inline
        assert page.locator("#new-account #api_key").is_visible()
        page.select_option("#account", index=0)
        assert page.locator("#new-account").is_hidden()
        page.wait_for_function("document.querySelectorAll('#organization_id option').length > 1")  # via fetch
        page.check("input[name=schedule_kind][value=weekly]")
        assert page.locator("#weekday").is_visible() and page.locator("#at_time").is_visible()
        page.check("input[name=schedule_kind][value=manual]")
        assert page.locator("#at_time").is_hidden()
        page.select_option("#report", label="Users")
        page.fill("#name", "Users (broken destination)")
        page.click("summary")
        page.fill("#destination", f"duckdb:{blocker}/close.duckdb")
        page.fill("#retries", "2")  # the default is the CLI's (none): ask for retries
        page.click("#save")
        page.wait_for_url(re.compile(r"/datasets/\d+$"))
        page.click("text=Run now")
        page.wait_for_selector("#live [data-live=status].failed", timeout=60_000)
        assert page.inner_text("#live-error").strip()
        page.wait_for_selector("#history tbody tr td.err")
        assert page.inner_text("#history tbody tr td.err").strip()
        assert page.inner_text("[data-live=runs]") == "1"
        assert "retry 2" in page.inner_text("[data-live=next]")  # the retry policy queued the next attempt
        assert page.inner_text("[data-live=rows]") == "—"  # a failed run loaded nothing
        assert page.locator("#downloads").is_hidden()
        assert "last run failed" in page.inner_text("#preview-empty")
        shot(page, "08-dataset-failed")

        # The list shows both, with last run status and rows
        page.goto(f"{base}/datasets")
        listing = page.inner_text("#datasets")
        assert "All leads" in listing and "success" in listing and "failed" in listing
        assert "daily at 06:30" in listing
        shot(page, "09-datasets")

        page.goto(f"{base}/api")
        assert page.locator("#endpoints tbody tr").count() > 15
        shot(page, "10-api")

        # Download links answer with files
        page.goto(dataset_url)
        with page.expect_download() as info:
            page.click("text=Download CSV")
        assert info.value.suggested_filename.endswith(".csv")

        assert page.console_errors == []


def test_login_page_when_a_password_is_set(page: Any, web_home: Path) -> None:
    with LiveServer(web_home, password="open sesame", scheduler=False) as srv:
        page.goto(f"{srv.url}/datasets")
        assert "/login" in page.url
        shot(page, "00-login")
        page.fill("#password", "nope")
        page.click("button[type=submit]")
        assert page.locator(".error").inner_text() == "Wrong password."
        page.fill("#password", "open sesame")
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r"/datasets$"))
        cookies = page.context.cookies()
        session = next(c for c in cookies if c["name"] == "closesync_session")
        assert session["httpOnly"] is True and session["sameSite"] == "Strict"
        page.click("text=Sign out")
        page.wait_for_url(re.compile(r"/login"))
        assert page.console_errors == []
