"""One memory budget for a whole sync, shared by every source it reads at once.

A sync's memory is the runtime (interpreter, libraries, threads), the destination's own cache (DuckDB's
`memory_limit`) and, per source being read, its records buffered as Python objects before shaping, the Arrow
batches shaped from them and the pages fetched ahead. The budget is split in that order: a fixed runtime
share, a share for the destination, and what is left in equal slots, one per source being read. Each
source reserves its slot before it reads and gives it back when it is done, so concurrency follows from the
budget (as many sources at once as slots fit) rather than the budget from the concurrency.

A slot's size fixes how much a source may hold: its pages in flight (prefetch depth x PAGE_BYTES) and
its shaping buffer, whose records cost about RECORD_FACTOR times their shaped Arrow bytes at peak: as Python
dicts alone 3.2x (opportunities) to 4.5x (emails), then the column lists shaping builds, the shaped batch
and the batches a writer holds. The constants are calibrated by `make bench` (bench/bench_fullsync.py).
"""

from __future__ import annotations

import contextlib
import ctypes
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from closesync.errors import ClosesyncError

MB = 1 << 20
DEFAULT_MEMORY_LIMIT = "400MB"
#: The interpreter with closesync's libraries imported (~95 MiB measured), thread stacks and HTTP pools.
RUNTIME_BYTES = 128 * MB
#: The destination's share (DuckDB's memory_limit), with a floor DuckDB needs to load wide tables.
SINK_SHARE = 0.15
SINK_MIN_BYTES = 48 * MB
#: A slot for one source read: what its shaping buffer, shaped batches and prefetched pages may hold.
SLOT_BYTES = 56 * MB  # measured: three activity sources at once peaked ~60 MiB each above the rest
PAGE_BYTES = 2 * MB  # one decoded page of 100 records, wide ones (email threads) included
RECORD_FACTOR = 12.0  # Python dicts buffered, the column lists shaping builds from them and the Arrow batch
MIN_LIMIT_BYTES = RUNTIME_BYTES + SINK_MIN_BYTES + SLOT_BYTES

M_ARENA_MAX = -8  # glibc's mallopt parameter
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|kib|mib|gib)?\s*$", re.IGNORECASE)
_UNITS = {"b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30}


class MemoryLimitError(ClosesyncError, ValueError):
    """A memory limit that cannot be read, or is too small for a sync."""


def parse_size(text: str | int) -> int:
    """Bytes from `400MB`, `1.5GB`, `512MiB` or a number of bytes; a clear error for anything else."""
    if isinstance(text, int) and not isinstance(text, bool):
        size = text
    else:
        found = _SIZE.match(str(text))
        if not found:
            raise MemoryLimitError(
                f"{text!r} is not a memory size: write a number with a unit, like 400MB, 1GB or 512MiB."
            )
        size = int(float(found.group(1)) * _UNITS[(found.group(2) or "b").lower()])
    if size < MIN_LIMIT_BYTES:
        raise MemoryLimitError(
            f"A memory limit of {size / MB:.0f} MiB is too small for a sync: it needs at least "
            f"{MIN_LIMIT_BYTES / MB:.0f} MiB (the runtime, the destination's cache and one source)."
        )
    return size


class MemoryBudget:
    """The bytes a sync may use, reserved in named shares; thread-safe. `reserved` never exceeds `total`:
    a reservation that does not fit waits until others are released (one that never could is refused)."""

    def __init__(self, limit: str | int = DEFAULT_MEMORY_LIMIT) -> None:
        self.total = parse_size(limit)
        self.reserved = 0
        self.peak = 0
        self._changed = threading.Condition()

    def __repr__(self) -> str:
        return f"MemoryBudget({self.total / MB:.0f} MiB, {self.reserved / MB:.0f} MiB reserved)"

    @property
    def sink_bytes(self) -> int:
        """The destination's share (DuckDB's memory_limit), leaving room for the runtime and one slot."""
        return min(max(SINK_MIN_BYTES, int(self.total * SINK_SHARE)), self.total - RUNTIME_BYTES - SLOT_BYTES)

    @property
    def slots(self) -> int:
        """How many sources can be read at once within the budget."""
        return max(1, (self.total - RUNTIME_BYTES - self.sink_bytes) // SLOT_BYTES)

    @staticmethod
    def buffer_bytes(prefetch: int) -> int:
        """Shaped bytes per buffer for a source whose client keeps `prefetch` pages in flight: what is left
        of its slot after those pages (at least a quarter of it), over what each shaped byte costs."""
        pages = min(prefetch * PAGE_BYTES, SLOT_BYTES * 3 // 4)
        return int((SLOT_BYTES - pages) / RECORD_FACTOR)

    @staticmethod
    def return_freed_memory() -> None:
        """Process-wide allocator settings that give freed memory back instead of keeping it per thread:
        Arrow on the system allocator (mimalloc kept freed batches: ~30 MB of peak RSS over a 3k-lead sync)
        and glibc limited to two arenas (pages decoded on 32 prefetch threads otherwise leave one arena per
        thread at its high-water mark: ~40 MB at 20k leads)."""
        import pyarrow as pa  # here: the command line imports this module and must start fast

        if pa.default_memory_pool().backend_name != "system":
            pa.set_memory_pool(pa.system_memory_pool())
        if sys.platform.startswith("linux"):
            with contextlib.suppress(OSError, AttributeError):  # not glibc (musl): nothing to tune
                ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, 2)

    @contextmanager
    def reserve(self, nbytes: int) -> Iterator[None]:
        """Hold `nbytes` of the budget for the block, waiting while they do not fit."""
        if nbytes > self.total:
            raise MemoryLimitError(f"{nbytes / MB:.0f} MiB cannot fit in a budget of {self.total / MB:.0f} MiB.")
        with self._changed:
            self._changed.wait_for(lambda: self.reserved + nbytes <= self.total)
            self.reserved += nbytes
            self.peak = max(self.peak, self.reserved)
        try:
            yield
        finally:
            with self._changed:
                self.reserved -= nbytes
                self._changed.notify_all()
