"""Login sessions of `closesync serve` over real HTTP: they end at logout, when the password changes and
after an idle time; the CSRF token changes at login; other sites' pages are refused; cookies are Secure
over HTTPS (said by `--https-only`, or by a proxy the server was told to trust)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fixtures_web import LiveServer, form_login, page_token

PASSWORD = "correct-horse-battery-9"
COOKIE = "closesync_session"


def _client(url: str, **kwargs: object) -> httpx.Client:
    return httpx.Client(base_url=url, follow_redirects=False, timeout=10, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def server(web_home: Path) -> Iterator[LiveServer]:
    with LiveServer(web_home, password=PASSWORD, scheduler=False) as srv:
        yield srv


def _logged_in_cookie(url: str, password: str = PASSWORD) -> str:
    with _client(url) as http:
        assert form_login(http, password).status_code == 303
        assert http.get("/api/accounts").status_code == 200
        cookie = http.cookies.get(COOKIE)
    assert cookie
    return cookie


def _status_with(url: str, cookie: str, path: str = "/api/accounts") -> int:
    with _client(url, cookies={COOKIE: cookie}) as http:
        return http.get(path).status_code


def test_a_cookie_copied_before_logout_is_dead_after_it(server: LiveServer) -> None:
    with _client(server.url) as http:
        assert form_login(http, PASSWORD).status_code == 303
        copied = http.cookies.get(COOKIE)
        assert copied and http.get("/api/accounts").status_code == 200
        token = page_token(http, "/datasets")
        assert http.post("/logout", data={"csrf_token": token}).status_code == 303
    assert _status_with(server.url, copied) == 401
    assert _status_with(server.url, copied, "/datasets") == 303  # to the login page


def test_a_restart_with_another_password_ends_every_session(web_home: Path) -> None:
    with LiveServer(web_home, password=PASSWORD, scheduler=False) as first:
        cookie = _logged_in_cookie(first.url)
    with LiveServer(web_home, password=PASSWORD, scheduler=False) as same:
        assert _status_with(same.url, cookie) == 200  # same password: people stay logged in
    with LiveServer(web_home, password="another-password-42", scheduler=False) as changed:
        assert _status_with(changed.url, cookie) == 401


def test_an_idle_session_expires(web_home: Path) -> None:
    with LiveServer(web_home, password=PASSWORD, scheduler=False, session_idle_s=1.5) as srv:
        cookie = _logged_in_cookie(srv.url)
        for _ in range(3):  # in use: stays alive past the idle time
            time.sleep(0.8)
            assert _status_with(srv.url, cookie) == 200
        time.sleep(2.0)
        assert _status_with(srv.url, cookie) == 401


def test_the_csrf_token_changes_at_login(server: LiveServer) -> None:
    with _client(server.url) as http:
        before = page_token(http)
        assert form_login(http, PASSWORD).status_code == 303
        after = page_token(http, "/accounts")
        assert after != before
        stale = http.post("/api/accounts/1/check", headers={"X-CSRF-Token": before})
        assert stale.status_code == 403
        assert http.post("/api/accounts/1/check", headers={"X-CSRF-Token": after}).status_code == 404


def test_other_sites_are_refused_even_with_a_valid_token(server: LiveServer) -> None:
    own = server.url
    with _client(own) as http:
        assert form_login(http, PASSWORD, Origin=own).status_code == 303
        token = page_token(http, "/accounts")
        path = "/api/accounts/1/check"
        assert http.post(path, headers={"X-CSRF-Token": token, "Origin": own}).status_code == 404
        for foreign in (
            {"Origin": "http://evil.example"},
            {"Origin": f"http://127.0.0.1:{server.port + 1}"},
            {"Origin": "null"},
            {"Referer": "http://evil.example/page"},
        ):
            refused = http.post(path, headers={"X-CSRF-Token": token, **foreign})
            assert refused.status_code == 403, foreign
            assert "another site" in refused.json()["detail"]
        page = http.post("/logout", data={"csrf_token": token}, headers={"Origin": "http://evil.example"})
        assert page.status_code == 403 and "another site" in page.text
        assert http.get("/api/accounts").status_code == 200  # that logout did not happen
        # the login form itself (login CSRF)
        assert form_login(http, PASSWORD, Origin="http://evil.example").status_code == 403


def _session_cookie_header(url: str, **headers: str) -> str:
    with _client(url) as http:
        response = http.get("/login", headers=headers)
    return next(v for k, v in response.headers.multi_items() if k == "set-cookie" and COOKIE in v)


def _is_secure(set_cookie: str) -> bool:
    return "secure" in {part.strip().lower() for part in set_cookie.split(";")}


def test_cookies_are_secure_with_https_only(web_home: Path) -> None:
    with LiveServer(web_home, password=PASSWORD, scheduler=False) as plain:
        assert not _is_secure(_session_cookie_header(plain.url))
        # a client cannot make itself look like HTTPS: the header is only believed from a trusted proxy
        assert not _is_secure(_session_cookie_header(plain.url, **{"X-Forwarded-Proto": "https"}))
    with LiveServer(web_home, password=PASSWORD, scheduler=False, https_only=True) as https:
        assert _is_secure(_session_cookie_header(https.url))


def test_a_trusted_proxy_says_https(web_home: Path) -> None:
    with LiveServer(web_home, password=PASSWORD, scheduler=False, trusted_proxies=["127.0.0.1"]) as srv:
        assert _is_secure(_session_cookie_header(srv.url, **{"X-Forwarded-Proto": "https"}))
        assert not _is_secure(_session_cookie_header(srv.url, **{"X-Forwarded-Proto": "http"}))
        # behind the proxy the browser's Origin names the public host the proxy forwards
        with _client(srv.url) as http:
            public = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "dc.example.com"}
            login = form_login(http, PASSWORD, Origin="https://dc.example.com", **public)
            assert login.status_code == 303
            assert _is_secure(login.headers["set-cookie"])
