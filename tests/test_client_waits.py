"""The client tells who watches it which rate-limit wait holds a request back right now (issue 13 §2).

Units over the pacer and the stats, then the real client against the sandbox: a 429 lockout and a spent
`RateLimit` budget are both seen, as they happen, on the root client's stats.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from closesync.close import ClientStats, CloseClient
from closesync.close.pacing import Pacer
from closesync.close.ratelimit import RateLimitInfo


def _recorder() -> tuple[list[tuple[float, str]], Any]:
    seen: list[tuple[float, str]] = []
    return seen, lambda seconds, reason: seen.append((seconds, reason))


def test_pacer_announces_a_lockout_and_a_spent_budget_before_it_waits() -> None:
    pacer = Pacer(margin=0.0)
    pacer.lockout("GET lead", 0.3)
    seen, on_wait = _recorder()
    waited, _ticket = pacer.acquire("GET lead", on_wait)
    assert seen and seen[0][1] == "429" and 0.2 < seen[0][0] <= 0.3 and waited >= 0.25

    pacer = Pacer(margin=0.0)
    _, ticket = pacer.acquire("GET lead")
    pacer.release("GET lead", RateLimitInfo(limit=1, remaining=0, reset=0.3), ticket)
    seen, on_wait = _recorder()
    pacer.acquire("GET lead", on_wait)
    assert seen and seen[0][1] == "pacing" and 0.2 < seen[0][0] <= 0.31

    seen, on_wait = _recorder()
    pacer.acquire("GET contact", on_wait)  # another group's budget is its own: no wait
    assert seen == []


def test_waits_show_on_every_ancestor_while_they_last() -> None:
    root = ClientStats()
    child, other = ClientStats(parent=root), ClientStats(parent=root)
    assert root.current_wait() is None
    with child.holding("GET activity/call") as announce:
        announce(12.0, "429")
        with other.holding("GET lead") as announce_other:
            announce_other(3.0, "pacing")
            assert root.current_wait().group == "GET activity/call"  # the one that ends last
            assert other.current_wait().group == "GET lead" and child.current_wait().seconds == 12.0
            assert root.current_wait(at_least=20.0) is None
        announce(11.8, "429")  # the same wait, woken early: it keeps its announced length
        wait = root.current_wait()
        assert wait is not None and wait.seconds == 12.0
        shown = wait.as_dict()
        assert shown["path"] == "activity/call" and shown["reason"] == "429" and shown["seconds"] == 12.0
        assert shown["until"].endswith("+00:00")
    assert root.current_wait() is None and child.current_wait() is None


def _watch(stats: ClientStats, stop: threading.Event) -> list[Any]:
    seen: list[Any] = []

    def loop() -> None:
        while not stop.is_set():
            wait = stats.current_wait()
            if wait is not None:
                seen.append(wait)
            time.sleep(0.02)

    threading.Thread(target=loop, daemon=True).start()
    return seen


def test_client_shows_a_429_wait_while_it_waits(make_sandbox: Any) -> None:
    sandbox = make_sandbox(leads=5)
    sandbox.add_fault("429", path="lead/", count=1, reset=1.0)
    stop = threading.Event()
    with CloseClient(sandbox.api_key, sandbox.base_url) as client:
        seen = _watch(client.stats, stop)
        client.scoped().get("lead/")  # a child's wait shows on the root
        stop.set()
        assert client.stats.current_wait() is None  # over once the request went through
    assert seen and {w.reason for w in seen} == {"429"} and seen[0].group == "GET lead"
    assert 0.9 <= seen[0].seconds <= 1.1


def test_client_shows_a_pacing_wait_on_a_spent_budget(make_sandbox: Any) -> None:
    sandbox = make_sandbox(leads=5, rate_limit=(2, 1.5))
    stop = threading.Event()
    with CloseClient(sandbox.api_key, sandbox.base_url) as client:
        seen = _watch(client.stats, stop)
        for _ in range(3):
            client.get("lead/")
        stop.set()
    assert seen and {w.reason for w in seen} == {"pacing"} and seen[0].group == "GET lead"
    assert client.stats.throttled == 0  # paced, never refused


def test_client_without_pacing_shows_its_429_sleep(make_sandbox: Any) -> None:
    sandbox = make_sandbox(leads=5)
    sandbox.add_fault("429", path="lead/", count=1, reset=1.0)
    stop = threading.Event()
    with CloseClient(sandbox.api_key, sandbox.base_url, pace=False) as client:
        seen = _watch(client.stats, stop)
        client.get("lead/")
        stop.set()
    assert seen and seen[0].reason == "429"
