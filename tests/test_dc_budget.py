"""Many datasets, one key's budget: runs of one account share a pacer in a process and take turns across
processes (real sandbox with a per-key rate limit over HTTP, real SQLite store, real subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from closesync.datacenter import DataCenter, ValidationError, account_lease
from closesync.datacenter.leases import HOST, new_owner
from closesync.datacenter.progress import describe_wait
from closesync.datacenter.store import to_iso
from dc_helpers import FAST_CLIENT, add_account, make_dc

CALLS = "Activities Call"


def _datasets(dc: Any, home: Path, count: int) -> list[str]:
    """`count` datasets of one account reading the same endpoint group, each into its own DuckDB file."""
    names = [f"calls{i}" for i in range(count)]
    for name in names:
        dc.create_dataset(name, account="acme", report=CALLS, schedule="hourly", table=name,
                          destination=f"duckdb:{home.parent / name}.duckdb")
    return names


def _all_due(dc: Any) -> None:
    with dc.store.write() as conn:
        conn.execute("UPDATE datasets SET next_run_at = ?", (to_iso(datetime.now(UTC) - timedelta(minutes=1)),))


def test_concurrent_runs_of_one_account_share_the_key_budget(home: Path, make_sandbox: Any) -> None:
    sb = make_sandbox(leads=120, rate_limit=(8, 1.0))
    dc = make_dc(home, max_retries=3)
    add_account(dc, sb)
    names = _datasets(dc, home, 4)
    _all_due(dc)
    sb.reset_stats()
    sched = dc.scheduler(max_workers=4)
    assert len(sched.tick(wait=True)) == 4
    sched.stop()
    runs = [dc.history(name)[0] for name in names]
    assert all(r.ok and r.rows == sb.data.count("activity/call") for r in runs), runs
    stats = sb.stats()
    assert stats["requests"]["total"] > 4 * 8  # the budget was spent many times over
    assert stats["throttled"] == 0 and stats["early_retries"] == 0, stats
    assert sum(r.throttle_waits for r in runs) == 0


def _start_run(home: Path, name: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "closesync", "--home", str(home), "datasets", "run", name, "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _running(dc: Any, name: str) -> Any:
    runs = dc.history(name)
    return runs[0] if runs and runs[0].status == "running" else None


def _poll(predicate: Any, what: str, procs: list[subprocess.Popen[str]], seconds: float = 60.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        dead = [p for p in procs if p.poll() is not None]
        assert not dead, (what, [p.communicate() for p in dead])
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_runs_in_two_processes_take_turns_on_the_account(home: Path, make_sandbox: Any) -> None:
    sb = make_sandbox(leads=150, rate_limit=(3, 1.0), latency_ms=20)
    dc = make_dc(home)
    add_account(dc, sb)
    first, second = _datasets(dc, home, 2)
    sb.reset_stats()
    sb.add_fault("slow", path="activity/call/", count=1, delay=4.0)  # the first run holds its turn 4 s or more
    procs = [_start_run(home, first)]
    _poll(lambda: _running(dc, first) and sb.stats()["requests"]["by_group"].get("GET activity/call"),
          "the first run reading", procs)
    procs.append(_start_run(home, second))
    waiting = _poll(lambda: (run := _running(dc, second)) is not None and run.waiting, "the second waiting", procs)
    assert waiting["reason"] == "account" and waiting["elsewhere"] == 1, waiting
    said = describe_wait(waiting, 0)
    assert said is not None and "Waiting for a turn on account 'acme'" in said and "another closesync process" in said
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    one, two = dc.history(first)[0], dc.history(second)[0]
    assert one.ok and two.ok and one.waiting is None and two.waiting is None
    assert any("for a turn on account 'acme'" in note for note in two.reports[0]["notes"]), two.reports
    assert not any("turn" in note for note in one.reports[0]["notes"])
    stats = sb.stats()
    # The handover may cost a 429 or two: the second process's pacer starts blind (it probes one request at a
    # time) in whatever is left of the window the first process spent. None is ever sent while locked out.
    assert stats["throttled"] <= 2 and stats["early_retries"] == 0, stats
    assert sb.api_key not in "".join(out + err for out, err in outputs)
    assert json.loads(outputs[1][0])["status"] == "success"


def _other_process_owner() -> str:
    """An owner in a live process other than this one (the test runner's parent)."""
    return f"{HOST}:{os.getppid()}:feedface00"


def test_account_turns_within_the_limit_one_process_at_a_time_first_come_first_served(home: Path, sandbox: Any) -> None:
    dc = make_dc(home)
    account = add_account(dc, sandbox)
    here, there = new_owner(), _other_process_owner()
    with dc.store.write() as conn:
        ask = lambda run_id, owner, limit=2: account_lease.ask(conn, account.id, run_id, owner, limit)  # noqa: E731
        assert ask(1, here).granted and ask(2, here).granted
        assert not ask(3, here).granted  # the limit: two runs of the account at once
        account_lease.release(conn, 1)
        assert ask(3, here).granted
        turn = ask(4, there)  # another process waits while this one holds turns
        assert not turn.granted and (turn.holders, turn.elsewhere) == (2, 2)
        account_lease.release(conn, 2)
        assert not ask(5, here).granted  # queued behind run 4 of the other process: no starving it
        account_lease.release(conn, 3)
        assert ask(4, there).granted and not ask(5, here).granted
        account_lease.release(conn, 4)
        assert ask(5, here).granted


def test_a_dead_process_gives_its_account_turn_back(home: Path, sandbox: Any) -> None:
    dc = make_dc(home)
    account = add_account(dc, sandbox)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with dc.store.write() as conn:
        conn.execute(
            "INSERT INTO account_leases (run_id, account_id, owner, holding, queued_at, expires_at)"
            " VALUES (9, ?, ?, 1, ?, ?)",
            (account.id, f"{HOST}:{dead.pid}:deadbeef00", to_iso(datetime.now(UTC)),
             to_iso(datetime.now(UTC) + timedelta(minutes=5))),
        )
        assert account_lease.ask(conn, account.id, 10, new_owner()).granted
        assert [r[0] for r in conn.execute("SELECT run_id FROM account_leases")] == [10]


def test_account_runs_limits_the_runs_of_an_account_at_once(home: Path, make_sandbox: Any) -> None:
    sb = make_sandbox(leads=20)
    dc = DataCenter(home, client_options=FAST_CLIENT, account_runs=1)
    add_account(dc, sb)
    names = _datasets(dc, home, 2)
    _all_due(dc)
    sb.add_fault("slow", path="activity/call/", count=1, delay=1.5)  # the first run holds the one turn 1.5 s
    sched = dc.scheduler(max_workers=2)
    assert len(sched.tick(wait=True)) == 2
    sched.stop()
    runs = [dc.history(name)[0] for name in names]
    assert all(r.ok for r in runs)
    waited = [r for r in runs if any("for a turn on account 'acme'" in n for n in r.reports[0]["notes"])]
    assert len(waited) == 1, [r.reports[0]["notes"] for r in runs]
    with pytest.raises(ValidationError, match="account_runs must be at least 1"):
        DataCenter(home, account_runs=0)


def test_scheduler_account_runs_option_runs_one_account_a_dataset_at_a_time(home: Path, make_sandbox: Any) -> None:
    """`closesync scheduler --account-runs 1`: with workers to spare, the second of two due datasets of one
    account waits for the first (and its notes say so); 0 is refused as bad input."""
    sb = make_sandbox(leads=60, latency_ms=150)  # each run takes seconds: the wait is long enough to be noted
    dc = make_dc(home)
    add_account(dc, sb)
    names = _datasets(dc, home, 2)
    _all_due(dc)
    base = [sys.executable, "-m", "closesync", "--home", str(home), "scheduler", "--once", "--max-workers", "2"]
    refused = subprocess.run([*base, "--account-runs", "0"], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "--account-runs" in refused.stderr
    done = subprocess.run([*base, "--account-runs", "1"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    runs = [dc.history(name)[0] for name in names]
    assert all(run.ok for run in runs), runs
    notes = [" ".join(n for report in run.reports for n in report.get("notes", [])) for run in runs]
    assert sum("for a turn on account 'acme'" in text for text in notes) == 1, notes
