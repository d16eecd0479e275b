"""CloseClient against the sandbox over real HTTP: auth, errors, faults, skip cap, 429s, pacing, parallel groups."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from closesync.close import CloseClient, errors
from closesync.close.timestamps import parse_timestamp
from closesync.sandbox import Sandbox

SECRET = "api_client_test_SECRET_0123456789"


def client_for(sb: Sandbox, **kw: object) -> CloseClient:
    options: dict[str, object] = {"backoff_base": 0.01, "backoff_max": 0.05, "timeout": 5.0}
    options.update(kw)
    return CloseClient(sb.api_key, sb.base_url, **options)  # type: ignore[arg-type]


def ids(records: list[dict]) -> list[str]:
    return [r["id"] for r in records]


def assert_exactly_once(got: list[dict], expected: list[dict]) -> None:
    counts = Counter(ids(got))
    assert [i for i, n in counts.items() if n > 1] == []
    assert set(counts) == set(ids(expected))


# -- auth, errors and secrecy ------------------------------------------------------------------------


def test_get_me_and_list(sandbox: Sandbox) -> None:
    with client_for(sandbox) as client:
        me = client.get("me/")
        assert me["id"].startswith("user_")
        users = list(client.paginate("user/"))
        assert_exactly_once(users, sandbox.data.records("user"))
        assert client.stats.requests >= 2 and client.stats.by_group["GET me"].requests == 1


def test_wrong_key_is_a_clear_error_without_the_key(
    make_sandbox: Callable[..., Sandbox], caplog: pytest.LogCaptureFixture
) -> None:
    sb = make_sandbox(api_key="api_the_right_one")
    caplog.set_level(logging.DEBUG)
    client = CloseClient(SECRET, sb.base_url, backoff_base=0.01)
    with client, pytest.raises(errors.AuthenticationError) as info:
        client.get("me/")
    error = info.value
    assert error.status == 401
    assert "401" in str(error) and "me/" in str(error)
    assert "authorized" in error.message or "API key" in error.message
    for text in (str(error), repr(error), repr(client), str(error.body), caplog.text):
        assert SECRET not in text
    assert "api_client_test" not in repr(client)


def test_typed_errors_for_404_and_400(sandbox: Sandbox) -> None:
    with client_for(sandbox) as client:
        with pytest.raises(errors.NotFoundError) as missing:
            client.get("lead/lead_doesNotExist0000000000000/")
        assert missing.value.status == 404 and missing.value.message
        with pytest.raises(errors.BadRequestError) as bad:
            client.get("activity/call/", {"_limit": "x"})
        assert "_limit" in str(bad.value)
        with pytest.raises(errors.BadRequestError) as invalid:
            client.post("data/search/", {"no": "query"})
        assert invalid.value.field_errors or invalid.value.errors
        assert client.stats.retries == 0  # 4xx are never retried


def test_errors_never_carry_the_key_on_transport_failure(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client = CloseClient(SECRET, "http://127.0.0.1:9/api/v1/", max_retries=1, backoff_base=0.01, timeout=1)
    with client, pytest.raises(errors.ConnectionFailedError) as info:
        client.get("me/")
    assert SECRET not in str(info.value) and SECRET not in caplog.text
    assert "gave up after 1 retry over" in str(info.value)


# -- faults: recover, or fail clearly; never a record twice or missing ----------------------------------


@pytest.mark.parametrize("kind", ["429", "500", "502", "503", "504", "slow", "cut", "drop", "badjson"])
def test_each_fault_kind_is_survived_without_losing_or_repeating_records(
    make_sandbox: Callable[..., Sandbox], kind: str
) -> None:
    sb = make_sandbox(leads=20, skip_cap=100)
    expected = sb.data.records("activity/call")
    assert len(expected) > 100  # several pages
    # Two faults in the middle of the read (after the first page) and one on the first request.
    sb.add_fault(kind, path="activity/call/", count=1, delay=1.0, reset=0.2)
    with client_for(sb, timeout=0.5) as client:
        pages = client.paginate_by_date("activity/call/", page_size=10)
        got = [next(pages)]
        sb.add_fault(kind, path="activity/call/", count=2, delay=1.0, reset=0.2)
        got.extend(pages)
    assert_exactly_once(got, expected)
    assert len(got) == len(expected)
    stats = sb.stats()
    assert stats["early_retries"] == 0
    if kind == "429":
        assert client.stats.throttled == 3 and client.stats.retries == 0
    else:
        assert client.stats.retries == 3


@pytest.mark.parametrize(
    ("kind", "error"),
    [("500", errors.ServerError), ("503", errors.ServerError), ("badjson", errors.ProtocolError),
     ("drop", errors.ConnectionFailedError), ("cut", errors.ConnectionFailedError)],
)
def test_persistent_faults_fail_with_a_clear_error(
    make_sandbox: Callable[..., Sandbox], kind: str, error: type[errors.CloseError]
) -> None:
    sb = make_sandbox(leads=5)
    sb.add_fault(kind, path="user/", count=10)
    with client_for(sb, max_retries=2) as client, pytest.raises(error) as info:
        client.get("user/")
    text = str(info.value)
    assert "gave up after 2 retries over" in text and "user/" in text
    assert sb.api_key not in text
    assert client.stats.retries == 2


def test_rate_limit_beyond_budget_raises(make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(leads=5)
    sb.add_fault("429", path="user/", count=5, reset=0.05)
    with client_for(sb, max_throttle_retries=2) as client, pytest.raises(errors.RateLimitError) as info:
        client.get("user/")
    assert info.value.status == 429
    assert sb.stats()["early_retries"] == 0


# -- skip cap ---------------------------------------------------------------------------------------------


def test_300_records_with_skip_cap_100_each_exactly_once(make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(leads=50, skip_cap=100)
    expected = sb.data.records("activity/call")
    assert len(expected) >= 300
    with client_for(sb) as client:
        got = list(client.paginate_by_date("activity/call/"))
        assert client.skip_cap("activity/call/") == 100  # learned from Close's 400
        # A second read knows the cap and never asks past it.
        sb.reset_stats()
        again = list(client.paginate_by_date("activity/call/"))
    assert_exactly_once(got, expected)
    assert len(got) == len(expected)
    assert sorted(ids(again)) == sorted(ids(expected))
    assert sb.stats()["requests"]["by_status"].get("400", sb.stats()["requests"]["by_status"].get(400, 0)) == 0


def test_plain_paginate_past_the_cap_is_a_bad_request(make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(leads=50, skip_cap=100)
    with client_for(sb) as client, pytest.raises(errors.BadRequestError) as info:
        list(client.paginate("activity/call/"))
    assert info.value.max_skip == 100


def test_date_window_bounds_and_date_updated(make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(leads=50, skip_cap=100)
    start, end = datetime(2022, 1, 1, tzinfo=UTC), datetime(2024, 6, 1, tzinfo=UTC)
    with client_for(sb) as client:
        calls = list(client.paginate_by_date("activity/call/", start=start, end=end))
        opps = list(client.paginate_by_date("opportunity/", field="date_updated", page_size=20))
    want = [r for r in sb.data.records("activity/call")
            if start <= parse_timestamp(r["date_created"]) < end]
    assert_exactly_once(calls, want)
    assert_exactly_once(opps, sb.data.records("opportunity"))


# -- search, events ----------------------------------------------------------------------------------------


def test_search_by_date_never_reaches_the_depth_cap(make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(leads=60, skip_cap=20)
    with client_for(sb) as client:
        leads = list(client.search_by_date("lead", field="date_updated", fields=["display_name"], page_size=15))
        assert client.skip_cap("data/search/") is None  # each page is a fresh keyset query
    assert "400" not in sb.stats()["requests"]["by_status"]
    assert_exactly_once(leads, sb.data.records("lead"))
    values = [parse_timestamp(r["date_updated"]) for r in leads]
    assert values == sorted(values)
    assert all("display_name" in r for r in leads)


def test_search_by_date_bounds(sandbox: Sandbox) -> None:
    start = datetime(2023, 1, 1, tzinfo=UTC)
    with client_for(sandbox) as client:
        got = list(client.search_by_date("contact", start=start))
    want = [r for r in sandbox.data.records("contact") if parse_timestamp(r["date_created"]) >= start]
    assert_exactly_once(got, want)


def test_search_cursor(sandbox: Sandbox) -> None:
    with client_for(sandbox) as client:
        got = list(client.search({"type": "object_type", "object_type": "lead"}, page_size=7))
    assert_exactly_once(got, sandbox.data.records("lead"))


def test_events_cursor(sandbox: Sandbox) -> None:
    with client_for(sandbox) as client:
        got = list(client.events())
    expected = sandbox.data.records("event")
    assert expected and len(got) == len(expected)
    assert_exactly_once(got, expected)


# -- 429s, pacing, parallel groups -------------------------------------------------------------------------


def test_429_lockout_is_honoured_by_every_thread_of_the_group(make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(leads=20)
    sb.add_fault("429", path="activity/note/", count=1, reset=0.5)
    with client_for(sb) as client:
        results: list[int] = []

        def read() -> None:
            child = client.scoped()
            for _ in range(3):
                results.append(len(child.get("activity/note/", {"_limit": 5})["data"]))

        first = threading.Thread(target=read)
        first.start()
        while sb.stats()["throttled"] == 0:  # the first caller has been served its 429
            threading.Event().wait(0.005)
        others = [threading.Thread(target=read) for _ in range(3)]
        for t in [*others]:
            t.start()
        for t in [first, *others]:
            t.join()
    assert len(results) == 12
    stats = sb.stats()
    assert stats["throttled"] == 1 and stats["early_retries"] == 0
    assert client.stats.throttled == 1 and client.stats.throttle_wait_seconds > 0


def test_pacing_keeps_429s_near_zero(make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(leads=30, rate_limit=(8, 0.5))
    with client_for(sb) as client:
        got = list(client.paginate_by_date("activity/email/", page_size=10))
        threads = [threading.Thread(target=lambda: client.scoped().get("user/")) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert_exactly_once(got, sb.data.records("activity/email"))
    stats = sb.stats()
    assert stats["early_retries"] == 0
    assert stats["throttled"] <= 1, stats
    assert client.stats.requests >= 20


def test_parallel_groups_on_scoped_children(make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(leads=30, rate_limit=(10, 0.5), skip_cap=100)
    paths = ["activity/call/", "activity/email/", "activity/note/", "activity/status_change/lead/"]
    with client_for(sb) as client:
        children = {p: client.scoped() for p in paths}
        out: dict[str, list[dict]] = {}

        def read(path: str) -> None:
            out[path] = list(children[path].paginate_by_date(path, page_size=25))

        threads = [threading.Thread(target=read, args=(p,)) for p in paths]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for p in paths:
            assert_exactly_once(out[p], sb.data.records(p.strip("/")))
            group = "GET " + p.strip("/")
            assert set(children[p].stats.by_group) == {group}
        assert client.stats.requests == sum(c.stats.requests for c in children.values())
    stats = sb.stats()
    assert stats["early_retries"] == 0 and stats["throttled"] <= 2
    assert stats["requests"]["total"] == client.stats.requests
