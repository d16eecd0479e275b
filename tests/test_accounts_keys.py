"""Accounts as users live with them (issue 13 §1), through the DataCenter and the CLI, over the sandbox:
a rotated key replaced in place, runs that mark the account's health, and removal that says what goes."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from closesync.cli import cli
from closesync.close.client import CloseClient
from closesync.datacenter import DataCenter, DatasetBusyError
from closesync.datacenter.errors import AccountKeyError, OrganizationChangeError, ValidationError
from dc_helpers import FAST_CLIENT, FakeClock, add_account, make_dc, store_bytes

NEW_KEY = "api_rotatedNEWkey0123456789abcd"
OTHER_KEY = "api_otherOrganization012345678"


@pytest.fixture
def run(home: Path) -> Any:
    def invoke(*args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(cli, ["--home", str(home), *args], input=input)

    return invoke


@pytest.fixture
def other_org(make_sandbox: Any) -> Any:
    """A second Close organization (another seed, so other organization and user ids) with its own key."""
    return make_sandbox(seed=2, leads=5, api_key=OTHER_KEY)


def routed_dc(home: Path, other: Any) -> DataCenter:
    """A DataCenter whose Close sends OTHER_KEY to the other organization: one API, two organizations,
    as api.close.com serves every organization at one address."""

    def factory(api_key: str, base_url: str) -> CloseClient:
        url = other.base_url if api_key == OTHER_KEY else base_url
        return CloseClient(api_key, base_url=url, **FAST_CLIENT)

    return DataCenter(home, client_factory=factory)


# -- replacing a key ------------------------------------------------------------------------------------------
def test_a_rotated_key_fails_runs_until_set_key_replaces_it(home: Path, sandbox: Any, run: Any) -> None:
    dc = make_dc(home)
    account = add_account(dc, sandbox)
    dataset = dc.create_dataset("users", account="acme", report="users")
    assert dc.run_dataset("users").ok

    sandbox.rotate_api_key(NEW_KEY)  # revoked in Close, a new one issued
    failed = dc.run_dataset("users")
    assert not failed.ok and failed.http_status == 401
    assert failed.error and failed.error.count("closesync accounts set-key acme") == 1
    assert "Replace key" in failed.error
    invalid = dc.get_account("acme")
    assert invalid.status == "invalid" and invalid.last_checked_at is not None
    assert invalid.last_error and f"Run {failed.id} of dataset 'users'" in invalid.last_error
    listed = run("accounts", "list")
    assert "invalid" in listed.output and f"Run {failed.id}" in listed.output

    wrong = run("accounts", "set-key", "acme", input="api_stillTheWrongKey00000\n")
    assert wrong.exit_code == 2 and "Close rejected the API key (401)" in wrong.output
    assert dc.get_account("acme").key_hint == account.key_hint  # nothing changed

    replaced = run("accounts", "set-key", "acme", input=NEW_KEY + "\n")
    assert replaced.exit_code == 0, replaced.output
    assert NEW_KEY not in replaced.output and "api_…abcd" in replaced.output
    fresh = dc.get_account("acme")
    assert (fresh.id, fresh.status, fresh.last_error, fresh.key_hint) == (account.id, "ok", None, "api_…abcd")
    again = make_dc(home).run_dataset("users")  # a new process reads the new key
    assert again.ok and again.dataset_id == dataset.id and again.rows > 0
    assert NEW_KEY.encode() not in store_bytes(home)  # stored encrypted, like any key
    assert [r.status for r in dc.history("users")] == ["success", "failed", "success"]  # history kept


def test_set_key_without_a_variable_asks_for_the_key_and_never_shows_it(
    home: Path, sandbox: Any, run: Any
) -> None:
    add_account(make_dc(home), sandbox)
    result = run("accounts", "set-key", "acme", input=sandbox.api_key + "\n")
    assert result.exit_code == 0 and "New API key for acme" in result.output
    assert sandbox.api_key not in result.output
    assert "--api-key " not in run("accounts", "set-key", "--help").output  # no key on a command line
    assert run("accounts", "set-key", "nobody", input="x\n").exit_code == 2


def test_an_env_account_switched_to_a_stored_key_and_back(
    home: Path, sandbox: Any, run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACME_CLOSE_KEY", sandbox.api_key)
    dc = make_dc(home)
    dc.add_account("acme", api_key_env="ACME_CLOSE_KEY", base_url=sandbox.base_url)
    dc.create_dataset("users", account="acme", report="users")
    sandbox.rotate_api_key(NEW_KEY)
    assert dc.run_dataset("users").http_status == 401

    assert run("accounts", "set-key", "acme", input=NEW_KEY + "\n").exit_code == 0
    monkeypatch.delenv("ACME_CLOSE_KEY")  # the stored key no longer needs the variable
    stored = dc.get_account("acme")
    assert (stored.key_source, stored.key_env, stored.status) == ("stored", None, "ok")
    assert dc.run_dataset("users").ok

    monkeypatch.setenv("ROTATED_KEY", NEW_KEY)
    result = run("accounts", "set-key", "acme", "--api-key-env", "ROTATED_KEY")
    assert result.exit_code == 0 and "read from $ROTATED_KEY" in result.output
    env = dc.get_account("acme")
    assert (env.key_source, env.key_env) == ("env", "ROTATED_KEY")
    with sqlite3.connect(dc.store.path) as conn:
        assert conn.execute("SELECT key_ciphertext FROM accounts").fetchone() == (None,)
    assert dc.run_dataset("users").ok
    assert run("accounts", "set-key", "acme", "--api-key-env", "UNSET_VARIABLE").exit_code == 2


def test_a_key_of_another_organization_needs_an_explicit_confirmation(
    home: Path, sandbox: Any, other_org: Any, run: Any
) -> None:
    dc = routed_dc(home, other_org)
    account = add_account(dc, sandbox)
    dc.create_dataset("leads", account="acme", report="leads")
    assert dc.run_dataset("leads").ok
    with sqlite3.connect(dc.store.path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM dataset_state").fetchone()[0] > 0  # cursors kept

    before = dc.get_account("acme")
    with pytest.raises(OrganizationChangeError, match="not to .*orga_") as refused:
        dc.set_account_key("acme", api_key=OTHER_KEY)
    assert OTHER_KEY not in str(refused.value)
    assert dc.get_account("acme") == before  # nothing changed

    changed = dc.set_account_key("acme", api_key=OTHER_KEY, allow_other_organization=True)
    assert [o.id for o in changed.organizations] == [other_org.data.organization()["id"]]
    assert (
        [o.id for o in account.organizations]
        == [sandbox.data.organization()["id"]]
        != [other_org.data.organization()["id"]]
    )
    with sqlite3.connect(dc.store.path) as conn:  # the old organization's cursors no longer apply
        assert conn.execute("SELECT COUNT(*) FROM dataset_state").fetchone()[0] == 0
    assert changed.id == account.id and changed.dataset_count == 1


def test_the_cli_says_how_to_confirm_another_organization(
    home: Path, sandbox: Any, other_org: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    dc = routed_dc(home, other_org)
    add_account(dc, sandbox)
    monkeypatch.setattr("closesync.datacenter.DataCenter", lambda home: dc)  # the CLI's one, routed
    result = CliRunner().invoke(
        cli, ["--home", str(home), "accounts", "set-key", "acme"], input=OTHER_KEY + "\n"
    )
    assert result.exit_code == 2 and "--allow-other-organization" in result.output
    assert "Nothing was changed" in result.output
    confirmed = CliRunner().invoke(
        cli,
        ["--home", str(home), "accounts", "set-key", "acme", "--allow-other-organization"],
        input=OTHER_KEY + "\n",
    )
    assert confirmed.exit_code == 0, confirmed.output
    assert dc.get_account("acme").user_email == other_org.data.me()["email"]


def test_set_key_refuses_empty_input(home: Path, sandbox: Any) -> None:
    dc = make_dc(home)
    add_account(dc, sandbox)
    with pytest.raises(ValidationError):
        dc.set_account_key("acme", api_key="   ")
    with pytest.raises(ValidationError):
        dc.set_account_key("acme", api_key=NEW_KEY, api_key_env="X")
    with pytest.raises(AccountKeyError, match="not set"):
        dc.set_account_key("acme", api_key_env="NO_SUCH_VARIABLE_HERE")


# -- health from runs ------------------------------------------------------------------------------------------
def test_a_later_check_or_successful_run_marks_the_account_valid_again(
    home: Path, sandbox: Any, run: Any
) -> None:
    dc = make_dc(home)
    old_key = sandbox.api_key
    add_account(dc, sandbox)
    dc.create_dataset("users", account="acme", report="users")
    sandbox.rotate_api_key(NEW_KEY)
    dc.run_dataset("users")
    assert dc.get_account("acme").status == "invalid"
    assert run("accounts", "check", "acme").exit_code == 1  # still refused: stays invalid

    sandbox.rotate_api_key(old_key)  # the old key works again (re-enabled in Close)
    checked = run("accounts", "check", "acme")
    assert checked.exit_code == 0 and dc.get_account("acme").status == "ok"

    sandbox.rotate_api_key(NEW_KEY)
    dc.run_dataset("users")
    assert dc.get_account("acme").status == "invalid"
    sandbox.rotate_api_key(old_key)
    assert dc.run_dataset("users").ok
    healthy = dc.get_account("acme")
    assert healthy.status == "ok" and healthy.last_error is None
    assert "invalid" not in run("accounts", "list").output


def test_a_403_marks_the_account_invalid_and_other_failures_do_not(home: Path, sandbox: Any) -> None:
    dc = make_dc(home)
    add_account(dc, sandbox)
    dc.create_dataset("users", account="acme", report="users")
    sandbox.add_fault("503", path="user/", count=5)
    failed = dc.run_dataset("users")
    assert not failed.ok and dc.get_account("acme").status == "ok"  # Close was down, the key is fine
    assert "set-key" not in (failed.error or "")
    sandbox.clear_faults()
    sandbox.add_fault("403", path="user/", count=5)
    refused = dc.run_dataset("users")
    assert refused.http_status == 403 and "closesync accounts set-key acme" in (refused.error or "")
    assert dc.get_account("acme").status == "invalid"


def test_a_run_that_began_before_the_key_was_replaced_does_not_mark_it_invalid(
    home: Path, sandbox: Any
) -> None:
    clock = FakeClock()
    dc = make_dc(home, clock)
    account = add_account(dc, sandbox)
    dc.create_dataset("users", account="acme", report="users")
    sandbox.rotate_api_key(NEW_KEY)
    stale = dc.run_dataset("users")  # started with the old key
    dc.set_account_key("acme", api_key=NEW_KEY)
    assert dc.get_account("acme").status == "ok"
    clock.advance(minutes=1)
    began = stale.started_at - timedelta(seconds=1)
    dc._accounts.record_health(account.id, ok=False, message="old", at=clock(), seen_since=began)
    assert dc.get_account("acme").status == "ok"  # the new key was checked after that run began
    dc._accounts.record_health(account.id, ok=False, message="new", at=clock(), seen_since=clock())
    assert dc.get_account("acme").last_error == "new"


# -- removing -----------------------------------------------------------------------------------------------
def test_removing_an_account_in_use_says_what_goes_and_needs_force(
    home: Path, sandbox: Any, run: Any
) -> None:
    dc = make_dc(home)
    add_account(dc, sandbox)
    dc.create_dataset("users", account="acme", report="users")
    dc.create_dataset("leads", account="acme", report="leads")
    dc.run_dataset("users")
    dc.run_dataset("users")
    assert dc.get_account("acme").run_count == 2
    assert dc.get_account("acme").to_dict()["run_count"] == 2

    refused = run("accounts", "remove", "acme")
    assert refused.exit_code == 2
    text = " ".join(refused.output.split())
    assert "used by 2 dataset(s) (leads, users) with 2 run(s) of history" in text and "--force" in text
    assert len(dc.list_datasets()) == 2

    removed = run("accounts", "remove", "acme", "--force")
    assert removed.exit_code == 0
    assert "datasets leads, users (2 run(s) of history)" in " ".join(removed.output.split())
    assert dc.list_accounts() == [] and dc.list_datasets() == []
    with sqlite3.connect(dc.store.path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0


def test_removal_waits_for_a_running_dataset(home: Path, sandbox: Any) -> None:
    dc = make_dc(home)
    add_account(dc, sandbox)
    dataset = dc.create_dataset("users", account="acme", report="users")
    claim = dc._runner.claim(dataset.id)
    assert claim is not None
    with pytest.raises(DatasetBusyError, match="running datasets"):
        dc.remove_account("acme", force=True)
    assert json.loads(json.dumps(dc.get_account("acme").to_dict()))["dataset_count"] == 1
