"""What the JSON API and the forms of `closesync serve` accept, over real HTTP: never a key from the
server's environment, never a new base URL without the key, and a 4xx with a message (never a bare 500)
for bad schedules, addresses, numbers and hostile JSON."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fixtures_web import LiveServer, page_token


class _Recorder(http.server.BaseHTTPRequestHandler):
    """An 'attacker' host: records every request it gets (and the Authorization it carried)."""

    seen: list[tuple[str, str | None]] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.seen.append((self.path, self.headers.get("Authorization")))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"id": "user_x", "email": "x@attacker", "organizations": []}')

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def attacker() -> Iterator[str]:
    _Recorder.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/v1/"
    server.shutdown()
    server.server_close()


@pytest.fixture
def api(web_home: Path) -> Iterator[httpx.Client]:
    """A client of a live Data Center (loopback, no password), with the session's CSRF token set."""
    with LiveServer(web_home, scheduler=False) as srv, httpx.Client(base_url=srv.url, timeout=20) as http:
        http.headers["X-CSRF-Token"] = http.get("/api/csrf").json()["csrf_token"]
        yield http


def _detail(response: httpx.Response) -> str:
    return str(response.json()["detail"])


def test_the_api_never_reads_a_key_from_the_servers_environment(
    api: httpx.Client, attacker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLOSE_API_KEY", "api_server-side-secret-key")
    for variable in ("CLOSE_API_KEY", "HOME"):
        body = {"name": f"stolen-{variable}", "api_key_env": variable, "base_url": attacker}
        refused = api.post("/api/accounts", json=body)
        assert refused.status_code == 422
        assert "api_key_env is not accepted" in _detail(refused)
        both = api.post("/api/accounts", json={**body, "api_key": "api_typed"})
        assert both.status_code == 422
    assert _Recorder.seen == []  # nothing was sent anywhere
    assert api.get("/api/accounts").json() == []
    assert "api_key_env" not in str(api.get("/openapi.json").json()["components"]["schemas"]["AccountIn"])


def test_the_web_form_has_no_environment_key_either(api: httpx.Client, attacker: str) -> None:
    token = page_token(api, "/accounts")
    form = {
        "csrf_token": token,
        "account_name": "stolen",
        "api_key_env": "CLOSE_API_KEY",
        "base_url": attacker,
    }
    response = api.post("/accounts", data=form)
    assert response.status_code == 422 and "Paste the API key" in response.text
    assert _Recorder.seen == []


def test_a_new_base_url_needs_the_key_again(api: httpx.Client, sandbox: Any, attacker: str) -> None:
    body = {"name": "Acme", "api_key": sandbox.api_key, "base_url": sandbox.base_url}
    account = api.post("/api/accounts", json=body)
    assert account.status_code == 201
    account_id = account.json()["id"]
    for change in ({"base_url": attacker}, {"name": "Acme", "base_url": attacker}, {"api_key_env": "HOME"}):
        refused = api.patch(f"/api/accounts/{account_id}", json=change)
        assert refused.status_code == 422, change
        assert "add the account again" in _detail(refused)
    assert api.post(f"/api/accounts/{account_id}/check").json()["ok"] is True
    assert _Recorder.seen == []  # the stored key never went to the other address
    assert api.get(f"/api/accounts/{account_id}").json()["base_url"] == sandbox.base_url


@pytest.mark.parametrize("spec", ["0 0 31 2 *", "0 0 30 2 *", "0 12 31 4,6 *", "every 99999999999999 days"])
def test_a_schedule_that_never_runs_is_a_422(api: httpx.Client, sandbox: Any, spec: str) -> None:
    check = api.get("/api/schedule", params={"spec": spec})
    assert check.status_code == 422 and "schedule" in _detail(check)
    account = api.post(
        "/api/accounts", json={"name": "Acme", "api_key": sandbox.api_key, "base_url": sandbox.base_url}
    )
    body = {"name": "x", "account": account.json()["id"], "report": "leads", "schedule": spec}
    created = api.post("/api/datasets", json=body)
    assert created.status_code == 422 and created.json()["field"] == "schedule"
    dataset = api.post("/api/datasets", json={**body, "schedule": "manual"}).json()
    edited = api.patch(f"/api/datasets/{dataset['id']}", json={"schedule": spec})
    assert edited.status_code == 422
    form = {
        "csrf_token": page_token(api, "/datasets/new"),
        "account": str(account.json()["id"]),
        "report": "leads",
        "name": "from the form",
        "schedule_kind": "cron",
        "cron": spec,
    }
    page = api.post("/datasets/new", data=form)
    assert page.status_code == 422
    assert "never runs" in page.text or "at most 366 days" in page.text


@pytest.mark.parametrize(
    "base_url", ["http://[::1", "http://[::1]:notaport/", "http://exa mple.com/", "http://:80/"]
)
def test_an_invalid_base_url_is_a_422(api: httpx.Client, base_url: str) -> None:
    response = api.post("/api/accounts", json={"name": "x", "api_key": "api_x", "base_url": base_url})
    assert response.status_code == 422
    assert response.json()["field"] == "base_url" and "not a valid web address" in _detail(response)
    token = page_token(api, "/accounts")
    page = api.post(
        "/accounts", data={"csrf_token": token, "account_name": "x", "api_key": "api_x", "base_url": base_url}
    )
    assert page.status_code == 422 and "not a valid web address" in page.text


def test_bad_numbers_are_4xx(api: httpx.Client, sandbox: Any) -> None:
    account = api.post(
        "/api/accounts", json={"name": "Acme", "api_key": sandbox.api_key, "base_url": sandbox.base_url}
    )
    base = {"name": "x", "account": account.json()["id"], "report": "leads"}
    for extra in ({"retry_delay": "99999999999999999999h"}, {"retry_delay": 1e300}, {"retries": 10**30}):
        response = api.post("/api/datasets", json={**base, **extra})
        assert response.status_code == 422, extra
    huge = 99999999999999999999999
    for path in (f"/api/accounts/{huge}", f"/api/datasets/{huge}", f"/api/runs/{huge}"):
        assert api.get(path).status_code == 422, path
    assert api.get(f"/datasets/{huge}").status_code == 404


def test_hostile_json_is_4xx(api: httpx.Client) -> None:
    json_type = {"Content-Type": "application/json"}
    nested = api.post("/api/accounts", content="[" * 200_000, headers=json_type)
    assert nested.status_code == 400
    deep_object = '{"name": ' + '{"a": ' * 50_000 + "1" + "}" * 50_000 + ', "api_key": "x"}'
    assert api.post("/api/accounts", content=deep_object, headers=json_type).status_code in (400, 422)
    for wrong in ([1, 2, 3], "text", 7, None, {"name": ["x"], "api_key": {"a": 1}}):
        response = api.post("/api/accounts", json=wrong)
        assert response.status_code == 422, wrong
    for wrong in ({"name": 7}, {"retries": "many"}, {"method": "drop table"}):
        assert api.post("/api/datasets", json=wrong).status_code == 422, wrong
    huge = api.post("/api/accounts", content=b'{"name": "' + b"x" * 5_000_000 + b'"}', headers=json_type)
    assert huge.status_code == 413 and huge.text
    chunked = api.post(
        "/api/accounts", content=iter([b'{"name": "', b"x" * 3_000_000, b'"}']), headers=json_type
    )
    assert chunked.status_code == 413
    assert api.get("/api/accounts").status_code == 200  # and the server is fine
