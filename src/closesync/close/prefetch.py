"""Offset pages fetched ahead: keep a few `_skip` requests in flight so one reader can use its whole budget.

A single reader waits a full round trip (latency + server work + parsing) per page; at 20 requests/s and
~50 ms per page that alone caps a group below its rate limit. Offsets are known in advance (`_skip` grows
by `_limit`), so the next pages can be asked for while the current one is consumed. Pages come back in
offset order; speculation stops at the skip cap and, when the caller expects a window to end soon, near
that end (a page past the end is a wasted request).

Offsets shift while Close changes: a record deleted (or moved out of the filter) above our position moves
every later record one place up, and one would fall between two pages unseen. So pages overlap (at least
by one record) and each page must start with a record already read: then nothing lies between it and the
last page. A page that does not (the list shifted by more than the overlap) is asked for again from an
earlier offset, stepping back further each time, down to 0 if need be - correct whatever the list's order,
as long as it is a stable one.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Container, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

Page = dict[str, Any]


def fetch_pages(
    executor: ThreadPoolExecutor | None,
    get_page: Callable[[int], Page],
    *,
    limit: int,
    depth: int,
    cap: Callable[[], int | None],
    expected: int | None = None,
    overlap: int = 1,
    seen: Container[str] | None = None,
) -> Iterator[tuple[int, Page]]:
    """Yield (skip, page) from skip 0 until a page says `has_more: false` or the next skip passes the cap.

    `get_page(skip)` does one request; `expected` is the caller's estimate of the record count (pages
    beyond it are only asked for once the previous answer says there is more). Without an estimate the
    first page goes alone: most lists fit in one page, and a speculative second request would be wasted. If a page comes back
    shorter than `limit` while `has_more` is true (e.g. Close lowered `_limit`), pages in flight are
    dropped and paging continues from where that page ended, so no offset is ever skipped.
    `overlap` re-asks for that many records of the previous page (at least one, the anchor). `seen` holds
    the ids the caller has taken from the pages yielded so far: a later page whose first record is not in
    it may have skipped records (an empty one too), so it is dropped and asked for again from an earlier
    offset.
    """
    pending: deque[tuple[int, Future[Page] | None]] = deque()
    next_skip = 0
    more_confirmed = expected is not None
    overlap = max(1, min(overlap, limit - 1)) if limit > 1 else 0
    step_back = 0

    def allowed(skip: int) -> bool:
        current = cap()
        return current is None or skip <= current

    def submit(skip: int) -> None:
        if executor is None or depth <= 1:
            pending.append((skip, None))
        else:
            pending.append((skip, executor.submit(get_page, skip)))

    try:
        while True:
            if not pending:
                if not allowed(next_skip):
                    return
                submit(next_skip)
                next_skip += limit - overlap
            while (
                more_confirmed
                and len(pending) < depth
                and allowed(next_skip)
                and (expected is None or next_skip + limit <= expected)
            ):
                submit(next_skip)
                next_skip += limit - overlap
            skip, future = pending.popleft()
            page = get_page(skip) if future is None else future.result()
            data = page.get("data") or []
            if seen is not None and overlap and skip > 0 and not (data and _anchored(data[0], seen)):
                _drop(pending)  # the list shifted under us: ask again from further up
                step_back = max(2 * step_back, limit // 2, 1)
                next_skip = max(0, skip - step_back)
                continue
            step_back = 0
            yield skip, page
            if not page.get("has_more") or not data:
                return
            more_confirmed = True
            if len(data) != limit:
                _drop(pending)
                limit = len(data)
                overlap = max(1, min(overlap, limit - 1)) if limit > 1 else 0
                next_skip = skip + limit - overlap
    finally:
        _drop(pending)


def _anchored(first: object, seen: Container[str]) -> bool:
    """Does a page start with a record read before (or one that cannot tell: no id)?"""
    rid = first.get("id") if isinstance(first, dict) else None
    return rid is None or rid in seen


def _drop(pending: deque[tuple[int, Future[Page] | None]]) -> None:
    """Forget pages in flight: cancel those not started; the others finish and are ignored."""
    while pending:
        _, future = pending.popleft()
        if future is not None:
            future.cancel()
