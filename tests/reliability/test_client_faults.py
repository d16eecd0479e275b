"""The client under faults: error bodies cut short are retried, one answer's size is capped, timeouts and the
total retry time are configurable, and errors name the HTTP status once and say when the budget ran out."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from closesync.cli import cli
from closesync.close import CloseClient, errors
from closesync.sandbox import Sandbox


def client_for(sb: Sandbox, **kw: object) -> CloseClient:
    options: dict[str, object] = {"backoff_base": 0.01, "backoff_max": 0.05, "timeout": 5.0}
    options.update(kw)
    return CloseClient(sb.api_key, sb.base_url, **options)  # type: ignore[arg-type]


def test_a_skip_cap_400_cut_short_is_retried_and_the_read_completes(make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(leads=50, skip_cap=100)
    expected = sorted(r["id"] for r in sb.data.records("activity/call"))
    assert len(expected) > 200
    sb.add_fault("cuterror", path="activity/call/", count=1)
    with client_for(sb) as client:
        got = [r["id"] for r in client.paginate_by_date("activity/call/")]
        assert client.stats.retries == 1
    assert sorted(got) == expected and len(got) == len(set(got))
    assert sb.stats()["faults"] == {"cuterror": 1}


def test_an_error_body_unreadable_every_time_gives_up_with_the_status(make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(leads=5)
    sb.add_fault("cuterror", path="lead/", count=10)
    with client_for(sb, max_retries=2) as client, pytest.raises(errors.NotFoundError) as info:
        client.get("lead/lead_doesNotExist0000000000000/")
    text = str(info.value)
    assert text.count("HTTP 404") == 1 and "gave up after 2 retries over" in text, text
    assert client.stats.retries == 2


def test_an_html_error_page_is_not_retried(make_sandbox: Callable[..., Sandbox]) -> None:
    """Only a body that claims JSON but cannot be read is damage in transit; a wrong server's page is final."""
    import httpx

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, text="<html>Not here</html>", headers={"Content-Type": "text/html"})

    client = CloseClient("api_x", "http://close.invalid/api/v1/", transport=httpx.MockTransport(handler))
    with client, pytest.raises(errors.NotFoundError) as info:
        client.get("me/")
    assert client.stats.retries == 0 and "Not here" in str(info.value)


@pytest.mark.parametrize("kind", ["503", "500"])
def test_errors_name_the_status_once_and_say_the_budget_ran_out(
    make_sandbox: Callable[..., Sandbox], kind: str
) -> None:
    sb = make_sandbox(leads=5)
    sb.add_fault(kind, path="user/", count=10)
    with client_for(sb, max_retries=2) as client, pytest.raises(errors.ServerError) as info:
        client.get("user/")
    text = str(info.value)
    assert text.count(f"HTTP {kind}") == 1, text
    assert re.search(r"gave up after 2 retries over \d+(\.\d+)? s", text), text
    assert info.value.detail.startswith("GET /user/") or info.value.detail.startswith("GET user/")
    assert f"HTTP {kind}" not in info.value.detail


