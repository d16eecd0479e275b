"""One dataset whose stored schedule or retry delay cannot be planned never stops another from running, nor a
list or a history from showing: the problem shows on that dataset only (issue 10 §3).

Input is validated since (366-day bounds), so such rows come from an older version or an edit in SQLite:
the tests write them straight into the store.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from closesync.cli import cli
from closesync.datacenter import DataCenter
from closesync.datacenter.leases import HOST
from closesync.datacenter.store import to_iso
from dc_helpers import FakeClock, add_account, make_dc

HUGE_DELAY_S = 99999999999 * 3600  # what `--retry-delay 99999999999h` stored before it was refused
HUGE_SCHEDULE = "every 99999999999999999999 minutes"
NOW = datetime(2026, 11, 26, 11, 0, tzinfo=UTC)


def two_datasets(home: Path, sandbox: Any, clock: FakeClock) -> DataCenter:
    dc = make_dc(home, clock)
    add_account(dc, sandbox)
    dc.create_dataset("good", account="acme", report="Users", schedule="hourly")
    dc.create_dataset("bad", account="acme", report="Users", schedule="hourly", table="users_bad", retries=1)
    return dc


def corrupt(dc: DataCenter, **columns: Any) -> None:
    sets = ", ".join(f"{name} = ?" for name in columns)
    with dc.store.write() as conn:
        conn.execute(f"UPDATE datasets SET {sets} WHERE name = 'bad'", tuple(columns.values()))


def leave_killed_run(dc: DataCenter, name: str, clock: FakeClock) -> int:
    """What a scheduler killed mid-run leaves behind: a running row and the lease of a dead process."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    owner = f"{HOST}:{dead.pid}:gone"
    dataset = dc.get_dataset(name)
    with dc.store.write() as conn:
        cur = conn.execute(
            "INSERT INTO runs (dataset_id, status, trigger, attempt, started_at, owner) "
            "VALUES (?, 'running', 'schedule', 1, ?, ?)",
            (dataset.id, to_iso(clock()), owner),
        )
        conn.execute(
            "INSERT INTO leases (dataset_id, run_id, owner, acquired_at, expires_at) VALUES (?, ?, ?, ?, ?)",
            (
                dataset.id,
                cur.lastrowid,
                owner,
                to_iso(clock()),
                to_iso(datetime.now(UTC) + timedelta(hours=1)),
            ),
        )
    return int(cur.lastrowid)  # type: ignore[arg-type]


@pytest.mark.timeout(120)
def test_a_failed_run_with_a_huge_retry_delay_is_recorded_and_others_run(home: Path, sandbox: Any) -> None:
    clock = FakeClock(NOW - timedelta(minutes=30))
    dc = two_datasets(home, sandbox, clock)
    corrupt(dc, retry_delay_s=HUGE_DELAY_S, destination="csv:/dev/null")  # it fails, then plans its retry
    clock.set(NOW)
    sched = dc.scheduler()
    assert len(sched.tick(wait=True)) == 2
    sched.stop()
    bad, good = dc.list_datasets()
    assert good.last_run is not None and good.last_run.ok and good.problem is None
    assert bad.last_run is not None and bad.last_run.status == "failed" and not bad.running
    assert bad.problem and "retry delay" in bad.problem and bad.pending_attempt == 0
    assert bad.next_run_at == NOW + timedelta(hours=1)  # no retry: back on its schedule
    assert [r.status for r in dc.history("bad")] == ["failed"]

    clock.set(NOW + timedelta(hours=1))  # the next round: both run again, the bad one fails again
    sched = dc.scheduler()
    assert len(sched.tick(wait=True)) == 2
    sched.stop()
    assert [r.status for r in dc.history("good")] == ["success", "success"]


