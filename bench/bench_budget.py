"""Many datasets, one key's budget: 8 datasets of one account, all due at once, against a per-key rate limit.

The sandbox runs in its own process at RATE requests per WINDOW per endpoint group and key, with 20 ms of
latency. Eight datasets of one account read the same report (`Activities Call`, each into its own DuckDB
file), so all their pages compete for one endpoint group's budget. Scenarios:
  one_scheduler     one `closesync scheduler` process (4 runs at once): its runs share one pacer per key
  two_schedulers    two scheduler processes on the same home: the account lease gives the key to one process
                    at a time, the other's runs wait for their turn
  in_process        one scheduler inside this process (its runs share one pacer per key), the peer of:
  separate_pacers   the same 8 runs in this process, each with a pacer of its own (the behaviour before the
                    shared budget, for comparison; measured in the same bench run)
Time is from the first run's start to the last run's end (run history). The bound is the fastest time the
rate limit allows for the requests made: per group, (ceil(requests / RATE) - 1) x WINDOW + latency; ratio =
bound / time. Goals: 429s < 0.5 % of requests, early retries 0.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from closesync.close.client import CloseClient
from closesync.datacenter import DataCenter
from closesync.datacenter.store import to_iso
from closesync.sandbox import SandboxProcess

RATE = 20
WINDOW = 1.0
LATENCY_MS = 20
DATASETS = 8
PER_LEAD = 20.0
CALL_SHARE = 0.3  # activity/call's share of the sandbox's activity mix


def _home(sb: SandboxProcess, root: Path, name: str, **options: Any) -> DataCenter:
    """A home with one account and DATASETS datasets of it, all due now."""
    home = root / name
    dc = DataCenter(home, **options)
    dc.add_account("acme", api_key=sb.api_key, base_url=sb.base_url)
    for i in range(DATASETS):
        dc.create_dataset(f"calls{i}", account="acme", report="Activities Call", schedule="hourly",
                          table="calls", destination=f"duckdb:{home / f'calls{i}.duckdb'}")
    with dc.store.write() as conn:
        conn.execute("UPDATE datasets SET next_run_at = ?", (to_iso(datetime.now(UTC) - timedelta(seconds=30)),))
    return dc


def _finished(dc: DataCenter) -> list[Any]:
    runs = [run for i in range(DATASETS) for run in dc.history(f"calls{i}")]
    return runs if len(runs) == DATASETS and all(r.status != "running" for r in runs) else []


def _in_processes(dc: DataCenter, schedulers: int) -> list[Any]:
    """Start `schedulers` scheduler processes on dc's home; stop them once every dataset has run."""
    cmd = [sys.executable, "-m", "closesync", "--home", str(dc.home), "scheduler", "--poll", "0.5"]
    logs = [dc.home / f"scheduler{i}.log" for i in range(schedulers)]  # a file: a full pipe would block it
    procs = []
    for log in logs:
        with log.open("w") as err:
            procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err))
    try:
        while not (runs := _finished(dc)):
            if any(p.poll() is not None for p in procs):
                raise RuntimeError(f"a scheduler stopped: {[log.read_text()[-2000:] for log in logs]}")
            time.sleep(0.2)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=60)
    return runs


def _in_this_process(dc: DataCenter) -> list[Any]:
    sched = dc.scheduler(max_workers=4, poll_seconds=0.2)
    while not (runs := _finished(dc)):
        sched.tick()
        time.sleep(0.2)
    sched.stop()
    return runs


def _bound(by_group: dict[str, int]) -> float:
    """The fastest time the rate limit allows for these requests (the busiest group decides)."""
    windows = max(-(-count // RATE) for count in by_group.values())
    return max(windows - 1, 0) * WINDOW + LATENCY_MS / 1000


def _scenario(name: str, sb: SandboxProcess, dc: DataCenter, execute: Any, expected_rows: int) -> dict[str, Any]:
    time.sleep(WINDOW + 0.1)  # the previous scenario's window runs out
    sb.reset_stats()
    runs = execute(dc)
    stats = sb.stats()
    bad = [r for r in runs if not r.ok or r.rows != expected_rows]
    if bad:
        raise AssertionError(f"{name}: runs failed or read the wrong rows: {bad}")
    seconds = (max(r.finished_at for r in runs) - min(r.started_at for r in runs)).total_seconds()
    requests, throttled = stats["requests"]["total"], stats["throttled"]
    bound = _bound(stats["requests"]["by_group"])
    waited = sum(1 for r in runs for report in r.reports for note in report.get("notes", []) if "turn" in note)
    result = {
        "name": f"budget_{name}",
        "value": round(seconds, 2),
        "unit": "s",
        "ratio": round(bound / seconds, 4),
        "ratio_basis": "fastest time the per-key rate limit allows for the requests made / time taken",
        "bound_seconds": round(bound, 2),
        "requests": requests,
        "throttled": throttled,
        "throttled_share": round(throttled / max(1, requests), 5),
        "early_retries": stats["early_retries"],
        "runs": len(runs),
        "runs_that_waited_for_a_turn": waited,
        "rate_limit": f"{RATE}/{WINDOW:g}s per group and key",
    }
    print(
        f"   {name}: {len(runs)} runs in {seconds:.2f}s (bound {bound:.2f}s, ratio {bound / seconds:.3f}); "
        f"{requests} requests, {throttled} x 429 ({100 * throttled / max(1, requests):.2f} %), "
        f"early retries {stats['early_retries']}, {waited} runs waited for their turn",
        flush=True,
    )
    return result


def run(quick: bool) -> list[dict[str, Any]]:
    calls = 600 if quick else 6_000
    leads = round(calls / (PER_LEAD * CALL_SHARE))
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-budget-") as tmp, SandboxProcess(
        seed=1, leads=leads, activities_per_lead=PER_LEAD, rate_limit=(RATE, WINDOW), latency_ms=LATENCY_MS
    ) as sb:
        sb.gzip = False
        rows = sb.data.count("activity/call")
        root = Path(tmp)
        results.append(_scenario("one_scheduler", sb, _home(sb, root, "one"), lambda dc: _in_processes(dc, 1), rows))
        results.append(_scenario("two_schedulers", sb, _home(sb, root, "two"), lambda dc: _in_processes(dc, 2), rows))

        shared = _home(sb, root, "in_process")
        results.append(_scenario("in_process", sb, shared, _in_this_process, rows))

        def private_pacer(api_key: str, base_url: str) -> CloseClient:
            return CloseClient(api_key, base_url=base_url)

        separate = _home(sb, root, "separate", client_factory=private_pacer)
        results.append(_scenario("separate_pacers", sb, separate, _in_this_process, rows))
    return results


if __name__ == "__main__":
    for row in run("--quick" in sys.argv):
        print(row)
