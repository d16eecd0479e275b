"""The runner and scheduler: schedules on an injectable clock, retries, leases, restarts (real sandbox)."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from closesync.datacenter import DatasetBusyError
from closesync.datacenter.leases import HOST
from closesync.datacenter.store import to_iso
from dc_helpers import FakeClock, add_account, make_dc


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 26, 10, 7, tzinfo=UTC))


def _at(hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2026, 11, 26, hour, minute, second, tzinfo=UTC)


def test_schedule_runs_when_due_on_the_injected_clock(home: Path, sandbox: Any, clock: FakeClock) -> None:
    dc = make_dc(home, clock)
    add_account(dc, sandbox)
    dataset = dc.create_dataset("users", account="acme", report="Users", schedule="every 15 minutes")
    assert dataset.next_run_at == _at(10, 15)
    sched = dc.scheduler(max_workers=2)
    assert sched.tick(wait=True) == []  # 10:07: not due

    clock.set(_at(10, 15))
    [run_id] = sched.tick(wait=True)
    run = dc.get_run(run_id)
    assert run.ok and run.trigger == "schedule" and run.attempt == 1 and run.started_at == _at(10, 15)
    assert dc.get_dataset("users").next_run_at == _at(10, 30)
    clock.set(_at(10, 29, 59))
    assert sched.tick(wait=True) == []

    clock.set(_at(11, 2))  # the scheduler was down over 10:30 and 10:45: one catch-up run, not two
    assert len(sched.tick(wait=True)) == 1
    assert sched.tick(wait=True) == []
    assert dc.get_dataset("users").next_run_at == _at(11, 15)

    dc.edit_dataset("users", enabled=False)
    clock.set(_at(12, 0))
    assert sched.tick(wait=True) == [] and dc.get_dataset("users").next_run_at is None
    sched.stop()


def test_transient_failure_is_retried_then_succeeds(home: Path, sandbox: Any, clock: FakeClock) -> None:
    dc = make_dc(home, clock)
    add_account(dc, sandbox)
    dc.create_dataset("users", account="acme", report="Users", schedule="hourly", retries=2, retry_delay="5m")
    sched = dc.scheduler()
    sandbox.add_fault("503", path="user/", count=1)

    clock.set(_at(11, 0))
    [first] = sched.tick(wait=True)
    failed = dc.get_run(first)
    assert failed.status == "failed" and failed.http_status == 503 and failed.attempt == 1
    assert failed.error_report == "Users" and failed.error
    queued = dc.get_dataset("users")
    assert queued.pending_attempt == 2 and queued.next_run_at == _at(11, 5)

    clock.set(_at(11, 4))
    assert sched.tick(wait=True) == []  # the retry waits for its delay
    clock.set(_at(11, 5))
    [second] = sched.tick(wait=True)
    retried = dc.get_run(second)
    assert retried.ok and retried.trigger == "retry" and retried.attempt == 2
    assert retried.rows == sandbox.data.count("user")
    back = dc.get_dataset("users")
    assert back.pending_attempt == 0 and back.next_run_at == _at(12, 0)
    assert [r.status for r in dc.history("users")] == ["success", "failed"]
    sched.stop()


def test_permanent_failure_is_recorded_readably(home: Path, sandbox: Any, clock: FakeClock) -> None:
    dc = make_dc(home, clock)
    add_account(dc, sandbox)
    dc.create_dataset("org", account="acme", report="Organizations", schedule="hourly", retries=1, retry_delay="1m")
    with dc.store.write() as conn:  # the organization was deleted in Close after the dataset was saved
        conn.execute("UPDATE datasets SET organization_id = 'orga_GoneGoneGone0000000000000000000000000000'")
    sched = dc.scheduler()
    clock.set(_at(11, 0))
    [first] = sched.tick(wait=True)
    clock.set(_at(11, 1))
    [second] = sched.tick(wait=True)
    runs = [dc.get_run(first), dc.get_run(second)]
    assert [r.attempt for r in runs] == [1, 2] and all(r.status == "failed" for r in runs)
    last = runs[1]
    assert last.http_status == 404 and last.error_report == "Organizations"
    assert "Organization" in (last.error or "") and sandbox.api_key not in (last.error or "")
    after = dc.get_dataset("org")
    assert after.pending_attempt == 0 and after.next_run_at == _at(12, 0)  # retries used up: back on schedule
    sched.stop()


def test_revoked_key_fails_the_run_with_a_readable_message(home: Path, sandbox: Any) -> None:
    dc = make_dc(home)
    account = add_account(dc, sandbox)
    dc.create_dataset("users", account="acme", report="Users")
    wrong = "api_revokedREVOKEDrevoked000000000"
    with dc.store.write() as conn:
        conn.execute("UPDATE accounts SET key_ciphertext = ? WHERE id = ?",
                     (dc._accounts.secrets.encrypt(wrong), account.id))
    run = dc.run_dataset("users")
    assert run.status == "failed" and run.http_status == 401 and wrong not in (run.error or "")


def test_two_schedulers_never_run_a_dataset_twice(home: Path, make_sandbox: Any, clock: FakeClock) -> None:
    sb = make_sandbox(latency_ms=30)
    dcs = [make_dc(home, clock), make_dc(home, clock)]
    add_account(dcs[0], sb)
    names = [f"users{i}" for i in range(4)]
    for name in names:
        dcs[0].create_dataset(name, account="acme", report="Users", schedule="hourly", table=name)
    scheds = [dc.scheduler(max_workers=3) for dc in dcs]
    clock.set(_at(11, 0, 30))
    barrier = threading.Barrier(2)
    started: list[list[int]] = [[], []]

    def hammer(i: int) -> None:
        barrier.wait()
        for _ in range(15):
            started[i].extend(scheds[i].tick())
        scheds[i].wait_idle()

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for name in names:
        runs = dcs[0].history(name)
        assert len(runs) == 1 and runs[0].ok, (name, runs)
    assert sorted(started[0] + started[1]) == sorted(r.id for n in names for r in dcs[0].history(n))
    for s in scheds:
        s.stop()


def test_schedulers_in_separate_processes_share_the_lease(home: Path, make_sandbox: Any) -> None:
    sb = make_sandbox(latency_ms=20)
    dc = make_dc(home)
    add_account(dc, sb)
    names = [f"users{i}" for i in range(3)]
    for name in names:
        dc.create_dataset(name, account="acme", report="Users", schedule="hourly", table=name)
    past = to_iso(datetime.now(UTC) - timedelta(minutes=1))
    with dc.store.write() as conn:
        conn.execute("UPDATE datasets SET next_run_at = ?", (past,))
    cmd = [sys.executable, "-m", "closesync", "--home", str(home), "scheduler", "--once", "--max-workers", "3"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    for name in names:
        runs = dc.history(name)
        assert len(runs) == 1 and runs[0].ok, (name, runs, outputs)
    logged = "".join(err for _, err in outputs)
    assert logged.count("status=success") == len(names)  # one log line per run
    assert sb.api_key not in logged


def test_a_running_dataset_refuses_a_second_run(home: Path, sandbox: Any) -> None:
    dc = make_dc(home)
    add_account(dc, sandbox)
    dataset = dc.create_dataset("users", account="acme", report="Users")
    other = make_dc(home)
    claim = other._runner.claim(dataset.id)
    assert claim is not None and dc.get_dataset("users").running
    with pytest.raises(DatasetBusyError, match="running already"):
        dc.run_dataset("users")
    other._runner.execute(claim)
    assert dc.run_dataset("users").ok


def test_restart_fails_and_reschedules_runs_of_a_dead_process(home: Path, sandbox: Any, clock: FakeClock) -> None:
    dc = make_dc(home, clock)
    add_account(dc, sandbox)
    dataset = dc.create_dataset("users", account="acme", report="Users", schedule="daily at 06:00")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    owner = f"{HOST}:{dead.pid}:gone"
    with dc.store.write() as conn:  # what a scheduler killed mid-run leaves behind
        cur = conn.execute(
            "INSERT INTO runs (dataset_id, status, trigger, attempt, started_at, owner) "
            "VALUES (?, 'running', 'schedule', 1, ?, ?)", (dataset.id, to_iso(clock()), owner))
        conn.execute(
            "INSERT INTO leases (dataset_id, run_id, owner, acquired_at, expires_at) VALUES (?, ?, ?, ?, ?)",
            (dataset.id, cur.lastrowid, owner, to_iso(clock()), to_iso(datetime.now(UTC) + timedelta(hours=1))),
        )
    sched = dc.scheduler()
    [run_id] = sched.tick(wait=True)  # recovered, rescheduled for now, and run
    old, new = dc.history("users")[1], dc.get_run(run_id)
    assert old.status == "failed" and "Interrupted" in (old.error or "") and str(dead.pid) in (old.error or "")
    assert new.ok and new.trigger == "schedule"
    assert dc.get_dataset("users").next_run_at == datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
    sched.stop()


def test_background_scheduler_thread_starts_and_stops(home: Path, sandbox: Any) -> None:
    dc = make_dc(home)
    add_account(dc, sandbox)
    dc.create_dataset("users", account="acme", report="Users", schedule="hourly")
    with dc.store.write() as conn:
        conn.execute("UPDATE datasets SET next_run_at = ?", (to_iso(datetime.now(UTC) - timedelta(seconds=1)),))
    sched = dc.scheduler(poll_seconds=0.05)
    sched.start()
    deadline = datetime.now(UTC) + timedelta(seconds=60)
    while not [r for r in dc.history("users") if r.status != "running"] and datetime.now(UTC) < deadline:
        threading.Event().wait(0.05)
    sched.stop()
    [run] = dc.history("users")
    assert run.ok and not sched.running


def test_at_most_max_workers_runs_at_once(home: Path, sandbox: Any, clock: FakeClock) -> None:
    dc = make_dc(home, clock)
    add_account(dc, sandbox)
    for i in range(3):
        dc.create_dataset(f"users{i}", account="acme", report="Users", schedule="hourly", table=f"users{i}")
    sched = dc.scheduler(max_workers=1)
    sandbox.add_fault("slow", path="user/", count=1, delay=5.0)  # holds the first run in flight
    clock.set(_at(11, 0))
    assert len(sched.tick()) == 1
    assert sched.tick() == [] and sched.running == 1  # the one slot is taken
    sched.wait_idle()
    assert len(sched.tick(wait=True)) == 1
    assert len(sched.tick(wait=True)) == 1
    assert sched.tick(wait=True) == []
    assert all(len(dc.history(f"users{i}")) == 1 for i in range(3))
    sched.stop()


def test_throttling_is_waited_out_and_recorded(home: Path, sandbox: Any) -> None:
    dc = make_dc(home)
    add_account(dc, sandbox)
    dc.create_dataset("users", account="acme", report="Users")
    sandbox.add_fault("429", path="user/", count=1, reset=0.2)
    run = dc.run_dataset("users")
    assert run.ok and run.throttle_waits == 1 and run.rows == sandbox.data.count("user")
    assert dc.history("users")[0].throttle_waits == 1
