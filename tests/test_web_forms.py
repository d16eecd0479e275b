"""Issue 13 §3 and §6 in the web app and its JSON API (TestClient against a real DataCenter and sandbox):
every error at once under its field, a table clash under Table with the advanced section open, Since as a
date, the CLI's defaults, rows in the table beside rows read, ids by name, and a 404 page for people."""

from __future__ import annotations

import dataclasses
import html
import re
from typing import Any

from closesync.datacenter.spec import DEFAULT_METHOD, DatasetSpec
from closesync.web import forms
from fixtures_web import csrf


def _errors(html: str) -> dict[str, str]:
    """Field name -> the message shown under it."""
    return dict(re.findall(r'<div class="error" id="error-([a-z_]+)">([^<]*)</div>', html))


def _form(account_id: int, **overrides: str) -> dict[str, str]:
    data = {
        "account": str(account_id), "report": "leads", "schedule_kind": "manual", "every_n": "1",
        "every_unit": "hours", "at_time": "06:00", "weekday": "mon", "cron": "", "retries": "0",
        "retry_delay_n": "5", "retry_delay_unit": "m", "method": "upsert", "name": "All leads",
    }
    return data | overrides


def _post(client: Any, path: str, **fields: str) -> Any:
    return client.post(path, data={"csrf_token": csrf(client), **fields})


def _advanced_open(html: str) -> bool:
    tag = re.search(r'<details class="field" id="advanced"[^>]*>', html)
    assert tag is not None
    return " open" in tag.group(0)


def test_every_error_shows_at_once_under_its_field(client: Any, dc: Any, account: Any) -> None:
    response = _post(
        client, "/datasets/new", **_form(account.id, name="", report="activities_call", retries="-1",
                                         since="someday", table="bad name", retry_delay_n="x",
                                         schedule_kind="cron", cron="whenever")
    )
    assert response.status_code == 422
    errors = _errors(response.text)
    assert set(errors) >= {"name", "retries", "since", "table", "retry_delay", "schedule"}, errors
    assert _advanced_open(response.text)  # the Table error is inside the advanced section
    assert "Please fix the 6 highlighted fields" in response.text
    assert dc.list_datasets() == []


def test_a_form_level_error_still_shows_the_datacenters_errors(client: Any, dc: Any, account: Any) -> None:
    """An empty cron expression is the form's own error; the DataCenter is still asked about the rest."""
    response = _post(client, "/datasets/new", **_form(account.id, name="", schedule_kind="cron", cron="",
                                                      retries="many"))
    assert response.status_code == 422
    errors = _errors(response.text)
    assert set(errors) == {"name", "schedule", "retries"}, errors
    assert "cron expression" in errors["schedule"]
    assert not _advanced_open(response.text)
    assert dc.list_datasets() == []


def test_a_table_clash_shows_under_table_with_the_advanced_section_open(
    client: Any, dc: Any, account: Any, leads_dataset: Any
) -> None:
    response = _post(client, "/datasets/new", **_form(account.id, name="Leads again"))
    assert response.status_code == 422
    errors = _errors(response.text)
    assert set(errors) == {"table"} and "already loads table" in errors["table"]
    assert _advanced_open(response.text)
    both = _post(client, "/datasets/new", **_form(account.id, name="leads", every_n="0", schedule_kind="every"))
    assert set(_errors(both.text)) == {"name", "table", "schedule"}


def test_since_is_a_date_input_and_an_unchanged_day_keeps_the_saved_moment(
    client: Any, dc: Any, account: Any
) -> None:
    assert re.search(r'<input id="since" name="since" type="date"', client.get("/datasets/new").text)
    made = _post(client, "/datasets/new", **_form(account.id, report="activities_call", since="2024-01-31"))
    assert made.status_code == 303, _errors(made.text)
    ds = dc.get_dataset("All leads")
    assert ds.since.isoformat() == "2024-01-31T00:00:00+00:00"
    dc.edit_dataset(ds.id, since="2024-01-31T08:30:00Z")  # as the CLI accepts it
    page = client.get(f"/datasets/{ds.id}/edit").text
    assert 'type="date" value="2024-01-31"' in page
    saved = _post(client, f"/datasets/{ds.id}/edit", **_form(account.id, report="activities_call",
                                                             since="2024-01-31", description="edited"))
    assert saved.status_code == 303
    assert dc.get_dataset(ds.id).since.isoformat() == "2024-01-31T08:30:00+00:00"


def test_defaults_are_the_clis(client: Any, dc: Any, account: Any) -> None:
    """A new form shows DatasetSpec's defaults, and saving it untouched makes what the CLI would."""
    defaults = {f.name: f.default for f in dataclasses.fields(DatasetSpec)}
    page = client.get("/datasets/new").text
    assert f'id="retries" name="retries" type="number" min="0" max="20" value="{defaults["retries"]}"' in page
    assert f'value="{DEFAULT_METHOD}" checked' in page
    assert 'value="manual" checked' in page
    empty = forms.from_submission({})
    form_only = {k: v for k, v in forms.DEFAULTS.items() if k not in ("every_n", "every_unit", "at_time",
                                                                      "weekday", "zone", "cron")}
    assert {k: empty.get(k) for k in form_only} == form_only
    made = _post(client, "/datasets/new", **{"account": str(account.id), "report": "leads", "name": "web"})
    assert made.status_code == 303, _errors(made.text)
    web = dc.get_dataset("web")
    cli = dc.create_dataset("cli", account=account.id, report="leads", table="leads_cli")
    for name in ("retries", "retry_delay_s", "method", "schedule", "enabled", "description", "organization_id",
                 "user_id", "since"):
        assert getattr(web, name) == getattr(cli, name), name
    assert web.destination == cli.destination and web.table == "leads"


