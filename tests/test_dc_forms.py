"""The Data Center's side of issue 13 §3 and §6: every wrong field at once, settings by name, the parameters
a report takes, and rows in the table beside the rows the last run read (real sandbox and destinations)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from closesync.datacenter import ConflictError, DataCenter, ValidationError, destlock
from closesync.datacenter.spec import METHOD_HELP, DatasetSpec
from closesync.sinks.files import FileSink
from dc_helpers import add_account, make_dc


@pytest.fixture
def dc(home: Path) -> DataCenter:
    return make_dc(home)


def test_every_wrong_field_is_named_at_once(dc: DataCenter, sandbox: Any) -> None:
    add_account(dc, sandbox)
    with pytest.raises(ValidationError) as info:
        dc.create_dataset(
            "", account="acme", report="Users", schedule="whenever", retries=-1, retry_delay="soon",
            method="merge", since="yesterday", table="bad name", destination="ftp://x",
        )
    errors = info.value.errors
    assert set(errors) == {"name", "schedule", "retries", "retry_delay", "method", "since", "table", "destination"}
    assert info.value.field == "name" and str(info.value) == errors["name"]  # the first, as before
    assert "daily at 06:00" in errors["schedule"]
    assert dc.list_datasets() == []


def test_a_single_wrong_field_keeps_its_field(dc: DataCenter, sandbox: Any) -> None:
    add_account(dc, sandbox)
    with pytest.raises(ValidationError) as info:
        dc.create_dataset("x", account="acme", report="No Such Report", user_id="user_x")
    assert info.value.errors == {"report": str(info.value)} and info.value.field == "report"


def test_clashes_are_conflicts_named_by_field(dc: DataCenter, sandbox: Any) -> None:
    add_account(dc, sandbox)
    dc.create_dataset("users", account="acme", report="Users")
    with pytest.raises(ConflictError) as clash:
        dc.create_dataset("users 2", account="acme", report="Users")
    assert clash.value.field == "table" and set(clash.value.errors) == {"table"}
    with pytest.raises(ConflictError) as both:
        dc.create_dataset("USERS", account="acme", report="Users")
    assert set(both.value.errors) == {"name", "table"}
    with pytest.raises(ValidationError) as mixed:  # a clash beside a wrong field: one answer with both
        dc.create_dataset("users 2", account="acme", report="Users", schedule="whenever")
    assert set(mixed.value.errors) == {"schedule", "table"}


def test_check_dataset_validates_without_saving(dc: DataCenter, sandbox: Any) -> None:
    add_account(dc, sandbox)
    dc.check_dataset(name="ok", account="acme", report="Users")
    assert dc.list_datasets() == []
    with pytest.raises(ValidationError) as info:
        dc.check_dataset(name="", account="acme", report="")
    assert set(info.value.errors) == {"name", "report"}
    saved = dc.create_dataset("users", account="acme", report="Users")
    with pytest.raises(ValidationError) as edit:
        dc.check_dataset("users", schedule="whenever", retries=99)
    assert set(edit.value.errors) == {"schedule", "retries"}
    assert dc.get_dataset("users").schedule == saved.schedule


def test_settings_by_name_and_only_the_reports_parameters(dc: DataCenter, sandbox: Any) -> None:
    account = add_account(dc, sandbox)
    org, user = account.organizations[0], account.users[0]
    reporting = dc.create_dataset(
        "activity", account="acme", report="Reporting Activity", organization_id=org.id, user_id=user.id
    )
    assert (reporting.organization_label, reporting.user_label) == (org.label, user.label)
    assert reporting.organization_display == f"{org.label} ({org.id})"
    assert reporting.user_display == f"{user.label} ({user.id})"
    assert reporting.parameters == ["organization_id", "user_id", "since"]
    users = dc.create_dataset("users", account="acme", report="Users")
    assert users.parameters == [] and users.organization_display is None
    as_json = dc.get_dataset("activity").to_dict()
    assert as_json["organization_label"] == org.label and as_json["user_label"] == user.label


def test_method_help_says_what_each_method_does_to_the_table() -> None:
    import dataclasses

    method = next(f for f in dataclasses.fields(DatasetSpec) if f.name == "method")
    for name, effect in METHOD_HELP.items():
        assert f"{name}: {effect}" in method.metadata["help"]
    assert "every new or changed record version is added once" in METHOD_HELP["append"]
    assert "table becomes exactly what was read" in METHOD_HELP["replace"]
    assert "merged by primary key" in METHOD_HELP["upsert"] and "deleted in Close" in METHOD_HELP["upsert"]


def test_rows_in_the_table_beside_rows_read(dc: DataCenter, sandbox: Any) -> None:
    """After an incremental run the last run read a row or two; the table still holds all of them."""
    add_account(dc, sandbox)
    dc.create_dataset("leads", account="acme", report="Leads")
    [before] = dc.with_table_rows(dc.list_datasets())
    assert before.table_rows is None  # no table yet
    first = dc.run_dataset("leads")
    total = sandbox.data.count("lead")
    assert first.ok and first.rows == total
    lead = sandbox.data.records("lead")[0]
    sandbox.data.update("lead", lead["id"], display_name="Renamed Inc")
    second = dc.run_dataset("leads")
    assert second.ok and 1 <= second.rows < total  # the changed lead (and the cursor's boundary)
    [after] = dc.with_table_rows(dc.list_datasets())
    assert after.last_run is not None and after.last_run.rows == second.rows and after.table_rows == total


def test_parquet_counts_come_from_the_footers_once_per_run(
    dc: DataCenter, sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_account(dc, sandbox)
    ds = dc.create_dataset("users", account="acme", report="Users", destination=f"parquet:{tmp_path / 'pq'}")
    assert dc.run_dataset("users").ok
    counted: list[str] = []
    real = FileSink.row_count
    monkeypatch.setattr(FileSink, "row_count", lambda self, table: counted.append(table) or real(self, table))
    assert dc.with_table_rows([dc.get_dataset(ds.id)])[0].table_rows == sandbox.data.count("user")
    assert dc.with_table_rows([dc.get_dataset(ds.id)])[0].table_rows == sandbox.data.count("user")
    assert counted == ["users"]  # kept until the next run
    assert dc.run_dataset("users").ok
    dc.with_table_rows([dc.get_dataset(ds.id)])
    assert counted == ["users", "users"]


_HOLD = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(60)
"""


def test_a_busy_destination_never_holds_up_the_list(dc: DataCenter, sandbox: Any) -> None:
    """Another process writing the DuckDB file: the count is unknown ("—"), and the list answers at once."""
    add_account(dc, sandbox)
    ds = dc.create_dataset("users", account="acme", report="Users")
    assert dc.run_dataset("users").ok
    lock = destlock._lock_file(dc.home, ds.destination)
    assert lock is not None
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(lock)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        fresh = DataCenter(dc.home)  # no count kept from before
        started = time.monotonic()
        [busy] = fresh.with_table_rows(fresh.list_datasets())
        assert busy.table_rows is None and time.monotonic() - started < 2.0
    finally:
        holder.kill()
        holder.wait()
    again = DataCenter(dc.home)
    [free] = again.with_table_rows(again.list_datasets())
    assert free.table_rows == sandbox.data.count("user")
