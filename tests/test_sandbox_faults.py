"""Rate limits, scripted faults and the stats endpoint, observed over real HTTP."""

from __future__ import annotations

import json
import socket
import sys
import time
from collections.abc import Callable

import httpx
import pytest

from closesync.sandbox import Sandbox, parse_spec
from fixtures_sandbox import sandbox_client


def test_ratelimit_header_and_429(make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(rate_limit=(3, 30.0))
    c = sandbox_client(sb)
    remaining = []
    for _ in range(3):
        r = c.get("activity/call/")
        assert r.status_code == 200
        fields = dict(part.strip().split("=") for part in r.headers["RateLimit"].split(","))
        assert fields["limit"] == "3" and 0 < float(fields["reset"]) <= 30
        remaining.append(int(fields["remaining"]))
    assert remaining == [2, 1, 0]
    r = c.get("activity/call/")
    assert r.status_code == 429
    assert "remaining=0" in r.headers["RateLimit"] and int(r.headers["Retry-After"]) >= 1
    error = r.json()["error"]
    assert error["message"] == "API call count exceeded for this period" and error["rate_reset"] > 0
    # Other endpoint groups have their own budget.
    assert c.get("activity/email/").status_code == 200
    stats = sb.stats()
    assert stats["throttled"] == 1 and stats["early_retries"] == 0
    # Asking again while locked out is an early retry.
    assert c.get("activity/call/").status_code == 429
    assert sb.stats()["early_retries"] == 1 and sb.stats()["throttled"] == 2


def test_waiting_for_reset_is_not_an_early_retry(make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(rate_limit=(2, 1.0))
    c = sandbox_client(sb)
    r = next(r for r in (c.get("lead/") for _ in range(50)) if r.status_code == 429)
    reset = float(dict(p.strip().split("=") for p in r.headers["RateLimit"].split(","))["reset"])
    assert 0 < reset <= 1.0
    time.sleep(reset)  # exactly what the header asked for
    assert c.get("lead/").status_code == 200
    assert sb.stats()["early_retries"] == 0


def test_rate_limit_is_per_key(make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(rate_limit=(1, 30.0), extra_api_keys=("api_second",))
    assert sandbox_client(sb).get("lead/").status_code == 200
    assert sandbox_client(sb).get("lead/").status_code == 429
    other = httpx.Client(base_url=sb.base_url, auth=("api_second", ""))
    assert other.get("lead/").status_code == 200
    sb.rate_limit = None
    assert sandbox_client(sb).get("lead/").status_code == 200  # a new limit starts afresh
    assert "RateLimit" not in sandbox_client(sb).get("lead/").headers


def test_scripted_429_locks_out(sandbox: Sandbox) -> None:
    sandbox.add_fault("429", path="activity/note/", count=1, reset=1.5)
    c = sandbox_client(sandbox)
    assert c.get("activity/call/").status_code == 200
    r = c.get("activity/note/")
    assert r.status_code == 429 and r.headers["Retry-After"] == "2"
    reset = float(dict(p.strip().split("=") for p in r.headers["RateLimit"].split(","))["reset"])
    assert 0 < reset <= 1.5
    assert c.get("activity/note/").status_code == 429  # too early
    time.sleep(1.5)
    assert c.get("activity/note/").status_code == 200
    stats = sandbox.stats()
    assert stats["throttled"] == 2 and stats["early_retries"] == 1 and stats["faults"] == {"429": 1}


@pytest.mark.parametrize("status", [500, 502, 503, 504, 400, 401, 403, 404])
def test_server_errors(sandbox: Sandbox, status: int) -> None:
    sandbox.add_fault(str(status), count=2)
    c = sandbox_client(sandbox)
    assert [c.get("lead/").status_code for _ in range(3)] == [status, status, 200]
    assert sandbox.stats()["faults"] == {str(status): 2}


def test_slow_response(sandbox: Sandbox) -> None:
    sandbox.add_fault("slow", delay=0.3)
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(sandbox.base_url + "lead/", auth=(sandbox.api_key, ""), timeout=0.1)
    sandbox.add_fault("slow", delay=0.2)
    r = sandbox_client(sandbox).get("lead/")
    assert r.status_code == 200 and time.monotonic() - started >= 0.2


def test_cut_body(sandbox: Sandbox) -> None:
    sandbox.add_fault("cut", path="activity/email/")
    c = sandbox_client(sandbox)
    with pytest.raises(httpx.RemoteProtocolError):
        c.get("activity/email/")
    assert c.get("activity/email/").status_code == 200


def test_cut_body_at_socket_level(sandbox: Sandbox) -> None:
    """Content-Length promises more than arrives before the server closes."""
    sandbox.add_fault("cut")
    import base64

    auth = base64.b64encode(f"{sandbox.api_key}:".encode()).decode()
    with socket.create_connection(("127.0.0.1", sandbox.port), timeout=5) as s:
        s.sendall(f"GET /api/v1/lead/ HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {auth}\r\n\r\n".encode())
        raw = b""
        while chunk := s.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    assert 0 < len(body) < length


def test_dropped_connection(sandbox: Sandbox) -> None:
    sandbox.add_fault("drop", path="lead/")
    c = sandbox_client(sandbox)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        c.get("lead/")
    assert c.get("lead/").status_code == 200
    assert sandbox.stats()["faults"] == {"drop": 1}


def test_bad_json(sandbox: Sandbox) -> None:
    sandbox.add_fault("badjson")
    r = sandbox_client(sandbox).get("activity/call/")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    with pytest.raises(ValueError):
        r.json()


def test_random_faults_from_spec(make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(faults="500:0.5,502*1@user/")
    c = sandbox_client(sb)
    codes = [c.get("lead/").status_code for _ in range(40)]
    assert 500 in codes and 200 in codes
    assert c.get("user/").status_code == 502
    assert [f.kind for f in parse_spec("429*3@activity/call/,drop:0.01,cut")] == ["429", "drop", "cut"]
    with pytest.raises(ValueError):
        parse_spec("teapot:0.1")


def test_stats_endpoint_and_reset(sandbox: Sandbox) -> None:
    c = sandbox_client(sandbox)
    c.get("activity/call/")
    c.get("activity/call/")
    c.post("data/search/", json={"query": {"type": "object_type", "object_type": "lead"}})
    stats = httpx.get(sandbox.stats_url).json()
    assert stats["requests"]["total"] == 3
    assert stats["requests"]["by_group"] == {"GET activity/call": 2, "POST data/search": 1}
    assert stats == sandbox.stats()
    sandbox.reset_stats()
    assert sandbox.stats()["requests"]["total"] == 0


def test_latency_knob(make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(latency_ms=50)
    started = time.monotonic()
    sandbox_client(sb).get("status/lead/")
    assert time.monotonic() - started >= 0.05
    sb.latency_ms = 0


def test_control_endpoints(sandbox: Sandbox) -> None:
    base = f"http://127.0.0.1:{sandbox.port}/_sandbox/"
    assert httpx.post(base + "config", json={"skip_cap": 5, "rate_limit": [2, 10], "latency_ms": 0}).json() == {
        "skip_cap": 5, "rate_limit": [2, 10.0], "latency_ms": 0.0, "gzip": True, "event_filters": "documented",
        "undocumented_keys": True, "search_cursor_depth": None, "search_cursor_ttl": None,
        "search_selector_ceiling": None, "search_refused_selectors": [], "nested_custom": False}
    assert httpx.post(base + "config", json={"event_filters": "loose"}).status_code == 400
    assert sandbox.skip_cap == 5 and sandbox.rate_limit == (2, 10.0)
    httpx.post(base + "faults", json={"kind": "503", "path": "user/", "count": 1})
    c = sandbox_client(sandbox)
    assert c.get("user/").status_code == 503
    httpx.post(base + "faults", json={"kind": "502"})
    httpx.delete(base + "faults")
    assert c.get("lead/").status_code == 200
    httpx.post(base + "stats/reset")
    assert sandbox.stats()["requests"]["total"] == 0
    assert httpx.post(base + "faults", json={"kind": "teapot"}).status_code == 400
    assert httpx.get(base + "nothing").status_code == 404


def test_sandbox_in_a_child_process() -> None:
    from closesync.sandbox import SandboxProcess

    with SandboxProcess(leads=10, rate_limit=(50, 1.0)) as sb:
        c = sandbox_client(sb)  # type: ignore[arg-type]
        first = c.get("lead/", params={"_limit": 1})
        assert first.json()["data"][0] == sb.data.records("lead")[-1]
        assert "limit=50" in first.headers["RateLimit"]
        sb.add_fault("drop")
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            c.get("lead/")
        sb.skip_cap = 3
        assert c.get("lead/", params={"_skip": 4}).status_code == 400
        assert sb.stats()["faults"] == {"drop": 1}


def test_requests_in_flight_are_not_early_retries(make_sandbox: Callable[..., Sandbox]) -> None:
    """Only a request that arrives after its caller was told (429 written) counts as early."""
    import threading

    sb = make_sandbox(rate_limit=(1, 30.0), latency_ms=300)
    c = sandbox_client(sb)
    assert c.get("lead/").status_code == 200
    codes: list[int] = []
    threads = [threading.Thread(target=lambda: codes.append(sandbox_client(sb).get("lead/").status_code))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [429, 429]
    assert sb.stats()["early_retries"] == 0  # both were sent before either 429 came back
    assert c.get("lead/").status_code == 429
    assert sb.stats()["early_retries"] == 1 and sb.stats()["throttled"] == 3


# -- faults that alter one kind of answer only ------------------------------------------------------------


def test_badjson_truncates_ok_answers_only(sandbox: Sandbox) -> None:
    sandbox.add_fault("badjson", path="lead/")
    c = sandbox_client(sandbox)
    missing = c.get("lead/lead_doesNotExist0000000000000/")
    assert missing.status_code == 404 and missing.json()["error"]  # an error answer is left whole
    assert len(sandbox.app.faults.pending()) == 1
    r = c.get("lead/")
    assert r.status_code == 200
    with pytest.raises(ValueError):
        r.json()
    assert sandbox.app.faults.pending() == [] and sandbox.stats()["faults"] == {"badjson": 1}


def test_cuterror_truncates_error_answers_only(make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(skip_cap=10)
    sb.add_fault("cuterror", path="activity/call/")
    c = sandbox_client(sb)
    assert c.get("activity/call/").json()["data"]  # a 200 is not touched, the fault stays
    r = c.get("activity/call/", params={"_skip": 11})  # Close's max_skip 400, cut short
    assert r.status_code == 400 and r.headers["content-type"] == "application/json"
    assert r.content and b"max_skip" not in r.content
    with pytest.raises(ValueError):
        r.json()
    assert "max_skip" in c.get("activity/call/", params={"_skip": 11}).json()["error"]
    assert sb.stats()["faults"] == {"cuterror": 1}


@pytest.mark.parametrize(
    ("kind", "path", "check"),
    [
        ("notalist", "user/", lambda page: page["data"] == "notalist" and page["has_more"] is True),
        ("nonobjects", "user/", lambda page: page["data"] == [1, "x", None]),
        ("emptymore", "user/", lambda page: page["data"] == [] and page["has_more"] is True),
        ("notobject", "me/", lambda body: body == [1, 2, 3]),
    ],
)
def test_contradictory_answers(sandbox: Sandbox, kind: str, path: str, check: Callable[[object], bool]) -> None:
    sandbox.add_fault(kind, path=path)
    c = sandbox_client(sandbox)
    r = c.get(path)
    assert r.status_code == 200 and check(r.json())
    assert c.get(path).status_code == 200 and check(c.get(path).json()) is False


def test_emptymore_on_a_cursor_page_keeps_a_cursor(sandbox: Sandbox) -> None:
    sandbox.add_fault("emptymore", path="data/search/")
    body = {"query": {"type": "object_type", "object_type": "lead"}, "_limit": 200}
    page = sandbox_client(sandbox).post("data/search/", json=body).json()
    assert page["data"] == [] and page["cursor"]


def test_stuckcursor_repeats_the_cursor_it_was_sent(sandbox: Sandbox) -> None:
    sandbox.add_fault("stuckcursor", path="data/search/")
    c = sandbox_client(sandbox)
    body = {"query": {"type": "object_type", "object_type": "lead"}, "_limit": 5}
    first = c.post("data/search/", json=body).json()  # no cursor sent: nothing to repeat, the fault waits
    assert first["cursor"] and len(sandbox.app.faults.pending()) == 1
    second = c.post("data/search/", json={**body, "cursor": first["cursor"]}).json()
    assert second["cursor"] == first["cursor"] and len(second["data"]) == 5
    assert sandbox.app.faults.pending() == []


def test_nested_answer(sandbox: Sandbox) -> None:
    sandbox.add_fault("nested", path="me/")
    r = sandbox_client(sandbox).get("me/")
    assert r.status_code == 200 and r.content == b"[" * 200_000


def test_huge_answer_is_generated_lazily(sandbox: Sandbox) -> None:
    from closesync.sandbox.faults import HugeBody

    sandbox.add_fault("huge", path="user/", size_mb=3)
    c = sandbox_client(sandbox)
    with c.stream("GET", "user/") as r:
        assert r.status_code == 200 and int(r.headers["content-length"]) == 3 * 1024 * 1024
        body = r.read()
    page = json.loads(body)
    assert page["data"] == [] and page["has_more"] is False and len(body) == 3 * 1024 * 1024
    huge = HugeBody(50 * 1024 * 1024)
    assert huge.seek(0, 2) == 50 * 1024 * 1024 and huge.seek(0) == 0
    assert huge.read(10) == b'{"data":[]' and sys.getsizeof(huge) < 10_000  # nothing held in memory
    assert [f.size_mb for f in parse_spec("huge=200*1@user/")] == [200.0]


def test_rotating_the_accepted_key(sandbox: Sandbox) -> None:
    base = f"http://127.0.0.1:{sandbox.port}/_sandbox/"
    old = sandbox.api_key
    config = httpx.post(base + "config", json={"api_key": "api_rotated_0123456789"}).json()
    assert "api_rotated" not in json.dumps(config)  # the config never shows a key
    assert sandbox_client(sandbox, key=old).get("me/").status_code == 401
    assert sandbox_client(sandbox, key="api_rotated_0123456789").get("me/").status_code == 200
    sandbox.rotate_api_key(old)
    assert sandbox.api_key == old and sandbox_client(sandbox).get("me/").status_code == 200


def test_a_child_process_sandbox_serves_the_big_account_knobs() -> None:
    """`closesync sandbox --shared-custom-fields --custom-fields N` (and SandboxProcess) serve what
    Sandbox(shared_custom_fields=..., generated_lead_fields=...) serves in process."""
    from closesync.sandbox import SandboxProcess

    with SandboxProcess(leads=5, shared_custom_fields=True, generated_lead_fields=30) as sb:
        c = sandbox_client(sb)  # type: ignore[arg-type]
        shared = c.get("custom_field/shared/").json()["data"]
        lead_fields = c.get("custom_field/lead/").json()["data"]
        assert shared and [f["id"] for f in shared] == [f["id"] for f in sb.data.records("custom_field/shared")]
        assert len(lead_fields) == len(sb.data.records("custom_field/lead")) >= 30
