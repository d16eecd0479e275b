"""One run of a dataset: claim its lease, extract → shape → load via the pipeline, write the history row.

The claim (lease + `running` history row + next schedule slot) is one SQLite transaction, so two
processes can never both start the same dataset. A failed run leaves the table as it was (sinks publish
a table only on success) and queues a retry when the dataset's policy allows one; when none is left, or
when a failing dataset succeeds again, its notification channels are told once the run is recorded.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from closesync.datacenter import account_lease, destlock, history, leases, notify
from closesync.datacenter.accounts import Accounts, ClientFactory, Clock, with_key_advice
from closesync.datacenter.datasets import Datasets
from closesync.datacenter.errors import DataCenterError, DatasetBusyError, NotFoundError
from closesync.datacenter.history import RunOutcome
from closesync.datacenter.models import Account, Dataset, Run, table_owner_id
from closesync.datacenter.notify import Notifications
from closesync.datacenter.progress import VISIBLE_WAIT_S, RunProgress, account_wait, destination_wait
from closesync.datacenter.schedule import ScheduleError, next_run, retry_at
from closesync.datacenter.secrets import redact
from closesync.datacenter.state import DatasetState
from closesync.datacenter.store import Store, to_iso

log = logging.getLogger("closesync.datacenter")
INTERRUPTED = "Interrupted: the process running it ({owner}) stopped before the run finished."
TURN_POLL_S = 0.5  # how often a run queued for its account's turn asks again


def _planned(dataset: sqlite3.Row, plan: Callable[[], datetime | None]) -> datetime | None:
    """`plan()`, or None (logged) when the dataset's stored schedule or retry delay cannot be planned:
    one dataset's bad row never stops a run from being recorded or another dataset from running."""
    try:
        return plan()
    except ScheduleError as exc:
        log.warning("dataset %r: %s", dataset["name"], exc)
        return None


def _next_slot(schedule: str, now: datetime, interrupted: bool) -> datetime | None:
    """The schedule's next run time; right away when a scheduled dataset's run was interrupted."""
    upcoming = next_run(schedule, now)
    return now if interrupted and upcoming is not None else upcoming


def _sole_organization(account: Account) -> str | None:
    """The organization a key belongs to, when its user belongs to just one (else unknown)."""
    return account.organizations[0].id if len(account.organizations) == 1 else None


def _waited_note(account: str, seconds: float) -> str:
    return (
        f"Waited {seconds:.0f} s for a turn on account {account!r}: other runs of it were using its API key's "
        "rate limit (at most one closesync process uses a key at a time)."
    )


@dataclass(frozen=True)
class Claim:
    """A started run that this process now owns."""

    run_id: int
    dataset_id: int
    trigger: str
    attempt: int
    full_refresh: bool = False


