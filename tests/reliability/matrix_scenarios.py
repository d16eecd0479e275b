"""The scenarios of the reliability matrix: each runs the cells of one group (one sandbox, one destination,
one method) in turn and returns their outcomes. A cell changes the data, runs under its fault, measures, then
reruns cleanly; the clean rerun is the next cell's starting point."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from matrix_checks import (
    REPORTS,
    SOURCES,
    Cell,
    CommandRun,
    Count,
    Outcome,
    change_data,
    count,
    finished,
    invoke,
    spawn,
    statuses,
    sync_args,
    tables_of,
)
from test_writes_atomic import fill_the_disk_at
from writes_helpers import run

from closesync.close.retry import RetryPolicy
from closesync.datacenter import DataCenter
from closesync.sandbox import Sandbox
from closesync.sinks.destination import METHODS

if TYPE_CHECKING:
    from matrix import Lab

#: Faults the client must ride out (the run succeeds), and faults that must fail the read they strike.
TRANSIENT = ("429", "500", "502", "503", "504", "slow", "cut", "drop", "badjson", "cuterror")
FAILING = (
    "400",
    "401",
    "403",
    "404",
    "huge",
    "notalist",
    "nonobjects",
    "emptymore",
    "stuckcursor",
    "notobject",
    "nested",
)
#: Where each fault strikes: one request of every source, except faults that only fit one kind of answer
#: (a cut-short `_skip`-cap 400 on a full offset read, a cursor page of the event log) and `huge` (one is
#: enough).
ALL_PATHS = ("user/", "activity/call/", "data/search/")
FAULT_PATHS = {"cuterror": ("activity/call/",), "stuckcursor": ("event/",), "huge": ("user/",)}
#: The methods whose reads a fault can reach at all: only the event-log walk (of append and upsert) follows
#: cursors from page to page (searches are keyset walks with fresh queries), so under replace `stuckcursor`
#: must change nothing.
REACHES = {"stuckcursor": ("append", "upsert")}
SLOW_TIMEOUT = "0.5"  # `slow` answers after 1 s: the attempt times out and is retried


def fast_retries() -> pytest.MonkeyPatch:
    """Retries without the production back-off (the matrix measures outcomes, not waiting)."""
    patch = pytest.MonkeyPatch()
    patch.setattr(RetryPolicy, "backoff", lambda self, attempt: 0.01)
    return patch


def _failed_reads(
    out: Outcome, sb: Sandbox, destination: str, method: str, before: dict, run_: CommandRun
) -> Count:
    """Per source of a finished run: a read that succeeded is counted against the truth, a read that failed
    must have left every one of its tables as it was (`out.intact`)."""
    results = statuses(run_)
    after = None
    measured = Count()
    for tables in SOURCES.values():
        states = {(results.get(t) or {}).get("status") for t in tables}
        if states == {"success"}:
            measured += count(sb, destination, method, {t: t for t in tables})
            continue
        after = after or tables_of(destination)
        if len(states) > 1:
            out.problems.append(f"the tables of one read ended differently: {sorted(map(str, states))}")
        same = all(after[t] == before[t] for t in tables)
        out.intact = same if out.intact is None else out.intact and same
    return measured


def _recover(
    out: Outcome, sb: Sandbox, destination: str, method: str, measured: Count, *, rerun: bool = True
) -> None:
    """A clean rerun must converge to the truth; lost/duplicated are the worst seen. Without `rerun` (a run
    that rode out its fault has nothing to recover from) its result is the next cell's starting point."""
    if not rerun:
        out.lost, out.duplicated = measured.lost, measured.duplicated
        return
    again = run(sb, destination, REPORTS, method=method)
    final = count(sb, destination, method)
    out.recovered = again.ok and final.clean
    if not again.ok:
        out.problems.append(f"clean rerun failed: {[r.error for r in again.failed][:1]}")
    out.lost, out.duplicated = max(measured.lost, final.lost), max(measured.duplicated, final.duplicated)


def _start(lab: Lab, cells: list[Cell], name: str, **size: float) -> tuple[Sandbox, str, Path]:
    """The group's sandbox (of `size`), destination and home, after a first clean sync."""
    cell = cells[0]
    sb = lab.sandbox(**size)
    destination = lab.place(cell.destination, name)
    first = run(sb, destination, REPORTS, method=cell.method)
    if not first.ok:
        raise RuntimeError(f"the first sync failed: {[r.error for r in first.failed][:1]}")
    return sb, destination, lab.home(name)


# -- every fault kind ----------------------------------------------------------------------------------------