def test_the_form_says_what_each_method_does(client: Any) -> None:
    page = client.get("/datasets/new").text
    assert "Every new or changed record version is added once" in page
    assert "Every run reads everything and the table becomes exactly what was read" in page
    assert "merged by primary key; records deleted in Close are removed" in page


def test_rows_in_the_table_beside_rows_read(client: Any, dc: Any, sandbox: Any, account: Any) -> None:
    ds = dc.create_dataset("Leads", account=account.id, report="leads")
    assert dc.run_dataset(ds.id).ok
    lead = sandbox.data.records("lead")[0]
    sandbox.data.update("lead", lead["id"], display_name="Renamed Inc")
    second = dc.run_dataset(ds.id)
    total = sandbox.data.count("lead")
    assert second.ok and second.rows < total
    page = client.get(f"/datasets/{ds.id}").text
    assert re.search(rf'<div class="k">Rows in table</div><div class="v" data-live="table-rows">{total}</div>', page)
    assert re.search(rf'<div class="k">Read by last run</div><div class="v" data-live="rows">{second.rows}</div>', page)
    listing = client.get("/datasets").text
    assert re.search(rf"<td class=\"num\">{total}\s*<div class=\"muted small nowrap\">{second.rows} read last run", listing)
    status = client.get(f"/api/datasets/{ds.id}/status").json()
    assert status["table_rows"] == total and status["run"]["rows"] == second.rows
    assert client.get(f"/api/datasets/{ds.id}").json()["table_rows"] == total
    assert client.get("/api/datasets").json()[0]["table_rows"] == total


def test_ids_by_name_and_only_the_reports_parameters(client: Any, dc: Any, account: Any) -> None:
    org, user = account.organizations[0], account.users[0]
    ds = dc.create_dataset("Activity", account=account.id, report="reporting_activity", organization_id=org.id,
                           user_id=user.id)
    page = client.get(f"/datasets/{ds.id}").text
    label = lambda text: text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")  # noqa: E731
    assert f"<dd>{label(org.label)} ({org.id})</dd>" in page
    assert f"<dd>{label(user.label)} ({user.id})</dd>" in page
    assert "<dt>Since</dt><dd>the whole history</dd>" in page
    assert f"{label(org.label)} ({org.id})" in client.get("/datasets").text
    users = dc.create_dataset("Users", account=account.id, report="users")
    plain = client.get(f"/datasets/{users.id}").text
    for absent in ("<dt>Organization</dt>", "<dt>User</dt>", "<dt>Since</dt>"):
        assert absent not in plain


def test_the_json_api_returns_every_error(client: Any, account: Any, leads_dataset: Any) -> None:
    h = {"X-CSRF-Token": csrf(client)}
    body = {"name": "", "account": account.id, "report": "leads", "schedule": "whenever", "retries": 99,
            "since": "someday"}
    response = client.post("/api/datasets", json=body, headers=h)
    assert response.status_code == 422
    answer = response.json()
    assert set(answer["errors"]) == {"name", "schedule", "retries", "since", "table"}  # leads is loaded already
    assert answer["field"] == "name" and answer["detail"] == answer["errors"]["name"]
    clash = client.post("/api/datasets", json={"name": "again", "account": account.id, "report": "leads"},
                        headers=h)
    assert clash.status_code == 409 and set(clash.json()["errors"]) == {"table"}
    assert clash.json()["field"] == "table"


def test_the_404_page_speaks_to_a_person(client: Any) -> None:
    for path in ("/no-such-page", "/datasets/999", "/datasets/999/edit", "/runs/999", "/accounts/999/nope"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("text/html"), path
        html = response.text
        assert 'id="not-found"' in html and 'href="/datasets"' in html and 'href="/accounts"' in html, path
        assert '{"detail"' not in html and "Not Found" not in html
    assert "There is no page at /no-such-page." in client.get("/no-such-page").text
    lost = client.get("/datasets/999").text
    assert "No dataset with id 999." in lost and "closesync datasets list" not in lost
    for path in ("/api/no-such-thing", "/api/datasets/999"):
        api = client.get(path)
        assert api.status_code == 404 and api.headers["content-type"] == "application/json", path
        assert "detail" in api.json()


def test_the_report_menu_lists_the_classic_38_first_then_each_family(client: Any, account: Any) -> None:
    """Issue 14: the dataset form's report <select> groups reports like `closesync reports`."""
    from closesync.reports import CLASSIC_REPORTS

    page = client.get("/datasets/new").text
    select = re.search(r'<select id="report" name="report">(.*?)</select>', page, re.S)
    assert select is not None
    groups = [(html.unescape(label), body) for label, body in
              re.findall(r'<optgroup label="([^"]+)">(.*?)</optgroup>', select.group(1), re.S)]
    labels = [label for label, _ in groups]
    assert labels[0] == "Classic (the 38)" and len(labels) == len(set(labels))
    assert {"Sequences", "Bulk Actions", "Calling & SMS"} <= set(labels)
    options = {label: re.findall(r'<option value="([a-z_]+)"', body) for label, body in groups}
    assert options["Classic (the 38)"] == [s.slug for s in CLASSIC_REPORTS]
    assert "sequence_subscriptions" in options["Sequences"] and "bulk_actions_edit" in options["Bulk Actions"]
