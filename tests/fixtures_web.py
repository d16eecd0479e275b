"""Fixtures for the web Data Center: a real DataCenter in tmp_path, the app under TestClient, a live server.

Everything is real: SQLite store, the sandbox over HTTP, DuckDB tables, uvicorn on a free port.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from closesync.datacenter import DataCenter


def free_port() -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def web_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh CLOSESYNC_HOME; the master key file is created there on first use."""
    monkeypatch.delenv("CLOSESYNC_SECRET_KEY", raising=False)
    monkeypatch.delenv("CLOSESYNC_PASSWORD", raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("CLOSESYNC_HOME", str(home))
    return home


@pytest.fixture
def dc(web_home: Path) -> DataCenter:
    """A real DataCenter; no client retries so failing runs fail fast."""
    return DataCenter(str(web_home), client_options={"max_retries": 0})


def make_client(dc: DataCenter, **kwargs: Any) -> TestClient:
    from closesync.web.app import create_app

    app = create_app(datacenter=dc, **kwargs)
    return TestClient(app, follow_redirects=False)


@pytest.fixture
def client(dc: DataCenter) -> Iterator[TestClient]:
    """The app without a password (the loopback default)."""
    with make_client(dc) as c:
        yield c


def csrf(client: TestClient) -> str:
    """The session's CSRF token, as a page's forms carry it."""
    return str(client.get("/api/csrf").json()["csrf_token"])


@pytest.fixture
def account(dc: DataCenter, sandbox: Any) -> Any:
    """A saved account against the 20-lead sandbox."""
    return dc.add_account("Acme", api_key=sandbox.api_key, base_url=sandbox.base_url)


@pytest.fixture
def leads_dataset(dc: DataCenter, account: Any) -> Any:
    """A manual Leads dataset in the home's DuckDB file."""
    return dc.create_dataset("Leads", account=account.id, report="leads", method="replace")


class LiveServer:
    """`closesync serve` in a thread: uvicorn on a free loopback port with its own home."""

    def __init__(
        self, home: Path, password: str | None = None, scheduler: bool = True, **options: Any
    ) -> None:
        """`options` go to build_server as they are (session_idle_s, https_only, trusted_proxies)."""
        from closesync.web.server import build_server

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = build_server(
            home,
            host="127.0.0.1",
            port=self.port,
            password=password,
            scheduler=scheduler,
            log_level="warning",
            **options,
        )
        self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the Data Center did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(15)


@pytest.fixture
def live_server(web_home: Path) -> Iterator[LiveServer]:
    with LiveServer(web_home) as srv:
        yield srv


def page_token(http: httpx.Client, path: str = "/login") -> str:
    """The CSRF token a page's forms carry (what a browser would post back)."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', http.get(path).text)
    assert match, f"no form token on {path}"
    return match.group(1)


def form_login(http: httpx.Client, password: str, **headers: str) -> httpx.Response:
    """Log in through the login form, as a browser does: read the page's token, post it with the password."""
    token = page_token(http)
    return http.post("/login", data={"csrf_token": token, "password": password}, headers=headers)
