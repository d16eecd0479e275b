"""How failures become answers: a JSON body under /api/, an error page everywhere else.

Module-level handlers that create_app registers. Every error closesync raises on purpose is a
:class:`~closesync.errors.ClosesyncError` whose message is fit for a user, so no documented failure path
ends in a bare 500 traceback.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException  # the router's own 404 (FastAPI's HTTPException subclasses it)

from closesync.datacenter import (
    AccountKeyError,
    ConflictError,
    DataCenterError,
    DatasetBusyError,
    NotFoundError,
    ValidationError,
)
from closesync.errors import ClosesyncError
from closesync.web.rendering import render
from closesync.web.security import CrossSiteRefused, CsrfFailed, LoginRequired, TooManyGuesses

log = logging.getLogger("closesync.web")


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/openapi.json"


def _error_page(request: Request, title: str, message: str, status: int) -> Response:
    if status == 404:
        return _not_found_page(request, message)
    return render(request, "error.html", {"title": title, "message": message}, status=status)


def _not_found_page(request: Request, message: str | None = None) -> Response:
    """A 404 for a person: what was not found, in words, and the way back to their DataSets."""
    if not message or message in ("Not Found", "No such page."):
        message = f"There is no page at {request.url.path}."
    message = re.sub(r"\s*See `closesync [^`]*`\.?", "", message)  # the command line's hint is not for here
    message = re.sub(r"^No ([a-z ]+) named '(\d+)'\.", r"No \1 with id \2.", message)  # names are never digits
    return render(request, "not_found.html", {"message": message}, status=404)


def closesync_error_response(exc: ClosesyncError) -> JSONResponse:
    """The HTTP status and JSON body of one of our errors; the message is already fit for a user."""
    status = 500
    body: dict[str, Any] = {"detail": str(exc)}
    if isinstance(exc, NotFoundError):
        status = 404
    elif isinstance(exc, ConflictError | DatasetBusyError):
        status = 409
        if isinstance(exc, ConflictError) and exc.errors:
            body.update(field=exc.field, errors=exc.errors)
    elif isinstance(exc, ValidationError):
        status = 422
        body.update(field=exc.field, errors=exc.errors)
    elif isinstance(exc, AccountKeyError):
        status = 400
        body["field"] = "api_key"
    elif isinstance(exc, DataCenterError):
        status = 400
    return JSONResponse(body, status_code=status)


async def on_closesync_error(request: Request, exc: Exception) -> Response:
    """DataCenter errors (404 / 409 / 422 / 400) and any other closesync error (500, with its message)."""
    assert isinstance(exc, ClosesyncError)
    response = closesync_error_response(exc)
    if response.status_code >= 500:
        log.error("%s %s failed: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
    if wants_json(request):
        return response
    title = "Not found" if response.status_code == 404 else "That did not work"
    return _error_page(request, title, str(exc), response.status_code)


async def on_login_required(request: Request, exc: Exception) -> Response:
    if wants_json(request):
        return JSONResponse({"detail": "login required"}, status_code=401)
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    nxt = target if request.method == "GET" else "/datasets"
    return RedirectResponse(f"/login?next={quote(nxt)}", status_code=303)


async def on_csrf_failed(request: Request, exc: Exception) -> Response:
    if wants_json(request):
        return JSONResponse({"detail": "missing or invalid CSRF token"}, status_code=403)
    message = "The form's security token was missing or expired. Go back, reload the page and try again."
    return _error_page(request, "Request refused", message, 403)


async def on_cross_site(request: Request, exc: Exception) -> Response:
    message = "This request came from another site's page: it was refused, whatever it carried."
    if wants_json(request):
        return JSONResponse({"detail": message}, status_code=403)
    return _error_page(request, "Request refused", message, 403)


async def on_too_many_guesses(request: Request, exc: Exception) -> Response:
    """A wrong `Authorization: Bearer` password too many times from this address: wait, then retry."""
    assert isinstance(exc, TooManyGuesses)
    headers = {"Retry-After": str(exc.retry_after)}
    message = f"Too many wrong passwords from your address: wait {exc.retry_after} s and try again."
    if wants_json(request):
        return JSONResponse({"detail": message}, status_code=429, headers=headers)
    page = _error_page(request, "Too many wrong passwords", message, 429)
    page.headers.update(headers)
    return page


async def on_bad_request(request: Request, exc: Exception) -> Response:
    """A malformed request. FastAPI's default echoes the input back; for /api/accounts that could be a key."""
    assert isinstance(exc, RequestValidationError)
    if not wants_json(request):
        return _not_found_page(request)
    errors = [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
        for e in exc.errors()
    ]
    return JSONResponse({"detail": errors}, status_code=422)


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if wants_json(request):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
    title = "Not found" if exc.status_code == 404 else "Something went wrong"
    return _error_page(request, title, str(exc.detail), exc.status_code)


#: What create_app registers; Starlette picks the handler of the most specific class in an error's MRO.
EXCEPTION_HANDLERS = {
    LoginRequired: on_login_required,
    CsrfFailed: on_csrf_failed,
    CrossSiteRefused: on_cross_site,
    TooManyGuesses: on_too_many_guesses,
    ClosesyncError: on_closesync_error,
    RequestValidationError: on_bad_request,
    HTTPException: on_http_error,
}
