"""`closesync doctor` against the sandbox over HTTP: with the sandbox's knobs off and on, with a wrong key,
from a saved account and on the web account page. It only reads (asserted from the sandbox's own request
counters), never prints the key, and its JSON keeps the documented schema (closesync.doctor/1)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from closesync.cli import cli
from closesync.doctor import SCHEMA, STATUSES
from closesync.reports import REPORTS, group_by_source
from closesync.sandbox import Sandbox
from fixtures_web import csrf

READ_ONLY_POSTS = {"POST data/search", "POST report/activity"}


def doctor(sb: Sandbox, *args: str, key: str | None = None, home: Path | None = None) -> Result:
    base = ["--home", str(home)] if home else []
    options = list(args) or ["--api-key-env", "CLOSE_KEY", "--base-url", sb.base_url]
    return CliRunner().invoke(cli, [*base, "doctor", *options], env={"CLOSE_KEY": key or sb.api_key})


def assert_read_only(sb: Sandbox) -> None:
    groups = sb.stats()["requests"]["by_group"]
    assert groups and all(g.startswith("GET ") or g in READ_ONLY_POSTS for g in groups), groups
    # bounded, whatever the account's size: about 40 for the 38 classic reports, and one or two requests per
    # source of the others (a fanout source reads a parent, then one of its records)
    others = len(group_by_source([s for s in REPORTS if not s.classic]))
    assert sum(groups.values()) <= 40 + 2 * others


def assert_schema(doc: dict[str, Any]) -> None:
    """The documented shape of `closesync doctor --json` (README, "Troubleshooting")."""
    assert doc["schema"] == SCHEMA
    assert set(doc) == {"schema", "closesync_version", "checked_at", "base_url", "ok", "auth", "summary",
                        "reports", "custom_fields", "search_selectors", "rate_limits", "requests", "notes"}
    assert isinstance(doc["ok"], bool) and doc["checked_at"].endswith("Z")
    assert set(doc["auth"]) == {"status", "message", "user_id", "user_email", "organization_id",
                                "organization_name"}
    assert list(doc["summary"]) == list(STATUSES)
    for report in doc["reports"]:
        assert set(report) == {"slug", "name", "source", "status", "detail", "next_step"}
        assert report["status"] in STATUSES and report["next_step"]
    for info in doc["custom_fields"].values():
        assert set(info) == {"count", "error"}
    for info in doc["search_selectors"].values():
        assert set(info) == {"selectors", "ceiling", "needs_splitting"}
    for info in doc["rate_limits"].values():
        assert set(info) == {"limit", "remaining", "reset_seconds"}
    assert set(doc["requests"]) == {"total", "by_group"}
    assert isinstance(doc["notes"], list)


def test_doctor_on_a_healthy_sandbox(make_sandbox: Any) -> None:
    sb = make_sandbox(leads=15)
    sb.reset_stats()
    done = doctor(sb, "--api-key-env", "CLOSE_KEY", "--base-url", sb.base_url, "--json")
    assert done.exit_code == 0, done.output
    doc = json.loads(done.output)
    assert_schema(doc)
    assert doc["ok"] and doc["auth"]["status"] == "ok"
    assert [r["slug"] for r in doc["reports"]] == [s.slug for s in REPORTS]
    status = {r["slug"]: r["status"] for r in doc["reports"]}
    assert status.pop("custom_fields_shared") == "empty"  # the sandbox has no shared fields unless asked
    assert set(status.values()) == {"ok"}
    counts = {kind: len(sb.data.records(f"custom_field/{kind}")) for kind in doc["custom_fields"]}
    assert {k: v["count"] for k, v in doc["custom_fields"].items()} == counts
    assert set(doc["search_selectors"]) == {"lead", "contact", "custom_object"}
    assert not any(s["needs_splitting"] for s in doc["search_selectors"].values())
    assert doc["rate_limits"] == {} and any("rate-limit" in n for n in doc["notes"])
    assert doc["requests"]["total"] == sb.stats()["requests"]["total"]
    assert sb.api_key not in done.output
    assert_read_only(sb)

    text = doctor(sb)
    assert text.exit_code == 0 and f"Summary: {len(REPORTS) - 1} ok" in text.output and sb.api_key not in text.output


def test_doctor_with_the_sandbox_knobs_on(make_sandbox: Any) -> None:
    """Rate limits, Close's event-log filter rules, no undocumented keys, a refused and a missing source."""
    sb = make_sandbox(leads=15, rate_limit=(40, 1.0))
    sb.event_filters = "documented"
    sb.undocumented_keys = False
    sb.add_fault("403", path="activity/note/", count=5)
    sb.add_fault("404", path="bulk_action/email/", count=5)
    sb.reset_stats()
    done = doctor(sb, "--api-key-env", "CLOSE_KEY", "--base-url", sb.base_url, "--json")
    assert done.exit_code == 1, done.output  # a permission problem is worth a non-zero exit
    doc = json.loads(done.output)
    assert_schema(doc)
    status = {r["slug"]: r for r in doc["reports"]}
    assert status["activities_notes"]["status"] == "permission_denied"
    assert "admin" in status["activities_notes"]["next_step"]
    assert status["bulk_actions"]["status"] == "not_available"
    for slug in ("organizations_invoices", "users_self_email_signatures"):
        assert status[slug]["status"] == "not_available", status[slug]
        assert "public documentation" in status[slug]["detail"]
    assert status["users_self_sip_numbers"]["status"] == "ok"  # from phone_numbers, its documented neighbour
    assert "phone_numbers" in status["users_self_sip_numbers"]["detail"]
    assert doc["summary"]["permission_denied"] == 1 and not doc["ok"]
    assert doc["rate_limits"]["GET me"]["limit"] == 40
    assert set(doc["rate_limits"]) <= set(doc["requests"]["by_group"])
    assert sb.api_key not in done.output
    assert_read_only(sb)


