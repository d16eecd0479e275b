"""Accounts and datasets through the DataCenter facade, against the real sandbox and real files."""

from __future__ import annotations

import dataclasses
import inspect
import subprocess
import sys
from pathlib import Path
from typing import Any, get_type_hints

import duckdb
import pytest

from closesync.datacenter import (
    AccountKeyError,
    ConflictError,
    DataCenter,
    NotFoundError,
    ValidationError,
)
from closesync.datacenter.spec import DATASET_FIELDS, DatasetSpec
from dc_helpers import add_account, make_dc, store_bytes

WRONG_KEY = "api_0000000000wrongWRONGwrong0000"


@pytest.fixture
def dc(home: Path) -> DataCenter:
    return make_dc(home)


def _count(destination: str, table: str) -> int:
    path = destination.split(":", 1)[1]
    with duckdb.connect(path, read_only=True) as conn:
        return conn.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]


# -- accounts -----------------------------------------------------------------------------------------------
def test_add_account_records_owner_organizations_and_users(dc: DataCenter, sandbox: Any) -> None:
    account = add_account(dc, sandbox)
    me = sandbox.data.me()
    assert account.name == "acme" and account.key_source == "stored"
    assert account.user_id == me["id"] and account.user_email == me["email"]
    assert [c.id for c in account.organizations] == [o["id"] for o in me["organizations"]]
    assert {c.id for c in account.users} == {u["id"] for u in sandbox.data.records("user")}
    assert account.key_hint == f"api_…{sandbox.api_key[-4:]}"
    assert account.status == "ok" and account.base_url == sandbox.base_url
    assert [a.name for a in dc.list_accounts()] == ["acme"]
    choices = dc.report_choices("acme")
    assert choices.organizations == account.organizations and choices.users == account.users
    assert sandbox.api_key not in repr(account) and sandbox.api_key not in str(account.to_dict())


def test_wrong_key_is_refused_and_nothing_is_stored(dc: DataCenter, sandbox: Any) -> None:
    with pytest.raises(AccountKeyError) as info:
        dc.add_account("acme", api_key=WRONG_KEY, base_url=sandbox.base_url)
    message = str(info.value)
    assert "rejected the API key (401)" in message and "wrong or has been revoked" in message
    assert WRONG_KEY not in message
    assert dc.list_accounts() == []
    assert WRONG_KEY.encode() not in store_bytes(dc.home)


def test_unreachable_close_is_a_clear_error(dc: DataCenter) -> None:
    with pytest.raises(AccountKeyError, match="Could not"):
        dc.add_account("acme", api_key=WRONG_KEY, base_url="http://127.0.0.1:9/api/v1/")
    assert dc.list_accounts() == []


