"""Window-walk maths checked against an in-memory list endpoint (httpx.MockTransport, no network).

The sandbox serves newest-first; these tests also serve oldest-first and by id, to prove that
`paginate_by_date` does not depend on the order, and count requests to keep it near the minimum.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import httpx
import pytest

from closesync.close import CloseClient
from closesync.close.timestamps import parse_timestamp

Order = Callable[[list[dict]], list[dict]]
ORDERS: dict[str, Order] = {
    "newest_first": lambda rs: sorted(rs, key=lambda r: (r["date_created"], r["id"]), reverse=True),
    "oldest_first": lambda rs: sorted(rs, key=lambda r: (r["date_created"], r["id"])),
    "by_id": lambda rs: sorted(rs, key=lambda r: r["id"]),
}


class FakeList:
    """A `_skip`/`_limit` list endpoint with date filters and a skip cap, counting requests."""

    def __init__(self, records: list[dict], order: Order, skip_cap: int, max_limit: int = 100) -> None:
        self.records = records
        self.order = order
        self.skip_cap = skip_cap
        self.max_limit = max_limit
        self.requests = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        q = {k: v[0] for k, v in parse_qs(request.url.query.decode()).items()}
        skip, limit = int(q.get("_skip", 0)), int(q.get("_limit", 100))
        if limit > self.max_limit:
            return httpx.Response(400, json={"error": f"The limit you set is larger than the maximum limit for "
                                                      f"this resource (max_limit = {self.max_limit})."})
        if skip > self.skip_cap:
            return httpx.Response(400, json={"error": f"The skip you set is larger than the maximum skip for this "
                                                      f"resource (max_skip = {self.skip_cap}). Please refine your "
                                                      "search query."})
        rows = self.records
        if "date_created__gte" in q:
            lo = parse_timestamp(q["date_created__gte"])
            rows = [r for r in rows if parse_timestamp(r["date_created"]) >= lo]
        if "date_created__lt" in q:
            hi = parse_timestamp(q["date_created__lt"])
            rows = [r for r in rows if parse_timestamp(r["date_created"]) < hi]
        rows = self.order(rows)
        page = rows[skip: skip + limit]
        return httpx.Response(200, content=json.dumps({"data": page, "has_more": len(rows) > skip + limit}))


def make_records(n: int, seed: int, *, burst: bool = False) -> list[dict]:
    rng = random.Random(seed)
    base = datetime(2021, 1, 1, tzinfo=UTC)
    out = []
    for i in range(n):
        if burst and i % 3 == 0:  # a third of the records crowd into one hour
            when = base + timedelta(days=400, seconds=rng.randrange(3600))
        else:
            when = base + timedelta(seconds=rng.randrange(3 * 365 * 86400), microseconds=rng.randrange(10**6))
        out.append({"id": f"acti_{i:06d}{rng.randrange(10**6):06d}", "date_created": when.isoformat()})
    return out


def read_all(fake: FakeList, **kw: object) -> tuple[list[dict], CloseClient]:
    client = CloseClient("api_test", "http://close.test/api/v1/", transport=httpx.MockTransport(fake),
                         backoff_base=0.001)
    with client:
        return list(client.paginate_by_date("activity/call/", **kw)), client


@pytest.mark.parametrize("order", sorted(ORDERS))
@pytest.mark.parametrize(("n", "cap", "burst"), [(300, 100, False), (1500, 200, True), (90, 100, False)])
def test_every_record_exactly_once_whatever_the_order(order: str, n: int, cap: int, burst: bool) -> None:
    records = make_records(n, seed=n + cap, burst=burst)
    fake = FakeList(records, ORDERS[order], skip_cap=cap)
    got, _ = read_all(fake)
    ids = [r["id"] for r in got]
    assert len(ids) == len(set(ids)) == n
    assert set(ids) == {r["id"] for r in records}


def test_start_and_end_bound_the_read() -> None:
    records = make_records(400, seed=7)
    fake = FakeList(records, ORDERS["newest_first"], skip_cap=100)
    start, end = datetime(2022, 1, 1, tzinfo=UTC), datetime(2023, 1, 1, tzinfo=UTC)
    got, _ = read_all(fake, start=start, end=end)
    expected = {r["id"] for r in records if start <= parse_timestamp(r["date_created"]) < end}
    assert [r["id"] for r in got] and sorted(r["id"] for r in got) == sorted(expected)


def test_request_count_stays_near_the_minimum_for_newest_first() -> None:
    records = make_records(20_000, seed=3)
    fake = FakeList(records, ORDERS["newest_first"], skip_cap=2_000)
    got, client = read_all(fake)
    assert len({r["id"] for r in got}) == 20_000
    minimum = 20_000 // 100
    assert fake.requests <= minimum * 1.3, fake.requests
    assert client.skip_cap("activity/call/") == 2_000


def test_limit_above_the_resource_maximum_is_learned() -> None:
    records = make_records(120, seed=5)
    fake = FakeList(records, ORDERS["newest_first"], skip_cap=1000, max_limit=50)
    got, _ = read_all(fake, page_size=100)
    assert len({r["id"] for r in got}) == 120


class MovingList(FakeList):
    """Filters on date_updated but serves newest-first by date_created; after each page it serves, one
    record not yet served moves out of the walk's window (updated to a later date_updated)."""

    def __init__(self, records: list[dict], skip_cap: int) -> None:
        super().__init__(records, ORDERS["newest_first"], skip_cap)
        self.served: set[str] = set()
        self.later = datetime(2030, 1, 1, tzinfo=UTC)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        q = {k: v[0] for k, v in parse_qs(request.url.query.decode()).items()}
        skip, limit = int(q.get("_skip", 0)), int(q.get("_limit", 100))
        lo = parse_timestamp(q.get("date_updated__gte")) or datetime(1900, 1, 1, tzinfo=UTC)
        hi = parse_timestamp(q.get("date_updated__lt")) or datetime(2100, 1, 1, tzinfo=UTC)
        rows = self.order([r for r in self.records if lo <= parse_timestamp(r["date_updated"]) < hi])
        page = rows[skip: skip + limit]
        self.served.update(r["id"] for r in page)
        # A record already served moves to 2030: everything after it shifts down by one.
        for r in rows[:skip]:
            if parse_timestamp(r["date_updated"]) < self.later:
                r["date_updated"] = self.later.isoformat()
                break
        return httpx.Response(200, content=json.dumps({"data": page, "has_more": len(rows) > skip + limit}))


