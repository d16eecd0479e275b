"""The FastAPI app factory: wires the service layer, security, templates and the two routers.

Everything the pages and the JSON API do goes through `closesync.datacenter`; this module only assembles.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import HTTPException, RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.datastructures import MutableHeaders
from starlette.middleware.sessions import SessionMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from closesync import __version__
from closesync.datacenter import DataCenter, DataCenterError
from closesync.web import filters, security
from closesync.web.runs import RunTracker
from closesync.web.security import CsrfFailed, LoginRequired, csrf_token, guard

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


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    """Render a page with what every layout needs: CSRF token, flashes, nav state."""
    app = request.app
    ctx: dict[str, Any] = {
        "csrf": csrf_token(request),
        "flashes": request.session.pop("flashes", []) if "flashes" in request.session else [],
        "version": __version__,
        "password_set": bool(app.state.password),
        "show_nav": True,
        "section": "",
    }
    ctx.update(context or {})
    return app.state.templates.TemplateResponse(request, name, ctx, status_code=status)


def flash(request: Request, kind: str, text: str) -> None:
    """Queue a one-time message for the next page (after a POST-redirect-GET)."""
    items = list(request.session.get("flashes", []))
    items.append([kind, text])
    request.session["flashes"] = items


class SecurityHeaders:
    """Pure ASGI middleware (streams downloads untouched) adding CSP and friends to every response."""

    NO_STORE = ("/api/", "/datasets", "/accounts", "/login")

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


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/openapi.json"


def create_app(
    home: str | Path | None = None,
    *,
    password: str | None = None,
    allowed_hosts: list[str] | None = None,
    run_scheduler: bool = False,
    datacenter: Any = None,
    session_secret: str | None = None,
) -> FastAPI:
    """Build the Data Center app.

    `home` is the datacenter home folder (CLOSESYNC_HOME); `datacenter` may be passed instead (tests).
    `password` turns on the login page; `allowed_hosts` pins the Host header (set on loopback binds).
    `run_scheduler` starts the datacenter's scheduler with the app and stops it on shutdown.
    `session_secret` signs the session cookie; by default it is read from (or created in) the home.
    """
    dc = datacenter if datacenter is not None else DataCenter(home)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sched = dc.scheduler() if run_scheduler else None
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
        lifespan=lifespan,
        dependencies=[Depends(guard)],
    )
    app.state.dc = dc
    app.state.password = password or None
    app.state.templates = _templates()
    app.state.runs = RunTracker()
    app.state.scheduler = None
    app.state.login_failures = collections.deque(maxlen=1000)

    home_dir = getattr(dc, "home", None)
    if session_secret is None:  # kept in the home, so restarting `serve` does not log everyone out
        session_secret = security.session_secret(home_dir) if home_dir is not None else secrets.token_urlsafe(32)
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret,
        session_cookie="closesync_session",
        same_site="strict",
        max_age=12 * 3600,
    )
    if allowed_hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)

    app.add_middleware(SecurityHeaders)

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": "login required"}, status_code=401)
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        nxt = target if request.method == "GET" else "/datasets"
        from urllib.parse import quote

        return RedirectResponse(f"/login?next={quote(nxt)}", status_code=303)

    @app.exception_handler(CsrfFailed)
    async def _csrf_failed(request: Request, exc: CsrfFailed) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": "missing or invalid CSRF token"}, status_code=403)
        return render(
            request,
            "error.html",
            {
                "title": "Request refused",
                "message": "The form's security token was missing or expired. "
                "Go back, reload the page and try again.",
            },
            status=403,
        )

    @app.exception_handler(DataCenterError)
    async def _dc_error(request: Request, exc: DataCenterError) -> Response:
        from closesync.web.api import datacenter_error_response

        response = datacenter_error_response(exc)
        if _wants_json(request):
            return response
        title = "Not found" if response.status_code == 404 else "That did not work"
        return render(
            request, "error.html", {"title": title, "message": str(exc)}, status=response.status_code
        )

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError) -> Response:
        # FastAPI's default echoes the offending input back; for /api/accounts that could be a key.
        if not _wants_json(request):
            return render(
                request, "error.html", {"title": "Not found", "message": "No such page."}, status=404
            )
        errors = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
            for e in exc.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        title = "Not found" if exc.status_code == 404 else "Something went wrong"
        return render(
            request, "error.html", {"title": title, "message": str(exc.detail)}, status=exc.status_code
        )

    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    from closesync.web import api, pages

    app.include_router(pages.router)
    app.include_router(api.router)
    return app
