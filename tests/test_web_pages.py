"""Every HTML page and form of the Data Center, through TestClient against a real DataCenter and sandbox."""

from __future__ import annotations

import io
import re
from typing import Any

import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from fixtures_web import csrf


def _errors(html: str) -> dict[str, str]:
    """Field name -> the message shown next to it."""
    return dict(re.findall(r'<div class="error" id="error-([a-z_]+)">([^<]*)</div>', html))


def _dataset_form(account_id: int, **overrides: str) -> dict[str, str]:
    data = {
        "account": str(account_id),
        "report": "leads",
        "schedule_kind": "manual",
        "every_n": "1",
        "every_unit": "hours",
        "at_time": "06:00",
        "weekday": "mon",
        "cron": "",
        "retries": "2",
        "retry_delay_n": "5",
        "retry_delay_unit": "m",
        "method": "upsert",
        "name": "All leads",
        "description": "Every lead, nightly.",
    }
    data.update(overrides)
    return data


def test_home_redirects_to_datasets(client: Any) -> None:
    response = client.get("/")
    assert response.status_code == 303 and response.headers["location"] == "/datasets"


def test_empty_pages_guide_the_user(client: Any) -> None:
    assert "No DataSets yet" in client.get("/datasets").text
    assert "No accounts yet" in client.get("/accounts").text
    html = client.get("/datasets/new").text
    assert 'value="new" selected' in html  # no account yet: the add-account fields are open


def test_add_account_validates_the_key_live(client: Any, dc: Any, sandbox: Any) -> None:
    token = csrf(client)
    response = client.post(
        "/accounts",
        data={
            "csrf_token": token,
            "account_name": "Acme",
            "api_key": sandbox.api_key,
            "base_url": sandbox.base_url,
        },
    )
    assert response.status_code == 303
    page = client.get("/accounts").text
    assert "Acme" in page and "added" in page
    account = dc.get_account("Acme")
    assert account.key_hint in page


def test_add_account_with_a_wrong_key_keeps_the_name_and_says_why(client: Any, dc: Any, sandbox: Any) -> None:
    response = client.post(
        "/accounts",
        data={
            "csrf_token": csrf(client),
            "account_name": "Typo Inc",
            "api_key": "api_wrongwrongwrong",
            "base_url": sandbox.base_url,
        },
    )
    assert response.status_code == 422
    assert 'value="Typo Inc"' in response.text
    assert 'class="error"' in response.text
    assert dc.list_accounts() == []


def test_add_account_requires_name_and_key(client: Any) -> None:
    response = client.post("/accounts", data={"csrf_token": csrf(client), "account_name": "", "api_key": ""})
    assert response.status_code == 422
    assert "Give the account a name" in response.text and "Paste the API key" in response.text


def test_recheck_and_remove_account(client: Any, dc: Any, account: Any) -> None:
    token = csrf(client)
    assert client.post(f"/accounts/{account.id}/check", data={"csrf_token": token}).status_code == 303
    assert "Acme:" in client.get("/accounts").text
    assert client.post(f"/accounts/{account.id}/delete", data={"csrf_token": token}).status_code == 303
    assert "Removed account" in client.get("/accounts").text
    assert dc.list_accounts() == []
    assert client.post("/accounts/999/check", data={"csrf_token": token}).status_code == 404


def test_rename_account_on_the_accounts_page(client: Any, dc: Any, leads_dataset: Any, account: Any) -> None:
    page = client.get("/accounts").text
    assert f'action="/accounts/{account.id}/rename"' in page
    token = csrf(client)
    response = client.post(f"/accounts/{account.id}/rename", data={"csrf_token": token, "name": " Acme EU "})
    assert response.status_code == 303 and response.headers["location"] == "/accounts"
    assert dc.get_account(account.id).name == "Acme EU"
    page = client.get("/accounts").text
    assert "renamed to “Acme EU”" in page
    assert dc.get_dataset(leads_dataset.id).account_name == "Acme EU"  # datasets follow the account
    assert "Acme EU" in client.get(f"/datasets/{leads_dataset.id}").text

    client.post(f"/accounts/{account.id}/rename", data={"csrf_token": token, "name": "   "})
    assert 'class="flash error"' in client.get("/accounts").text  # refused with the reason
    assert dc.get_account(account.id).name == "Acme EU"
    client.post(f"/accounts/{account.id}/rename", data={"csrf_token": token, "name": "<b>x</b>"})
    page = client.get("/accounts").text
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page  # a name is text, never markup
    assert client.post(f"/accounts/{account.id}/rename", data={"name": "No token"}).status_code == 403
    assert client.post("/accounts/999/rename", data={"csrf_token": token, "name": "Ghost"}).status_code == 404


