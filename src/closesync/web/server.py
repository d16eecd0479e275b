"""Starting the Data Center with uvicorn: the bind rules, then the app (with its scheduler) in one process."""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Any

from closesync.web.security import check_bind, is_loopback, loopback_hosts
from closesync.web.sessions import DEFAULT_IDLE_S


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
    session_idle_s: float = DEFAULT_IDLE_S,
    https_only: bool = False,
    trusted_proxies: list[str] | None = None,
):  # -> uvicorn.Server (import kept lazy so the CLI starts fast)
    """A configured uvicorn.Server; raises ValueError when the bind rules say no.

    uvicorn's own proxy-header handling stays off: `trusted_proxies` go to the app, which believes
    X-Forwarded-* headers from those addresses only (see web.middleware.TrustedProxy).
    """
    import uvicorn

    from closesync.web.app import create_app

    check_bind(host, password)
    # On a loopback bind, pin the Host header so a DNS-rebinding page cannot talk to the app.
    allowed = loopback_hosts(port) if is_loopback(host) else None
    app = create_app(
        home,
        password=password,
        allowed_hosts=allowed,
        run_scheduler=scheduler,
        session_idle_s=session_idle_s,
        https_only=https_only,
        trusted_proxies=trusted_proxies,
    )
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


def serve(home: str | Path, *, host: str = "127.0.0.1", port: int = 8080, **options: Any) -> None:
    """Run until Ctrl-C; `options` are build_server's (password, scheduler, session_idle_s, ...)."""
    server = build_server(home, host=host, port=port, **options)
    logging.getLogger("closesync.web").info("Data Center on http://%s:%d/", host, port)
    # uvicorn shuts down gracefully on Ctrl-C, then re-raises the signal: that is a normal stop here.
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
