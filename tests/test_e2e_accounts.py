"""End to end in Chromium (issue 13 §1): a key rotated in Close makes a DataSet's run fail; the Accounts and
DataSet pages say the account is invalid and link to the account's Replace key form; the new key typed
there makes the next run succeed; removing the account asks for its name. Screenshots in build/screenshots/."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import test_e2e_web
from fixtures_web import LiveServer
from test_accounts_keys import NEW_KEY

browser, page, shot = test_e2e_web.browser, test_e2e_web.page, test_e2e_web.shot  # its Chromium fixtures

pytestmark = pytest.mark.browser


def test_replace_a_rotated_key_in_the_browser(page: Any, web_home: Path, dc: Any, sandbox: Any) -> None:
    account = dc.add_account("Acme Sales", api_key=sandbox.api_key, base_url=sandbox.base_url)
    leads = dc.create_dataset("Leads", account=account.id, report="leads")
    assert dc.run_dataset(leads.id).ok
    sandbox.rotate_api_key(NEW_KEY)  # revoked in Close: the scheduled run fails with 401
    failed = dc.run_dataset(leads.id)
    assert failed.http_status == 401

    with LiveServer(web_home, scheduler=False) as srv:
        page.goto(f"{srv.url}/accounts")
        health = page.locator("#accounts tbody tr").first.locator(".account-health")
        assert "invalid" in health.inner_text() and f"Run {failed.id} of dataset" in health.inner_text()
        shot(page, "accounts-invalid")

        page.goto(f"{srv.url}/datasets/{leads.id}")
        banner = page.locator("#account-invalid")
        assert banner.is_visible() and "(HTTP 401)" in banner.inner_text()
        assert "closesync accounts set-key" in page.inner_text("#live-error")  # the run's error says how
        shot(page, "accounts-dataset-invalid")

        banner.locator("text=Replace key").click()
        page.wait_for_url(re.compile(rf"/accounts/{account.id}#replace-key$"))
        page.fill("#new_api_key", "api_stillTheOldOne00000")
        page.click("#replace-key-submit")
        assert page.locator("#error-api_key").is_visible()
        assert "Close rejected the API key" in page.inner_text("#error-api_key")
        assert page.input_value("#new_api_key") == ""  # a key is never sent back to the browser
        page.fill("#new_api_key", NEW_KEY)
        shot(page, "accounts-replace-key")
        page.click("#replace-key-submit")
        page.wait_for_selector(".flash.ok")
        assert "replaced" in page.inner_text(".flash.ok") and NEW_KEY not in page.content()
        assert "valid" in page.inner_text("#account-status")
        shot(page, "accounts-key-replaced")

        page.goto(f"{srv.url}/datasets/{leads.id}")  # the same DataSet runs again with the new key
        page.click("text=▶ Run now")
        page.wait_for_selector("#live [data-live=status].success", timeout=60_000)
        page.reload()
        assert page.locator("#account-invalid").count() == 0

        page.goto(f"{srv.url}/accounts/{account.id}")
        warning = page.inner_text("#remove-warning")
        assert "1 DataSet" in warning and "3 runs" in warning
        page.fill("#confirm_name", "acme sales")
        page.click("#remove-submit")
        assert page.locator("#error-confirm_name").is_visible()
        shot(page, "accounts-remove-confirm")
        page.fill("#confirm_name", "Acme Sales")
        page.click("#remove-submit")
        page.wait_for_url(re.compile(r"/accounts$"))
        assert "Removed account “Acme Sales”" in page.inner_text(".flash.ok")
        assert page.console_errors == []  # type: ignore[attr-defined]
    assert dc.list_accounts() == [] and dc.list_datasets() == []
