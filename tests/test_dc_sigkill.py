"""A `closesync datasets run` killed with SIGKILL mid-load: the table stays as it was, the next run completes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from closesync.sinks import open_sink
from dc_helpers import add_account, make_dc

GROUP = "GET activity/call"


def _ids(destination: str, table: str) -> list[str]:
    sink = open_sink(destination)
    try:
        return sorted(i for batch in sink.iter_batches(table) for i in batch.column("id").to_pylist())
    finally:
        sink.close()


def _requests(sb: Any) -> int:
    return int(sb.stats()["requests"]["by_group"].get(GROUP, 0))


def _wait_for(predicate: Any, what: str, proc: subprocess.Popen, seconds: float = 120.0) -> None:
    """Poll (no timing assertion: the deadline only turns a hang into a readable failure)."""
    deadline = time.monotonic() + seconds
    while not predicate():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the run ended before {what}: rc={proc.returncode}\n{out}\n{err}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_sigkill_mid_load_keeps_the_table_and_the_next_run_completes(
    tmp_path: Path, make_sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CLOSESYNC_SECRET_KEY", raising=False)
    # 20,500 calls: the pipeline hands the sink batches of 20,000 rows, so after page 201 of 205 one
    # batch is staged in the open writer and the rest is still being read - the run is mid-load
    sb = make_sandbox(leads=41, activities_per_lead=500, activity_mix={"activity/call": 100})
    home = tmp_path / "home"
    dc = make_dc(home)
    add_account(dc, sb)
    dataset = dc.create_dataset("calls", account="acme", report="Activities Call", method="replace")
    first = dc.run_dataset("calls")
    assert first.ok and first.rows == sb.data.count("activity/call") > 20_000
    before = _ids(dataset.destination, dataset.table)

    for _ in range(5):  # changes the killed run would have loaded
        sb.data.add("activity/call")
    sb.latency_ms = 30  # slow enough to catch the run between two pages
    sb.reset_stats()
    proc = subprocess.Popen(
        [sys.executable, "-m", "closesync", "--home", str(home), "datasets", "run", "calls", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    _wait_for(lambda: _requests(sb) >= 202, "page 202", proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    sb.latency_ms = 0

    assert _ids(dataset.destination, dataset.table) == before  # the previous table, intact
    killed = dc.history("calls")[0]
    assert killed.status == "failed" and "Interrupted" in (killed.error or "") and str(proc.pid) in killed.error

    after = dc.run_dataset("calls")
    assert after.ok and after.rows == sb.data.count("activity/call") == len(before) + 5
    assert len(_ids(dataset.destination, dataset.table)) == len(before) + 5
    assert [r.status for r in dc.history("calls")] == ["success", "failed", "success"]
