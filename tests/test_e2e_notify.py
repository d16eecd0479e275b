"""End to end: runs against the sandbox tell a local JSON webhook (apprise's json://) when a DataSet fails
with no retry left and when it recovers; a dead channel never changes a run; the channel's URL is never in
clear on disk, on a page or in the CLI; the Settings page in Chromium."""

from __future__ import annotations

import logging
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import test_e2e_web
from closesync.cli import cli
from closesync.datacenter import notify
from dc_helpers import FakeClock, add_account, make_dc, store_bytes
from fixtures_notify import TOKEN, Receiver, closed_port_url
from fixtures_web import LiveServer, make_client

browser, page, shot = test_e2e_web.browser, test_e2e_web.page, test_e2e_web.shot  # its Chromium fixtures


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 26, 10, 7, tzinfo=UTC))


def _at(hour: int, minute: int) -> datetime:
    return datetime(2026, 11, 26, hour, minute, tzinfo=UTC)


def _revoke_key(dc: Any, account: Any) -> None:
    """Close now rejects the saved key (as after a rotation): every run fails with 401."""
    with dc.store.write() as conn:
        conn.execute("UPDATE accounts SET key_ciphertext = ? WHERE id = ?",
                     (dc._accounts.secrets.encrypt("api_revokedREVOKEDrevoked000000000"), account.id))


