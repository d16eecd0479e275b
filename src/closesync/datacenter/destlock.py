"""One process at a time writes a DuckDB file: a cross-process file lock per DuckDB destination.

DuckDB lets a single process open a database file for writing; threads of that process share it. So two
schedulers (or a scheduler and `closesync datasets run`) in different processes must take turns on the
same file. An OS lock (flock) is released by the kernel when its process dies, even by SIGKILL, so a
killed run never leaves the file locked. Inside one process the lock is shared, counted per holder, except
for a holder that opens the file its own way (dbt-duckdb, whose instance cannot share closesync's): that one
takes it `exclusive`, after every other holder of the process, and no one else gets it meanwhile.
Other destinations (PostgreSQL, Parquet/CSV folders) take concurrent writers and need no lock.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
import time
from pathlib import Path

from closesync.sinks.destination import parse_destination
from closesync.sinks.errors import UnknownDestinationError

_REGISTRY_LOCK = threading.Lock()
_HELD: dict[str, list[int]] = {}  # lock file -> [fd, holders in this process, 1 if exclusive]


def _lock_file(home: Path, destination: str) -> Path | None:
    """The lock file of a DuckDB destination; None for other kinds (and for text the sink will refuse)."""
    try:
        dest = parse_destination(destination)
    except UnknownDestinationError:
        return None
    if dest.kind != "duckdb":
        return None
    target = str(Path(dest.target).expanduser().absolute())
    digest = hashlib.sha1(target.encode()).hexdigest()[:16]
    return home / "locks" / f"duckdb-{digest}.lock"


def try_acquire(home: Path, destination: str, *, exclusive: bool = False) -> bool:
    """Take the destination for this process without waiting; False if another process writes it, or an
    exclusive holder of this process does (or, `exclusive`, anyone else at all)."""
    path = _lock_file(home, destination)
    if path is None:
        return True
    key = str(path)
    with _REGISTRY_LOCK:
        held = _HELD.get(key)
        if held is not None:
            if exclusive or held[2]:
                return False
            held[1] += 1
            return True
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        _HELD[key] = [fd, 1, int(exclusive)]
        return True


def acquire(home: Path, destination: str, timeout: float, *, exclusive: bool = False) -> bool:
    """Wait up to `timeout` seconds for the destination; False if it stayed busy."""
    deadline = time.monotonic() + timeout
    while not try_acquire(home, destination, exclusive=exclusive):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)
    return True


def release(home: Path, destination: str) -> None:
    path = _lock_file(home, destination)
    if path is None:
        return
    with _REGISTRY_LOCK:
        held = _HELD.get(str(path))
        if held is None:
            return
        held[1] -= 1
        if held[1] == 0:
            del _HELD[str(path)]
            fcntl.flock(held[0], fcntl.LOCK_UN)
            os.close(held[0])
