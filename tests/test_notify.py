"""Alert channels: masking and events, the DataCenter's channel store, the CLI, the JSON API and the
Settings page (TestClient), and the core without apprise. Runs and real deliveries: test_e2e_notify.py."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from closesync.cli import cli
from closesync.datacenter import (
    ConflictError,
    NotFoundError,
    NotifyUnavailableError,
    ValidationError,
)
from closesync.datacenter.notify import INSTALL_HINT, _redact_url, mask_url, parse_events
from dc_helpers import store_bytes
from fixtures_notify import TOKEN, Receiver, closed_port_url
from fixtures_web import csrf


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("json://127.0.0.1:8999/alerts/tok", "json://127.0.0.1:8999/…"),
        ("jsons://user:pw@hooks.example.com/p?token=abc", "jsons://hooks.example.com/…"),
        ("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#general", "slack://t1…/…"),
        ("mailtos://alerts:app-password@gmail.com", "mailtos://gmail.com/…"),
        ("https://hooks.slack.com/services/T1/B2/xyz", "https://hooks.slack.com/…"),
        ("json://[::1]:9000/x", "json://[::1]:9000/…"),
        ("json://localhost", "json://localhost"),
    ],
)
def test_a_url_is_shown_as_scheme_and_host_only(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_events_are_checked_and_put_in_order() -> None:
    assert parse_events(None) == ("failure", "recovery")
    assert parse_events(" Recovery , failure") == ("failure", "recovery")
    assert parse_events(["recovery"]) == ("recovery",)
    for bad in ("failures", ",", []):
        with pytest.raises(ValidationError) as caught:
            parse_events(bad)
        assert caught.value.field == "events"


def test_apprise_text_loses_every_part_of_the_url_that_could_be_a_secret() -> None:
    url = "jsons://bob:pa55word@hooks.example.com/alerts/s3cretPath?token=t0k3nValue"
    text = f"Failed to post to {url} (user bob, pa55word, /alerts/s3cretPath, t0k3nValue) on hooks.example.com"
    cleaned = _redact_url(text, url)
    for secret in ("pa55word", "s3cretPath", "t0k3nValue"):
        assert secret not in cleaned
    assert "hooks.example.com" in cleaned


# ---------------------------------------------------------------- the DataCenter's channels


def test_channels_are_stored_encrypted_and_listed_masked(dc: Any, leads_dataset: Any, receiver: Receiver) -> None:
    default = dc.add_notification(receiver.url())
    own = dc.add_notification(receiver.url("/leads/" + TOKEN), dataset="Leads", events="failure")
    assert default.dataset_id is None and default.events == ("failure", "recovery")
    assert default.url_masked == f"json://127.0.0.1:{receiver.port}/…"
    assert own.dataset_id == leads_dataset.id and own.dataset_name == "Leads" and own.events == ("failure",)
    assert [c.id for c in dc.list_notifications()] == [default.id, own.id]  # the defaults first
    assert TOKEN not in repr(dc.list_notifications()) and TOKEN not in str(own.to_dict())
    with dc.store.connect() as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert TOKEN.encode() not in store_bytes(dc.home)
    assert receiver.messages == []  # adding checks the URL, it sends nothing

    with pytest.raises(ConflictError):
        dc.add_notification(receiver.url())
    with pytest.raises(NotFoundError):
        dc.add_notification(receiver.url("/other"), dataset="No such")
    with pytest.raises(ValidationError) as caught:
        dc.add_notification("nonsense://" + TOKEN)
    assert caught.value.field == "url" and TOKEN not in str(caught.value) and "apprise" in str(caught.value)
    with pytest.raises(ValidationError):
        dc.add_notification("   ")

    assert dc.remove_notification(own.id).id == own.id
    assert [c.id for c in dc.list_notifications()] == [default.id]
    with pytest.raises(NotFoundError):
        dc.remove_notification(own.id)
    dc.delete_dataset("Leads")  # a dataset's own channels go with it; the defaults stay
    assert [c.id for c in dc.list_notifications()] == [default.id]


def test_a_test_message_reaches_the_channel_and_its_outcome_is_kept(dc: Any, receiver: Receiver) -> None:
    good = dc.add_notification(receiver.url())
    dead = dc.add_notification(closed_port_url())
    deliveries = dc.test_notification()
    assert [(d.notification_id, d.ok) for d in deliveries] == [(good.id, True), (dead.id, False)]
    assert deliveries[1].error and TOKEN not in deliveries[1].error
    [message] = receiver.messages
    assert message["type"] == "info" and "test" in message["title"]
    assert receiver.paths == [f"/alerts/{TOKEN}"]
    channels = {c.id: c for c in dc.list_notifications()}
    assert channels[good.id].last_status == "sent" and channels[good.id].last_error is None
    assert channels[dead.id].last_status == "failed" and channels[dead.id].last_error == deliveries[1].error
    assert [d.ok for d in dc.test_notification(good.id)] == [True]
    with pytest.raises(NotFoundError):
        dc.test_notification(999)


def test_without_apprise_adding_a_channel_says_how_to_install_it(
    dc: Any, monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> None:
    channel = dc.add_notification(receiver.url())
    monkeypatch.setitem(sys.modules, "apprise", None)  # import apprise now raises ImportError
    with pytest.raises(NotifyUnavailableError) as caught:
        dc.add_notification(receiver.url("/second"))
    assert INSTALL_HINT in str(caught.value)
    [delivery] = dc.test_notification(channel.id)  # a channel saved earlier fails softly, with the hint
    assert not delivery.ok and INSTALL_HINT in (delivery.error or "")


# ---------------------------------------------------------------- the CLI


def _cli(home: Path, *args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(cli, ["--home", str(home), *args], input=input)


def test_notify_commands(web_home: Path, dc: Any, leads_dataset: Any, receiver: Receiver) -> None:
    added = _cli(web_home, "notify", "add", receiver.url(), "--dataset", "Leads", "--on", "failure")
    assert added.exit_code == 0, added.output
    assert re.search(r"Added channel 1: json://127\.0\.0\.1:\d+/… for DataSet “Leads” on failure", added.output)
    prompted = _cli(web_home, "notify", "add", input=receiver.url("/default/" + TOKEN) + "\n")
    assert prompted.exit_code == 0 and "every DataSet (default) on failure, recovery" in prompted.output

    listed = _cli(web_home, "notify", "list")
    assert listed.exit_code == 0 and "Leads" in listed.output and "all (default)" in listed.output
    as_json = _cli(web_home, "notify", "list", "--json")
    assert [c["id"] for c in json.loads(as_json.output)] == [2, 1]

    tested = _cli(web_home, "notify", "test", "1")
    assert tested.exit_code == 0 and "Channel 1 (json://127.0.0.1:" in tested.output and "sent" in tested.output
    assert len(receiver.of_type("info")) == 1

    bad = _cli(web_home, "notify", "add", "json://127.0.0.1:1/x", "--on", "sometimes")
    assert bad.exit_code == 2 and "--events: Unknown event(s) sometimes" in bad.output

    dead = _cli(web_home, "notify", "add", closed_port_url())
    assert dead.exit_code == 0
    failed = _cli(web_home, "notify", "test")
    assert failed.exit_code == 1 and "Channel 3" in failed.output and "failed" in failed.output

    removed = _cli(web_home, "notify", "remove", "3")
    assert removed.exit_code == 0 and "Removed channel 3" in removed.output
    assert _cli(web_home, "notify", "remove", "3").exit_code == 2
    everything = "".join(r.output for r in (added, prompted, listed, as_json, tested, bad, dead, failed, removed))
    assert TOKEN not in everything


def test_notify_add_without_apprise_exits_2_with_the_install_hint(
    web_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "apprise", None)
    result = _cli(web_home, "notify", "add", "json://127.0.0.1:9/x")
    assert result.exit_code == 2 and INSTALL_HINT in result.output
    assert _cli(web_home, "notify", "list").exit_code == 0  # the rest works without it


# ---------------------------------------------------------------- the JSON API


def test_json_api_for_channels(client: Any, dc: Any, leads_dataset: Any, receiver: Receiver) -> None:
    token = {"X-CSRF-Token": csrf(client)}
    assert client.post("/api/notifications", json={"url": receiver.url()}).status_code == 403  # no CSRF token
    created = client.post(
        "/api/notifications", headers=token,
        json={"url": receiver.url(), "dataset": "Leads", "events": ["recovery"]},
    )
    assert created.status_code == 201
    channel = created.json()
    assert channel["dataset_id"] == leads_dataset.id and channel["events"] == ["recovery"]
    assert channel["url_masked"].startswith("json://127.0.0.1:") and "url" not in channel
    listed = client.get("/api/notifications")
    assert [c["id"] for c in listed.json()] == [channel["id"]]

    tested = client.post(f"/api/notifications/{channel['id']}/test", headers=token)
    assert tested.status_code == 200 and tested.json()["deliveries"][0]["ok"] is True
    assert client.post("/api/notifications/test", headers=token).json()["deliveries"][0]["ok"] is True
    assert len(receiver.messages) == 2

    bad = client.post("/api/notifications", headers=token, json={"url": "nonsense://" + TOKEN})
    assert bad.status_code == 422 and bad.json()["field"] == "url"
    wrong_event = client.post("/api/notifications", headers=token, json={"url": receiver.url(), "events": ["x"]})
    assert wrong_event.status_code == 422
    assert client.delete(f"/api/notifications/{channel['id']}", headers=token).json() == {"removed": True}
    assert client.delete(f"/api/notifications/{channel['id']}", headers=token).status_code == 404
    for response in (created, listed, tested, bad, wrong_event):
        assert TOKEN not in response.text


# ---------------------------------------------------------------- the Settings page


def test_settings_page_adds_tests_and_removes_channels(
    client: Any, dc: Any, leads_dataset: Any, receiver: Receiver
) -> None:
    page = client.get("/settings")
    assert page.status_code == 200 and "No channels yet" in page.text
    assert 'href="/settings" class="active"' in page.text and page.headers["cache-control"] == "no-store"
    assert "http://127.0.0.1:8080" in page.text  # where the links in alerts point
    token = csrf(client)

    refused = client.post("/settings/notifications", data={"url": receiver.url(), "events": "failure"})
    assert refused.status_code == 403 and dc.list_notifications() == []

    invalid = client.post(
        "/settings/notifications",
        data={"csrf_token": token, "url": "nonsense://" + TOKEN, "dataset": str(leads_dataset.id),
              "events": ["recovery"]},
    )
    assert invalid.status_code == 422 and 'id="error-url"' in invalid.text and TOKEN not in invalid.text
    assert f'value="{leads_dataset.id}" selected' in invalid.text  # the other choices are kept
    assert 'value="recovery" checked' in invalid.text and 'value="failure" checked' not in invalid.text
    no_event = client.post("/settings/notifications", data={"csrf_token": token, "url": receiver.url()})
    assert no_event.status_code == 422 and 'id="error-events"' in no_event.text

    added = client.post(
        "/settings/notifications",
        data={"csrf_token": token, "url": receiver.url(), "dataset": str(leads_dataset.id),
              "events": ["failure", "recovery"]},
    )
    assert added.status_code == 303 and added.headers["location"] == "/settings"
    [channel] = dc.list_notifications()
    assert channel.dataset_id == leads_dataset.id
    listed = client.get("/settings").text
    assert f'<tr data-channel="{channel.id}">' in listed and channel.url_masked in listed
    assert "added for DataSet “Leads”" in listed and TOKEN not in listed

    client.post(f"/settings/notifications/{channel.id}/test", data={"csrf_token": token})
    after_test = client.get("/settings").text
    assert "Test message sent to" in after_test and 'class="badge ok">sent' in after_test
    assert len(receiver.of_type("info")) == 1

    removed = client.post(f"/settings/notifications/{channel.id}/delete", data={"csrf_token": token})
    assert removed.status_code == 303 and dc.list_notifications() == []
    assert "removed" in client.get("/settings").text
    assert client.post(f"/settings/notifications/{channel.id}/delete", data={"csrf_token": token}).status_code == 404


def test_settings_page_without_apprise_says_how_to_install_it(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "apprise", None)
    page = client.get("/settings").text
    assert 'id="apprise-missing"' in page and INSTALL_HINT.replace("'", "&#39;") in page
    answer = client.post(
        "/settings/notifications", data={"csrf_token": csrf(client), "url": "json://127.0.0.1:9/x",
                                         "events": "failure"},
    )
    assert answer.status_code == 422 and "apprise" in answer.text
