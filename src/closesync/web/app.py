"""The FastAPI app factory: wires the service layer, security, templates and the two routers.

Everything the pages and the JSON API do goes through `closesync.datacenter`; this module only assembles.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.sessions import SessionMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware

from closesync import __version__
from closesync.datacenter import DataCenter
from closesync.web import api, filters, insights, pages, run_pages, security, settings
from closesync.web.errors import EXCEPTION_HANDLERS
from closesync.web.middleware import SecurityHeaders, TrustedProxy
from closesync.web.model_builds import ModelBuilds
from closesync.web.runs import RunTracker
from closesync.web.security import Auth, guard
from closesync.web.sessions import DEFAULT_IDLE_S, SessionBook

log = logging.getLogger("closesync.web")

HERE = Path(__file__).parent
#: Bigger request bodies get a 413 before anything parses them: no form or JSON call needs more.
MAX_BODY_BYTES = 1 << 20


def _templates() -> Jinja2Templates:
    """Jinja2 with autoescape forced on for every template (CRM text is untrusted)."""
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    env = templates.env
    env.autoescape = True
    filters.register(env)
    return templates


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
    session_idle_s: float = DEFAULT_IDLE_S,
    https_only: bool = False,
    trusted_proxies: list[str] | None = None,
) -> FastAPI:
    """Build the Data Center app.

    `home` is the datacenter home folder (CLOSESYNC_HOME); `datacenter` may be passed instead (tests).
    `password` turns on the login page; `allowed_hosts` pins the Host header (set on loopback binds).
    `run_scheduler` starts the datacenter's scheduler with the app and stops it on shutdown.
    `session_secret` signs the session cookie; by default it is read from (or created in) the home.
    `session_idle_s` ends a login session unused for that long. `https_only` marks cookies Secure on every
    response (they are anyway on requests that came over HTTPS); `trusted_proxies` are the addresses whose
    X-Forwarded-Proto/-For/-Host headers are believed.
    """
    dc = datacenter if datacenter is not None else DataCenter(home)
    app = FastAPI(
        title="closesync Data Center API",
        version=__version__,
        description=(
            "JSON API of the closesync Data Center. State-changing calls need the `X-CSRF-Token` header "
            "(from `GET /api/csrf`, with the session cookie) or, when a password is set, "
            "`Authorization: Bearer <password>`. Wrong passwords slow down the address they come from "
            "(429 with Retry-After); requests from another site's pages are refused (403)."
        ),
        docs_url=None,  # Swagger UI and ReDoc load from a CDN: we serve our own /api page instead
        redoc_url=None,
        openapi_url=None,  # served by pages.openapi_document, behind the same login as everything else
        lifespan=_lifespan,
        dependencies=[Depends(guard)],
        exception_handlers=EXCEPTION_HANDLERS,
        max_body_size=MAX_BODY_BYTES,
    )
    session_key = session_secret or security.session_secret(dc.home)
    app.state.dc = dc
    app.state.auth = Auth(password, session_key, SessionBook(dc.home, session_idle_s)) if password else None
    app.state.templates = _templates()
    app.state.runs = RunTracker()
    app.state.model_builds = ModelBuilds()
    app.state.run_scheduler = run_scheduler
    app.state.scheduler = None

    app.add_middleware(
        SessionMiddleware,
        # kept in the home by default, so restarting `serve` does not log everyone out
        secret_key=session_key,
        session_cookie="closesync_session",
        same_site="strict",
        max_age=max(60, int(session_idle_s)),  # re-sent on every answer: the cookie too ends when idle
    )
    if allowed_hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)

    app.add_middleware(SecurityHeaders, https_only=https_only)
    if trusted_proxies:  # outermost: everything inside sees the scheme and address the proxy forwarded
        app.add_middleware(TrustedProxy, proxies=frozenset(trusted_proxies))

    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(pages.router)
    app.include_router(settings.router)
    app.include_router(run_pages.router)
    app.include_router(insights.router)
    app.include_router(api.router)
    return app
