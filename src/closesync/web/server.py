"""Starting the Data Center with uvicorn: the bind rules, then the app (with its scheduler) in one process."""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

from closesync.web.security import check_bind, is_loopback, loopback_hosts


def resolve_password(password: str | None) -> str | None:
    """--password wins over CLOSESYNC_PASSWORD; empty means none."""
    value = password if password else os.environ.get("CLOSESYNC_PASSWORD", "")
    return value or None


def build_server(
    home: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    password: str | None = None,
    scheduler: bool = True,
    log_level: str = "info",
):  # -> uvicorn.Server (import kept lazy so the CLI starts fast)
    """A configured uvicorn.Server; raises ValueError when the bind rules say no."""
    import uvicorn

    from closesync.web.app import create_app

    check_bind(host, password)
    # On a loopback bind, pin the Host header so a DNS-rebinding page cannot talk to the app.
    allowed = loopback_hosts(port) if is_loopback(host) else None
    app = create_app(home, password=password, allowed_hosts=allowed, run_scheduler=scheduler)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=5,
    )
    return uvicorn.Server(config)


def serve(
    home: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    password: str | None = None,
    scheduler: bool = True,
) -> None:
    """Run until Ctrl-C."""
    server = build_server(home, host=host, port=port, password=password, scheduler=scheduler)
    logging.getLogger("closesync.web").info("Data Center on http://%s:%d/", host, port)
    # uvicorn shuts down gracefully on Ctrl-C, then re-raises the signal: that is a normal stop here.
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
