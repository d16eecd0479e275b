"""Accounts in the web Data Center and its JSON API (issue 13 §1): the account's page with its Replace key
form, the account's health on the Accounts and DataSet pages, and removal that needs the name typed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fixtures_web import csrf, make_client
from test_accounts_keys import NEW_KEY, OTHER_KEY, routed_dc


def _h(client: Any) -> dict[str, str]:
    return {"X-CSRF-Token": csrf(client)}


@pytest.fixture
def routed(web_home: Path, make_sandbox: Any) -> Any:
    """A DataCenter whose Close serves a second organization for OTHER_KEY, and that organization."""
    other = make_sandbox(seed=2, leads=5, api_key=OTHER_KEY)
    return routed_dc(web_home, other), other


@pytest.fixture
def routed_client(routed: Any) -> Iterator[Any]:
    with make_client(routed[0]) as c:
        yield c


# -- the account's page and Replace key -------------------------------------------------------------------------
def test_the_account_page_shows_the_account_and_its_forms(
    client: Any, account: Any, leads_dataset: Any
) -> None:
    page = client.get(f"/accounts/{account.id}")
    assert page.status_code == 200
    html = page.text
    assert f'action="/accounts/{account.id}/key"' in html and 'id="replace-key"' in html
    assert f'href="/datasets/{leads_dataset.id}"' in html and account.key_hint in html
    assert 'id="confirm_name"' in html and "1 DataSet</strong>" in html
    assert 'name="confirm_organization_change"' not in html  # offered only after a refusal
    assert f'href="/accounts/{account.id}"' in client.get("/accounts").text
    assert client.get("/accounts/999").status_code == 404


def test_replace_key_checks_the_key_and_keeps_the_datasets(
    client: Any, dc: Any, sandbox: Any, account: Any, leads_dataset: Any
) -> None:
    token = csrf(client)
    url = f"/accounts/{account.id}/key"
    empty = client.post(url, data={"csrf_token": token, "api_key": " "})
    assert empty.status_code == 422 and "Paste the new API key" in empty.text

    sandbox.rotate_api_key(NEW_KEY)
    assert dc.run_dataset(leads_dataset.id).http_status == 401
    wrong = client.post(url, data={"csrf_token": token, "api_key": "api_wrongWRONGwrong000"})
    assert wrong.status_code == 422 and 'id="error-api_key"' in wrong.text
    assert "Close rejected the API key (401)" in wrong.text and "api_wrongWRONGwrong000" not in wrong.text
    assert client.post(url, data={"api_key": NEW_KEY}).status_code == 403  # the CSRF token is required

    done = client.post(url, data={"csrf_token": token, "api_key": NEW_KEY})
    assert done.status_code == 303 and done.headers["location"] == f"/accounts/{account.id}"
    page = client.get(done.headers["location"]).text
    assert "Key of “Acme” replaced" in page and NEW_KEY not in page
    assert dc.get_account(account.id).status == "ok"
    assert dc.run_dataset(leads_dataset.id).ok  # same DataSet, same account id


def test_a_key_of_another_organization_needs_the_confirm_box(
    routed: Any, routed_client: Any, sandbox: Any
) -> None:
    dc, other = routed
    account = dc.add_account("Acme", api_key=sandbox.api_key, base_url=sandbox.base_url)
    token = csrf(routed_client)
    url = f"/accounts/{account.id}/key"
    refused = routed_client.post(url, data={"csrf_token": token, "api_key": OTHER_KEY})
    assert refused.status_code == 422 and 'id="error-organization"' in refused.text
    assert 'name="confirm_organization_change"' in refused.text and OTHER_KEY not in refused.text
    assert dc.get_account(account.id).user_email == account.user_email
    confirmed = routed_client.post(
        url, data={"csrf_token": token, "api_key": OTHER_KEY, "confirm_organization_change": "1"}
    )
    assert confirmed.status_code == 303
    assert dc.get_account(account.id).organizations[0].id == other.data.organization()["id"]


# -- the JSON API -------------------------------------------------------------------------------------------------
def test_the_api_replaces_a_key_typed_in_only(routed: Any, routed_client: Any, sandbox: Any) -> None:
    dc, other = routed
    client, h = routed_client, _h(routed_client)
    account = dc.add_account("Acme", api_key=sandbox.api_key, base_url=sandbox.base_url)
    url = f"/api/accounts/{account.id}/key"
    from_env = client.post(url, json={"api_key_env": "HOME"}, headers=h)
    assert from_env.status_code == 422
    both = client.post(url, json={"api_key": sandbox.api_key, "api_key_env": "HOME"}, headers=h)
    assert both.status_code == 422
    assert client.post(url, json={"api_key": "api_wrongWRONGwrong000"}, headers=h).status_code == 400

    refused = client.post(url, json={"api_key": OTHER_KEY}, headers=h)
    assert refused.status_code == 409 and '"confirm_organization_change": true' in refused.json()["detail"]
    sandbox.rotate_api_key(NEW_KEY)
    same_org = client.post(url, json={"api_key": NEW_KEY}, headers=h)
    assert same_org.status_code == 200 and same_org.json()["key_hint"] == "api_…abcd"
    assert NEW_KEY not in same_org.text and same_org.json()["status"] == "ok"
    moved = client.post(url, json={"api_key": OTHER_KEY, "confirm_organization_change": True}, headers=h)
    assert moved.status_code == 200
    assert moved.json()["organizations"][0]["id"] == other.data.organization()["id"]
    assert client.post(url, json={"api_key": NEW_KEY}).status_code == 403  # no CSRF token
    assert client.post("/api/accounts/999/key", json={"api_key": NEW_KEY}, headers=h).status_code == 404
    patch = client.patch(f"/api/accounts/{account.id}", json={"api_key": NEW_KEY}, headers=h)
    assert patch.status_code == 422 and "/api/accounts/{id}/key" in str(patch.json()["detail"])


def test_the_api_refuses_to_remove_an_account_in_use_and_says_what_goes(
    client: Any, dc: Any, account: Any, leads_dataset: Any
) -> None:
    dc.run_dataset(leads_dataset.id)
    h = _h(client)
    refused = client.delete(f"/api/accounts/{account.id}", headers=h)
    assert refused.status_code == 409
    assert "used by 1 dataset(s) (Leads) with 1 run(s) of history" in refused.json()["detail"]
    assert dc.get_account(account.id).run_count == 1
    assert client.get(f"/api/accounts/{account.id}").json()["run_count"] == 1
    removed = client.delete(f"/api/accounts/{account.id}", params={"force": "true"}, headers=h)
    assert removed.json() == {"removed": True, "datasets_removed": ["Leads"]}


# -- health on the pages --------------------------------------------------------------------------------------
def test_a_refused_run_shows_on_the_accounts_and_dataset_pages_until_a_run_succeeds(
    client: Any, dc: Any, sandbox: Any, account: Any, leads_dataset: Any
) -> None:
    old_key = sandbox.api_key
    assert 'id="account-invalid"' not in client.get(f"/datasets/{leads_dataset.id}").text
    sandbox.rotate_api_key(NEW_KEY)
    failed = dc.run_dataset(leads_dataset.id)
    accounts = client.get("/accounts").text
    assert "badge bad" in accounts and f"Run {failed.id} of dataset" in accounts
    assert f'href="/accounts/{account.id}#replace-key"' in accounts
    dataset_page = client.get(f"/datasets/{leads_dataset.id}").text
    assert 'id="account-invalid"' in dataset_page and "(HTTP 401)" in dataset_page
    assert f'href="/accounts/{account.id}#replace-key"' in dataset_page
    assert "closesync accounts set-key Acme" in dataset_page  # the run's error says how, once

    sandbox.rotate_api_key(old_key)
    assert dc.run_dataset(leads_dataset.id).ok
    assert 'id="account-invalid"' not in client.get(f"/datasets/{leads_dataset.id}").text
    assert "badge ok" in client.get("/accounts").text


def test_recheck_from_the_account_page_comes_back_to_it(client: Any, account: Any) -> None:
    token = csrf(client)
    back = client.post(f"/accounts/{account.id}/check", data={"csrf_token": token, "back": "account"})
    assert back.headers["location"] == f"/accounts/{account.id}"
    renamed = client.post(
        f"/accounts/{account.id}/rename", data={"csrf_token": token, "name": "Acme EU", "back": "account"}
    )
    assert renamed.headers["location"] == f"/accounts/{account.id}"
    assert client.post(f"/accounts/{account.id}/check", data={"csrf_token": token}).headers["location"] == (
        "/accounts"
    )


# -- removing -----------------------------------------------------------------------------------------------------
def test_removing_an_account_in_use_needs_its_name_typed(
    client: Any, dc: Any, account: Any, leads_dataset: Any
) -> None:
    dc.run_dataset(leads_dataset.id)
    dc.run_dataset(leads_dataset.id)
    listed = client.get("/accounts").text
    assert f'href="/accounts/{account.id}#remove"' in listed  # no one-click removal from the list
    page = client.get(f"/accounts/{account.id}").text
    assert "<strong>1 DataSet</strong> and <strong>2 runs</strong> of history" in page

    token = csrf(client)
    url = f"/accounts/{account.id}/delete"
    for typed in ("", "acme ", "Other"):
        wrong = client.post(url, data={"csrf_token": token, "confirm_name": typed})
        assert wrong.status_code == 422 and 'id="error-confirm_name"' in wrong.text
    assert len(dc.list_datasets()) == 1
    done = client.post(url, data={"csrf_token": token, "confirm_name": "Acme"})
    assert done.status_code == 303 and done.headers["location"] == "/accounts"
    flashed = client.get("/accounts").text
    assert "Removed account “Acme” with its DataSets Leads and 2 run(s) of history" in flashed
    assert dc.list_accounts() == [] and dc.list_datasets() == []


def test_an_unused_account_is_removed_without_typing(client: Any, dc: Any, account: Any) -> None:
    page = client.get(f"/accounts/{account.id}").text
    assert 'id="confirm_name"' not in page and "No DataSet uses this account" in page
    done = client.post(f"/accounts/{account.id}/delete", data={"csrf_token": csrf(client)})
    assert done.status_code == 303 and dc.list_accounts() == []