def test_remove_account_in_use_needs_its_name_typed(
    client: Any, dc: Any, leads_dataset: Any, account: Any
) -> None:
    token = csrf(client)
    refused = client.post(f"/accounts/{account.id}/delete", data={"csrf_token": token, "force": "1"})
    assert refused.status_code == 422 and 'id="error-confirm_name"' in refused.text
    assert len(dc.list_accounts()) == 1
    client.post(f"/accounts/{account.id}/delete", data={"csrf_token": token, "confirm_name": "Acme"})
    assert dc.list_accounts() == [] and dc.list_datasets() == []


def test_new_dataset_form_has_the_four_panes_and_report_descriptions(
    client: Any, dc: Any, account: Any
) -> None:
    html = client.get("/datasets/new").text
    for pane in ("Credentials", "Details", "Scheduling", "Name &amp; Describe"):
        assert f"<h2>{pane}</h2>" in html
    reports = dc.reports()
    assert len(re.findall(r'<option value="[a-z_]+" data-desc=', html)) == len(reports)
    org_report = next(r for r in reports if r.uses_organization_id)
    assert f'data-desc="{org_report.description}"' in html.replace("&#39;", "'")
    # the organization choices come from the account
    for choice in dc.report_choices(account.id).organizations:
        assert f'value="{choice.id}"' in html


def test_org_and_user_fields_show_only_for_reports_that_use_them(client: Any, dc: Any, account: Any) -> None:
    reports = {r.slug: r for r in dc.reports()}
    plain = next(r for r in reports.values() if not r.uses_organization_id and not r.uses_user_id)
    with_org = next(r for r in reports.values() if r.uses_organization_id)
    html = client.get(f"/datasets/new?report={plain.slug}").text
    assert re.search(r'class="field\s+hidden" id="field-organization_id"', html)
    assert re.search(r'class="field\s+hidden" id="field-user_id"', html)
    html = client.get(f"/datasets/new?report={with_org.slug}").text
    assert not re.search(r'class="field\s+hidden" id="field-organization_id"', html)


def test_create_dataset_through_the_panes(client: Any, dc: Any, account: Any) -> None:
    form = _dataset_form(
        account.id,
        schedule_kind="weekly",
        weekday="tue",
        at_time="07:30",
        retries="3",
        retry_delay_n="2",
        retry_delay_unit="m",
        method="replace",
    )
    response = client.post("/datasets/new", data={"csrf_token": csrf(client), **form})
    assert response.status_code == 303, _errors(response.text)
    ds = dc.get_dataset("All leads")
    assert response.headers["location"] == f"/datasets/{ds.id}"
    assert (ds.schedule, ds.retries, ds.retry_delay_s, ds.method) == (
        "weekly on tue at 07:30",
        3,
        120,
        "replace",
    )
    assert ds.description == "Every lead, nightly."
    listing = client.get("/datasets").text
    assert "All leads" in listing and "weekly on tue at 07:30" in listing and "never run" in listing


