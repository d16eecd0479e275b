"""Pure unit tests of the client's parts that need no server: header parsing, errors, pacing, window maths."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from closesync.close import CloseClient, errors
from closesync.close.cursors import moment_range_query
from closesync.close.pacing import Pacer
from closesync.close.paging import choose_cut, floor_to, plan_next_length
from closesync.close.ratelimit import RateLimitInfo, parse_ratelimit, throttle_wait
from closesync.close.stats import ClientStats
from closesync.close.timestamps import format_timestamp, parse_bound, parse_timestamp

# -- RateLimit header and 429 waits ----------------------------------------------------------------


def test_parse_ratelimit_current_header() -> None:
    info = parse_ratelimit({"RateLimit": "limit=100, remaining=7, reset=0.25"})
    assert info == RateLimitInfo(100, 7, 0.25)


def test_parse_ratelimit_is_case_insensitive_and_takes_tightest_policy() -> None:
    info = parse_ratelimit({"ratelimit": "limit=100, remaining=50, reset=5, limit=20, remaining=2, reset=1"})
    assert info == RateLimitInfo(20, 2, 1.0)


def test_parse_ratelimit_legacy_headers() -> None:
    info = parse_ratelimit({"X-Rate-Limit-Limit": "320", "X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": "0.59"})
    assert info == RateLimitInfo(320, 0, 0.59)


def test_parse_ratelimit_absent_or_garbage() -> None:
    assert parse_ratelimit({}) is None
    assert parse_ratelimit({"RateLimit": "nonsense"}) is None


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        ({"RateLimit": "limit=10, remaining=0, reset=3.5", "Retry-After": "9"}, None, 3.5),
        ({"Retry-After": "4", "RateLimit-Reset": "8"}, None, 4.0),
        ({"RateLimit-Reset": "8", "X-Rate-Limit-Reset": "2"}, None, 8.0),
        ({"X-Rate-Limit-Reset": "0.595956"}, {"rate_reset": 9}, 0.595956),
        ({}, {"message": "API call count exceeded", "rate_reset": "1.5"}, 1.5),
        ({}, {"error": {"rate_reset": 6, "message": "API call count exceeded"}}, 6.0),
        ({}, {"error": "too many"}, 2.0),
        ({}, "not json", 2.0),
    ],
)
def test_throttle_wait_priority(headers: dict[str, str], body: object, expected: float) -> None:
    assert throttle_wait(headers, body) == pytest.approx(expected)


def test_retry_after_http_date() -> None:
    when = datetime.now(UTC) + timedelta(seconds=30)
    wait = throttle_wait({"Retry-After": when.strftime("%a, %d %b %Y %H:%M:%S GMT")})
    assert 25 <= wait <= 31


# -- errors ----------------------------------------------------------------------------------------------


def test_error_bodies_both_formats() -> None:
    generic = errors.error_for_status(404, {"error": "Empty query: Lead matching query does not exist."})
    assert isinstance(generic, errors.NotFoundError)
    assert "Lead matching query does not exist" in str(generic)

    validation = errors.error_for_status(
        400, {"errors": ["Bad thing"], "field-errors": {"lead": "This field is required."}}, method="POST", path="x/"
    )
    assert isinstance(validation, errors.BadRequestError)
    assert validation.errors == ["Bad thing"]
    assert validation.field_errors == {"lead": "This field is required."}
    assert "lead: This field is required." in str(validation)
    assert str(validation).startswith("HTTP 400 POST x/")


def test_max_skip_and_max_limit_are_read_from_the_message() -> None:
    skip = errors.error_for_status(
        400,
        {"error": "The skip you set is larger than the maximum skip for this resource (max_skip = 250000). "
         "Please refine your search query."},
    )
    assert isinstance(skip, errors.BadRequestError)
    assert skip.max_skip == 250000
    limit = errors.error_for_status(
        400, {"error": "The limit you set is larger than the maximum limit for this resource (max_limit = 100)."}
    )
    assert limit.max_limit == 100 and limit.max_skip is None


@pytest.mark.parametrize(
    ("status", "cls"),
    [(401, errors.AuthenticationError), (403, errors.PermissionDeniedError), (429, errors.RateLimitError),
     (500, errors.ServerError), (503, errors.ServerError), (418, errors.CloseError)],
)
def test_status_mapping(status: int, cls: type[errors.CloseError]) -> None:
    error = errors.error_for_status(status, "")
    assert type(error) is cls and error.status == status and str(error)


def test_errors_pickle() -> None:
    import pickle

    error = errors.BadRequestError("bad", status=400, field_errors={"a": "b"})
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is errors.BadRequestError and str(again) == str(error) and again.field_errors == {"a": "b"}


# -- stats -----------------------------------------------------------------------------------------------


def test_stats_roll_up_to_parent() -> None:
    root = ClientStats()
    a, b = ClientStats(parent=root), ClientStats(parent=root)
    a.add("GET lead", requests=2, retries=1)
    b.add("GET activity/call", requests=3, throttled=1, throttle_wait_seconds=0.5)
    assert (a.requests, b.requests, root.requests) == (2, 3, 5)
    assert root.by_group["GET activity/call"].throttled == 1
    assert root.as_dict()["by_group"]["GET lead"]["retries"] == 1


# -- pacing ----------------------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _release_waiters(pacer: Pacer) -> None:
    with pacer._cond:
        pacer._cond.notify_all()


def test_pacer_spends_the_whole_budget_then_waits_for_reset() -> None:
    clock = FakeClock()
    pacer = Pacer(margin=0.0, clock=clock)
    _, ticket = pacer.acquire("g")
    pacer.release("g", RateLimitInfo(limit=3, remaining=2, reset=1.0), ticket)
    pacer.acquire("g")
    pacer.acquire("g")  # the third request of the window: all of the budget, none wasted
    done = threading.Event()
    thread = threading.Thread(target=lambda: (pacer.acquire("g"), done.set()), daemon=True)
    thread.start()
    assert not done.wait(0.2)  # out of budget, window not over
    clock.now += 1.0
    _release_waiters(pacer)
    assert done.wait(2)
    thread.join(1)


def test_pacer_trusts_the_server_when_it_counted_more_than_we_sent() -> None:
    clock = FakeClock()
    pacer = Pacer(margin=0.0, clock=clock)
    _, ticket = pacer.acquire("g")
    # Another process on the same key: the server counted 9 of 10 although we sent one.
    pacer.release("g", RateLimitInfo(limit=10, remaining=1, reset=5.0), ticket)
    assert pacer.snapshot()["g"]["used"] == 9
    pacer.acquire("g")
    assert pacer.snapshot()["g"]["used"] == 10


def test_pacer_new_window_counts_requests_sent_after_the_reading() -> None:
    clock = FakeClock()
    pacer = Pacer(margin=0.0, clock=clock)
    _, first = pacer.acquire("g")
    pacer.release("g", RateLimitInfo(limit=10, remaining=9, reset=0.5), first)
    tickets = [pacer.acquire("g")[1] for _ in range(3)]
    clock.now += 0.6  # the server's window rolled over; our next reading says so
    pacer.release("g", RateLimitInfo(limit=10, remaining=9, reset=1.0), tickets[0])
    assert pacer.snapshot()["g"]["used"] == 1 + 2  # counted + the two sent after it


def test_pacer_lockout_holds_every_request_of_the_group_only() -> None:
    clock = FakeClock()
    pacer = Pacer(margin=0.0, clock=clock)
    pacer.lockout("g", 2.0)
    assert pacer.acquire("other")[0] == 0  # other groups are not held
    done = threading.Event()
    thread = threading.Thread(target=lambda: (pacer.acquire("g"), done.set()), daemon=True)
    thread.start()
    assert not done.wait(0.2)
    clock.now += 2.0
    _release_waiters(pacer)
    assert done.wait(2)


# -- window maths ----------------------------------------------------------------------------------------


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_parse_timestamp_forms() -> None:
    assert parse_timestamp("2013-02-01T00:54:51.337000+00:00") == _t("2013-02-01T00:54:51.337000")
    assert parse_timestamp("2015-06-26T02:01:43.059265") == _t("2015-06-26T02:01:43.059265")
    assert parse_timestamp("2024-03-01T10:00:00+02:00") == _t("2024-03-01T08:00:00")
    assert parse_timestamp("2024-03-01T10:00:00Z") == _t("2024-03-01T10:00:00")
    assert parse_timestamp("2024-03-01") == _t("2024-03-01T00:00:00")
    assert parse_timestamp("2024-03-01T10:00:00z") == _t("2024-03-01T10:00:00")
    assert parse_timestamp("Fri, 08 Feb 2013 05:03:15 +0000") == _t("2013-02-08T05:03:15")
    assert parse_timestamp(1_700_000_000) == parse_timestamp(1_700_000_000_000) == _t("2023-11-14T22:13:20")
    assert parse_timestamp("garbage") is None and parse_timestamp(None) is None
    assert parse_timestamp(True) is None and parse_timestamp("  ") is None
    assert format_timestamp(_t("2024-03-01T10:00:00")) == "2024-03-01T10:00:00+00:00"
    assert format_timestamp(datetime(2024, 3, 1, 10)) == "2024-03-01T10:00:00+00:00"  # naive means UTC


def test_parse_bound_keeps_none_and_refuses_garbage() -> None:
    assert parse_bound(None) is None
    assert parse_bound("2024-03-01") == _t("2024-03-01T00:00:00")
    with pytest.raises(ValueError, match="not a timestamp"):
        parse_bound("soon")


def test_plan_next_length_grows_when_sparse_and_shrinks_when_dense() -> None:
    day = timedelta(days=1)
    assert plan_next_length(day, 0, 100) == 16 * day
    assert plan_next_length(day, 10, 100) == 10 * day
    assert plan_next_length(day, 400, 100) == day / 4
    assert plan_next_length(day, 100_000, 100) == day / 16
    assert plan_next_length(timedelta(seconds=2), 10_000, 100) == timedelta(seconds=1)  # never below 1 s


def test_choose_cut_prefers_whole_seconds() -> None:
    dates = [_t("2024-01-01T00:00:05.5"), _t("2024-01-01T00:00:09"), _t("2024-01-01T00:00:07")]
    cut, above = choose_cut(dates, _t("2024-01-02T00:00:00"))
    assert cut == _t("2024-01-01T00:00:06") and above == 2


def test_choose_cut_goes_finer_when_one_second_is_crowded() -> None:
    dates = [_t("2024-01-01T00:00:05.100"), _t("2024-01-01T00:00:05.200"), _t("2024-01-01T00:00:05.300")]
    cut, above = choose_cut(dates, _t("2024-01-01T00:00:06"))
    assert cut == _t("2024-01-01T00:00:05.101") and above == 2
    assert choose_cut([_t("2024-01-01T00:00:05")] * 3, _t("2024-01-01T00:00:06")) is None
    assert choose_cut([], _t("2024-01-01T00:00:06")) is None


def test_floor_to() -> None:
    value = _t("2024-01-01T00:00:05.123456")
    assert floor_to(value, timedelta(seconds=1)) == _t("2024-01-01T00:00:05")
    assert floor_to(value, timedelta(milliseconds=1)) == _t("2024-01-01T00:00:05.123")


def test_moment_range_query_shape() -> None:
    query = moment_range_query("lead", "date_updated", _t("2024-01-01T00:00:00"), None)
    assert query["queries"][0] == {"type": "object_type", "object_type": "lead"}
    condition = query["queries"][1]["condition"]
    assert condition == {"type": "moment_range", "on_or_after": {"type": "fixed_utc", "value": "2024-01-01T00:00:00+00:00"}}
    assert len(moment_range_query("lead", "date_updated", None, None)["queries"]) == 1


# -- scoped children ---------------------------------------------------------------------------------------


def test_scoped_children_share_settings_and_caps_but_count_their_own_stats() -> None:
    client = CloseClient("key", "http://close.invalid/api/v1", prefetch=5, skip_cap=1000, pace=False)
    child = client.scoped()
    grandchild = child.scoped()
    assert (grandchild.base_url, grandchild.prefetch) == ("http://close.invalid/api/v1/", 5)
    assert grandchild.skip_cap("activity/call/") == 1000
    grandchild.learn_skip_cap("activity/call/", 250)
    assert client.skip_cap("activity/call/?_skip=0") == 250  # learned once, known to all
    grandchild.stats.add("GET activity/call", requests=1)
    assert (client.stats.requests, child.stats.requests, grandchild.stats.requests) == (1, 1, 1)
    assert client.scoped().stats.requests == 0
    child.close()  # a child leaves the shared connections to the root client
    assert not client._shared.http.is_closed
    client.close()
    assert client._shared.http.is_closed


# -- pages, bodies and paths ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "options", "words"),
    [
        ([1, 2], {}, "a list instead of an object"),
        ({"data": "notalist", "has_more": True}, {}, "`data` is a string"),
        ({"has_more": False}, {}, "`data` is null"),
        ({"data": [1, "x", None]}, {}, "3 of its 3 records are not objects"),
        ({"data": [], "has_more": True}, {}, "`has_more` is true on an empty page"),
        ({"data": [], "cursor": "c2"}, {"cursor_key": "cursor"}, "empty page carries a `cursor`"),
        ({"data": [{"id": "a"}], "cursor": "c1"}, {"cursor_key": "cursor", "sent": "c1"}, "does not advance"),
        ({"data": [{"id": "a"}], "cursor_next": 5}, {"cursor_key": "cursor_next"}, "is a number"),
    ],
)
def test_contradictory_pages_are_protocol_errors(body: object, options: dict, words: str) -> None:
    from closesync.close.pages import checked_page

    with pytest.raises(errors.ProtocolError) as info:
        checked_page(body, "lead/", **options)
    assert words in str(info.value) and str(info.value).startswith("lead/: Close returned an unexpected answer")


def test_consistent_pages_pass() -> None:
    from closesync.close.pages import checked_page

    last = {"data": [], "has_more": False}
    assert checked_page(last, "lead/") is last
    assert checked_page({"data": [{"id": "a"}], "cursor": "c2"}, "data/search/", cursor_key="cursor", sent="c1")
    assert checked_page({"data": [], "cursor_next": None}, "event/", cursor_key="cursor_next", sent="c1")


def test_bodies_nested_too_deeply_are_protocol_errors_and_cut_ones_unreadable() -> None:
    from closesync.close.pages import UnreadableBody, decode

    with pytest.raises(errors.ProtocolError, match="nested too deeply"):
        decode(b"[" * 200_000)
    with pytest.raises(errors.ProtocolError, match="nested too deeply"):
        decode(b"[" * 100_000 + b"]" * 100_000)
    for cut in (b'{"data": [', b"\xff\xfe", b"<html>"):
        with pytest.raises(UnreadableBody):
            decode(cut)
    assert decode(b'{"a": [1]}') == {"a": [1]}


def test_bodies_orjson_refuses_decode_as_the_standard_library_does() -> None:
    """decode is orjson for speed; what orjson refuses but Python reads must still read the same."""
    import json
    import math

    from closesync.close.pages import decode

    for body in (b'\xef\xbb\xbf{"a": 1}', '{"a": "é"}'.encode("utf-16"), b'{"a": "\\ud800"}'):
        assert decode(body) == json.loads(body)
    assert math.isnan(decode(b'{"a": NaN}')["a"])
    assert decode(b'{"when": "2024-01-02T03:04:05.123456+00:00", "n": -12.5, "i": 9007199254740993}') == {
        "when": "2024-01-02T03:04:05.123456+00:00", "n": -12.5, "i": 9007199254740993}


def test_paths_are_plain_segments() -> None:
    from closesync.close.paths import check_path

    for good in ("me/", "/me/", "organization/orga_abc123/", "activity/status_change/lead/", "custom_field/lead/"):
        assert check_path(good) == good
    for bad in ("organization/../me/", "./me/", "lead/%2e%2e/", "lead/?x=1", "http://x/api/", "//evil/me/", ""):
        with pytest.raises(errors.InvalidIdError):
            check_path(bad)


def test_invalid_id_is_bad_input_for_callers_that_catch_value_errors() -> None:
    assert issubclass(errors.InvalidIdError, ValueError) and issubclass(errors.InvalidIdError, errors.CloseError)
    with pytest.raises(ValueError, match="Invalid base URL"):
        CloseClient("api_x", "http://[::1")
