"""Names, CRM data and Close's error text reach the terminal as text: never as rich markup (which crashed
commands or turned into hidden hyperlinks) and never as control sequences (title changes, screen clears,
colours, OSC 8 links). Every command keeps its exit code, and `--json` stays valid JSON."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from closesync.cli import cli
from closesync.datacenter import DataCenter
from closesync.datacenter.store import to_iso
from closesync.sandbox import DEFAULT_API_KEY

MARKUP = "mk[/bold]"
TITLE, CLEAR, LINK = "\x1b]0;pwned\x07", "\x1b[2J", "\x1b]8;;http://evil\x1b\\click\x1b]8;;\x1b\\"
HOSTILE = f"[/bold] [link=http://evil]x[/link] {TITLE} {CLEAR} {LINK} \x9b31m \u202eevil"
CLOSE_ERROR = f"bad [/red] {CLEAR}{TITLE} [link=http://evil]x[/link]"
RAW = ("\x1b", "\x07", "\x9b", "\u202e")


@pytest.fixture
def run(home: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The real CLI as a terminal would get it: `color=True`, so click strips no ANSI on our behalf."""

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, ["--home", str(home), *args], color=True, catch_exceptions=False)

    return invoke


def assert_clean(result: Result, code: int = 0) -> None:
    assert result.exit_code == code, result.output
    for raw in RAW:
        assert raw not in result.output, result.output


def add_account(run: Any, sandbox: Any, name: str = "acme") -> None:
    assert (
        run("accounts", "add", name, "--api-key-env", "SB_KEY", "--base-url", sandbox.base_url).exit_code == 0
    )