def test_one_alert_after_the_last_retry_and_one_on_recovery(
    home: Path, sandbox: Any, clock: FakeClock, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLOSESYNC_PUBLIC_URL", "https://closesync.example.com/")
    dc = make_dc(home, clock)
    add_account(dc, sandbox)
    dc.create_dataset("users", account="acme", report="Users", schedule="hourly", retries=1,
                      retry_delay="5m")
    dc.add_notification(receiver.url())
    sched = dc.scheduler()
    sandbox.add_fault("503", path="user/", count=2)

    clock.set(_at(11, 0))
    [first] = sched.tick(wait=True)
    assert dc.get_run(first).status == "failed" and dc.get_dataset("users").pending_attempt == 2
    assert receiver.messages == []  # a retry is queued: nobody is told yet

    clock.set(_at(11, 5))
    [last] = sched.tick(wait=True)
    failed = dc.get_run(last)
    assert failed.status == "failed" and failed.trigger == "retry" and failed.error
    [alert] = receiver.messages
    assert alert["type"] == "failure" and alert["title"] == "closesync: DataSet “users” failed"
    body = alert["message"]
    assert "DataSet “users” failed" in body and "Report: Users" in body and failed.error in body
    assert f"Run: https://closesync.example.com/runs/{last}" in body

    sandbox.add_fault("503", path="user/", count=2)  # still broken at the next slot: no second alert
    clock.set(_at(12, 0))
    sched.tick(wait=True)
    clock.set(_at(12, 5))
    sched.tick(wait=True)
    assert [r.status for r in dc.history("users")] == ["failed"] * 4 and len(receiver.messages) == 1

    clock.set(_at(13, 0))
    [fixed] = sched.tick(wait=True)
    assert dc.get_run(fixed).ok
    recovery = receiver.messages[1]
    assert recovery["type"] == "success" and recovery["title"] == "closesync: DataSet “users” recovered"
    assert "Report: Users" in recovery["message"]
    assert f"https://closesync.example.com/runs/{fixed}" in recovery["message"]

    clock.set(_at(14, 0))
    sched.tick(wait=True)  # healthy again: quiet
    assert len(receiver.messages) == 2
    sched.stop()


def test_a_retry_that_succeeds_alerts_nobody(home: Path, sandbox: Any, clock: FakeClock, receiver: Receiver) -> None:
    dc = make_dc(home, clock)
    add_account(dc, sandbox)
    dc.create_dataset("users", account="acme", report="Users", schedule="hourly", retries=2, retry_delay="1m")
    dc.add_notification(receiver.url())
    sched = dc.scheduler()
    sandbox.add_fault("503", path="user/", count=1)
    clock.set(_at(11, 0))
    sched.tick(wait=True)
    clock.set(_at(11, 1))
    sched.tick(wait=True)
    assert [r.status for r in dc.history("users")] == ["success", "failed"]
    assert receiver.messages == []  # the failure was never announced, so neither is a recovery
    sched.stop()


def test_a_revoked_key_alerts_with_closes_answer(home: Path, sandbox: Any, receiver: Receiver) -> None:
    dc = make_dc(home)
    account = add_account(dc, sandbox)
    dc.create_dataset("users", account="acme", report="Users")  # no retries: the first failure is the last
    dc.add_notification(receiver.url())
    _revoke_key(dc, account)
    run = dc.run_dataset("users")
    assert run.status == "failed" and run.http_status == 401
    [alert] = receiver.messages
    assert "401" in alert["message"] and "Report: Users" in alert["message"]
    assert "api_revokedREVOKEDrevoked000000000" not in alert["message"]  # redacted like everywhere else
    dc.run_dataset("users")
    assert len(receiver.messages) == 1


def test_a_datasets_own_channel_replaces_the_default_for_its_events(
    home: Path, sandbox: Any, receiver: Receiver
) -> None:
    dc = make_dc(home)
    account = add_account(dc, sandbox)
    dc.create_dataset("users", account="acme", report="Users")
    dc.create_dataset("orgs", account="acme", report="Organizations")
    dc.add_notification(receiver.url("/default"))
    dc.add_notification(receiver.url("/users-team"), dataset="users", events="failure")
    _revoke_key(dc, account)
    dc.run_dataset("users")
    dc.run_dataset("orgs")
    assert receiver.paths == ["/users-team", "/default"]
    assert "“users”" in receiver.messages[0]["title"] and "“orgs”" in receiver.messages[1]["title"]

    with dc.store.write() as conn:  # the key works again
        conn.execute("UPDATE accounts SET key_ciphertext = ? WHERE id = ?",
                     (dc._accounts.secrets.encrypt(sandbox.api_key), account.id))
    assert dc.run_dataset("users").ok
    assert receiver.paths[-1] == "/default"  # users has no recovery channel of its own
    assert receiver.of_type("success")[0]["title"] == "closesync: DataSet “users” recovered"


def test_a_dead_channel_never_changes_a_run(
    home: Path, sandbox: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    dc = make_dc(home)
    add_account(dc, sandbox)
    dc.create_dataset("users", account="acme", report="Users")
    closed = dc.add_notification(closed_port_url())
    with Receiver(status=500) as refusing:
        failing = dc.add_notification(refusing.url())
        sandbox.add_fault("503", path="user/", count=1)
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="closesync.datacenter"):
            failed = dc.run_dataset("users")
        assert time.monotonic() - started < notify.CONNECT_TIMEOUT_S + notify.READ_TIMEOUT_S
        assert failed.status == "failed" and failed.http_status == 503  # its own reason, nothing else
        assert len(refusing.messages) == 1  # it was told, and answered 500

    channels = {c.id: c for c in dc.list_notifications()}
    assert channels[closed.id].last_status == "failed" and "Connection" in (channels[closed.id].last_error or "")
    assert channels[failing.id].last_status == "failed" and "500" in (channels[failing.id].last_error or "")
    assert f"notification channel {closed.id}" in caplog.text and TOKEN not in caplog.text

    def broken_plugin(*args: Any) -> None:
        raise RuntimeError(f"a bug holding the URL {TOKEN}")

    monkeypatch.setattr(notify, "send", broken_plugin)
    recovered = dc.run_dataset("users")  # recovery: both channels blow up, the run is a success all the same
    assert recovered.ok and recovered.rows == sandbox.data.count("user")
    assert [r.status for r in dc.history("users")] == ["success", "failed"]
    errors = [c.last_error for c in dc.list_notifications()]
    assert errors == ["Sending failed (RuntimeError)."] * 2


def test_the_url_is_never_in_clear_on_disk_in_pages_or_in_the_cli(
    web_home: Path, dc: Any, sandbox: Any, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    account = dc.add_account("Acme", api_key=sandbox.api_key, base_url=sandbox.base_url)
    dataset = dc.create_dataset("Users", account=account.id, report="users")
    shown: list[str] = []
    runner = CliRunner()
    for args in (["notify", "add", receiver.url(), "--dataset", "Users"], ["notify", "list"],
                 ["notify", "list", "--json"], ["notify", "test"], ["datasets", "history", "Users"]):
        result = runner.invoke(cli, ["--home", str(web_home), *args])
        assert result.exit_code == 0, result.output
        shown.append(result.output)
    _revoke_key(dc, account)
    with caplog.at_level(logging.DEBUG):
        assert dc.run_dataset("Users").status == "failed"
    assert len(receiver.of_type("failure")) == 1
    with make_client(dc) as client:
        for path in ("/settings", f"/datasets/{dataset.id}", "/datasets", "/api/notifications",
                     f"/api/datasets/{dataset.id}/runs"):
            shown.append(client.get(path).text)
    shown.append(caplog.text)
    assert [text for text in shown if TOKEN in text or receiver.url() in text] == []
    with sqlite3.connect(dc.store.path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert TOKEN.encode() not in store_bytes(web_home)


# ---------------------------------------------------------------- the Settings page in Chromium


@pytest.mark.browser
def test_settings_page_in_chromium(page: Any, web_home: Path, dc: Any, sandbox: Any, receiver: Receiver) -> None:
    account = dc.add_account("Acme", api_key=sandbox.api_key, base_url=sandbox.base_url)
    dc.create_dataset("Leads", account=account.id, report="leads")
    with LiveServer(web_home, scheduler=False) as srv:
        page.goto(f"{srv.url}/datasets")
        page.click("nav >> text=Settings")
        assert page.url.endswith("/settings") and page.locator("text=No channels yet").is_visible()

        page.fill("#url", closed_port_url())
        page.uncheck("input[name=events][value=recovery]")
        page.click("text=Add channel")
        page.wait_for_selector(".flash.ok")

        page.fill("#url", receiver.url())
        page.select_option("#dataset", label="Leads")
        page.click("text=Add channel")
        page.wait_for_selector("#channels tbody tr >> nth=1")
        assert page.input_value("#url") == ""  # the URL is never sent back to the browser
        rows = page.locator("#channels tbody tr")
        assert "All" in rows.nth(0).inner_text() and "failure" in rows.nth(0).inner_text()
        assert "Leads" in rows.nth(1).inner_text() and "recovery" in rows.nth(1).inner_text()

        rows.nth(1).locator("text=Send test").click()
        page.wait_for_selector(".flash.ok >> text=Test message sent")
        assert len(receiver.of_type("info")) == 1
        page.locator("#channels tbody tr").nth(0).locator("text=Send test").click()
        page.wait_for_selector(".flash.error")
        assert "failed" in page.locator("#channels tbody tr").nth(0).inner_text()
        assert TOKEN not in page.content()
        shot(page, "settings")

        page.locator("#channels tbody tr").nth(0).locator("text=Remove").click()  # confirmed in the dialog
        page.wait_for_selector(".flash.ok >> text=removed")
        assert page.locator("#channels tbody tr").count() == 1
        assert page.dialogs and page.console_errors == []