class Runner:
    """Starts, executes and finishes runs; shared by `run_dataset` and the scheduler."""

    def __init__(
        self,
        store: Store,
        accounts: Accounts,
        datasets: Datasets,
        clock: Clock,
        client_factory: ClientFactory,
        owner: str,
        home: Path,
        notifications: Notifications,
        *,
        account_runs: int = account_lease.ACCOUNT_RUNS,
    ) -> None:
        self.account_runs = account_runs
        self.home = home
        self.notifications = notifications
        self.store = store
        self.accounts = accounts
        self.datasets = datasets
        self.clock = clock
        self.client_factory = client_factory
        self.owner = owner

    # -- claiming -------------------------------------------------------------------------------------------
    def claim(self, dataset_id: int, *, scheduled: bool = False, full_refresh: bool = False) -> Claim | None:
        """Start a run if the dataset is free (and, when `scheduled`, still due); else None / DatasetBusyError.

        A manual claim raises DatasetBusyError when a live run holds the lease; a scheduled claim returns
        None, since another scheduler simply got there first. A scheduled run after a full refresh that
        failed or was interrupted (its retry, say) is a full refresh too, until one succeeds.
        """
        now = self.clock()
        with self.store.write() as conn:
            row = conn.execute("SELECT * FROM datasets WHERE id = ?", (dataset_id,)).fetchone()
            if row is None:
                return None
            if scheduled and not (row["enabled"] and row["next_run_at"] and row["next_run_at"] <= to_iso(now)):
                return None
            lease = leases.current(conn, dataset_id)
            if lease is not None:
                if not leases.is_stale(lease):
                    if scheduled:
                        return None
                    raise DatasetBusyError(f"Dataset {row['name']!r} is running already (run {lease['run_id']}).")
                self._interrupt(conn, lease, now)
                row = conn.execute("SELECT * FROM datasets WHERE id = ?", (dataset_id,)).fetchone()
            pending = row["pending_attempt"]
            if scheduled:
                trigger, attempt = ("retry", pending) if pending > 0 else ("schedule", 1)
                full_refresh = history.full_refresh_unfinished(conn, dataset_id)
                nxt = _planned(row, lambda: next_run(row["schedule"], now))
                conn.execute(
                    "UPDATE datasets SET next_run_at = ?, pending_attempt = 0 WHERE id = ?", (to_iso(nxt), dataset_id)
                )
            else:
                trigger, attempt = "manual", 1
            run_id = history.start(
                conn, dataset_id, trigger=trigger, attempt=attempt, owner=self.owner, started_at=now,
                full_refresh=full_refresh,
            )
            leases.acquire(conn, dataset_id, self.owner, run_id)
        return Claim(run_id, dataset_id, trigger, attempt, full_refresh)

    # -- recovering -----------------------------------------------------------------------------------------
    def _interrupt(self, conn: sqlite3.Connection, lease: sqlite3.Row, now: datetime) -> None:
        """Fail the run a dead process left behind, and reschedule the dataset (inside a write tx)."""
        run_id = lease["run_id"]
        run = conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        conn.execute("DELETE FROM leases WHERE dataset_id = ?", (lease["dataset_id"],))
        account_lease.release(conn, run_id)
        if run is None or run["status"] != "running":
            return
        message = INTERRUPTED.format(owner=lease["owner"])
        started = datetime.fromisoformat(run["started_at"])
        history.finish(
            conn, run_id, RunOutcome("failed", error=message), finished_at=now,
            duration_s=max(0.0, (now - started).total_seconds()),
        )
        dataset = conn.execute("SELECT * FROM datasets WHERE id = ?", (lease["dataset_id"],)).fetchone()
        self._plan_next(conn, dataset, failed=True, attempt=run["attempt"], now=now, interrupted=True)
        log.warning("run %s of dataset %s: %s", run_id, dataset["name"], message)

    def recover(self) -> int:
        """Fail and reschedule every run whose owner died; returns how many were recovered."""
        with self.store.connect() as conn:
            if not leases.stale_leases(conn):
                return 0
        count = 0
        with self.store.write() as conn:
            for lease in leases.stale_leases(conn):
                self._interrupt(conn, lease, self.clock())
                count += 1
        return count

    def _plan_next(
        self,
        conn: sqlite3.Connection,
        dataset: sqlite3.Row,
        *,
        failed: bool,
        attempt: int,
        now: datetime,
        interrupted: bool = False,
    ) -> bool:
        """Queue a retry after a failure the policy still covers (True); otherwise go back to the schedule.

        Never raises: a stored retry delay or schedule that cannot be planned (see `plan_problem`) skips
        the retry or leaves the dataset unscheduled, so the run is still recorded and others still run.
        """
        pending, nxt = 0, None
        if failed and attempt <= dataset["retries"]:
            nxt = _planned(dataset, lambda: retry_at(now, dataset["retry_delay_s"]))
            pending = attempt + 1 if nxt is not None else 0
        if nxt is None:
            nxt = _planned(dataset, lambda: _next_slot(dataset["schedule"], now, interrupted))
        if not dataset["enabled"]:
            nxt = None
        conn.execute(
            "UPDATE datasets SET pending_attempt = ?, next_run_at = ? WHERE id = ?",
            (pending, to_iso(nxt), dataset["id"]),
        )
        return pending > 0

    # -- running --------------------------------------------------------------------------------------------
    def execute(self, claim: Claim, *, force: bool = False, progress: RunProgress | None = None) -> Run:
        """Do the claimed run to the end and record it; never raises for a failed sync. ``force`` adopts a
        table another writer owns; ``progress`` is filled as the run goes (a terminal may show it)."""
        dataset = self.datasets.get(claim.dataset_id)
        started = time.monotonic()
        progress = progress or RunProgress()
        try:
            with leases.Heartbeat(self.store, claim.dataset_id, claim.run_id, progress=progress):
                waited = self._await_turn(dataset, claim.run_id, progress)
                outcome = self._sync(dataset, claim.full_refresh, progress, force, waited)
        except BaseException as exc:  # Ctrl-C or a bug: record it (no alert: nobody let it fail), then go on
            outcome = self._failure(exc, None)
            self._finish(claim, dataset, outcome, time.monotonic() - started, alert=False)
            raise
        return self._finish(claim, dataset, outcome, time.monotonic() - started)

    def run_now(
        self,
        dataset: Dataset,
        *,
        full_refresh: bool = False,
        wait_s: float = 600.0,
        force: bool = False,
        progress: RunProgress | None = None,
    ) -> Run:
        """Run in this thread, first waiting (up to wait_s) while another process writes the DuckDB file."""
        with self.store.connect() as conn:
            lease = leases.current(conn, dataset.id)
        if lease is not None and not leases.is_stale(lease):
            raise DatasetBusyError(f"Dataset {dataset.name!r} is running already (run {lease['run_id']}).")
        busy = not destlock.try_acquire(self.home, dataset.destination)
        if busy and progress is not None:  # say why nothing happens yet (`datasets run` shows it)
            progress.hold(destination_wait(leases.utcnow()))
        if busy and not destlock.acquire(self.home, dataset.destination, wait_s):
            raise DatasetBusyError(
                f"Another closesync process kept writing {dataset.destination} for {wait_s:.0f}s; "
                "DuckDB lets one process write a file at a time. Try again later."
            )
        if busy and progress is not None:
            progress.hold(None)
        try:
            claim = self.claim(dataset.id, full_refresh=full_refresh)
            assert claim is not None
            return self.execute(claim, force=force, progress=progress)
        finally:
            destlock.release(self.home, dataset.destination)

    def _await_turn(self, dataset: Dataset, run_id: int, progress: RunProgress) -> float:
        """Queue for a turn on the dataset's account (`account_lease.py`), showing the wait in the run's
        progress; returns the seconds waited. The turn is given back when the run is recorded."""
        started, since = time.monotonic(), leases.utcnow()
        while True:
            with self.store.write() as conn:
                turn = account_lease.ask(conn, dataset.account_id, run_id, self.owner, self.account_runs)
            if turn.granted:
                progress.hold(None)
                return time.monotonic() - started
            progress.hold(account_wait(dataset.account_name, turn.holders, turn.elsewhere, since))
            time.sleep(TURN_POLL_S)

    def _sync(
        self, dataset: Dataset, full_refresh: bool, progress: RunProgress, force: bool, waited: float = 0.0
    ) -> RunOutcome:
        key: str | None = None
        try:
            account = self.accounts.get(dataset.account_id)
            key = self.accounts.api_key(account)
            from closesync.close.budget import shared_pacer
            from closesync.pipeline import sync

            organization = dataset.organization_id or _sole_organization(account)
            if organization:  # keys of one organization in this process also share its budget
                shared_pacer(key, account.base_url, organization)

            with self.client_factory(key, account.base_url) as client:
                progress.watch(client.stats)
                result = sync(
                    [dataset.report],
                    client=client,
                    destination=self.datasets.destination_url(dataset.id),
                    method=dataset.method,  # type: ignore[arg-type]
                    organization_id=dataset.organization_id,
                    user_id=dataset.user_id,
                    since=dataset.since,
                    full_refresh=full_refresh,
                    table=dataset.table,
                    state=DatasetState(self.store, dataset.id),
                    progress=progress,
                    owner=table_owner_id(dataset.id),
                    owner_label=f"dataset {dataset.name!r}",
                    force=force,
                )
        except Exception as exc:
            return self._failure(exc, key)
        reports = [r.to_dict() for r in result.reports]
        for report in reports:
            if report.get("error"):
                report["error"] = redact(report["error"], key)
            if waited >= VISIBLE_WAIT_S:
                report["notes"] = [*report.get("notes", []), _waited_note(dataset.account_name, waited)]
        first = result.failed[0] if result.failed else None
        return RunOutcome(
            status="success" if result.ok else "failed",
            error=redact(first.error or "failed", key) if first else None,
            error_report=first.name if first else None,
            http_status=first.http_status if first else None,
            rows=result.rows,
            rows_written=sum(r.rows for r in result.reports if r.status == "success"),
            requests=result.requests,
            throttle_waits=sum(r.throttle_waits for r in result.reports),
            retries=sum(r.retries for r in result.reports),
            reports=reports,
        )

    @staticmethod
    def _failure(exc: BaseException, key: str | None) -> RunOutcome:
        if isinstance(exc, DataCenterError):
            message = str(exc)
        elif isinstance(exc, KeyboardInterrupt):
            message = "Interrupted (Ctrl-C)."
        else:
            from closesync.pipeline import describe_error

            message = describe_error(exc)[0]
        return RunOutcome("failed", error=redact(message, key), http_status=getattr(exc, "status", None))

    def _finish(
        self, claim: Claim, dataset: Dataset, outcome: RunOutcome, duration: float, *, alert: bool = True
    ) -> Run:
        now = self.clock()
        outcome = with_key_advice(outcome, dataset.account_name)  # a refused key: say how to replace it
        due: str | None = None
        ok = outcome.status == "success"
        with self.store.write() as conn:
            history.finish(conn, claim.run_id, outcome, finished_at=now, duration_s=round(duration, 3))
            leases.release(conn, claim.dataset_id, claim.run_id)
            account_lease.release(conn, claim.run_id)
            row = conn.execute("SELECT * FROM datasets WHERE id = ?", (claim.dataset_id,)).fetchone()
            if row is not None:
                retry_queued = self._plan_next(conn, row, failed=not ok, attempt=claim.attempt, now=now)
                if alert:
                    due = notify.due_alert(
                        conn, claim.dataset_id, claim.run_id, ok=ok, retry_queued=retry_queued, now=now
                    )
            run = history.get(conn, claim.run_id)
        if run is None:
            raise NotFoundError(f"Dataset {dataset.name!r} was deleted while it ran; its run was not kept.")
        self.accounts.record_run(dataset.account_id, run)  # 401/403 marks the account invalid, success valid
        line = (
            f"run {run.id} dataset={dataset.name!r} report={dataset.report} trigger={run.trigger} "
            f"attempt={run.attempt} status={run.status} rows={run.rows} requests={run.requests} "
            f"throttle_waits={run.throttle_waits} duration={duration:.1f}s"
        )
        if run.ok:
            log.info(line)
        else:
            status = f" http_status={run.http_status}" if run.http_status else ""
            log.warning("%s%s error=%s", line, status, run.error)
        if due is not None:  # outside the write transaction: a slow channel must not hold the store
            self.notifications.send(due, dataset, run)
        return run