@pytest.fixture(autouse=True)
def sandbox_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Accounts read their key from $SB_KEY: commands never warn about a key on the command line."""
    monkeypatch.setenv("SB_KEY", DEFAULT_API_KEY)


def test_markup_in_names_prints_literally_and_keeps_exit_codes(run: Any, sandbox: Any) -> None:
    add_account(run, sandbox, MARKUP)
    created = run("datasets", "create", MARKUP, "--account", MARKUP, "--report", "users")
    assert_clean(created)
    ran = run("datasets", "run", MARKUP)
    assert_clean(ran)  # the run succeeded: cron and orchestrators must see 0
    assert f"of {MARKUP!r}: success" in ran.output
    for args in (
        ("datasets", "list"),
        ("datasets", "show", MARKUP),
        ("datasets", "history", MARKUP),
        ("accounts", "list"),
        ("accounts", "show", MARKUP),
    ):
        result = run(*args)
        assert_clean(result)
        assert MARKUP in result.output, args
    assert json.loads(run("datasets", "run", MARKUP, "--json").output)["dataset_name"] == MARKUP


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("[/bold] [link=http://evil]x[/link] lead", "[/bold] [link=http://evil]x[/link] lead"),
        (f"{TITLE} {CLEAR} {LINK} \x9b31m \u202eevil", "\\x1b]0;pwned\\x07 \\x1b[2J \\x1b]8;;http://evil"),
    ],
    ids=["markup", "control-sequences"],
)
def test_hostile_crm_values_are_shown_escaped_in_preview(
    run: Any, sandbox: Any, value: str, shown: str
) -> None:
    lead = sandbox.data.records("lead")[-1]
    sandbox.data.update("lead", lead["id"], display_name=value, name=value)
    add_account(run, sandbox)
    assert_clean(run("datasets", "create", "l", "--account", "acme", "--report", "leads"))
    assert_clean(run("datasets", "run", "l"))
    for extra in ((), ("--expanded",), ("--columns", "id,display_name")):
        preview = run("datasets", "preview", "l", "--limit", "50", *extra)
        assert_clean(preview)
        assert extra == () or shown in preview.output, extra  # 8 columns fold their cells


def test_hostile_account_names_from_close_are_escaped(run: Any, sandbox: Any) -> None:
    catalog = sandbox.data.catalog
    catalog.users[0]["first_name"] = HOSTILE
    catalog.org_name = f"Org {TITLE}[/red]"
    added = run("accounts", "add", "acme", "--api-key-env", "SB_KEY", "--base-url", sandbox.base_url)
    assert_clean(added)
    for args in (("accounts", "list"), ("accounts", "show", "acme")):
        result = run(*args)
        assert_clean(result)
        assert "Org \\x1b]0;pwned\\x07[/red]" in result.output, args
    shown = json.loads(run("accounts", "show", "acme", "--json").output)
    assert shown["organizations"][0]["label"] == f"Org {TITLE}[/red]"  # JSON keeps the value, escaped by JSON


class HostileClose(ThreadingHTTPServer):
    """A "Close" that knows the key's owner and answers everything else (or, with `refuse_me`, that too) with
    a 400 whose error text carries markup and control sequences."""

    refuse_me = False
    me = {
        "id": "user_1",
        "email": "eve@example.com",
        "first_name": "Eve",
        "organizations": [{"id": "orga_1"}],
    }


class HostileHandler(BaseHTTPRequestHandler):
    server: HostileClose

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        path = self.path.split("?")[0]
        if path.endswith("/me/") and not self.server.refuse_me:
            self.answer(200, self.server.me)
        elif path.endswith("/user/") and not self.server.refuse_me:
            self.answer(200, {"data": [self.server.me], "has_more": False})
        else:
            self.answer(400, {"error": CLOSE_ERROR})

    do_POST = do_GET

    def answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hostile_close() -> Iterator[tuple[HostileClose, str]]:
    server = HostileClose(("127.0.0.1", 0), HostileHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, f"http://127.0.0.1:{server.server_address[1]}/api/v1/"
    server.shutdown()
    server.server_close()


def test_close_error_text_is_escaped_in_messages_runs_and_logs(
    run: Any, hostile_close: tuple[HostileClose, str], home: Path
) -> None:
    server, base_url = hostile_close
    server.refuse_me = True
    refused = run("accounts", "add", "evil", "--api-key-env", "SB_KEY", "--base-url", base_url)
    assert_clean(refused, 2)
    assert "bad [/red] \\x1b[2J" in refused.output
    server.refuse_me = False
    assert_clean(run("accounts", "add", "evil", "--api-key-env", "SB_KEY", "--base-url", base_url))
    name = f"d{TITLE}[/b]"
    assert_clean(
        run("datasets", "create", name, "--account", "evil", "--report", "leads", "--schedule", "hourly")
    )
    failed = run("datasets", "run", name)
    assert_clean(failed, 1)  # the run failed: 1, whatever Close's text holds
    assert "bad [/red] \\x1b[2J" in failed.output
    for args in (("datasets", "history", name), ("datasets", "show", name), ("datasets", "list")):
        assert_clean(run(*args))
    missing = run("datasets", "show", f"nobody{CLEAR}")
    assert_clean(missing, 2)
    assert "nobody\\x1b[2J" in missing.output
    for args in (("datasets", "history", name, "--json"), ("datasets", "list", "--json")):
        listed = run(*args)
        assert_clean(listed)
        json.loads(listed.output)

    past = to_iso(datetime.now(UTC) - timedelta(minutes=1))
    with DataCenter(home).store.write() as conn:  # due now
        conn.execute("UPDATE datasets SET next_run_at = ?", (past,))
    scheduler = subprocess.run(
        [sys.executable, "-m", "closesync", "--home", str(home), "scheduler", "--once"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert scheduler.returncode == 0, scheduler.stderr
    assert "bad [/red] \\x1b[2J" in scheduler.stderr
    assert not any(raw in scheduler.stderr for raw in RAW), scheduler.stderr


def test_a_me_answer_with_wrong_types_inside_adds_the_account_with_what_is_usable(
    run: Any, hostile_close: tuple[HostileClose, str]
) -> None:
    """Issue 11: `/me/` lists that hold non-objects, or fields of the wrong type, never give a traceback."""
    server, base_url = hostile_close
    server.me = {
        "id": "user_1",
        "email": ["not", "a", "string"],
        "first_name": {"nested": True},
        "organizations": [1, "x", None, {"id": ["a"]}, {"id": "orga_1", "name": {"x": 1}}],
    }
    added = run("accounts", "add", "odd", "--api-key-env", "SB_KEY", "--base-url", base_url)
    assert_clean(added)
    shown = json.loads(run("accounts", "show", "odd", "--json").output)
    assert shown["organizations"] == [{"id": "orga_1", "label": "orga_1"}]
    assert shown["user_email"] is None and shown["user_name"] is None
