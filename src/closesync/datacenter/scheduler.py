"""The scheduler: runs due datasets on a bounded thread pool, retries per policy, survives restarts.

Each pass recovers runs whose process died, then claims due datasets one by one through the runner (a
claim is atomic in SQLite, so any number of schedulers may share a store). Time comes from the injectable
clock, so tests drive schedules with `tick()` and never sleep.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import datetime

from closesync.datacenter import destlock
from closesync.datacenter.runner import Claim, Runner
from closesync.datacenter.store import Store, to_iso

log = logging.getLogger("closesync.datacenter")


class Scheduler:
    """Runs due datasets; use tick() for one pass, run_forever() in the foreground, start()/stop() in a thread."""

    def __init__(
        self,
        store: Store,
        runner: Runner,
        clock: Callable[[], datetime],
        *,
        max_workers: int = 4,
        poll_seconds: float = 5.0,
    ) -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self.store = store
        self.runner = runner
        self.clock = clock
        self.max_workers = max_workers
        self.poll_seconds = poll_seconds
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="closesync-run")
        self._lock = threading.Lock()
        self._in_flight: dict[int, Future] = {}  # dataset id -> its run
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool_closed = False

    # -- one pass -------------------------------------------------------------------------------------------
    def due(self) -> list[tuple[int, str]]:
        """(id, destination) of enabled datasets whose next run time has come, oldest first."""
        with self.store.connect() as conn:
            rows = conn.execute(
                """SELECT id, destination FROM datasets
                   WHERE enabled = 1 AND next_run_at IS NOT NULL AND next_run_at <= ?
                   ORDER BY next_run_at, id""",
                (to_iso(self.clock()),),
            ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def tick(self, *, wait: bool = False) -> list[int]:
        """Recover dead runs, start what is due (within max_workers); returns the run ids started."""
        self.runner.recover()
        self._ensure_pool()
        started: list[int] = []
        home = self.runner.home
        for dataset_id, destination in self.due():
            with self._lock:
                self._in_flight = {k: f for k, f in self._in_flight.items() if not f.done()}
                if dataset_id in self._in_flight:
                    continue
                if len(self._in_flight) >= self.max_workers:
                    break
                if not destlock.try_acquire(home, destination):  # another process writes that file: later
                    continue
                try:
                    claim = self.runner.claim(dataset_id, scheduled=True)
                except Exception:  # this dataset only (its stored row, say): the others still run
                    log.exception("dataset %s could not be started", dataset_id)
                    claim = None
                except BaseException:
                    destlock.release(home, destination)
                    raise
                if claim is None:
                    destlock.release(home, destination)
                    continue
                self._in_flight[dataset_id] = self._pool.submit(self._execute, claim, destination)
            started.append(claim.run_id)
        if wait:
            self.wait_idle()
        return started

    def _ensure_pool(self) -> None:
        with self._lock:
            if self._pool_closed:  # stopped earlier: a new start() or tick() gets fresh workers
                self._pool = ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix="closesync-run")
                self._pool_closed = False

    def _execute(self, claim: Claim, destination: str) -> None:
        try:
            self.runner.execute(claim)
        except Exception:  # the run is recorded as failed already; keep the scheduler alive
            log.exception("run %s of dataset %s crashed", claim.run_id, claim.dataset_id)
        finally:
            destlock.release(self.runner.home, destination)

    def wait_idle(self, timeout: float | None = None) -> None:
        """Wait for every run this scheduler started."""
        with self._lock:
            futures = list(self._in_flight.values())
        wait(futures, timeout=timeout)

    @property
    def running(self) -> int:
        with self._lock:
            return sum(1 for f in self._in_flight.values() if not f.done())

    # -- loops ----------------------------------------------------------------------------------------------
    def run_forever(self) -> None:
        """Tick every poll_seconds until stop(); what `closesync scheduler` runs in the foreground."""
        log.info("scheduler started (max %d runs at once, polling every %.0fs)", self.max_workers, self.poll_seconds)
        try:
            while not self._stop.is_set():
                try:
                    self.tick()
                except Exception:  # a locked or busy store now and then must not end the scheduler
                    log.exception("scheduler pass failed; trying again")
                self._stop.wait(self.poll_seconds)
        finally:
            self.wait_idle()
            log.info("scheduler stopped")

    def start(self) -> None:
        """Run the scheduler in a daemon thread of this process (the web app does this)."""
        if self._thread and self._thread.is_alive():
            return
        self._ensure_pool()
        self._stop.clear()
        self._thread = threading.Thread(target=self.run_forever, name="closesync-scheduler", daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        """Ask run_forever to return after its current pass (safe from a signal handler)."""
        self._stop.set()

    def stop(self, *, wait: bool = True) -> None:
        """Stop taking new runs; with wait, return once the runs in flight have finished."""
        self._stop.set()
        if not wait:  # runs in flight finish on their own threads
            return
        if self._thread is not None:
            self._thread.join()
        self.wait_idle()
        self._pool.shutdown(wait=True)
        self._pool_closed = True
