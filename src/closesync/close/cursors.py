"""Cursor walks on Close: Advanced Filtering search (POST `data/search/`) and the event log (GET `event/`).

Neither has `_skip`: a search follows `cursor`, the event log `cursor_next`. A long cursor walk is both
depth-capped (Close's 400 carries `max_skip = N`) and exposed to records that move while it runs, so whole
reads use `search_by_date`, a keyset walk whose every page is a fresh query. Offset paging and date windows
live in `paging.py`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from closesync.close.errors import BadRequestError, CloseError
from closesync.close.pages import checked_page
from closesync.close.records import Record, unseen
from closesync.close.timestamps import format_timestamp, parse_bound, parse_timestamp

if TYPE_CHECKING:
    from closesync.close.client import CloseClient

EVENT_PAGE_SIZE = 50
SEARCH_PATH = "data/search/"


# -- Advanced Filtering search ----------------------------------------------------------------------------


def search(
    client: CloseClient,
    query: dict[str, Any],
    *,
    sort: list[dict[str, Any]] | None = None,
    fields: dict[str, list[str]] | None = None,
    page_size: int = 200,
) -> Iterator[Record]:
    """Follow `cursor` through POST data/search/ until it runs out. One cursor walk is depth-capped like
    `_skip` (BadRequestError with `.max_skip`); `search_by_date` restarts around that for big reads."""
    seen: set[str] = set()
    cursor: str | None = None
    while True:
        body: dict[str, Any] = {"query": query, "_limit": page_size, "cursor": cursor}
        if sort:
            body["sort"] = sort
        if fields:
            body["_fields"] = fields
        page = checked_page(client.post(SEARCH_PATH, body), SEARCH_PATH, cursor_key="cursor", sent=cursor)
        data = page.get("data") or []
        yield from unseen(data, seen)
        cursor = page.get("cursor")
        if not cursor or not data:
            return


def moment_range_query(
    object_type: str, field: str, start: datetime | None, end: datetime | None
) -> dict[str, Any]:
    """Advanced Filtering query: objects of `object_type` with start <= field < end."""
    queries: list[dict[str, Any]] = [{"type": "object_type", "object_type": object_type}]
    condition: dict[str, Any] = {"type": "moment_range"}
    if start is not None:
        condition["on_or_after"] = {"type": "fixed_utc", "value": format_timestamp(start)}
    if end is not None:
        condition["before"] = {"type": "fixed_utc", "value": format_timestamp(end)}
    if len(condition) > 1:
        queries.append(
            {
                "type": "field_condition",
                "field": {"type": "regular_field", "object_type": object_type, "field_name": field},
                "condition": condition,
            }
        )
    return {"type": "and", "queries": queries}


def search_by_date(
    client: CloseClient,
    object_type: str,
    *,
    field: str = "date_created",
    start: datetime | str | None = None,
    end: datetime | str | None = None,
    fields: list[str] | dict[str, list[str]] | None = None,
    page_size: int = 200,
) -> Iterator[Record]:
    """Every `object_type` record with start <= field < end, ascending by `field`.

    A keyset walk where each page is a fresh search: `field` on or after the last value seen (down to its
    whole second, as some Close filters honour only seconds; the exact value when a page ends in the
    boundary's second), sorted ascending; records at that boundary already yielded in the same version are
    dropped by id. No cursor is followed from page to page, so
    however Close's cursors behave while records change (an edit moves a record to the end and shifts the
    rest), no record is lost or repeated. A record edited during the walk comes again, later, in its new
    version: callers keep the last one. Only when more records share one exact value than a page holds
    does the walk follow that query's cursor, through that value.
    Relies only on the sort we ask for, and checks it: a page that goes backwards raises.
    """
    lower = parse_bound(start)
    upper = parse_bound(end)
    wanted = _search_fields(object_type, field, fields)
    sort = [
        {
            "field": {"type": "regular_field", "object_type": object_type, "field_name": field},
            "direction": "asc",
        }
    ]
    edge: dict[str, datetime | None] = {}  # yielded ids (and versions) at or above `lower`
    newest: datetime | None = None  # the last value seen, and its whole second (order is checked by second)
    newest_second: datetime | None = None
    cursor: str | None = None
    while True:
        body = {
            "query": moment_range_query(object_type, field, lower, upper),
            "sort": sort,
            "_limit": page_size,
            "cursor": cursor,
            "_fields": wanted,
        }
        try:
            page = checked_page(client.post(SEARCH_PATH, body), SEARCH_PATH, cursor_key="cursor", sent=cursor)
        except BadRequestError as exc:
            if cursor is None or exc.max_skip is None:
                raise
            raise CloseError(
                f"More {object_type}s share one second of {field} than one search may page through",
                path=SEARCH_PATH,
            ) from exc
        data = page.get("data") or []
        for record in data:
            value = parse_timestamp(record.get(field))
            if value is not None:
                second = value.replace(microsecond=0)
                if newest_second is not None and second < newest_second:
                    raise CloseError(
                        f"data/search/ returned {object_type}s out of {field} order; "
                        "a keyset walk would lose records",
                        path=SEARCH_PATH,
                    )
                newest, newest_second = max(value, newest or value), second
            rid = record.get("id")
            if rid is not None:
                if rid in edge and edge[rid] == value:
                    continue
                edge[rid] = value
            yield record
        if not page.get("cursor") or not data:
            return
        boundary = _next_bound(lower, newest_second, newest)
        if boundary is None:  # the whole page shares the boundary's value: page through it
            cursor = page.get("cursor")
            continue
        lower, cursor = boundary, None
        edge = {k: v for k, v in edge.items() if v is None or v >= boundary}


def _next_bound(lower: datetime | None, second: datetime | None, value: datetime | None) -> datetime | None:
    """Where the next keyset page starts: the last value's whole second if that moves past `lower` (some
    filters honour only seconds), else the exact value; None if neither moves (ties fill the page)."""
    for bound in (second, value):
        if bound is not None and (lower is None or bound > lower):
            return bound
    return None


def _search_fields(
    object_type: str, field: str, fields: list[str] | dict[str, list[str]] | None
) -> dict[str, list[str]]:
    """The `_fields` map, always including `id` and the walk's sort field (the keyset needs them)."""
    if isinstance(fields, dict):
        mapping = {k: list(v) for k, v in fields.items()}
    else:
        mapping = {object_type: list(fields or [])}
    names = mapping.setdefault(object_type, [])
    for required in ("id", field):
        if required not in names:
            names.append(required)
    return mapping


# -- event log --------------------------------------------------------------------------------------------


def events(client: CloseClient, params: dict[str, Any] | None = None) -> Iterator[Record]:
    """Every event matching `params`, following `cursor_next` (GET event/, newest first)."""
    base = {k: v for k, v in (params or {}).items() if k != "_cursor"}
    base.setdefault("_limit", EVENT_PAGE_SIZE)
    cursor = (params or {}).get("_cursor")
    seen: set[str] = set()
    while True:
        page = checked_page(client.get("event/", {**base, "_cursor": cursor} if cursor else base), "event/",
                            cursor_key="cursor_next", sent=cursor)
        data = page.get("data") or []
        yield from unseen(data, seen)
        cursor = page.get("cursor_next")
        if not cursor or not data:
            return