@pytest.mark.timeout(120)
def test_a_killed_run_with_a_huge_retry_delay_does_not_break_lists(home: Path, sandbox: Any) -> None:
    clock = FakeClock(NOW - timedelta(minutes=30))
    dc = two_datasets(home, sandbox, clock)
    corrupt(dc, retry_delay_s=HUGE_DELAY_S)
    killed = leave_killed_run(dc, "bad", clock)
    clock.set(NOW)
    names = [d.name for d in dc.list_datasets()]  # recovering the killed run plans its retry
    assert names == ["bad", "good"]
    assert dc.get_run(killed).status == "failed"
    assert [r.id for r in dc.history("bad")] == [killed] and dc.history("good") == []
    sched = dc.scheduler()
    assert len(sched.tick(wait=True)) == 2  # good is due; bad was rescheduled at once (interrupted)
    sched.stop()
    assert dc.history("good")[0].ok


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "schedule", [HUGE_SCHEDULE, "0 0 31 2 *", "every 3 fortnights", "daily at 06:00 Mars/Base"]
)
def test_a_stored_schedule_that_cannot_be_planned(home: Path, sandbox: Any, schedule: str) -> None:
    clock = FakeClock(NOW - timedelta(minutes=30))
    dc = two_datasets(home, sandbox, clock)
    corrupt(dc, schedule=schedule)
    clock.set(NOW)
    sched = dc.scheduler()
    assert len(sched.tick(wait=True)) == 2  # both were due: the bad one runs once, and is not planned again
    sched.stop()
    bad, good = dc.list_datasets()
    assert bad.problem and repr(schedule) in bad.problem and "Edit the dataset" in bad.problem
    assert good.last_run and good.last_run.ok and good.next_run_at == NOW + timedelta(hours=1)
    assert bad.last_run and bad.last_run.ok and bad.next_run_at is None and bad.problem

    killed = leave_killed_run(dc, "bad", clock)
    assert [d.name for d in dc.list_datasets()] == ["bad", "good"]
    assert dc.get_run(killed).status == "failed"

    result = CliRunner().invoke(cli, ["--home", str(home), "datasets", "list"], terminal_width=400)
    assert result.exit_code == 0 and "Traceback" not in result.output
    assert "not planned" in result.stdout
    shown = CliRunner().invoke(cli, ["--home", str(home), "datasets", "show", "bad"], terminal_width=400)
    assert shown.exit_code == 0 and "Problem:" in shown.stdout
    assert "Problem:" not in CliRunner().invoke(cli, ["--home", str(home), "datasets", "show", "good"]).stdout


@pytest.mark.timeout(180)
def test_scheduler_once_then_list_and_history_in_new_processes(home: Path, sandbox: Any) -> None:
    """The reported sequence, process by process: `scheduler --once` runs a dataset whose retry delay is
    huge and fails; later commands recover its run and list, show and run everything."""
    dc = DataCenter(home)
    dc.add_account("acme", api_key=sandbox.api_key, base_url=sandbox.base_url)
    dc.create_dataset("good", account="acme", report="Users", schedule="hourly")
    dc.create_dataset("bad", account="acme", report="Users", schedule="hourly", table="users_bad", retries=2)
    due = to_iso(datetime.now(UTC) - timedelta(minutes=1))
    with dc.store.write() as conn:
        conn.execute("UPDATE datasets SET next_run_at = ?", (due,))
    corrupt(dc, retry_delay_s=HUGE_DELAY_S, destination="csv:/dev/null")

    def closesync(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "closesync", "--home", str(home), *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    once = closesync("scheduler", "--once")
    assert once.returncode == 0 and "Traceback" not in once.stderr, once.stderr
    for args in (
        ["datasets", "list"],
        ["datasets", "history", "bad"],
        ["datasets", "history", "good"],
        ["datasets", "show", "bad"],
        ["scheduler", "--once"],
    ):
        done = closesync(*args)
        assert done.returncode == 0 and "Traceback" not in done.stderr, (args, done.stderr)
    statuses = {d.name: (d.last_run.status if d.last_run else None) for d in dc.list_datasets()}
    assert statuses == {"bad": "failed", "good": "success"}