def test_schedule_kinds_compose_the_schedule_text(client: Any, dc: Any, account: Any) -> None:
    cases = [
        ({"schedule_kind": "every", "every_n": "15", "every_unit": "minutes"}, "every 15 minutes"),
        ({"schedule_kind": "every", "every_n": "2", "every_unit": "hours"}, "every 2 hours"),
        ({"schedule_kind": "daily", "at_time": "06:00"}, "daily at 06:00"),
        ({"schedule_kind": "cron", "cron": "0 6 * * 1-5"}, "0 6 * * 1-5"),
        ({"schedule_kind": "manual"}, "manual"),
    ]
    token = csrf(client)
    for i, (fields, expected) in enumerate(cases):
        form = _dataset_form(account.id, name=f"ds{i}", table=f"leads_{i}", **fields)
        response = client.post("/datasets/new", data={"csrf_token": token, **form})
        assert response.status_code == 303, (fields, _errors(response.text))
        assert dc.get_dataset(f"ds{i}").schedule == expected


def test_failed_validation_keeps_input_and_marks_fields(client: Any, dc: Any, account: Any) -> None:
    form = _dataset_form(
        account.id, name="", description="keep me", schedule_kind="cron", cron="every blue moon", retries="-1"
    )
    response = client.post("/datasets/new", data={"csrf_token": csrf(client), **form})
    assert response.status_code == 422
    errors = _errors(response.text)
    assert set(errors) >= {"name", "retries", "schedule"}
    assert "keep me" in response.text and 'value="every blue moon"' in response.text
    assert 'value="cron" checked' in response.text
    assert dc.list_datasets() == []


def test_bad_schedule_message_lists_the_accepted_forms(client: Any, account: Any) -> None:
    form = _dataset_form(account.id, schedule_kind="cron", cron="whenever")
    response = client.post("/datasets/new", data={"csrf_token": csrf(client), **form})
    assert response.status_code == 422
    assert "daily at 06:00" in _errors(response.text)["schedule"]


def test_datacenter_validation_lands_next_to_its_field(client: Any, dc: Any, account: Any) -> None:
    token = csrf(client)
    response = client.post(
        "/datasets/new", data={"csrf_token": token, **_dataset_form(account.id, name="dup")}
    )
    assert response.status_code == 303
    response = client.post(
        "/datasets/new", data={"csrf_token": token, **_dataset_form(account.id, name="dup")}
    )
    assert response.status_code == 422
    assert "name" in _errors(response.text) or "table" in _errors(response.text)
    response = client.post(
        "/datasets/new",
        data={
            "csrf_token": token,
            **_dataset_form(
                account.id,
                name="bad org",
                report="organizations",
                organization_id="orga_doesnotexist",
                table="orgs2",
            ),
        },
    )
    assert response.status_code == 422
    assert "organization_id" in _errors(response.text)


def test_org_and_user_of_reports_that_do_not_use_them_are_ignored(client: Any, dc: Any, account: Any) -> None:
    """A hidden select still posts its value; a report without that parameter must not choke on it."""
    org = dc.report_choices(account.id).organizations[0].id
    form = _dataset_form(account.id, report="lead_statuses", organization_id="", user_id="user_x")
    form["organization_id"] = org
    response = client.post("/datasets/new", data={"csrf_token": csrf(client), **form})
    assert response.status_code == 303, _errors(response.text)
    ds = dc.get_dataset("All leads")
    assert ds.user_id is None


def test_add_account_inside_the_credentials_pane(client: Any, dc: Any, sandbox: Any) -> None:
    form = _dataset_form(
        0, account="new", account_name="Inline", api_key=sandbox.api_key, base_url=sandbox.base_url
    )
    response = client.post("/datasets/new", data={"csrf_token": csrf(client), **form})
    assert response.status_code == 303, _errors(response.text)
    assert dc.get_dataset("All leads").account_name == "Inline"


def test_inline_account_with_wrong_key_shows_error_and_never_echoes_it(
    client: Any, dc: Any, sandbox: Any
) -> None:
    bad = "api_" + "nope" * 6
    form = _dataset_form(0, account="new", account_name="Inline", api_key=bad, base_url=sandbox.base_url)
    response = client.post("/datasets/new", data={"csrf_token": csrf(client), **form})
    assert response.status_code == 422
    assert "api_key" in _errors(response.text)
    assert bad not in response.text
    assert 'value="Inline"' in response.text


