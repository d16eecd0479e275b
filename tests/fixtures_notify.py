"""Alert fixtures (loaded by conftest): a local notification receiver, a generic JSON webhook on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

#: The part of a channel URL that plays the service's token: it must never be shown or stored in clear.
TOKEN = "hookTOKENq8Zx3ecr3t"


class Receiver:
    """Keeps every POST it gets (apprise's json:// sends {"title", "message", "type"}); answers `status`."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.messages: list[dict[str, Any]] = []
        self.paths: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                receiver.paths.append(self.path)
                receiver.messages.append(json.loads(body or b"{}"))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, name="receiver", daemon=True)

    def url(self, path: str = f"/alerts/{TOKEN}") -> str:
        return f"json://127.0.0.1:{self.port}{path}"

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        """Messages of one apprise type: failure (an alert), success (a recovery), info (a test)."""
        return [m for m in self.messages if m.get("type") == kind]

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def closed_port_url() -> str:
    """A json:// channel on a loopback port nothing listens on (connection refused at once)."""
    from fixtures_web import free_port

    return f"json://127.0.0.1:{free_port()}/alerts/{TOKEN}"