def faults(lab: Lab, cells: list[Cell]) -> list[Outcome]:
    sb, destination, home = _start(lab, cells, f"faults-{cells[0].method}-{cells[0].destination}")
    outcomes = []
    with fast_retries().context():
        for cell in cells:
            out = Outcome(cell)
            change_data(sb)
            before = tables_of(destination)
            kind = cell.variant
            reachable = cell.method in REACHES.get(kind, METHODS)
            extra = ["--timeout", SLOW_TIMEOUT]
            if kind == "cuterror":  # the `_skip` cap answers a full offset read's second page
                sb.skip_cap, extra = 50, [*extra, "--full-refresh"]
            if kind == "stuckcursor":  # deletions for three pages of the event log: page 2 has a cursor
                sb.mutate("activity/call", "delete", 105)
            for path in FAULT_PATHS.get(kind, ALL_PATHS):
                sb.add_fault(kind, path=path, count=1, reset=0.05, delay=1.0, size_mb=65)
            sb.reset_stats()
            done = invoke(home, *sync_args(sb, destination, cell.method, *extra))
            fired = sb.stats()["faults"].get(kind, 0)
            sb.clear_faults()
            sb.skip_cap = 250_000
            failed = [s for s, r in statuses(done).items() if r["status"] != "success"]
            out.run = "ok" if done.code == 0 else f"{len(failed)}/{len(REPORTS)} failed, exit {done.code}"
            if not reachable:
                out.run += " (unreachable)"
                if fired:
                    out.problems.append(f"{kind} fired on a {cell.method} run")
            elif not fired:
                out.problems.append("the fault never fired")
            if kind in TRANSIENT or not reachable:
                if done.code != 0:
                    out.problems.append(f"expected the run to ride out the fault: {done.describe()}")
            else:
                out.error = done.readable(1) and bool(failed)
                if not out.error:
                    out.problems.append(f"expected a readable failure (exit 1): {done.describe()}")
            measured = _failed_reads(out, sb, destination, cell.method, before, done)
            _recover(out, sb, destination, cell.method, measured, rerun=done.code != 0 or bool(failed))
            outcomes.append(out)
    return outcomes


# -- records created, edited and deleted while the read runs ------------------------------------------------


def mutations(lab: Lab, cells: list[Cell]) -> list[Outcome]:
    # 210 leads: the leads search takes two pages, so a change between them lands mid-read
    sb, destination, home = _start(
        lab, cells, f"mutations-{cells[0].method}-{cells[0].destination}", leads=210, activities_per_lead=2
    )
    outcomes = []
    for cell in cells:
        out = Outcome(cell)
        sb.clear_mutations()
        sb.schedule_mutation("activity/call", cell.variant, 3, after=2, group="GET activity/call")
        sb.schedule_mutation("lead", cell.variant, 3, after=2, group="POST data/search")
        done = invoke(home, *sync_args(sb, destination, cell.method, "--full-refresh"))
        out.run = "ok" if done.code == 0 else f"exit {done.code}"
        if sb.mutations()["pending"]:
            out.problems.append("the read ended before every change was made")
        if done.code != 0:
            out.problems.append(f"the read failed: {done.describe()}")
        _recover(out, sb, destination, cell.method, count(sb, destination, cell.method))
        outcomes.append(out)
    return outcomes


# -- kill -9 mid-load -----------------------------------------------------------------------------------------


KILL_AFTER = 6  # requests: /me/, the custom fields and the first pages are in, the reads go on


def kill(lab: Lab, cells: list[Cell]) -> list[Outcome]:
    """`closesync sync` in a child process, SIGKILLed mid-read (100 ms a request; reads that finished may
    have published by then): each read's tables are as they were or complete."""
    (cell,) = cells
    out = Outcome(cell)
    sb, destination, home = _start(lab, cells, f"kill-{cell.method}-{cell.destination}")
    change_data(sb)
    before = tables_of(destination)
    sb.latency_ms = 100
    sb.reset_stats()
    proc = spawn(home, *sync_args(sb, destination, cell.method))
    deadline = time.monotonic() + 120
    while (
        sb.stats()["requests"]["total"] < KILL_AFTER and proc.poll() is None and time.monotonic() < deadline
    ):
        time.sleep(0.01)
    requests = sb.stats()["requests"]["total"]
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate()
    else:
        out.problems.append(f"the run ended before it could be killed: {finished(proc).describe()}")
    sb.latency_ms = 0
    out.run = f"killed after {requests} requests"
    after = tables_of(destination)
    measured = Count()
    out.intact = True
    for tables in SOURCES.values():
        if any(after[t] != before[t] for t in tables):  # published before the kill: must be complete
            got = count(sb, destination, cell.method, {t: t for t in tables})
            measured += got
            out.intact = out.intact and got.clean
    _recover(out, sb, destination, cell.method, measured)
    return [out]


# -- two schedulers on one home ------------------------------------------------------------------------------


