"""`closesync serve` as a user starts it, and the scheduler that runs inside the web process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from fixtures_web import free_port, make_client


def _wait_for(url: str, proc: subprocess.Popen[bytes], deadline: float = 30.0) -> httpx.Response:
    end = time.monotonic() + deadline
    while True:
        try:
            return httpx.get(url, timeout=2.0, follow_redirects=False)
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > end:
                raise
            time.sleep(0.1)


def test_serve_command_serves_the_data_center(web_home: Path) -> None:
    port = free_port()
    env = {**os.environ, "CLOSESYNC_HOME": str(web_home)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "closesync", "serve", "--port", str(port), "--no-scheduler"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        response = _wait_for(f"http://127.0.0.1:{port}/datasets", proc)
        assert response.status_code == 200 and "DataSets" in response.text
        assert "httponly" in response.headers["set-cookie"].lower()
        # the Host header is pinned on a loopback bind (DNS rebinding)
        rebinding = httpx.get(f"http://127.0.0.1:{port}/datasets", headers={"Host": "evil.example"})
        assert rebinding.status_code == 400
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert b"Data Center on http://127.0.0.1:" in out


def test_serve_with_a_password_from_the_environment(web_home: Path) -> None:
    port = free_port()
    env = {**os.environ, "CLOSESYNC_HOME": str(web_home), "CLOSESYNC_PASSWORD": "pw-from-the-env"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "closesync",
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            str(port),
            "--no-scheduler",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        response = _wait_for(f"http://127.0.0.1:{port}/datasets", proc)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")
        api = httpx.get(
            f"http://127.0.0.1:{port}/api/datasets", headers={"Authorization": "Bearer pw-from-the-env"}
        )
        assert api.status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=20)


def test_scheduler_runs_inside_the_web_process(dc: Any, account: Any, web_home: Path) -> None:
    """A failed run with a 0s retry delay is due at once: the app's own scheduler must pick it up."""
    blocker = web_home / "blocked"
    blocker.write_text("not a folder")
    ds = dc.create_dataset(
        "Retry me",
        account=account.id,
        report="users",
        retries=1,
        retry_delay="0s",
        destination=f"duckdb:{blocker}/x.duckdb",
    )
    assert dc.run_dataset(ds.id).status == "failed"
    with make_client(dc, run_scheduler=True) as client:
        assert client.app.state.scheduler is not None
        end = time.monotonic() + 60
        while len(dc.history(ds.id)) < 2 and time.monotonic() < end:
            time.sleep(0.2)
        runs = dc.history(ds.id)
        assert [r.attempt for r in runs][:2] == [2, 1]
        assert runs[0].trigger == "retry"
    assert client.app.state.scheduler is None  # stopped with the app


def test_no_scheduler_by_default_in_the_factory(dc: Any) -> None:
    with make_client(dc) as client:
        assert client.app.state.scheduler is None


def test_serve_options_reach_the_server(monkeypatch: Any, tmp_path: Path) -> None:
    """--password alone asks for it (hidden, twice); --no-scheduler turns the in-process scheduler off."""
    from click.testing import CliRunner

    from closesync.cli import cli
    from closesync.web import server

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(server, "serve", lambda home, **kw: calls.append({"home": home, **kw}))
    monkeypatch.delenv("CLOSESYNC_PASSWORD", raising=False)
    runner = CliRunner()
    result = runner.invoke(
        cli, ["--home", str(tmp_path), "serve", "--host", "0.0.0.0", "--password"], input="typed-long-pw\ntyped-long-pw\n"
    )
    assert result.exit_code == 0, result.output
    assert "typed-long-pw" not in result.output
    result = runner.invoke(cli, ["--home", str(tmp_path), "serve", "--no-scheduler", "--port", "9999"])
    assert result.exit_code == 0, result.output
    defaults = {"session_idle_s": 8 * 3600.0, "https_only": False, "trusted_proxies": None}
    assert calls == [
        {"home": str(tmp_path), "host": "0.0.0.0", "port": 8080, "password": "typed-long-pw", "scheduler": True}
        | defaults,
        {"home": str(tmp_path), "host": "127.0.0.1", "port": 9999, "password": None, "scheduler": False}
        | defaults,
    ]