def test_dataset_page_before_and_after_a_run(client: Any, dc: Any, leads_dataset: Any) -> None:
    page = client.get(f"/datasets/{leads_dataset.id}").text
    assert "No runs yet" in page and "No rows yet" in page and "never run" in page
    token = csrf(client)
    response = client.post(f"/datasets/{leads_dataset.id}/run", data={"csrf_token": token})
    assert response.status_code == 303
    client.app.state.runs.wait(leads_dataset.id, timeout=60)
    page = client.get(f"/datasets/{leads_dataset.id}").text
    assert 'class="badge success"' in page
    rows = re.search(r'<table class="data preview" id="preview">.*?<tbody>(.*?)</tbody>', page, re.S).group(1)
    assert rows.count("<tr>") == 20  # the sandbox's 20 leads
    assert '<table class="data" id="columns">' in page and "display_name" in page
    history = re.search(r'id="history">.*?<tbody>(.*?)</tbody>', page, re.S).group(1)
    assert history.count("<tr data-run=") == 1


def test_failed_run_shows_its_error_in_history(client: Any, dc: Any, account: Any, web_home: Any) -> None:
    blocker = web_home / "not-a-folder"
    blocker.write_text("a file where a folder should be")
    ds = dc.create_dataset(
        "Broken", account=account.id, report="users", destination=f"duckdb:{blocker}/x.duckdb"
    )
    run = dc.run_dataset(ds.id)
    assert run.status == "failed" and run.error
    page = client.get(f"/datasets/{ds.id}").text
    assert 'class="badge failed"' in page
    assert '<td class="err">' in page
    assert client.get("/datasets").text.count('class="badge failed"') == 1


def test_edit_dataset(client: Any, dc: Any, leads_dataset: Any) -> None:
    page = client.get(f"/datasets/{leads_dataset.id}/edit").text
    assert 'value="Leads"' in page and "Save changes" in page
    form = _dataset_form(
        leads_dataset.account_id,
        name="Leads v2",
        schedule_kind="every",
        every_n="30",
        every_unit="minutes",
        method="append",
    )
    response = client.post(f"/datasets/{leads_dataset.id}/edit", data={"csrf_token": csrf(client), **form})
    assert response.status_code == 303, _errors(response.text)
    ds = dc.get_dataset(leads_dataset.id)
    assert (ds.name, ds.schedule, ds.method) == ("Leads v2", "every 30 minutes", "append")
    # the saved schedule comes back into the right inputs
    page = client.get(f"/datasets/{leads_dataset.id}/edit").text
    assert (
        'value="every" checked' in page
        and 'id="every_n" name="every_n" type="number" min="1" value="30"' in page
    )


def test_edit_form_shows_day_intervals_and_zoned_schedules_as_they_were_saved(
    client: Any, dc: Any, leads_dataset: Any
) -> None:
    """The edit form reads the saved schedule's parts: not "cron", and saving it unchanged keeps it."""
    cases = [
        ("every 2 days", ['value="every" checked', 'value="2"', 'value="days" selected']),
        ("daily at 06:00 Europe/Berlin", ['value="daily" checked', 'value="06:00"', 'value="Europe/Berlin"']),
        ("weekly on fri at 18:15 America/New_York", ['value="weekly" checked', 'value="fri" selected']),
    ]
    for spec, shown in cases:
        dc.edit_dataset(leads_dataset.id, schedule=spec)
        page = client.get(f"/datasets/{leads_dataset.id}/edit").text
        assert all(marker in page for marker in shown), spec
        assert 'value="cron" checked' not in page
        inputs = {
            name: value
            for name, value in re.findall(r'<input id="[a-z_]+" name="([a-z_]+)" type="[a-z]+"[^>]*value="([^"]*)"', page)
        }
        selected = dict(re.findall(r'<select name="([a-z_]+)"[^>]*>.*?<option value="([^"]*)" selected', page, re.S))
        kind = re.search(r'name="schedule_kind" value="([a-z]+)" checked', page)
        assert kind is not None
        form = _dataset_form(leads_dataset.account_id, name="Leads", schedule_kind=kind.group(1))
        form.update({k: v for k, v in {**inputs, **selected}.items() if k in form or k == "zone"})
        response = client.post(f"/datasets/{leads_dataset.id}/edit", data={"csrf_token": csrf(client), **form})
        assert response.status_code == 303, _errors(response.text)
        assert dc.get_dataset(leads_dataset.id).schedule == spec


