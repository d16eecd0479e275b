"""One listable collection: generated base records plus an overlay of test mutations.

Indexes run in creation order (base records first, then added ones), and creation times never decrease with
the index, so a `date_created` filter is an index range and newest-first paging walks that range backwards.
Everything derived from the records (sorted orders, filtered index lists) is cached per `version`.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from typing import Any

from closesync.sandbox.timefmt import ms_or_none

Record = dict[str, Any]


class _Times:
    """Sequence view of creation times so `bisect` can search it without materialising anything."""

    def __init__(self, coll: Collection) -> None:
        self.coll = coll

    def __len__(self) -> int:
        return len(self.coll)

    def __getitem__(self, i: int) -> int:
        return self.coll.created_ms(i)


class Collection:
    """A lazily generated, index-addressed list of records with an in-memory overlay."""

    def __init__(self, name: str, count: int, build: Callable[[int], Record],
                 created: Callable[[int], int], make_id: Callable[[int], str],
                 timestamps: dict[str, Callable[[int], int]] | None = None,
                 values: dict[str, Callable[[int], Any]] | None = None) -> None:
        self.name = name
        self._timestamps = timestamps or {}
        self._values = values or {}
        self.base_count = count
        self._build, self._created, self._make_id = build, created, make_id
        self.replaced: dict[int, Record] = {}
        self.added: list[Record] = []
        self.added_ms: list[int] = []
        self.deleted: set[int] = set()
        self.version = 0
        self._ids: dict[str, int] | None = None
        self._cache: OrderedDict[Hashable, Any] = OrderedDict()
        self.lock = threading.RLock()

    # -- access --------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.base_count + len(self.added)

    @property
    def has_mutations(self) -> bool:
        return bool(self.replaced or self.added or self.deleted)

    def created_ms(self, i: int) -> int:
        if i < self.base_count:
            return self._created(i)
        return self.added_ms[i - self.base_count]

    def timestamp_ms(self, field: str, i: int) -> int | None:
        """A timestamp field of record `i` in epoch ms, without building the record when the layout knows it."""
        fast = self._timestamps.get(field)
        if fast is not None and i < self.base_count and i not in self.replaced:
            return fast(i)
        rec = self.get(i)
        return ms_or_none(rec.get(field)) if rec is not None else None

    def has_fast_timestamp(self, field: str) -> bool:
        return field in self._timestamps

    def has_fast_value(self, field: str) -> bool:
        return field in self._values

    def value(self, field: str, i: int) -> Any:
        """One field of record `i`, computed without building the record when the generator can."""
        fast = self._values.get(field)
        if fast is not None and i < self.base_count and i not in self.replaced:
            return fast(i)
        rec = self.get(i)
        return None if rec is None else rec.get(field)

    def get(self, i: int) -> Record | None:
        """The record at index `i`, or None if a test deleted it."""
        if i in self.deleted:
            return None
        if i >= self.base_count:
            return self.added[i - self.base_count]
        rec = self.replaced.get(i)
        return rec if rec is not None else self._build(i)

    def index_of(self, record_id: str) -> int | None:
        with self.lock:
            if self._ids is None:
                self._ids = {self._make_id(i): i for i in range(self.base_count)}
                for k, rec in enumerate(self.added):
                    self._ids[rec["id"]] = self.base_count + k
        return self._ids.get(record_id)

    def iter_records(self, start: int = 0, stop: int | None = None) -> Iterator[Record]:
        """Records in creation order; the fast path for shaping benchmarks (no HTTP, no copies)."""
        stop = len(self) if stop is None else min(stop, len(self))
        base_stop = min(stop, self.base_count)
        build = self._build
        if not self.has_mutations:
            for i in range(start, base_stop):
                yield build(i)
        else:
            for i in range(start, base_stop):
                rec = self.get(i)
                if rec is not None:
                    yield rec
        for i in range(max(start, self.base_count), stop):
            rec = self.get(i)
            if rec is not None:
                yield rec

    def range_created(self, lo_ms: int | None, hi_ms: int | None) -> tuple[int, int]:
        """Index range [a, b) of records created in [lo_ms, hi_ms)."""
        times = _Times(self)
        a = 0 if lo_ms is None else bisect_left(times, lo_ms)
        b = len(self) if hi_ms is None else bisect_left(times, hi_ms)
        return a, max(a, b)

    # -- mutations -----------------------------------------------------------------------------------------
    def _touch(self) -> None:
        self.version += 1
        self._cache.clear()

    def add(self, record: Record, created_ms: int) -> int:
        with self.lock:
            last = self.created_ms(len(self) - 1) if len(self) else created_ms
            self.added.append(record)
            self.added_ms.append(max(created_ms, last))
            index = len(self) - 1
            if self._ids is not None:
                self._ids[record["id"]] = index
            self._touch()
            return index

    def replace(self, i: int, record: Record) -> None:
        with self.lock:
            if i >= self.base_count:
                self.added[i - self.base_count] = record
            else:
                self.replaced[i] = record
            self._touch()

    def delete(self, i: int) -> None:
        with self.lock:
            self.deleted.add(i)
            self._touch()

    # -- derived, cached -----------------------------------------------------------------------------------
    def cached(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """Memoise `compute()` until the next mutation (small LRU; filter results and sort orders)."""
        with self.lock:
            full = (self.version, key)
            if full in self._cache:
                self._cache.move_to_end(full)
                return self._cache[full]
        value = compute()
        with self.lock:
            self._cache[full] = value
            while len(self._cache) > 32:
                self._cache.popitem(last=False)
        return value

    def sorted_by(self, field: str) -> list[int]:
        """Live indexes ordered by a timestamp field ascending (ties by index); cached per version."""

        def compute() -> list[int]:
            keyed = []
            for i in range(len(self)):
                if i in self.deleted:
                    continue
                if field in self._timestamps or field.startswith("date"):
                    ms = self.timestamp_ms(field, i)
                    keyed.append((-1 if ms is None else ms, i))
                else:
                    rec = self.get(i) or {}
                    keyed.append((rec.get(field) is not None, rec.get(field) or 0, i))
            keyed.sort()
            return [k[-1] for k in keyed]

        return self.cached(("sorted", field), compute)
