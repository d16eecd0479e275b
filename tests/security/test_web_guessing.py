"""Password guessing against `closesync serve` over real HTTP: wrong form logins and wrong Bearer passwords
slow down the address they come from (the owner elsewhere is not locked out), a short password is refused
off loopback, a generated one is printed once, and the server keeps only a hash of it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from closesync.cli import cli
from fixtures_web import LiveServer, form_login, free_port

PASSWORD = "correct-horse-battery-9"


@pytest.fixture
def server(web_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    """Two wrong passwords are free, then an address waits 1 s, 2 s, 4 s, ... (the server runs in this
    process, so the throttle's settings can be made small)."""
    from closesync.web import throttle

    monkeypatch.setattr(throttle, "FREE_FAILURES", 2)
    monkeypatch.setattr(throttle, "FIRST_DELAY_S", 1.0)
    with LiveServer(web_home, password=PASSWORD, scheduler=False) as srv:
        yield srv


def _from(url: str, address: str = "127.0.0.1") -> httpx.Client:
    """A client whose connections come from `address` (any 127.x.y.z is this machine)."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=url, transport=transport, follow_redirects=False, timeout=10)


def test_wrong_form_logins_slow_down_that_address_only(server: LiveServer) -> None:
    with _from(server.url) as guesser, _from(server.url, "127.0.0.2") as owner:
        assert [form_login(guesser, f"guess-{i}").status_code for i in range(2)] == [401, 401]
        third = form_login(guesser, "guess-2")
        assert third.status_code == 401  # wrong, and from now on this address waits
        blocked = form_login(guesser, PASSWORD)  # even the right password, while it must wait
        assert blocked.status_code == 429 and "Too many wrong passwords" in blocked.text
        assert int(blocked.headers["Retry-After"]) == 1
        # the owner, elsewhere, is not locked out
        assert form_login(owner, PASSWORD).status_code == 303
        assert owner.get("/api/accounts").status_code == 200
        # the delays grow: after waiting, one more wrong guess costs twice as long
        time.sleep(1.1)
        assert form_login(guesser, "guess-3").status_code == 401
        assert int(form_login(guesser, PASSWORD).headers["Retry-After"]) == 2
        time.sleep(2.1)
        assert form_login(guesser, PASSWORD).status_code == 303  # the right one, once it may try again


def test_wrong_bearer_passwords_are_throttled_too(server: LiveServer) -> None:
    with _from(server.url) as guesser, _from(server.url, "127.0.0.3") as script:
        statuses = [
            guesser.get("/api/datasets", headers={"Authorization": f"Bearer guess-{i}"}).status_code
            for i in range(20)
        ]
        assert statuses[:3] == [401, 401, 401]
        assert statuses[3:] == [429] * 17  # not 20 guesses checked: the address waits
        refused = guesser.get("/api/datasets", headers={"Authorization": f"Bearer {PASSWORD}"})
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
        assert "Too many wrong passwords" in refused.json()["detail"]
        # form and Bearer share the count: the form is blocked for this address as well
        assert form_login(guesser, PASSWORD).status_code == 429
        ok = script.get("/api/datasets", headers={"Authorization": f"Bearer {PASSWORD}"})
        assert ok.status_code == 200


def test_a_trusted_proxy_throttles_per_forwarded_client(
    web_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from closesync.web import throttle

    monkeypatch.setattr(throttle, "FREE_FAILURES", 1)
    proxied = LiveServer(web_home, password=PASSWORD, scheduler=False, trusted_proxies=["127.0.0.1"])
    with proxied as srv, _from(srv.url) as proxy:
        attacker = {"X-Forwarded-For": "203.0.113.7"}
        for _ in range(2):
            proxy.get("/api/datasets", headers={"Authorization": "Bearer nope", **attacker})
        assert proxy.get("/api/datasets", headers={**attacker}).status_code == 401
        wrong = proxy.get("/api/datasets", headers={"Authorization": "Bearer nope", **attacker})
        assert wrong.status_code == 429
        owner = {"X-Forwarded-For": "198.51.100.1", "Authorization": f"Bearer {PASSWORD}"}
        assert proxy.get("/api/datasets", headers=owner).status_code == 200


@pytest.mark.parametrize("password", ["a", "eleven-char"])
def test_a_short_password_is_refused_off_loopback(
    password: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DC_PASSWORD", password)
    monkeypatch.delenv("CLOSESYNC_PASSWORD", raising=False)
    home = ["--home", str(tmp_path)]
    refused = CliRunner().invoke(cli, [*home, "serve", "--host", "0.0.0.0", "--password-env", "DC_PASSWORD"])
    assert refused.exit_code == 2
    assert "at least 12" in refused.output


def test_a_generated_password_is_printed_once_and_works(web_home: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "CLOSESYNC_PASSWORD"}
    command = [sys.executable, "-m", "closesync", "--home", str(web_home), "serve", "--host", "0.0.0.0"]
    proc = subprocess.Popen(
        [*command, "--port", str(port), "--no-scheduler", "--generate-password"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "shown once" in line
        password = line.rsplit(" ", 1)[-1].strip()
        assert len(password) >= 20
        url, end = f"http://127.0.0.1:{port}/api/datasets", time.monotonic() + 30
        while True:
            try:
                response = httpx.get(url, headers={"Authorization": f"Bearer {password}"}, timeout=5)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < end
                time.sleep(0.1)
        assert response.status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    assert password not in out  # printed once only
    assert not any(password in p.read_text(errors="replace") for p in web_home.rglob("*") if p.is_file())


def _reachable_strings(obj: Any, seen: set[int], depth: int = 0) -> Iterator[str]:
    if id(obj) in seen or depth > 6:
        return
    seen.add(id(obj))
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, bytes):
        yield obj.decode("latin-1")
    elif isinstance(obj, dict):
        for key, value in obj.items():
            yield from _reachable_strings(key, seen, depth + 1)
            yield from _reachable_strings(value, seen, depth + 1)
    elif isinstance(obj, list | tuple | set | frozenset):
        for item in obj:
            yield from _reachable_strings(item, seen, depth + 1)
    elif hasattr(obj, "__dict__") and type(obj).__module__.startswith("closesync"):
        yield from _reachable_strings(vars(obj), seen, depth + 1)


def test_the_server_keeps_only_a_hash_of_the_password(server: LiveServer) -> None:
    app = server.server.config.app
    auth = app.state.auth
    assert auth is not None
    found = list(_reachable_strings(vars(app.state)["_state"], set()))
    assert found and not any(PASSWORD in text for text in found)


def test_guesses_sent_in_parallel_are_counted_before_they_are_checked(server: LiveServer) -> None:
    """Checking a password takes a moment (scrypt): 30 guesses at once must not all be checked."""
    from concurrent.futures import ThreadPoolExecutor

    def guess(i: int) -> int:
        with _from(server.url) as http:
            return http.get("/api/datasets", headers={"Authorization": f"Bearer guess-{i}"}).status_code

    with ThreadPoolExecutor(30) as pool:
        statuses = list(pool.map(guess, range(30)))
    assert statuses.count(401) <= 3 and statuses.count(429) >= 27