def test_doctor_says_when_search_selectors_need_splitting(make_sandbox: Any) -> None:
    sb = make_sandbox(leads=5)
    definition = sb.data.records("custom_field/lead")[0]
    for i in range(80):  # an account with many lead custom fields
        sb.data.add("custom_field/lead", {**definition, "id": f"cf_many{i:04d}x", "name": f"Field {i}"})
    done = doctor(sb, "--api-key-env", "CLOSE_KEY", "--base-url", sb.base_url, "--json")
    doc = json.loads(done.output)
    assert doc["custom_fields"]["lead"]["count"] >= 80
    assert doc["search_selectors"]["lead"]["needs_splitting"] is True


def test_doctor_with_a_wrong_key(make_sandbox: Any) -> None:
    sb = make_sandbox(leads=5)
    wrong = "api_wrongWRONGwrong000"
    text = doctor(sb, key=wrong)
    assert text.exit_code == 2
    assert "refused the API key" in text.output and wrong not in text.output
    sb.reset_stats()
    done = doctor(sb, "--api-key-env", "CLOSE_KEY", "--base-url", sb.base_url, "--json", key=wrong)
    assert done.exit_code == 2
    doc = json.loads(done.output)
    assert_schema(doc)
    assert doc["auth"]["status"] == "invalid" and doc["reports"] == [] and not doc["ok"]
    assert wrong not in done.output
    assert sb.stats()["requests"]["by_group"] == {"GET me": 1}


def test_doctor_needs_exactly_one_way_to_the_key(make_sandbox: Any) -> None:
    sb = make_sandbox(leads=5)
    assert doctor(sb, "--json").exit_code == 2
    unset = CliRunner().invoke(cli, ["doctor", "--api-key-env", "NOT_SET_ANYWHERE"], env={"NOT_SET_ANYWHERE": ""})
    assert unset.exit_code == 2 and "not set" in unset.output


def test_doctor_of_a_saved_account(make_sandbox: Any, tmp_path: Path) -> None:
    from closesync.datacenter import DataCenter

    sb = make_sandbox(leads=5)
    DataCenter(tmp_path).add_account("acme", api_key=sb.api_key, base_url=sb.base_url)
    done = doctor(sb, "--account", "acme", "--json", home=tmp_path)
    assert done.exit_code == 0, done.output
    doc = json.loads(done.output)
    assert doc["ok"] and doc["base_url"] == sb.base_url and sb.api_key not in done.output
    unknown = doctor(sb, "--account", "nope", home=tmp_path)
    assert unknown.exit_code == 2
    both = doctor(sb, "--account", "acme", "--base-url", sb.base_url, home=tmp_path)
    assert both.exit_code == 2


@pytest.mark.usefixtures("sandbox")
def test_the_account_page_checks_the_account(client: Any, account: Any, sandbox: Sandbox) -> None:
    page = client.get(f"/accounts/{account.id}")
    assert 'id="doctor"' in page.text and f'action="/accounts/{account.id}/doctor"' in page.text
    assert 'id="doctor-result"' not in page.text
    sandbox.undocumented_keys = False
    sandbox.reset_stats()
    checked = client.post(f"/accounts/{account.id}/doctor", data={"csrf_token": csrf(client)})
    assert checked.status_code == 200
    html = checked.text
    assert 'id="doctor-result" data-ok="true"' in html
    assert 'data-slug="leads" data-status="ok"' in html
    assert 'data-slug="organizations_invoices" data-status="not_available"' in html
    assert sandbox.api_key not in html
    assert_read_only(sandbox)
    assert client.post(f"/accounts/{account.id}/doctor").status_code == 403  # no CSRF token, no check
