"""Answers every page shares: a rendered template, a one-time message, a streamed table download.

Kept apart from app.py (which assembles the app) so pages, the JSON API and the error handlers can use them
without importing the app factory.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from closesync import __version__
from closesync.datacenter import DataCenter
from closesync.web.security import csrf_token


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    """Render a page with what every layout needs: CSRF token, flashes, nav state."""
    app = request.app
    ctx: dict[str, Any] = {
        "csrf": csrf_token(request),
        "flashes": request.session.pop("flashes", []) if "flashes" in request.session else [],
        "version": __version__,
        "password_set": app.state.auth is not None,
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


def download_response(dc: DataCenter, dataset_id: int, fmt: str, table: str | None = None) -> Response:
    """Stream the table as a file (the DataCenter encodes it); shared by the page links and the JSON API.

    Blocking: FastAPI runs the callers in its thread pool. Errors (no table yet, busy) come before any byte.
    """
    if fmt not in ("csv", "parquet"):
        raise HTTPException(400, "format must be csv or parquet")
    export = dc.export(dataset_id, fmt, table=table)  # `table`: one of a per-type dataset's tables
    return StreamingResponse(
        export.chunks,
        media_type=export.media_type,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(export.filename)}"},
    )
