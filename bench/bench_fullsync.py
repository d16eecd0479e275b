"""A full sync, as a user runs it: `closesync sync` of the 38 classic reports from a sandbox without rate limit.

The sandbox runs in its own process and so does the sync (`python -m closesync sync --json`), so the sync's
peak RSS is its own: the kernel's high-water mark of the sync's image (`VmHWM` in /proc, polled until it
exits; not `ru_maxrss`, which also counts the benchmark's own memory that the fork copied before exec), with
psutil sampling the RSS meanwhile as a cross-check. The CPU each process used (user + system) gives the split between client and
sandbox: on a shared machine rows/s moves with the load, the split and the ratios do not.

Sizes: 20k and 60k leads (and 200k in a full, non-quick run), each into DuckDB and into PostgreSQL; quick:
500 and 1,500 leads, under a minute on an idle machine. Per case: rows/s end to end, requests, peak RSS (ratio = peak over
the memory budget), CPU seconds of the client and of the sandbox. Per destination, `memory_flat` is the
largest size's peak over the smallest's (goal < 1.2). The reports are passed by name (the 38 classic ones),
so reports added to the catalog later do not change the figure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from closesync.reports.catalog import CLASSIC
from closesync.sandbox import SandboxProcess
from closesync.testing.postgres import PgTestServer

MEMORY_LIMIT = "400MB"
SAMPLE_SECONDS = 0.05
ROOT = Path(__file__).resolve().parent.parent


def _sizes(quick: bool) -> list[int]:
    if quick:
        return [500, 1_500]
    return [20_000, 60_000, 200_000]


def _sandbox_pid() -> int:
    """The sandbox's server process: our (only) child running `closesync sandbox`."""
    for child in psutil.Process().children():
        try:
            if "sandbox" in child.cmdline():
                return child.pid
        except psutil.Error:
            continue
    raise RuntimeError("sandbox process not found")


def _cpu(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def _high_water_mark(pid: int) -> int:
    """The kernel's peak RSS of the process's current image (bytes), 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            line = next(line for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return 0
    return int(line.split()[1]) * 1024


class _Sampler(threading.Thread):
    """Polls one process until it exits: the peak RSS psutil saw and the kernel's high-water mark."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.peak = 0
        self.high_water_mark = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except psutil.Error:
                return
            self.high_water_mark = max(self.high_water_mark, _high_water_mark(self.process.pid))
            time.sleep(SAMPLE_SECONDS)


def sync_once(sandbox: SandboxProcess, destination: str, memory_limit: str | None = MEMORY_LIMIT) -> dict[str, Any]:
    """Run `closesync sync` of the classic reports in a child process; its figures and the sandbox's CPU."""
    sandbox_pid = _sandbox_pid()
    args = [sys.executable, "-m", "closesync", "sync", "--json", "--api-key-env", "CLOSESYNC_BENCH_KEY",
            "--base-url", sandbox.base_url, "--destination", destination, "--method", "replace"]
    if memory_limit:
        args += ["--memory-limit", memory_limit]
    args += [spec.slug for spec in CLASSIC]
    env = {**os.environ, "CLOSESYNC_BENCH_KEY": sandbox.api_key}
    env.setdefault("PYTHONPATH", str(ROOT / "src"))
    sandbox.reset_stats()
    sandbox_cpu = _cpu(sandbox_pid)
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.PIPE, env=env, cwd=ROOT)
        sampler = _Sampler(proc.pid)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)  # the sampler reads /proc until the process is reaped
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        sampler.done.set()
        sampler.join()
        out.seek(0)
        output = out.read().decode()
        errors = proc.stderr.read().decode() if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()
    sandbox_cpu = _cpu(sandbox_pid) - sandbox_cpu
    if proc.returncode != 0:
        raise RuntimeError(f"sync failed ({proc.returncode}): {output[-2000:]} {errors[-2000:]}")
    result = json.loads(output)
    client_cpu = usage.ru_utime + usage.ru_stime
    return {
        "rows": result["rows"],
        "requests": result["requests"],
        "served_requests": sandbox.stats()["requests"]["total"],
        "seconds": seconds,
        "peak_rss_mib": max(sampler.high_water_mark, sampler.peak) / 2**20,
        "sampled_peak_rss_mib": sampler.peak / 2**20,
        "client_cpu_s": client_cpu,
        "sandbox_cpu_s": sandbox_cpu,
    }


def _case(destination_kind: str, leads: int, figures: dict[str, Any]) -> list[dict[str, Any]]:
    name = f"fullsync.{destination_kind}.leads_{leads / 1000:g}k"
    cpu_total = figures["client_cpu_s"] + figures["sandbox_cpu_s"]
    budget_mib = int(MEMORY_LIMIT.removesuffix("MB")) * 1e6 / 2**20
    common = {"leads": leads, "reports": len(CLASSIC), "memory_limit": MEMORY_LIMIT, **figures}
    client_share = figures["client_cpu_s"] / max(cpu_total, 1e-9)
    print(
        f"   {name}: {figures['rows']:,} rows, {figures['requests']:,} requests in {figures['seconds']:.1f}s "
        f"= {figures['rows'] / figures['seconds']:,.0f} rows/s; peak RSS {figures['peak_rss_mib']:.0f} MiB "
        f"(sampled {figures['sampled_peak_rss_mib']:.0f}); CPU client {figures['client_cpu_s']:.1f}s / sandbox "
        f"{figures['sandbox_cpu_s']:.1f}s ({100 * client_share:.0f} % client)",
        flush=True,
    )
    return [
        {"name": f"{name}.rows_per_s", "value": round(figures["rows"] / figures["seconds"], 1), "unit": "rows/s",
         "ratio": round(client_share, 4), "ratio_basis": "client CPU / (client + sandbox CPU)", **common},
        {"name": f"{name}.peak_rss", "value": round(figures["peak_rss_mib"], 1), "unit": "MiB",
         "ratio": round(figures["peak_rss_mib"] / budget_mib, 4), "ratio_basis": "peak RSS / memory limit",
         **common},
    ]


def run(quick: bool) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    peaks: dict[str, list[float]] = {"duckdb": [], "postgres": []}
    with PgTestServer() as pg, tempfile.TemporaryDirectory(prefix="bench-fullsync-") as work:
        for leads in _sizes(quick):
            with SandboxProcess(seed=3, leads=leads, gzip=False) as sandbox:
                targets = {"duckdb": f"duckdb:{work}/sync_{leads}.duckdb", "postgres": f"{pg.url}?schema=s{leads}"}
                for kind, destination in targets.items():
                    figures = sync_once(sandbox, destination)
                    peaks[kind].append(figures["peak_rss_mib"])
                    results += _case(kind, leads, figures)
        for kind, values in peaks.items():
            growth = values[-1] / values[0]
            print(f"   fullsync.{kind}.memory_flat: peak RSS x{growth:.2f} from the smallest to the largest size")
            results.append({"name": f"fullsync.{kind}.memory_flat", "value": round(growth, 3), "unit": "x",
                            "ratio": round(growth, 3), "ratio_basis": "largest size's peak RSS / smallest's",
                            "goal": "< 1.2"})
    return results


if __name__ == "__main__":
    for row in run("--quick" in sys.argv):
        print(row)
