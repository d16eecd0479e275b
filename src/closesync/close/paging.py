"""Reading whole `_skip`/`_limit` collections from Close: offset pages and self-splitting date windows.

Cursor walks (`data/search/`, the event log) live in `cursors.py`. Every reader yields each record once
(dedupe by id) and never sends a request Close must refuse if it can know better: `_skip` caps are learned
from Close's 400 (`max_skip = N`) and remembered per endpoint group on the client, and `_limit` caps
likewise (`max_limit = N`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from closesync.close.errors import BadRequestError, CloseError
from closesync.close.pages import checked_page
from closesync.close.prefetch import fetch_pages
from closesync.close.records import Record, unseen
from closesync.close.timestamps import format_timestamp, parse_bound, parse_timestamp

if TYPE_CHECKING:
    from closesync.close.client import CloseClient

DEFAULT_PAGE_SIZE = 100
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SECOND = timedelta(seconds=1)
# Granularities tried, coarse to fine, when a window must be cut between two records: whole seconds
# first (some Close filters only honour seconds), finer only when one second holds too many records.
_CUTS = (SECOND, timedelta(milliseconds=1), timedelta(microseconds=1))
# Windows aim at this share of what one window can hold (skip cap + one page): room for bursts.
TARGET_FILL = 0.8
MAX_GROWTH = 16.0
# Candidate dates with no records before them, tried in order when `start` is not given.
_FLOORS = (EPOCH, datetime(1900, 1, 1, tzinfo=UTC))
_IMMUTABLE_FIELDS = {"date_created"}
# How far Close's clock may be behind ours: a catch-up pass starts this much before the pages it checks.
CLOCK_MARGIN = timedelta(minutes=5)


# -- small helpers --------------------------------------------------------------------------------------


def floor_to(value: datetime, step: timedelta) -> datetime:
    """Round down to a multiple of `step` (one of the _CUTS granularities)."""
    if step >= SECOND:
        return value.replace(microsecond=0)
    micros = int(step / timedelta(microseconds=1))
    return value.replace(microsecond=value.microsecond // micros * micros)


def ceil_to_second(value: datetime) -> datetime:
    floored = value.replace(microsecond=0)
    return floored if floored == value else floored + SECOND


def _limit_from(page_size: int | None) -> int:
    return max(1, int(page_size or DEFAULT_PAGE_SIZE))


def _get_page(client: CloseClient, path: str, params: dict[str, Any], box: list[int]) -> dict[str, Any]:
    """GET one page; if Close says our `_limit` is above the resource's maximum, shrink it and ask again.

    `box` holds the page size so the caller sees the learned maximum too.
    """
    while True:
        try:
            return checked_page(client.get(path, {**params, "_limit": box[0]}), path)
        except BadRequestError as exc:
            if exc.max_limit is not None and exc.max_limit < box[0]:
                box[0] = max(1, exc.max_limit)
                continue
            raise


# -- offset paging -----------------------------------------------------------------------------------------


def paginate(
    client: CloseClient, path: str, params: dict[str, Any] | None = None, *, page_size: int | None = None
) -> Iterator[Record]:
    """Walk `_skip` pages until `has_more` is false. Past the resource's skip cap Close answers 400
    (BadRequestError with `.max_skip`); collections that can grow that big need `paginate_by_date`.

    Pages are anchored (see `fetch_pages`), so records deleted meanwhile never hide others. A list that
    took several pages is then read again from the top until a page holds a record already read: Close
    lists newest first, so records created during the walk are there."""
    box = [_limit_from(page_size)]
    base = dict(params or {})
    seen: set[str] = set()

    def get(skip: int) -> dict[str, Any]:
        return _get_page(client, path, {**base, "_skip": skip}, box)

    pages = fetch_pages(client.executor, get, limit=box[0], depth=client.prefetch, cap=lambda: None, seen=seen)
    read = 0
    for _skip, page in pages:  # pages overlap and shift: repeats are dropped
        read += 1
        yield from unseen(page.get("data") or [], seen)
    skip = 0
    while read > 1:
        page = get(skip)
        data = page.get("data") or []
        fresh = list(unseen(data, seen))
        yield from fresh
        if len(fresh) < len(data) or not data or not page.get("has_more"):
            return
        skip += len(data)


# -- date windows ----------------------------------------------------------------------------------------


@dataclass
class _Window:
    """The outcome of reading one window: complete, or stopped at the skip cap with what it saw."""

    complete: bool
    seen: dict[str, datetime | None]
    pages: int = 1


def plan_next_length(length: timedelta, count: int, target: float) -> timedelta:
    """Next window length from the last one: scale by target/count, at most x16 either way (x16 if empty)."""
    factor = MAX_GROWTH if count <= 0 else min(MAX_GROWTH, max(1.0 / MAX_GROWTH, target / count))
    return max(SECOND, length * factor)


def choose_cut(dates: list[datetime], hi: datetime) -> tuple[datetime, int] | None:
    """Where to cut an overflowing window [.., hi): the first boundary (whole second if possible) above the
    oldest record seen and below `hi`, so the part above it holds at least one seen record.
    Returns (cut, records at/after it)."""
    if not dates:
        return None
    ordered = sorted(dates)
    oldest = ordered[0]
    for step in _CUTS:
        cut = floor_to(oldest, step) + step
        if cut >= hi:
            continue
        above = len(ordered) - _bisect_left(ordered, cut)
        if above > 0:
            return cut, above
    return None


def _newer(when: datetime | None, before: datetime | None) -> bool:
    """Is `when` a later value of the walked field than `before` (a record edited since we read it)?"""
    return when is not None and before is not None and when > before


def _bisect_left(items: list[datetime], value: datetime) -> int:
    lo, hi = 0, len(items)
    while lo < hi:
        mid = (lo + hi) // 2
        if items[mid] < value:
            lo = mid + 1
        else:
            hi = mid
    return lo


class _DateWalk:
    """State of one `paginate_by_date` read (see that function for the algorithm)."""

    def __init__(
        self,
        client: CloseClient,
        path: str,
        params: dict[str, Any] | None,
        field: str,
        start: datetime | None,
        end: datetime | None,
        page_size: int | None,
    ) -> None:
        self.client = client
        self.path = path
        self.field = field
        self.base = {
            k: v for k, v in (params or {}).items() if not k.startswith(f"{field}__") and k != "_skip"
        }
        self.box = [_limit_from(page_size)]
        self.spans: list[tuple[datetime | None, datetime | None]] = [(start, end)]
        self.length: timedelta | None = None
        self.density: float | None = None  # records per second in the last window read
        self.seen: dict[str, datetime | None] = {}
        # Records cannot leave a window of an immutable field while it is paged: one anchor record will do.
        self.settled = field in _IMMUTABLE_FIELDS
        self.prune = True  # forget ids outside the spans still to read (see `_prune`)
        self.kept = 0  # ids `seen` held after the last pruning
        self.catch_up_from: datetime | None = None  # set when an open-ended window took several pages

    @property
    def cap(self) -> int | None:
        return self.client.skip_cap(self.path)

    def _known_cap(self) -> int:
        """The skip cap where one must be known: windows overflow only at a cap, and are planned
        (`self.length`) only once one is known; caps are never forgotten."""
        cap = self.cap
        assert cap is not None, "no skip cap known"
        return cap

    def _target(self, cap: int) -> float:
        """Records a window aims at: TARGET_FILL of what one window can hold (cap + one page)."""
        return max(float(self.box[0]), TARGET_FILL * (cap + self.box[0]))

    def _filters(self, lo: datetime | None, hi: datetime | None) -> dict[str, Any]:
        params = dict(self.base)
        if lo is not None:
            params[f"{self.field}__gte"] = format_timestamp(lo)
        if hi is not None:
            params[f"{self.field}__lt"] = format_timestamp(hi)
        return params

    def _date_of(self, record: Record) -> datetime | None:
        return parse_timestamp(record.get(self.field))

    def run(self) -> Iterator[Record]:
        """The walk, then one catch-up window if the newest, open-ended window was paged while records
        could join it above our position (created, or edited into a `date_updated` window)."""
        yield from self._walk()
        if self.catch_up_from is not None:
            self.spans, self.catch_up_from = [(self.catch_up_from, None)], None
            # the catch-up window overlaps what was read: keep every id, anchor as for a mutable field
            self.prune = self.settled = False
            yield from self._walk()

    def _walk(self) -> Iterator[Record]:
        while self.spans:
            lo, hi = self.spans[0]
            if lo is None and self.length is not None and not self._fits(hi):
                lo = self._oldest_bound(hi)
                if lo is None:
                    raise CloseError(f"{self.path} has records dated before 1900", path=self.path)
                self.spans[0] = (lo, hi)
            w_hi = hi if lo is None else self._plan(lo, hi)
            window = yield from self._read(lo, w_hi)
            if window.complete:
                self._learn_from_complete(lo, w_hi, window)
                if w_hi == hi:
                    self.spans.pop(0)
                else:
                    self.spans[0] = (w_hi, hi)
            else:
                self._split(lo, w_hi, hi, window)
            self._prune()

    def _plan(self, lo: datetime, hi: datetime | None) -> datetime | None:
        """End of the next window starting at `lo`: the whole span unless density says it would overflow."""
        if self.length is None:
            return hi
        cut = ceil_to_second(lo + self.length)
        limit = hi if hi is not None else datetime.now(UTC)
        if cut + self.length / 2 >= limit:
            return hi
        return cut

    def _read(self, lo: datetime | None, hi: datetime | None) -> Iterator[Record]:
        """Yield the window's unseen records page by page; return whether it completed under the cap."""
        params = self._filters(lo, hi)
        in_window: dict[str, datetime | None] = {}
        expected = None
        if self.density is not None and lo is not None and hi is not None:
            expected = int(self.density * (hi - lo).total_seconds())
        began = datetime.now(UTC)
        pages = fetch_pages(
            self.client.executor,
            lambda skip: _get_page(self.client, self.path, {**params, "_skip": skip}, self.box),
            limit=self.box[0],
            depth=self.client.prefetch,
            cap=lambda: self.cap,
            expected=expected,
            overlap=1 if self.settled else max(1, self.box[0] // 20),
            seen=in_window,
        )
        next_skip = 0
        more = True
        count = 0
        try:
            for skip, page in pages:
                count += 1
                data = page.get("data") or []
                for record in data:
                    rid = record.get("id")
                    if rid is None:
                        yield record
                        continue
                    when = self._date_of(record)
                    in_window[rid] = when
                    if rid in self.seen and not _newer(when, self.seen[rid]):
                        continue
                    self.seen[rid] = when  # a new record, or a newer version of one (edited meanwhile)
                    yield record
                next_skip = skip + len(data)
                more = bool(page.get("has_more")) and bool(data)
        except BadRequestError as exc:
            if exc.max_skip is None:
                raise
            self.client.learn_skip_cap(self.path, exc.max_skip)
            if next_skip <= exc.max_skip:
                raise
            return _Window(False, in_window, count)
        if hi is None and count > 1:
            start = began - CLOCK_MARGIN
            self.catch_up_from = start if lo is None else max(lo, start)
        return _Window(not more, in_window, count)

    def _learn_from_complete(self, lo: datetime | None, hi: datetime | None, window: _Window) -> None:
        cap = self.cap
        if cap is None or lo is None:
            return
        if hi is None:
            dates = [d for d in window.seen.values() if d is not None]
            if not dates:
                return
            hi = max(dates) + SECOND
        span = max(hi - lo, SECOND)
        self.density = len(window.seen) / span.total_seconds()
        self.length = plan_next_length(span, len(window.seen), self._target(cap))

    def _split(self, lo: datetime | None, w_hi: datetime | None, hi: datetime | None, window: _Window) -> None:
        """The window [lo, w_hi) holds more than the cap lets us page through. Keep the newest part we
        already read if a one-request check proves it complete, and walk the older rest as new windows."""
        cap = self._known_cap()
        dates = [d for d in window.seen.values() if d is not None]
        if not dates:
            raise CloseError(f"{self.path} records carry no readable {self.field}", path=self.path)
        # Bound the proven part by the newest record seen, so records created meanwhile stay out of it.
        top = w_hi if w_hi is not None else floor_to(max(dates), SECOND) + SECOND
        choice = choose_cut(dates, top)
        if choice is None:
            raise CloseError(
                f"More than {len(dates)} records of {self.path} share one {self.field} value; "
                "they cannot be paged under Close's skip cap",
                path=self.path,
            )
        cut, above = choice
        proven = self._verify(cut, top, above, cap)
        rest: list[tuple[datetime | None, datetime | None]] = [(lo, cut)]
        if not proven:
            rest.append((cut, top))
        if top != hi:
            rest.append((top, hi))
        self.spans[0:1] = rest
        self.length = max(SECOND, (top - cut) * (self._target(cap) / above))
        self.density = above / max(top - cut, SECOND).total_seconds()

    def _verify(self, lo: datetime, hi: datetime, expected: int, cap: int) -> bool:
        """One request: does [lo, hi) hold exactly the `expected` records we already have from it?"""
        skip = min(expected, cap)
        limit = 1 if skip == expected else self.box[0]
        params = {**self._filters(lo, hi), "_skip": skip, "_limit": limit}
        page = checked_page(self.client.get(self.path, params), self.path)
        data = page.get("data") or []
        return not page.get("has_more") and skip + len(data) == expected

    def _fits(self, hi: datetime | None) -> bool:
        """One request: can everything before `hi` be paged in one window (nothing past the cap)?"""
        cap = self._known_cap()
        params = {**self._filters(None, hi), "_skip": cap, "_limit": 1}
        page = checked_page(self.client.get(self.path, params), self.path)
        return not page.get("has_more")

    def _oldest_bound(self, hi: datetime | None) -> datetime | None:
        """Binary-search a date with no record before it (1-record probes), so windows can start there
        instead of at 1970. Resolution: one planned window length, at least a day."""
        assert self.length is not None
        low = next((floor for floor in _FLOORS if self._any_before(floor) is None), None)
        if low is None:
            return None
        high = hi if hi is not None else datetime.now(UTC) + timedelta(days=1)
        step = max(timedelta(days=1), self.length)
        while high - low > step:  # so mid, less than a second above the middle, stays below high
            mid = ceil_to_second(low + (high - low) / 2)
            found = self._any_before(mid)
            if found is None:
                low = mid
            else:
                high = min(mid, ceil_to_second(found + timedelta(microseconds=1)))
        return low

    def _any_before(self, moment: datetime) -> datetime | None:
        """A record's date if some record has field < moment (just below `moment` if it has no readable
        date), else None."""
        params = {**self._filters(None, moment), "_skip": 0, "_limit": 1}
        page = checked_page(self.client.get(self.path, params), self.path)
        data = page.get("data") or []
        if not data:
            return None
        return self._date_of(data[0]) or moment - SECOND

    def _prune(self) -> None:
        """Forget ids whose walked value lies in no span still to read, so the read holds the ids of about
        one window, not of the whole account. A later window returns only records inside a span still to
        read, so such a record comes again only with a newer value (edited meanwhile, `date_updated`),
        which is a new version and passes anyway. Spans are widened by a second (some Close filters honour
        only seconds); ids with no readable value are kept. Amortised: only once `seen` doubled."""
        if not self.prune or not self.spans or len(self.seen) <= max(4 * self.box[0], 2 * self.kept):
            return
        spans = [(lo and lo - SECOND, hi and hi + SECOND) for lo, hi in self.spans]
        self.seen = {
            rid: when for rid, when in self.seen.items()
            if when is None or any((lo is None or when >= lo) and (hi is None or when < hi) for lo, hi in spans)
        }
        self.kept = len(self.seen)


def paginate_by_date(
    client: CloseClient,
    path: str,
    params: dict[str, Any] | None = None,
    *,
    field: str = "date_created",
    start: datetime | str | None = None,
    end: datetime | str | None = None,
    page_size: int | None = None,
) -> Iterator[Record]:
    """Every record with start <= `field` < end, each once, never paging past the `_skip` cap.

    Algorithm (correct whatever order Close serves records in; cheapest when newest-first):
    1. Spans still to read are kept ascending. The next window starts at the oldest span's start and,
       while no skip cap is known, covers the whole span (one window is cheapest when it fits).
    2. A window is paged with `_skip`/`_limit` until `has_more` is false: complete. Its record count over
       its length gives the density; the next window's length aims at half of what one window can hold
       (cap + one page), growing up to x16 when sparse (x16 when empty) and shrinking when dense.
    3. A window overflows when the next `_skip` would pass the cap (known, or learned from Close's 400
       `max_skip = N`, remembered on the client per endpoint group). Then we cut it at the first whole
       second above the oldest record seen (finer only if one second holds too much) and check with one
       request (`_skip` = number of seen records above the cut) that the part above the cut holds exactly
       the records we have. If so it is done; if not (the order was not what it looked like) it is queued
       for a full re-read. The part below the cut becomes new windows sized from the density just seen.
    4. With no `start`, the part below the first cut is checked with one request (`_skip` = cap): if it
       fits it is read as one window; if not, a binary search (1-record probes) finds a date with no
       records before it, so windows do not crawl up from 1970.
    Pages are anchored (see `fetch_pages`): each starts with a record already read, so records deleted
    or moved out of a window meanwhile never hide others; for a mutable `field` (date_updated) they
    overlap by 5 %, so a few records leaving cost no extra request. A record edited into a later window
    comes again in its new version. When the newest, open-ended window took several pages, records may
    have joined it above our position (created, or edited into a date_updated window): one catch-up
    window from shortly before that window's first page picks them up.
    Duplicates at window edges, re-reads, overlaps and page shifts are dropped by id (a newer `field`
    value is a new version and comes again). Windows ascend; only inside
    a window that overflowed do its newest records come before its older ones - never rely on the order.
    """
    walk = _DateWalk(client, path, params, field, parse_bound(start), parse_bound(end), page_size)
    return walk.run()