def test_edit_with_errors_keeps_input(client: Any, leads_dataset: Any) -> None:
    form = _dataset_form(leads_dataset.account_id, name="Renamed", schedule_kind="daily", at_time="25:99")
    response = client.post(f"/datasets/{leads_dataset.id}/edit", data={"csrf_token": csrf(client), **form})
    assert response.status_code == 422
    assert 'value="Renamed"' in response.text and "schedule" in _errors(response.text)


def test_delete_dataset(client: Any, dc: Any, leads_dataset: Any) -> None:
    response = client.post(f"/datasets/{leads_dataset.id}/delete", data={"csrf_token": csrf(client)})
    assert response.status_code == 303 and response.headers["location"] == "/datasets"
    assert dc.list_datasets() == []
    assert client.get(f"/datasets/{leads_dataset.id}").status_code == 404


def test_downloads_stream_csv_and_parquet(client: Any, dc: Any, leads_dataset: Any) -> None:
    assert client.get(f"/datasets/{leads_dataset.id}/download.csv").status_code == 404  # no table yet
    dc.run_dataset(leads_dataset.id)
    response = client.get(f"/datasets/{leads_dataset.id}/download.csv")
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    table = pacsv.read_csv(io.BytesIO(response.content))
    assert table.num_rows == 20 and "display_name" in table.column_names
    response = client.get(f"/datasets/{leads_dataset.id}/download.parquet")
    assert response.status_code == 200
    table = pq.read_table(io.BytesIO(response.content))
    assert table.num_rows == 20
    assert client.get(f"/datasets/{leads_dataset.id}/download.xlsx").status_code == 400


def test_unknown_dataset_is_a_404_page(client: Any) -> None:
    response = client.get("/datasets/424242")
    assert response.status_code == 404 and "Not found" in response.text
    assert client.get("/datasets/424242/edit").status_code == 404


def test_api_reference_page_lists_endpoints(client: Any) -> None:
    html = client.get("/api").text
    assert "/api/datasets/{dataset_id}/run" in html and "/openapi.json" in html


def test_a_database_password_never_reaches_a_page_or_the_api(client: Any, dc: Any, leads_dataset: Any) -> None:
    secret_url = "postgres://bob:s3cret-pw@127.0.0.1:1/crm"  # nothing listens there: reads fail fast
    with dc.store.write() as conn:
        conn.execute("UPDATE datasets SET destination = ? WHERE id = ?", (secret_url, leads_dataset.id))
    ds_id = leads_dataset.id
    answers = [
        client.get(f"/datasets/{ds_id}"),
        client.get(f"/datasets/{ds_id}/edit"),
        client.get("/datasets"),
        client.get(f"/api/datasets/{ds_id}"),
        client.get("/api/datasets"),
        client.get(f"/api/datasets/{ds_id}/columns"),
        client.get(f"/api/datasets/{ds_id}/preview"),
        client.get(f"/datasets/{ds_id}/download.csv"),
    ]
    for answer in answers:
        assert "s3cret-pw" not in answer.text, answer.request.url
    assert "postgres://bob:***@127.0.0.1:1/crm" in answers[0].text
    # saving the edit form with the masked destination untouched keeps the real one
    shown = re.search(r'id="destination"[^>]*value="([^"]*)"', answers[1].text) or re.search(
        r'value="([^"]*)"[^>]*id="destination"', answers[1].text
    )
    assert shown is not None and "***" in shown.group(1)
    form = _dataset_form(
        leads_dataset.account_id, name=leads_dataset.name, method="replace", description="kept",
        destination=shown.group(1).replace("&#42;", "*"), table=leads_dataset.table, csrf_token=csrf(client),
    )
    assert client.post(f"/datasets/{ds_id}/edit", data=form).status_code == 303
    assert dc.get_dataset(ds_id).destination == secret_url
