"""The Settings page: notification channels (alerts when a DataSet fails or recovers).

A channel's URL holds a token: the add form never sends it back to the browser, and the page shows only
the masked form the DataCenter keeps for display.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from closesync.datacenter import DataCenter, DataCenterError, ValidationError
from closesync.datacenter.notify import EVENTS, INSTALL_HINT, PUBLIC_URL_ENV, apprise_installed, public_url
from closesync.web.rendering import flash, render

router = APIRouter(include_in_schema=False)


def _dc(request: Request) -> DataCenter:
    return request.app.state.dc


async def _page(
    request: Request, values: dict[str, Any] | None = None, errors: dict[str, str] | None = None, status: int = 200
) -> Response:
    dc = _dc(request)
    channels = await run_in_threadpool(dc.list_notifications)
    datasets = await run_in_threadpool(dc.list_datasets)
    response = render(
        request,
        "settings.html",
        {
            "section": "settings",
            "channels": channels,
            "datasets": datasets,
            "events": EVENTS,
            "values": values or {"dataset": "", "events": list(EVENTS)},
            "errors": errors or {},
            "public_url": public_url(),
            "public_url_env": PUBLIC_URL_ENV,
            "apprise_missing": not apprise_installed(),
            "install_hint": INSTALL_HINT,
        },
        status=status,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/settings", response_class=HTMLResponse)
async def settings_page(request: Request) -> Response:
    return await _page(request)


@router.post("/settings/notifications", response_class=HTMLResponse)
async def add_channel(request: Request) -> Response:
    form = await request.form()
    url = form.get("url")
    url = url.strip() if isinstance(url, str) else ""
    dataset = form.get("dataset")
    dataset = dataset if isinstance(dataset, str) and dataset else None
    events = [e for e in form.getlist("events") if isinstance(e, str)]
    values = {"dataset": dataset or "", "events": events}  # never the URL: it holds the channel's token
    if not url:
        return await _page(request, values, {"url": "Paste the channel's URL."}, status=422)
    try:
        channel = await run_in_threadpool(
            lambda: _dc(request).add_notification(url, dataset=dataset, events=events)
        )
    except ValidationError as exc:
        return await _page(request, values, {exc.field or "url": str(exc)}, status=422)
    except DataCenterError as exc:  # apprise missing, the URL is a channel already, the DataSet is gone
        return await _page(request, values, {"url": str(exc)}, status=422)
    flash(request, "ok", f"Channel {channel.url_masked} added for {channel.scope}. Send a test to check it.")
    return RedirectResponse("/settings", status_code=303)


@router.post("/settings/notifications/{channel_id}/test")
async def test_channel(request: Request, channel_id: int) -> Response:
    [delivery] = await run_in_threadpool(_dc(request).test_notification, channel_id)
    if delivery.ok:
        flash(request, "ok", f"Test message sent to {delivery.url_masked}.")
    else:
        flash(request, "error", f"The test message to {delivery.url_masked} failed: {delivery.error}")
    return RedirectResponse("/settings", status_code=303)


@router.post("/settings/notifications/{channel_id}/delete")
async def remove_channel(request: Request, channel_id: int) -> Response:
    channel = await run_in_threadpool(_dc(request).remove_notification, channel_id)  # unknown: the 404 page
    flash(request, "ok", f"Channel {channel.url_masked} removed.")
    return RedirectResponse("/settings", status_code=303)
