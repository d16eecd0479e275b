"""Each security rule of the web Data Center, aimed at directly: bind, login, CSRF, escaping, secrets."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.routing import APIRoute

from closesync.web.security import check_bind, is_loopback
from fixtures_web import csrf, make_client

STATIC = Path(__file__).parents[1] / "src" / "closesync" / "web"


# ---------------------------------------------------------------- binding


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.5", "localhost", "::1", "[::1]"])
def test_loopback_hosts_need_no_password(host: str) -> None:
    assert is_loopback(host)
    check_bind(host, None)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "example.com"])
def test_other_hosts_refuse_to_start_without_a_strong_enough_password(host: str) -> None:
    assert not is_loopback(host)
    with pytest.raises(ValueError, match="password"):
        check_bind(host, None)
    with pytest.raises(ValueError, match="at least 12"):
        check_bind(host, "a")
    with pytest.raises(ValueError, match="at least 12"):
        check_bind(host, "s3cret-11ch")
    check_bind(host, "s3cret-12chr")


def test_serve_command_refuses_public_bind_without_password(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from closesync.cli import cli

    monkeypatch.delenv("CLOSESYNC_PASSWORD", raising=False)
    result = CliRunner().invoke(cli, ["--home", str(tmp_path), "serve", "--host", "0.0.0.0", "--port", "1"])
    assert result.exit_code == 2
    assert "without a password" in result.output


def test_serve_takes_the_password_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from closesync.web.server import resolve_password

    monkeypatch.setenv("CLOSESYNC_PASSWORD", "from-env")
    assert resolve_password(None) == "from-env"
    assert resolve_password("given") == "given"
    monkeypatch.setenv("CLOSESYNC_PASSWORD", "")
    assert resolve_password(None) is None


def test_loopback_bind_pins_the_host_header(dc: Any) -> None:
    """A DNS-rebinding page (Host: evil.example) cannot talk to a loopback Data Center."""
    from closesync.web.security import loopback_hosts

    with make_client(dc, allowed_hosts=loopback_hosts(8080)) as client:
        assert client.get("/datasets", headers={"host": "evil.example"}).status_code == 400
        assert client.get("/datasets", headers={"host": "127.0.0.1:8080"}).status_code == 200


# ---------------------------------------------------------------- CSRF


def _unsafe_routes() -> list[tuple[str, str]]:
    """Every POST/PUT/PATCH/DELETE route of both routers (the app includes exactly these two)."""
    from closesync.web import api, pages

    out = []
    for route in [*pages.router.routes, *api.router.routes]:
        if isinstance(route, APIRoute):
            for method in route.methods - {"GET", "HEAD"}:
                out.append((method, re.sub(r"\{[^}]+\}", "1", route.path)))
    return sorted(out)


def test_every_state_changing_route_refuses_a_request_without_csrf(client: Any) -> None:
    routes = _unsafe_routes()
    assert ("POST", "/datasets/new") in routes and ("DELETE", "/api/datasets/1") in routes
    assert len(routes) >= 15
    client.get("/datasets")  # a session exists, so only the token is missing
    for method, path in routes:
        response = client.request(method, path, data={"name": "x"} if method == "POST" else None)
        assert response.status_code == 403, (method, path, response.status_code)
        response = client.request(method, path, headers={"X-CSRF-Token": "forged-token-" + "x" * 30})
        assert response.status_code == 403, (method, path)


def test_csrf_token_in_every_form(client: Any, account: Any, leads_dataset: Any) -> None:
    token = csrf(client)
    for page in (
        "/accounts",
        "/datasets/new",
        f"/datasets/{leads_dataset.id}",
        f"/datasets/{leads_dataset.id}/edit",
    ):
        html = client.get(page).text
        forms = re.findall(r"<form[^>]*method=\"post\".*?</form>", html, re.S)
        assert forms, page
        for form in forms:
            assert f'name="csrf_token" value="{token}"' in form, page


def test_form_with_the_token_is_accepted(client: Any, account: Any) -> None:
    response = client.post(f"/accounts/{account.id}/check", data={"csrf_token": csrf(client)})
    assert response.status_code == 303


def test_csrf_refusal_is_a_readable_page(client: Any) -> None:
    client.get("/accounts")
    response = client.post("/accounts", data={"account_name": "x", "api_key": "api_x"})
    assert response.status_code == 403
    assert "security token" in response.text


# ---------------------------------------------------------------- login


@pytest.fixture
def locked(dc: Any) -> Any:
    with make_client(dc, password="correct horse") as client:
        yield client


def test_password_mode_sends_pages_to_login_and_api_to_401(locked: Any) -> None:
    for page in ("/datasets", "/accounts", "/datasets/new", "/api"):
        response = locked.get(page)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")
    for path in ("/api/datasets", "/api/accounts", "/api/reports", "/openapi.json"):
        assert locked.get(path).status_code == 401
    assert locked.get("/login").status_code == 200
    assert locked.get("/static/app.css").status_code == 200


def test_wrong_password_is_refused(locked: Any) -> None:
    token = re.search(r'name="csrf_token" value="([^"]+)"', locked.get("/login").text).group(1)
    response = locked.post("/login", data={"csrf_token": token, "password": "wrong", "next": "/accounts"})
    assert response.status_code == 401
    assert "Wrong password" in response.text
    assert locked.get("/datasets").status_code == 303


def test_login_sets_an_httponly_samesite_cookie_and_opens_the_app(locked: Any) -> None:
    token = re.search(r'name="csrf_token" value="([^"]+)"', locked.get("/login").text).group(1)
    response = locked.post(
        "/login", data={"csrf_token": token, "password": "correct horse", "next": "/accounts"}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/accounts"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert locked.get("/datasets").status_code == 200
    assert locked.get("/api/datasets").status_code == 200
    # sign out ends it
    token = csrf(locked)
    assert locked.post("/logout", data={"csrf_token": token}).status_code == 303
    assert locked.get("/datasets").status_code == 303


def test_login_without_csrf_is_refused(locked: Any) -> None:
    locked.get("/login")
    assert locked.post("/login", data={"password": "correct horse"}).status_code == 403


def test_login_never_redirects_off_site(locked: Any) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        token = re.search(r'name="csrf_token" value="([^"]+)"', locked.get("/login").text).group(1)
        response = locked.post(
            "/login", data={"csrf_token": token, "password": "correct horse", "next": target}
        )
        assert response.headers["location"] == "/datasets"


def test_scripts_can_use_the_password_as_a_bearer_token(locked: Any) -> None:
    auth = {"Authorization": "Bearer correct horse"}
    assert locked.get("/api/datasets", headers=auth).status_code == 200
    # no CSRF needed with the header: browsers never send it on their own
    assert locked.post("/api/datasets/999/run", headers=auth).status_code == 404
    assert locked.get("/api/datasets", headers={"Authorization": "Bearer nope"}).status_code == 401


# ---------------------------------------------------------------- escaping, headers, no CDN


def test_crm_text_is_escaped_in_the_preview(client: Any, dc: Any, leads_dataset: Any) -> None:
    """The sandbox has a lead named `Evil <script>alert(1)</script> & Sons`: it shows as text."""
    run = dc.run_dataset(leads_dataset.id)
    assert run.status == "success", run.error
    html = client.get(f"/datasets/{leads_dataset.id}").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)" not in html
    data = client.get(f"/api/datasets/{leads_dataset.id}/preview").json()
    assert any("<script>alert(1)</script>" in str(v) for row in data["rows"] for v in row)


def test_user_text_is_escaped_in_lists_and_forms(client: Any, account: Any) -> None:
    evil = '"><script>alert(2)</script>'
    response = client.post(
        "/datasets/new",
        data={
            "csrf_token": csrf(client),
            "account": str(account.id),
            "report": "leads",
            "name": evil,
            "description": evil,
            "schedule_kind": "cron",
            "cron": evil,
        },
    )
    assert response.status_code == 422
    assert "<script>alert(2)" not in response.text
    assert "&lt;script&gt;alert(2)" in response.text


def test_security_headers(client: Any) -> None:
    response = client.get("/datasets")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"


def test_no_page_or_asset_reaches_the_internet(client: Any) -> None:
    """No CDN: every script, stylesheet and image comes from this app."""
    assert client.get("/docs").status_code == 404  # Swagger UI would pull a CDN
    assert client.get("/redoc").status_code == 404
    for page in ("/datasets", "/accounts", "/datasets/new", "/api"):
        html = client.get(page).text
        for ref in re.findall(r'(?:src|href)="([^"]+)"', html):
            assert ref.startswith(("/", "#", "data:")), (page, ref)
    for path in (STATIC / "static").iterdir():
        text = path.read_text()
        assert not re.search(r"(?:url\(|import\s|fetch\()\s*['\"]?https?://", text), path


# ---------------------------------------------------------------- API keys never leave


def test_api_key_never_in_a_page_json_or_log(
    client: Any, dc: Any, sandbox: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key = sandbox.api_key
    token = csrf(client)
    response = client.post(
        "/accounts",
        data={"csrf_token": token, "account_name": "Acme", "api_key": key, "base_url": sandbox.base_url},
    )
    assert response.status_code == 303
    account = dc.list_accounts()[0]
    # a wrong key: the error page must not echo it either
    wrong = "api_" + "Wr0ngKey" * 4
    response = client.post(
        "/accounts",
        data={"csrf_token": token, "account_name": "Bad", "api_key": wrong, "base_url": sandbox.base_url},
    )
    assert response.status_code == 422
    assert wrong not in response.text
    api = client.post(
        "/api/accounts",
        json={"name": "Bad2", "api_key": wrong, "base_url": sandbox.base_url},
        headers={"X-CSRF-Token": token},
    )
    assert api.status_code == 400 and wrong not in api.text
    ds = dc.create_dataset("Users", account=account.id, report="users")
    dc.run_dataset(ds.id)
    bodies = []
    for path in (
        "/accounts",
        "/datasets",
        "/datasets/new",
        f"/datasets/{ds.id}",
        f"/datasets/{ds.id}/edit",
        "/api/accounts",
        f"/api/accounts/{account.id}",
        f"/api/accounts/{account.id}/choices",
        "/api/datasets",
        f"/api/datasets/{ds.id}",
        f"/api/datasets/{ds.id}/runs",
        f"/api/datasets/{ds.id}/status",
        f"/api/datasets/{ds.id}/preview",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        bodies.append(response.text)
    bodies.append(client.post(f"/api/accounts/{account.id}/check", headers={"X-CSRF-Token": token}).text)
    for body in bodies:
        assert key not in body
        assert wrong not in body
    assert account.key_hint in bodies[0]
    for record in caplog.records:
        assert key not in record.getMessage()
        assert wrong not in record.getMessage()


def test_bad_api_input_is_not_echoed_back(client: Any) -> None:
    """FastAPI's default 422 repeats the input; a mistyped key field must not come back in the answer."""
    secret = "api_" + "S3cretValue" * 3
    response = client.post(
        "/api/accounts", json={"name": "x", "api_key": [secret]}, headers={"X-CSRF-Token": csrf(client)}
    )
    assert response.status_code == 422
    assert secret not in response.text
    assert response.json()["detail"][0]["loc"] == ["body", "api_key"]