def schedulers(lab: Lab, cells: list[Cell]) -> list[Outcome]:
    """Six due datasets (calls and leads, each method) and two `scheduler --once` processes racing for them:
    no dataset runs twice (one whose destination the other process is writing waits for a later pass), nothing
    is lost or doubled, and running each dataset afterwards converges."""
    (cell,) = cells
    out = Outcome(cell)
    name = f"schedulers-{cell.destination}"
    sb = lab.sandbox()
    sb.latency_ms = 20
    destination, home = lab.place(cell.destination, name), lab.home(name)
    an_hour_ago = DataCenter(home, clock=lambda: datetime.now(UTC) - timedelta(hours=1))
    an_hour_ago.add_account("acme", api_key=sb.api_key, base_url=sb.base_url)
    tables = {}
    for method in METHODS:
        for report, slug in (("Activities Call", "activities_call"), ("Leads", "leads")):
            dataset = f"{slug}-{method}"
            an_hour_ago.create_dataset(
                dataset,
                account="acme",
                report=report,
                method=method,
                schedule="every 15 minutes",
                destination=destination,
                table=f"{slug}_{method}",
            )
            tables[dataset] = (slug, method)
    an_hour_ago.close()
    racing = [spawn(home, "scheduler", "--once") for _ in range(2)]
    runs = [finished(proc) for proc in racing]
    out.error = all(r.readable(0) for r in runs)
    if not out.error:
        out.problems += [r.describe() for r in runs if not r.readable(0)]
    dc = DataCenter(home)
    try:
        ran = {name: len(dc.history(name)) for name in tables}
        out.run = f"{sum(ran.values())} runs of {len(tables)} datasets"
        if any(n > 1 for n in ran.values()) or not any(ran.values()):
            out.problems.append(f"datasets ran {ran}: at most once each, and some, expected")
        measured = Count()
        for dataset, (slug, method) in tables.items():
            if dc.history(dataset)[:1] and dc.history(dataset)[0].status == "success":
                measured += count(sb, destination, method, {f"{slug}_{method}": slug})
        reruns = [dc.run_dataset(dataset) for dataset in tables]
        final = Count()
        for slug, method in tables.values():
            final += count(sb, destination, method, {f"{slug}_{method}": slug})
    finally:
        dc.close()
    out.recovered = all(r.ok for r in reruns) and final.clean
    out.lost, out.duplicated = max(measured.lost, final.lost), max(measured.duplicated, final.duplicated)
    return [out]


# -- a full disk, read-only and locked destinations -----------------------------------------------------------


def _fill(folder: Path) -> Path:
    """Fill the filesystem of `folder` to the last byte; the ballast file (remove it to free the space)."""
    ballast = folder / "ballast"
    with ballast.open("wb", buffering=0) as f:
        for chunk in (1 << 20, 1 << 12, 1):
            try:
                while True:
                    f.write(b"\0" * chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
    return ballast


def _failure_cell(lab: Lab, cell: Cell, name: str, codes: tuple[int, ...], fault, says: str = "") -> Outcome:  # noqa: ANN001
    """Initial sync, change, a CLI sync under `fault` (a context manager yielding the destination to use):
    a readable failure with one of `codes`, the tables as they were, then a clean rerun converges."""
    out = Outcome(cell)
    sb, destination, home = _start(lab, [cell], name)
    change_data(sb)
    before = tables_of(destination)
    with fault(destination) as target:
        done = invoke(home, *sync_args(sb, target, cell.method))
    out.run = "ok" if done.code == 0 else f"exit {done.code}"
    out.error = done.readable(*codes) and says in done.output.lower()
    if not out.error:
        out.problems.append(
            f"expected exit {'/'.join(map(str, codes))}{' naming ' + says if says else ''}: {done.describe()}"
        )
    _recover(
        out, sb, destination, cell.method, _failed_reads(out, sb, destination, cell.method, before, done)
    )
    return out


def disk_full(lab: Lab, cells: list[Cell]) -> list[Outcome]:
    """DuckDB and Parquet on a small tmpfs filled to the last byte (real ENOSPC); PostgreSQL's server is
    shared, so its publish fails the way a full disk makes it fail (as in test_writes_atomic)."""
    (cell,) = cells
    name = f"diskfull-{cell.method}-{cell.destination}"
    real = cell.destination != "postgres" and lab.small_filesystem(name)

    @contextmanager
    def full(destination: str):  # noqa: ANN202
        if real:
            ballast = _fill(lab.small_filesystem(name))
            try:
                yield destination
            finally:
                ballast.unlink()
        else:
            with pytest.MonkeyPatch.context() as patch:
                fill_the_disk_at(patch, "leads")
                yield destination

    out = _failure_cell(lab, cell, name, (1,), full, says="space")
    out.run += " (tmpfs)" if real else " (injected)"
    return [out]


def read_only(lab: Lab, cells: list[Cell]) -> list[Outcome]:
    """The DuckDB file's folder or the Parquet folder read-only (see Lab.read_only); for PostgreSQL a role
    that may only read the schema."""
    (cell,) = cells
    name = f"readonly-{cell.destination}"

    @contextmanager
    def locked_down(destination: str):  # noqa: ANN202
        if cell.destination == "postgres":
            yield lab.read_only_role(destination)
            return
        with lab.read_only(lab.root / name):
            yield destination

    return [_failure_cell(lab, cell, name, (1, 2), locked_down)]


HOLD = (
    "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); time.sleep(120)"
)


def locked(lab: Lab, cells: list[Cell]) -> list[Outcome]:
    """Another process holds the DuckDB file: exit 3 (busy), naming it."""
    (cell,) = cells

    @contextmanager
    def held(destination: str):  # noqa: ANN202
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLD, destination.removeprefix("duckdb:")],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
            yield destination
        finally:
            holder.kill()
            holder.wait()

    return [_failure_cell(lab, cell, f"locked-{cell.destination}", (3,), held)]