def test_an_unreadable_ok_body_is_not_called_a_server_error(make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(leads=5)
    sb.add_fault("badjson", path="user/", count=10)
    with client_for(sb, max_retries=1) as client, pytest.raises(errors.ProtocolError) as info:
        client.get("user/")
    text = str(info.value)
    assert not isinstance(info.value, errors.ServerError)
    assert "server error" not in text.lower() and "gave up after 1 retry over" in text, text


def test_one_answer_is_capped_in_size(make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(leads=5)
    sb.add_fault("huge", path="user/", count=1, size_mb=3)
    with client_for(sb, max_response_mb=1) as client:
        with pytest.raises(errors.ResponseTooLargeError) as info:
            client.get("user/")
        assert "1 MB" in str(info.value) and "user/" in str(info.value)
        assert client.stats.retries == 0
        sb.add_fault("huge", path="user/", count=1, size_mb=0.5)
        assert client.get("user/")["data"] == []  # under the cap: read as usual
    assert client_for(sb).max_response_bytes == 64 * 1024 * 1024


def test_the_timeout_and_the_total_retry_time_are_configurable(make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(leads=5)
    sb.add_fault("slow", path="user/", count=1, delay=1.0)
    with client_for(sb, timeout=0.2) as client:
        assert client.get("user/")["data"]  # timed out once, then retried
        assert client.stats.retries == 1
    sb.add_fault("503", path="lead/", count=1000)
    started = time.monotonic()
    budget = client_for(sb, max_retries=1000, backoff_base=0.05, backoff_max=0.1, max_retry_time=0.5)
    with budget as client, pytest.raises(errors.ServerError) as info:
        client.get("lead/")
    assert time.monotonic() - started < 3
    assert "gave up after" in str(info.value) and "over 0." in str(info.value)


def test_sync_takes_a_timeout(make_sandbox: Callable[..., Sandbox], home: Path, tmp_path: Path) -> None:
    sb = make_sandbox(leads=5)
    sb.add_fault("slow", path="user/", count=100, delay=2.0)
    started = time.monotonic()
    result = CliRunner().invoke(cli, ["--home", str(home), "sync", "users", "--timeout", "0.2", "--api-key",
                                      sb.api_key, "--base-url", sb.base_url, "--db", str(tmp_path / "c.duckdb")])
    assert result.exit_code == 1 and "ReadTimeout" in result.output, result.output
    assert time.monotonic() - started < 60
    bad = CliRunner().invoke(cli, ["--home", str(home), "sync", "users", "--timeout", "0", "--api-key", "k"])
    assert bad.exit_code == 2 and "--timeout" in bad.output


def test_sync_takes_a_total_retry_time(make_sandbox: Callable[..., Sandbox], home: Path, tmp_path: Path) -> None:
    """`--max-retry-time`: a server that keeps failing is given up on after that long in all, not ten minutes."""
    sb = make_sandbox(leads=5)
    sb.add_fault("503", path="user/", count=10_000)
    started = time.monotonic()
    result = CliRunner().invoke(cli, ["--home", str(home), "sync", "users", "--max-retry-time", "1",
                                      "--api-key", sb.api_key, "--base-url", sb.base_url,
                                      "--db", str(tmp_path / "c.duckdb")])
    assert result.exit_code == 1 and "gave up after" in result.output, result.output
    assert time.monotonic() - started < 30
    bad = CliRunner().invoke(cli, ["--home", str(home), "sync", "users", "--max-retry-time", "-1", "--api-key", "k"])
    assert bad.exit_code == 2 and "--max-retry-time" in bad.output


def test_datasets_take_client_options(make_sandbox: Callable[..., Sandbox], home: Path) -> None:
    from closesync.datacenter.service import DataCenter

    sb = make_sandbox(leads=5)
    center = DataCenter(home, client_options={"timeout": 0.2, "max_retries": 0})
    sb.add_fault("slow", path="me/", count=1, delay=1.0)
    with pytest.raises(Exception, match="ReadTimeout"):
        center.add_account("acme", api_key=sb.api_key, base_url=sb.base_url)


def test_a_failed_run_names_the_status_once(
    make_sandbox: Callable[..., Sandbox], home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from closesync.close.retry import RetryPolicy

    monkeypatch.setattr(RetryPolicy, "backoff", lambda self, attempt: 0.01)
    sb = make_sandbox(leads=5)

    def run(*args: str) -> str:
        return CliRunner().invoke(cli, ["--home", str(home), *args], terminal_width=400).output

    run("accounts", "add", "acme", "--api-key", sb.api_key, "--base-url", sb.base_url)
    run("datasets", "create", "u", "--account", "acme", "--report", "Users")
    sb.add_fault("503", path="user/", count=1000)
    outputs = {
        "sync": run("sync", "users", "--api-key", sb.api_key, "--base-url", sb.base_url),
        "run": run("datasets", "run", "u"),
        "history": run("datasets", "history", "u"),
    }
    for name, output in outputs.items():
        assert output.count("HTTP 503") == 1, (name, output)
        assert "gave up after 5 retries" in " ".join(output.split()), (name, output)