def test_malformed_page_urls_are_404_pages(client: Any) -> None:
    response = client.get("/datasets/not-a-number")
    assert response.status_code == 404 and "<html" in response.text


# ---------------------------------------------------------------- session key


def test_sessions_survive_a_restart_and_the_key_file_is_private(dc: Any, web_home: Path) -> None:
    import stat

    from closesync.web.security import SESSION_KEY_FILE

    with make_client(dc, password="s3cret") as first:
        token = re.search(r'name="csrf_token" value="([^"]+)"', first.get("/login").text).group(1)  # type: ignore[union-attr]
        login = first.post("/login", data={"csrf_token": token, "password": "s3cret", "next": "/datasets"})
        assert login.status_code == 303
        assert first.get("/datasets").status_code == 200
        cookie = first.cookies.get("closesync_session")
    key_file = web_home / SESSION_KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert cookie and key_file.read_text().strip() not in cookie

    with make_client(dc, password="s3cret") as restarted:  # a new app on the same home: `serve` restarted
        restarted.cookies.set("closesync_session", cookie)
        assert restarted.get("/datasets").status_code == 200  # still logged in
        restarted.cookies.clear()
        assert restarted.get("/datasets").status_code == 303  # and a stranger still is not

    key_file.chmod(0o644)  # restored from a backup with loose rights: tightened on the next start
    with make_client(dc, password="s3cret"):
        pass
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_the_session_key_is_not_the_master_key(dc: Any, web_home: Path) -> None:
    from closesync.web.security import session_secret

    dc.list_accounts()
    with make_client(dc):
        pass
    master = web_home / "secret.key"
    key = session_secret(web_home)
    assert key == session_secret(web_home)  # stable
    assert not master.exists() or master.read_text().strip() != key
