"""The process-wide budget per API key (`close/budget.py`): one Pacer per key, keys of one organization
within the organization's limit, and no key in any name the registry keeps or shows."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from closesync.close.budget import ORGANIZATION_FACTOR, BudgetRegistry, key_digest, shared_pacer
from closesync.close.client import CloseClient
from closesync.close.pacing import Pacer
from closesync.close.ratelimit import RateLimitInfo


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_one_pacer_per_key_and_server_named_by_a_digest() -> None:
    registry = BudgetRegistry()
    key = "api_secret_key_123"
    pacer = registry.pacer(key, "http://a/api/v1/")
    assert registry.pacer(key, "http://a/api/v1/") is pacer
    assert registry.pacer(key, "http://b/api/v1/") is not pacer
    assert registry.pacer("api_other", "http://a/api/v1/") is not pacer
    digest = key_digest(key, "http://a/api/v1/")
    assert key not in digest and len(digest) == 16
    assert key not in repr(registry) and key not in repr(registry._keys) and key not in repr(pacer)
    assert shared_pacer(key, "http://c/api/v1/") is shared_pacer(key, "http://c/api/v1/")


def test_keys_of_one_organization_stay_within_its_limit() -> None:
    clock = FakeClock()
    organization = Pacer(margin=0.0, clock=clock)
    keys = [Pacer(margin=0.0, clock=clock) for _ in range(4)]
    for pacer in keys:
        pacer.join(organization, ORGANIZATION_FACTOR)
    for pacer in keys:  # each key: limit 2 per window, one spent
        _, ticket = pacer.acquire("g")
        pacer.release("g", RateLimitInfo(limit=2, remaining=1, reset=1.0), ticket)
    assert organization.snapshot()["g"] == {"limit": 6, "used": 4, "in_flight": 0}
    keys[0].acquire("g")
    keys[1].acquire("g")  # six in this window: the organization's budget (3 x 2) is spent
    done = threading.Event()
    thread = threading.Thread(target=lambda: (keys[2].acquire("g"), done.set()), daemon=True)
    thread.start()
    assert not done.wait(0.3)  # key 2 has budget left, its organization has not
    clock.now += 1.0
    with organization._cond:
        organization._cond.notify_all()
    assert done.wait(2)
    thread.join(1)


def test_clients_sharing_a_pacer_make_no_429_where_separate_ones_do(make_sandbox: Any) -> None:
    sb = make_sandbox(leads=40, rate_limit=(6, 0.5))

    def read_in_parallel(pacers: list[Pacer | None]) -> int:
        sb.reset_stats()
        clients = [CloseClient(sb.api_key, sb.base_url, pacer=p, max_retries=0) for p in pacers]
        with ThreadPoolExecutor(len(clients)) as pool:
            counts = list(pool.map(lambda c: sum(1 for _ in c.paginate("activity/call/", page_size=25)), clients))
        for client in clients:
            client.close()
        assert len(set(counts)) == 1 and counts[0] == sb.data.count("activity/call")
        return int(sb.stats()["throttled"])

    shared = BudgetRegistry().pacer(sb.api_key, sb.base_url)
    assert read_in_parallel([shared] * 4) == 0
    assert read_in_parallel([None] * 4) > 0  # each client alone: they overspend the key's budget blind


def test_a_late_answer_of_the_current_window_does_not_pass_for_a_new_one() -> None:
    """Under load answers come back unevenly late (four runs share the key): a reading of the current window
    that arrives 0.15 s late must not restart the budget, or the sixth request of a 5-per-window key goes."""
    clock = FakeClock()
    pacer = Pacer(margin=0.0, clock=clock)
    _, first = pacer.acquire("g")
    pacer.release("g", RateLimitInfo(limit=5, remaining=4, reset=0.5), first)  # window ends at 100.5
    tickets = [pacer.acquire("g")[1] for _ in range(4)]  # the window's five requests
    clock.now += 0.2
    # the first of them to reach the server (sent second) answers late: its window seems to end at 100.65
    pacer.release("g", RateLimitInfo(limit=5, remaining=4, reset=0.45), tickets[1])
    assert pacer.snapshot()["g"]["used"] == 5
    done = threading.Event()
    thread = threading.Thread(target=lambda: (pacer.acquire("g"), done.set()), daemon=True)
    thread.start()
    assert not done.wait(0.2)
    clock.now += 0.5
    with pacer._cond:
        pacer._cond.notify_all()
    assert done.wait(2)
    thread.join(1)