def test_records_updated_during_a_date_updated_walk_shift_nothing_out_of_reach() -> None:
    records = make_records(600, seed=11)
    for r in records:
        r["date_updated"] = r["date_created"]
    fake = MovingList(records, skip_cap=100_000)
    client = CloseClient("api_test", "http://close.test/api/v1/", transport=httpx.MockTransport(fake), prefetch=1)
    with client:
        got = list(client.paginate_by_date("opportunity/", field="date_updated", page_size=50,
                                           end=datetime(2029, 1, 1, tzinfo=UTC)))
    ids = [r["id"] for r in got]
    assert len(ids) == len(set(ids))
    assert set(ids) == {r["id"] for r in records}


class UpdatedList(FakeList):
    """Filters and orders by date_updated (newest first), as opportunities and tasks are walked."""

    def __call__(self, request: httpx.Request) -> httpx.Response:
        q = {k: v[0] for k, v in parse_qs(request.url.query.decode()).items()}
        skip, limit = int(q.get("_skip", 0)), int(q.get("_limit", 100))
        if skip > self.skip_cap:
            return httpx.Response(400, json={"error": f"The skip you set is larger than the maximum skip for this "
                                                      f"resource (max_skip = {self.skip_cap})."})
        lo = parse_timestamp(q.get("date_updated__gte")) or datetime(1900, 1, 1, tzinfo=UTC)
        hi = parse_timestamp(q.get("date_updated__lt")) or datetime(2100, 1, 1, tzinfo=UTC)
        rows = [r for r in self.records if lo <= parse_timestamp(r["date_updated"]) < hi]
        rows.sort(key=lambda r: (r["date_updated"], r["id"]), reverse=True)
        page = rows[skip: skip + limit]
        return httpx.Response(200, content=json.dumps({"data": page, "has_more": len(rows) > skip + limit}))


def test_a_date_updated_walk_holds_the_ids_of_about_one_window_not_of_the_account() -> None:
    """The ids kept to drop repeats are pruned below the next window for date_updated as for date_created,
    so a read's memory does not grow with the account; every record still comes exactly once."""
    records = make_records(12_000, seed=13)
    for r in records:
        r["date_updated"] = r["date_created"]
    fake = UpdatedList(records, ORDERS["newest_first"], skip_cap=1_000)
    client = CloseClient("api_test", "http://close.test/api/v1/", transport=httpx.MockTransport(fake))
    with client:
        read = client.paginate_by_date("opportunity/", field="date_updated", end=datetime(2029, 1, 1, tzinfo=UTC))
        first = next(read)
        walk = read.gi_frame.f_locals["self"]  # the walk's state: its `seen` ids
        largest = 0
        got = [first]
        for record in read:
            got.append(record)
            largest = max(largest, len(walk.seen))
    ids = [r["id"] for r in got]
    assert len(ids) == len(set(ids)) == len(records)
    assert largest <= 3 * 1_000, largest  # about one window (cap + a page), never the 12,000 read