def test_key_from_environment_variable(dc: DataCenter, sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACME_CLOSE_KEY", sandbox.api_key)
    account = dc.add_account("acme", api_key_env="ACME_CLOSE_KEY", base_url=sandbox.base_url)
    assert account.key_source == "env" and account.key_env == "ACME_CLOSE_KEY"
    with dc.store.connect() as conn:
        assert conn.execute("SELECT key_ciphertext FROM accounts").fetchone()[0] is None
    assert dc.check_account("acme").ok
    monkeypatch.delenv("ACME_CLOSE_KEY")
    check = dc.check_account("acme")
    assert not check.ok and "$ACME_CLOSE_KEY, which is not set" in check.message
    assert dc.get_account("acme").status == "invalid"
    with pytest.raises(AccountKeyError, match="not set"):
        dc.add_account("other", api_key_env="ACME_CLOSE_KEY", base_url=sandbox.base_url)


def test_rename_check_and_remove(dc: DataCenter, sandbox: Any) -> None:
    add_account(dc, sandbox)
    account = dc.rename_account("acme", "Acme Corp")
    assert account.name == "Acme Corp" and dc.get_account(account.id).name == "Acme Corp"
    with pytest.raises(NotFoundError, match="No account named 'acme'"):
        dc.get_account("acme")
    check = dc.check_account("Acme Corp")
    assert check.ok and sandbox.data.me()["email"] in check.message
    dc.create_dataset("users", account="Acme Corp", report="Users")
    with pytest.raises(ConflictError, match="used by 1 dataset"):
        dc.remove_account("Acme Corp")
    assert dc.remove_account("Acme Corp", force=True) == ["users"]
    assert dc.list_accounts() == [] and dc.list_datasets() == []


def test_check_reports_a_revoked_key(dc: DataCenter, sandbox: Any) -> None:
    account = add_account(dc, sandbox)
    revoked = dc._accounts.secrets.encrypt(WRONG_KEY)  # what a key revoked in Close looks like from here
    with dc.store.write() as conn:
        conn.execute("UPDATE accounts SET key_ciphertext = ? WHERE id = ?", (revoked, account.id))
    check = dc.check_account("acme")
    assert not check.ok and "401" in check.message and WRONG_KEY not in check.message
    assert check.account.status == "invalid" and check.account.last_error == check.message


def test_duplicate_and_bad_names(dc: DataCenter, sandbox: Any) -> None:
    add_account(dc, sandbox)
    with pytest.raises(ConflictError):
        add_account(dc, sandbox)
    with pytest.raises(ValidationError, match="only digits"):
        dc.add_account("123", api_key=sandbox.api_key, base_url=sandbox.base_url)
    with pytest.raises(ValidationError, match="either an API key"):
        dc.add_account("x", base_url=sandbox.base_url)


# -- datasets ---------------------------------------------------------------------------------------------
def test_dataset_lifecycle(dc: DataCenter, sandbox: Any) -> None:
    add_account(dc, sandbox)
    created = dc.create_dataset("calls", account="acme", report="Activities Call", description="all calls")
    assert (created.report, created.table, created.method, created.schedule) == (
        "activities_call", "activities_call", "upsert", "manual",
    )
    assert created.destination == f"duckdb:{dc.home / 'close.duckdb'}"
    assert created.next_run_at is None and created.last_run is None
    assert [d.name for d in dc.list_datasets()] == ["calls"]

    run = dc.run_dataset("calls")
    expected = sandbox.data.count("activity/call")
    assert run.ok and run.status == "success" and run.rows == expected and run.requests > 0
    assert run.attempt == 1 and run.trigger == "manual" and run.finished_at is not None
    assert _count(created.destination, "activities_call") == expected

    preview = dc.preview("calls", limit=5)
    assert len(preview.rows) == min(5, expected) and "id" in preview.columns
    [listed] = dc.list_datasets()
    assert listed.last_run is not None and listed.last_run.id == run.id and listed.last_run.rows == expected

    edited = dc.edit_dataset("calls", schedule="every 2 hours", table="calls_copy", retries=2, retry_delay="1m")
    assert (edited.schedule, edited.table, edited.retries, edited.retry_delay_s) == ("every 2 hours", "calls_copy", 2, 60)
    assert edited.next_run_at is not None
    second = dc.run_dataset("calls")
    assert second.ok and _count(created.destination, "calls_copy") == expected
    assert [r.id for r in dc.history("calls")] == [second.id, run.id]
    assert dc.get_run(run.id).rows == expected

    dc.delete_dataset("calls", drop_table=True)
    assert dc.list_datasets() == []
    with pytest.raises(NotFoundError):
        dc.get_run(run.id)
    with duckdb.connect(str(dc.home / "close.duckdb"), read_only=True) as conn:
        tables = {r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert "calls_copy" not in tables and "activities_call" in tables  # only the dataset's own table dropped


def test_incremental_state_belongs_to_the_dataset(dc: DataCenter, sandbox: Any) -> None:
    add_account(dc, sandbox)
    dc.create_dataset("calls", account="acme", report="activities_call")
    assert dc.run_dataset("calls").ok
    with dc.store.connect() as conn:
        states = conn.execute("SELECT COUNT(*) FROM dataset_state").fetchone()[0]
    assert states >= 1  # cursors live in the metadata store, with the dataset
    dc.edit_dataset("calls", since="2020-01-01")  # other data: the old cursors no longer apply
    with dc.store.connect() as conn:
        assert conn.execute("SELECT COUNT(*) FROM dataset_state").fetchone()[0] == 0


def test_dataset_parameters_are_checked(dc: DataCenter, sandbox: Any) -> None:
    account = add_account(dc, sandbox)
    org = account.organizations[0].id
    user = account.users[0].id

    with pytest.raises(ValidationError) as info:
        dc.create_dataset("x", account="acme", report="Users", schedule="whenever")
    assert info.value.field == "schedule" and "daily at 06:00" in str(info.value)
    with pytest.raises(ValidationError) as info:
        dc.create_dataset("x", account="acme", report="Organizations", organization_id="orga_nope")
    assert info.value.field == "organization_id" and org in str(info.value)
    with pytest.raises(ValidationError) as info:
        dc.create_dataset("x", account="acme", report="Activities Call", user_id="user_nope")
    assert info.value.field == "user_id"
    with pytest.raises(ValidationError, match="does not take a User ID"):
        dc.create_dataset("x", account="acme", report="Lead Statuses", user_id=user)
    with pytest.raises(ValidationError) as info:
        dc.create_dataset("x", account="acme", report="No Such Report")
    assert info.value.field == "report"
    for bad in ({"method": "merge"}, {"retries": -1}, {"retry_delay": "soon"}, {"table": "bad name"},
                {"since": "yesterday"}, {"destination": "ftp://x"}):
        with pytest.raises(ValidationError) as info:
            dc.create_dataset("x", account="acme", report="Users", **bad)
        assert info.value.field == next(iter(bad)), bad
    with pytest.raises(NotFoundError):
        dc.create_dataset("x", account="nobody", report="Users")

    ok = dc.create_dataset(
        "org", account="acme", report="Organizations", organization_id=org, schedule="daily at 06:00",
        method="replace", retries=3, retry_delay="2m",
    )
    assert ok.organization_id == org and ok.schedule == "daily at 06:00" and ok.retry_delay_s == 120
    with pytest.raises(ConflictError, match="exists already"):
        dc.create_dataset("ORG", account="acme", report="Users")
    with pytest.raises(ConflictError, match="already loads table"):
        dc.create_dataset("org2", account="acme", report="Organizations")
    pg = dc.create_dataset("pg", account="acme", report="Users", destination="postgres://bob:s3cret@db.test/x")
    assert pg.destination == "postgres://bob:s3cret@db.test/x"  # the runner needs it whole
    assert pg.to_dict()["destination"] == "postgres://bob:***@db.test/x"  # front ends never see it
    info2 = dc.validate_schedule("weekly on mon at 06:00")
    assert info2.spec == "weekly on mon at 06:00" and len(info2.next_runs) == 3
    assert {r.slug for r in dc.reports()} >= {"users", "activities_call", "organizations"}


def test_create_dataset_takes_exactly_the_dataset_spec_fields() -> None:
    """The facade's signature and DatasetSpec cannot drift: same names, order, types and defaults."""
    params = list(inspect.signature(DataCenter.create_dataset).parameters.values())[1:]  # without self
    assert tuple(p.name for p in params) == DATASET_FIELDS
    fields = {f.name: f for f in dataclasses.fields(DatasetSpec)}
    for param in params:
        default = fields[param.name].default
        assert param.default == (inspect.Parameter.empty if default is dataclasses.MISSING else default)
    hints = get_type_hints(DataCenter.create_dataset)
    assert {name: hints[name] for name in DATASET_FIELDS} == get_type_hints(DatasetSpec)


def test_importing_the_datacenter_loads_no_client_driver_or_arrow() -> None:
    """Models, forms and the CLI's startup import the Data Center: httpx, duckdb and pyarrow come with a run."""
    code = (
        "import sys; import closesync.datacenter, closesync.datacenter.models, closesync.datacenter.spec; "
        "print(sorted(m for m in ('pyarrow', 'duckdb', 'httpx', 'croniter') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_edit_dataset_refuses_fields_that_are_not_dataset_fields(dc: DataCenter, sandbox: Any) -> None:
    add_account(dc, sandbox)
    ds = dc.create_dataset("users", account="acme", report="Users")
    with pytest.raises(ValidationError, match="Unknown dataset field.*table_name"):
        dc.edit_dataset(ds.id, table_name="x")
    assert dc.edit_dataset(ds.id, table="people").table == "people"


def test_python_api_run_dataset_and_sync(home: Path, sandbox: Any, tmp_path: Path) -> None:
    import closesync
    from closesync.datacenter import Run
    from closesync.pipeline import SyncResult

    dc = DataCenter(home)
    add_account(dc, sandbox)
    dc.create_dataset("users", account="acme", report="users")
    run = closesync.run_dataset("users", home=str(home))
    assert isinstance(run, Run) and run.ok and run.rows == sandbox.data.count("user")
    assert closesync.run_dataset(str(run.dataset_id), home=str(home)).ok  # by id too

    result = closesync.sync(
        ["users"], api_key=sandbox.api_key, base_url=sandbox.base_url, destination=f"duckdb:{tmp_path / 'x.duckdb'}"
    )
    assert isinstance(result, SyncResult) and result.ok and result.rows == sandbox.data.count("user")
