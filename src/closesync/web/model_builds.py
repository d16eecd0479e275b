"""The Insights page's "Build the models" button: dbt takes seconds to minutes, longer than a proxy waits for
an answer, so each build runs in a thread of the web process, one per destination at a time, and the page
shows its state until it ends."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from closesync.analytics import ModelsError
from closesync.datacenter import DataCenterError
from closesync.datacenter import marts as marts_module

log = logging.getLogger("closesync.web")


@dataclass
class ModelBuild:
    """One build of a destination's models: running while `finished_at` is None; then `ok` and `message`
    (the summary, or the error fit to show: the models' errors carry no password)."""

    started_at: datetime
    note: str = ""  # what it waits for, if anything
    finished_at: datetime | None = None
    ok: bool = False
    message: str = ""

    @property
    def running(self) -> bool:
        return self.finished_at is None


class ModelBuilds:
    """The builds started from the web, by destination key; the last one of each is kept until shown."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._builds: dict[str, ModelBuild] = {}
        self._threads: dict[str, threading.Thread] = {}

    def start(self, home: Path, key: str, destination: str) -> bool:
        """Start building `destination`'s models now; False (nothing started) if a build of it is running."""
        with self._lock:
            current = self._builds.get(key)
            if current is not None and current.running:
                return False
            build = self._builds[key] = ModelBuild(started_at=datetime.now(UTC))
            thread = threading.Thread(
                target=self._run, args=(build, home, destination), name=f"models-{key}", daemon=True
            )
            self._threads[key] = thread
            thread.start()
        return True

    def current(self, key: str) -> ModelBuild | None:
        """The running build of `key`, or the finished one not yet shown (then it is forgotten)."""
        with self._lock:
            build = self._builds.get(key)
            if build is not None and not build.running:
                del self._builds[key]
            return build

    def wait(self, key: str, timeout: float | None = None) -> None:
        """Block until the build of `key` ends (tests and shutdown)."""
        with self._lock:
            thread = self._threads.get(key)
        if thread is not None:
            thread.join(timeout)

    @staticmethod
    def _run(build: ModelBuild, home: Path, destination: str) -> None:
        def waiting(note: str) -> None:
            build.note = note

        try:
            result = marts_module.build_marts(home, destination, on_wait=waiting)
        except (ModelsError, DataCenterError) as exc:
            build.message = f"The models were not built: {exc}"
        except Exception as exc:  # a bug: its text could hold anything, so only its kind is shown
            log.error("models build crashed: %s", type(exc).__name__)
            build.message = (
                f"The models were not built: unexpected {type(exc).__name__} (see the server log)."
            )
        else:
            build.ok = True
            build.message = (
                f"Built {result.models} models and passed {result.tests} tests in "
                f"{result.elapsed_s:.0f} s (schema {result.schema})."
            )
        build.note = ""
        build.finished_at = datetime.now(UTC)
