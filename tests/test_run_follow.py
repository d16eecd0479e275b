"""Runs you can follow (issue 13 §2): a throttled run says what it waits for on its history row, in the JSON
the dataset page polls and in `datasets run` in a terminal; failures that a narrower pull avoids say so.

Everything over real HTTP: the sandbox's scripted 429s and rate limits, the web app under TestClient, the
CLI in a pseudo-terminal (and piped, and with --json) as a user's shell runs it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from closesync.cli import cli
from closesync.datacenter import DataCenter
from closesync.datacenter.progress import RunProgress, describe_wait
from fixtures_web import make_client

CALLS = "activities_call"
_CURSOR_MOVES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")  # what redraws the live line (cursor up, erase, hide)


def _calls_dataset(dc: DataCenter, sandbox: Any, name: str = "Calls") -> Any:
    account = dc.add_account(f"Acme {name}", api_key=sandbox.api_key, base_url=sandbox.base_url)
    return dc.create_dataset(name, account=account.id, report=CALLS, method="replace")


def test_a_429_wait_reaches_the_run_row_and_the_status_json(dc: DataCenter, make_sandbox: Any) -> None:
    sandbox = make_sandbox(leads=10)
    ds = _calls_dataset(dc, sandbox)
    sandbox.add_fault("429", path="activity/call/", count=1, reset=4.0)
    rows_while_waiting: list[Any] = []

    with make_client(dc) as client:
        token = client.get("/api/csrf").json()["csrf_token"]
        assert client.post(f"/api/datasets/{ds.id}/run", headers={"X-CSRF-Token": token}).status_code == 202
        seen = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status = client.get(f"/api/datasets/{ds.id}/status").json()
            seen.append(status)
            if status["waiting"] and not rows_while_waiting:
                rows_while_waiting.append(dc.get_run(status["run"]["id"]))  # the history row itself
                dataset_json = client.get(f"/api/datasets/{ds.id}").json()
            if not status["running"] and status["run"] and status["run"]["status"] != "running":
                break
            time.sleep(0.2)
        client.app.state.runs.wait(ds.id, 30)

    waiting = [s for s in seen if s["waiting"]]
    assert waiting, [s["run"] for s in seen]
    text = waiting[0]["waiting"]
    assert text.startswith("Waiting ") and "for Close's rate limit on activity/call" in text
    assert "Close answered 429" in text and "rows read so far" in text
    wait = waiting[0]["run"]["waiting"]
    assert wait["group"] == "GET activity/call" and wait["reason"] == "429" and 3.5 <= wait["seconds"] <= 4.5
    assert wait["until"] > waiting[0]["run"]["started_at"]
    [row] = rows_while_waiting
    assert row.status == "running" and row.waiting == wait | {"until": row.waiting["until"]}
    assert dataset_json["last_run"]["waiting"]["group"] == "GET activity/call"

    final = seen[-1]
    assert final["run"]["status"] == "success" and final["waiting"] is None and final["run"]["waiting"] is None
    assert final["run"]["throttle_waits"] == 1 and dc.history(ds.id)[0].waiting is None


def test_pacing_on_the_ratelimit_header_shows_as_a_wait(dc: DataCenter, make_sandbox: Any) -> None:
    """No 429 at all: the budget of 2 requests per 3 s is spent, and the run says it waits for it."""
    sandbox = make_sandbox(leads=10, activities_per_lead=100, rate_limit=(2, 3.0))  # 3+ pages of calls
    ds = _calls_dataset(dc, sandbox)
    progress = RunProgress()
    seen: list[dict[str, Any]] = []
    runner = threading.Thread(target=dc.run_dataset, args=(ds.id,), kwargs={"progress": progress})
    runner.start()
    while runner.is_alive():
        snapshot = progress.snapshot()
        if snapshot["wait"]:
            seen.append(snapshot)
        time.sleep(0.05)
    run = dc.history(ds.id)[0]
    assert run.status == "success" and run.throttle_waits == 0
    assert seen and {s["wait"]["reason"] for s in seen} == {"pacing"}
    text = describe_wait(seen[-1]["wait"], seen[-1]["rows"])
    assert text is not None and "the key's budget is spent" in text and "rate limit on" in text


def test_describe_wait_counts_down_and_never_says_zero() -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 11, 26, 10, 0, 0, tzinfo=UTC)
    wait = {"group": "GET lead", "path": "lead", "seconds": 12.0, "reason": "429",
            "until": (now + timedelta(seconds=9.2)).isoformat()}
    assert describe_wait(wait, 1200, now) == (
        "Waiting 10 s for Close's rate limit on lead (Close answered 429; until 10:00:09 UTC), "
        "1,200 rows read so far."
    )
    assert describe_wait(wait, 0, now + timedelta(seconds=30)).startswith("Waiting 1 s ")  # a beat late
    assert describe_wait(None, 5) is None


def test_a_rate_limit_failure_says_how_to_narrow_the_pull(home: Path, make_sandbox: Any) -> None:
    sandbox = make_sandbox(leads=10)
    dc = DataCenter(home, client_options={"max_retries": 0, "max_throttle_retries": 1})
    ds = _calls_dataset(dc, sandbox)
    sandbox.add_fault("429", path="activity/call/", count=5, reset=0.2)
    run = dc.run_dataset(ds.id)
    assert run.status == "failed" and run.http_status == 429
    for advice in ("a Since date", "a User ID", "fewer reports in the same slot"):
        assert advice in run.error, run.error
    assert run.reports[0]["error"] == run.error

    shown = CliRunner().invoke(cli, ["--home", str(home), "runs", "show", str(run.id)])
    assert shown.exit_code == 0 and "HTTP status: 429" in shown.output
    assert "a Since date, a User ID" in " ".join(shown.output.split())
    with make_client(dc) as client:
        page = client.get(f"/datasets/{ds.id}").text
        assert "a Since date, a User ID" in page and "fewer reports in the same slot" in page


def test_a_timeout_names_the_request_and_how_long(home: Path, make_sandbox: Any) -> None:
    sandbox = make_sandbox(leads=10)
    dc = DataCenter(home, client_options={"max_retries": 0, "timeout": 0.5})
    ds = _calls_dataset(dc, sandbox)
    sandbox.add_fault("slow", path="activity/call/", count=1, delay=2.0)
    run = dc.run_dataset(ds.id)
    assert run.status == "failed"
    assert "GET activity/call/: Close did not answer within 0.5 s (ReadTimeout)" in run.error, run.error
    assert "a retry or the next run often gets through" in run.error


# -- `datasets run` in a terminal -----------------------------------------------------------------------------


def _cli(home: Path, *args: str, tty: bool) -> tuple[int, str]:
    """`closesync --home HOME datasets run …` as a child process, its stdout a pseudo-terminal or a pipe."""
    command = [sys.executable, "-m", "closesync", "--home", str(home), "datasets", "run", *args]
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "160", "NO_COLOR": "1"}
    if not tty:
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
        return done.returncode, done.stdout
    import pty

    leader, follower = pty.openpty()
    child = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=follower, stderr=follower, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    screen = b"".join(chunks).decode("utf-8", "replace")
    return child.wait(60), _CURSOR_MOVES.sub("", screen).replace("\r", "")


def test_datasets_run_in_a_terminal_shows_progress_and_the_wait(home: Path, make_sandbox: Any) -> None:
    sandbox = make_sandbox(leads=10)
    _calls_dataset(DataCenter(home), sandbox)
    sandbox.add_fault("429", path="activity/call/", count=1, reset=3.0)
    code, screen = _cli(home, "Calls", tty=True)
    assert code == 0, screen
    assert "Running 'Calls'" in screen and "rows read" in screen and "1 throttle wait" in screen
    assert "Waiting " in screen and "for Close's rate limit on activity/call (Close answered 429" in screen
    assert "Run 1 of 'Calls': success" in screen


def test_datasets_run_stays_quiet_with_json_or_when_piped(home: Path, make_sandbox: Any) -> None:
    sandbox = make_sandbox(leads=10)
    _calls_dataset(DataCenter(home), sandbox)
    sandbox.add_fault("429", path="activity/call/", count=1, reset=1.5)
    code, screen = _cli(home, "Calls", "--json", tty=True)
    assert code == 0
    run = json.loads(screen)  # nothing but the JSON, even in a terminal
    assert run["status"] == "success" and run["throttle_waits"] == 1 and run["waiting"] is None

    sandbox.add_fault("429", path="activity/call/", count=1, reset=1.5)
    code, piped = _cli(home, "Calls", tty=False)
    assert code == 0 and "Running" not in piped and "Waiting" not in piped and "\x1b" not in piped
    assert piped.startswith("Run 2 of 'Calls': success")
