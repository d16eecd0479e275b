"""The "Run now" button: DataCenter.run_dataset blocks, so each web-started run gets its own thread."""

from __future__ import annotations

import logging
import threading

from closesync.datacenter import DataCenter, DatasetBusyError

log = logging.getLogger("closesync.web")


class RunTracker:
    """Runs started from the web, one thread each, so "Run now" returns at once.

    The DataCenter's lease already stops two runs of one dataset; this only avoids starting a thread that
    would be refused, and lets the status endpoint say "running" before the run's history row exists.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._threads: dict[int, threading.Thread] = {}

    def is_running(self, dataset_id: int) -> bool:
        with self._lock:
            thread = self._threads.get(dataset_id)
            return thread is not None and thread.is_alive()

    def start(
        self, dc: DataCenter, dataset_id: int, full_refresh: bool = False, *, busy: bool = False
    ) -> None:
        """Start a run now; raises DatasetBusyError if one is already going (here, or elsewhere: `busy`)."""
        if busy:
            raise DatasetBusyError(
                "this dataset is running already (started by the scheduler or another process)"
            )
        with self._lock:
            thread = self._threads.get(dataset_id)
            if thread is not None and thread.is_alive():
                raise DatasetBusyError("this dataset is running already")
            thread = threading.Thread(
                target=self._run, args=(dc, dataset_id, full_refresh), name=f"run-{dataset_id}", daemon=True
            )
            self._threads[dataset_id] = thread
            thread.start()

    def wait(self, dataset_id: int, timeout: float | None = None) -> None:
        """Block until the dataset's web-started run ends (tests and shutdown)."""
        with self._lock:
            thread = self._threads.get(dataset_id)
        if thread is not None:
            thread.join(timeout)

    @staticmethod
    def _run(dc: DataCenter, dataset_id: int, full_refresh: bool) -> None:
        try:
            dc.run_dataset(dataset_id, full_refresh=full_refresh)
        except DatasetBusyError:
            log.info("dataset %s: already running elsewhere", dataset_id)
        except Exception as exc:  # the DataCenter records failed runs itself; this is a bug guard
            log.error("dataset %s: run crashed: %s", dataset_id, type(exc).__name__)
