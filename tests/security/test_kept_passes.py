"""The passes of the security review that must stay true: the API key never leaks, every route needs a login
when a password is set, every state-changing request a CSRF token, text is escaped, identifiers are quoted.

Some of these are tested where their code lives; `test_the_kept_passes_are_still_tested` names those tests,
so that removing one fails here instead of going unnoticed.
"""

from __future__ import annotations

import base64
import importlib
import json
import logging
import re
import sqlite3
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.routing import APIRoute

from closesync.cli import cli
from closesync.datacenter import DataCenter
from dc_helpers import add_account, make_dc
from fixtures_web import make_client

#: Kept passes tested next to their code: module -> test functions.
TESTED_ELSEWHERE = {
    "test_web_security": [
        "test_every_state_changing_route_refuses_a_request_without_csrf",  # CSRF on every POST/PUT/DELETE
        "test_csrf_token_in_every_form",
        "test_crm_text_is_escaped_in_the_preview",  # XSS: CRM data
        "test_user_text_is_escaped_in_lists_and_forms",  # XSS: what users type
        "test_security_headers",  # the strict CSP
        "test_api_key_never_in_a_page_json_or_log",  # the key in pages, JSON and logs
        "test_bad_api_input_is_not_echoed_back",
    ],
    "test_sink_duckdb": ["test_hostile_identifiers"],  # quotes and semicolons in table and column names
    "test_sink_postgres": ["test_hostile_identifiers", "test_hostile_values"],
    "test_sink_files": ["test_hostile_names"],
}


def test_the_kept_passes_are_still_tested() -> None:
    for module_name, tests in TESTED_ELSEWHERE.items():
        module = importlib.import_module(module_name)
        missing = [name for name in tests if not callable(getattr(module, name, None))]
        assert not missing, f"{module_name} lost {missing}: keep them (or move them here)"


def _every_file(home: Path) -> Iterator[Path]:
    return (p for p in sorted(home.rglob("*")) if p.is_file())


# -- the API key never leaks ---------------------------------------------------------------------------------
def test_key_never_in_any_file_cli_output_or_log(
    home: Path, sandbox: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    dc = make_dc(home)
    add_account(dc, sandbox)
    dc.check_account("acme")
    dc.create_dataset("users", account="acme", report="Users")
    assert dc.run_dataset("users").ok
    sandbox.add_fault("500", path="user/", count=1)
    failed = dc.run_dataset("users")
    assert not failed.ok and failed.http_status == 500
    assert len(dc.preview("users", limit=1000).rows) == sandbox.data.count("user")  # the table was kept
    outputs = [
        CliRunner().invoke(cli, ["--home", str(home), *args]).output
        for args in (["accounts", "list"], ["accounts", "show", "acme", "--json"], ["accounts", "check", "acme"],
                     ["datasets", "show", "users", "--json"], ["datasets", "history", "users"])
    ]
    with sqlite3.connect(dc.store.path) as conn:  # the WAL's pages moved into the main file
        conn.execute("PRAGMA wal_checkpoint(FULL)")
    key = sandbox.api_key
    files = list(_every_file(home))
    assert {p.name for p in files} >= {"closesync.sqlite", "close.duckdb", "secret.key"}
    assert [p.name for p in files if key.encode() in p.read_bytes()] == []
    assert [o for o in outputs if key in o] == [] and all(outputs)
    assert key not in caplog.text
    assert "run " in caplog.text  # the runner did log its one line per run


class _EchoingClose(BaseHTTPRequestHandler):
    """A Close that knows the key's owner but answers every data request with an error quoting the key."""

    def do_GET(self) -> None:  # noqa: N802 (the http.server API)
        auth = self.headers.get("Authorization", "")
        key = base64.b64decode(auth.split()[-1]).decode().rstrip(":") if auth.startswith("Basic ") else auth
        if self.path.startswith("/api/v1/me/"):
            status, body = 200, {"id": "user_1", "email": "ann@acme.test", "organizations": []}
        elif self.path.startswith("/api/v1/user/"):
            status, body = 200, {"data": [], "has_more": False}
        else:
            status, body = 400, {"error": f"the API key {key} is not allowed here", "field-errors": {"key": key}}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:  # noqa: N802 (searches are POSTs)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.do_GET()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def echoing_close() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoingClose)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/v1/"
    finally:
        server.shutdown()
        server.server_close()


def test_key_echoed_by_the_server_is_never_kept_or_shown(
    home: Path, echoing_close: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key = "api_" + "Ech0edBack" * 3
    dc = make_dc(home)
    dc.add_account("acme", api_key=key, base_url=echoing_close)
    dc.create_dataset("leads", account="acme", report="leads")
    failed = dc.run_dataset("leads")
    assert not failed.ok and failed.http_status == 400
    shown = [failed.error or "", json.dumps(failed.to_dict()), str(dc.history("leads")), caplog.text]
    shown.append(CliRunner().invoke(cli, ["--home", str(home), "datasets", "history", "leads"]).output)
    assert [text for text in shown if key in text] == []
    with sqlite3.connect(dc.store.path) as conn:
        conn.execute("PRAGMA wal_checkpoint(FULL)")
    assert [p.name for p in _every_file(home) if key.encode() in p.read_bytes()] == []


# -- login on every route --------------------------------------------------------------------------------------
def test_every_route_needs_a_login_when_a_password_is_set(dc: DataCenter) -> None:
    """Pages send to the login form, the API answers 401; a POST may also be refused for its missing token."""
    from closesync.web import api, pages, settings  # the app includes exactly these routers

    routes = [
        (method, re.sub(r"\{[^}]+\}", "1", route.path))
        for route in [*pages.router.routes, *settings.router.routes, *api.router.routes]
        if isinstance(route, APIRoute) and not route.path.startswith("/login")
        for method in sorted(route.methods - {"HEAD"})
    ]
    with make_client(dc, password="a-long-enough-password") as client:
        assert ("GET", "/api/datasets/1/download") in routes and ("DELETE", "/api/datasets/1") in routes
        opened = []
        for method, path in routes:
            response = client.request(method, path)
            to_login = response.status_code == 303 and response.headers["location"].startswith("/login")
            if not (to_login or response.status_code == 401 or (method != "GET" and response.status_code == 403)):
                opened.append((method, path, response.status_code))
        assert len(routes) >= 30 and opened == []
