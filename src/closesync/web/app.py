"""The FastAPI app factory: wires the service layer, security, templates and the two routers.

Everything the pages and the JSON API do goes through `closesync.datacenter`; this module only assembles.
"""

from __future__ import annotations

import collections
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.datastructures import MutableHeaders
from starlette.middleware.sessions import SessionMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from closesync import __version__
from closesync.datacenter import DataCenter
from closesync.web import api, filters, pages, run_pages, security
from closesync.web.errors import EXCEPTION_HANDLERS
from closesync.web.runs import RunTracker
from closesync.web.security import guard

log = logging.getLogger("closesync.web")

HERE = Path(__file__).parent
# Only our own files: no inline script, no third-party origin. A CRM value that slipped past escaping
# still could not run.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


def _templates() -> Jinja2Templates:
    """Jinja2 with autoescape forced on for every template (CRM text is untrusted)."""
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    env = templates.env
    env.autoescape = True
    filters.register(env)
    return templates


class SecurityHeaders:
    """Pure ASGI middleware (streams downloads untouched) adding CSP and friends to every response."""

    NO_STORE = ("/api/", "/datasets", "/accounts", "/login", "/runs")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", CSP)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "no-referrer")
                headers.setdefault("X-Frame-Options", "DENY")
                if path.startswith(self.NO_STORE):
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start the DataCenter's scheduler with the app (when asked) and stop it on shutdown."""
    dc: DataCenter = app.state.dc
    sched = dc.scheduler() if app.state.run_scheduler else None
    if sched is not None:
        sched.start()  # in-flight runs finish on stop, or are recovered on the next start
        log.info("scheduler started")
    app.state.scheduler = sched
    try:
        yield
    finally:
        if sched is not None:
            sched.stop()
            log.info("scheduler stopped")
            app.state.scheduler = None
        dc.close()


def create_app(
    home: str | Path | None = None,
    *,
    password: str | None = None,
    allowed_hosts: list[str] | None = None,
    run_scheduler: bool = False,
    datacenter: DataCenter | None = None,
    session_secret: str | None = None,
) -> FastAPI:
    """Build the Data Center app.

    `home` is the datacenter home folder (CLOSESYNC_HOME); `datacenter` may be passed instead (tests).
    `password` turns on the login page; `allowed_hosts` pins the Host header (set on loopback binds).
    `run_scheduler` starts the datacenter's scheduler with the app and stops it on shutdown.
    `session_secret` signs the session cookie; by default it is read from (or created in) the home.
    """
    dc = datacenter if datacenter is not None else DataCenter(home)
    app = FastAPI(
        title="closesync Data Center API",
        version=__version__,
        description=(
            "JSON API of the closesync Data Center. State-changing calls need the `X-CSRF-Token` header "
            "(from `GET /api/csrf`, with the session cookie) or, when a password is set, "
            "`Authorization: Bearer <password>`."
        ),
        docs_url=None,  # Swagger UI and ReDoc load from a CDN: we serve our own /api page instead
        redoc_url=None,
        openapi_url=None,  # served by pages.openapi_document, behind the same login as everything else
        lifespan=_lifespan,
        dependencies=[Depends(guard)],
        exception_handlers=EXCEPTION_HANDLERS,
    )
    app.state.dc = dc
    app.state.password = password or None
    app.state.templates = _templates()
    app.state.runs = RunTracker()
    app.state.run_scheduler = run_scheduler
    app.state.scheduler = None
    app.state.login_failures = collections.deque(maxlen=1000)

    app.add_middleware(
        SessionMiddleware,
        # kept in the home by default, so restarting `serve` does not log everyone out
        secret_key=session_secret or security.session_secret(dc.home),
        session_cookie="closesync_session",
        same_site="strict",
        max_age=12 * 3600,
    )
    if allowed_hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)

    app.add_middleware(SecurityHeaders)

    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(pages.router)
    app.include_router(run_pages.router)
    app.include_router(api.router)
    return app
