"""Cursor walks on Close: Advanced Filtering search (POST `data/search/`) and the event log (GET `event/`).

Neither has `_skip`: a search follows `cursor`, the event log `cursor_next`. A long cursor walk is both
depth-capped (Close's 400 carries `max_skip = N`) and exposed to records that move while it runs, so whole
reads use `search_by_date`, a keyset walk whose every page is a fresh query. Offset paging and date windows
live in `paging.py`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from closesync.close.errors import BadRequestError, CloseError
from closesync.close.pages import checked_page
from closesync.close.records import Record, unseen
from closesync.close.selectors import SEARCH_PATH, Selectors, id_condition
from closesync.close.timestamps import format_timestamp, parse_bound, parse_timestamp

if TYPE_CHECKING:
    from closesync.close.client import CloseClient

EVENT_PAGE_SIZE = 50


# -- Advanced Filtering search ----------------------------------------------------------------------------


def search(
    client: CloseClient,
    query: dict[str, Any],
    *,
    sort: list[dict[str, Any]] | None = None,
    fields: dict[str, list[str]] | None = None,
    page_size: int = 200,
) -> Iterator[Record]:
    """Follow `cursor` through POST data/search/ until it runs out. One cursor walk ends deep in a result
    set or when its cursor expires (400); `search_by_date` restarts around that for big reads."""
    seen: set[str] = set()
    cursor: str | None = None
    while True:
        body = _search_body(query, sort, page_size, cursor, fields)
        page = checked_page(client.post(SEARCH_PATH, body), SEARCH_PATH, cursor_key="cursor", sent=cursor)
        data = page.get("data") or []
        yield from unseen(data, seen)
        cursor = page.get("cursor")
        if not cursor or not data:
            return


def _search_body(
    query: dict[str, Any],
    sort: list[dict[str, Any]] | None,
    page_size: int,
    cursor: str | None,
    fields: dict[str, list[str]] | None,
) -> dict[str, Any]:
    """A data/search/ body; a first page carries no `cursor` key at all (not `"cursor": null`)."""
    body: dict[str, Any] = {"query": query, "_limit": page_size}
    if sort:
        body["sort"] = sort
    if cursor:
        body["cursor"] = cursor
    if fields:
        body["_fields"] = fields
    return body


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
    dropped: list[str] | None = None,
) -> Iterator[Record]:
    """Every `object_type` record with start <= field < end, ascending by `field`.

    A keyset walk where each page is a fresh search: `field` on or after the last value seen (down to its
    whole second, as some Close filters honour only seconds; the exact value when a page ends in the
    boundary's second), sorted ascending; records at that boundary already yielded in the same version are
    dropped by id. No cursor is followed from page to page, so
    however Close's cursors behave while records change (an edit moves a record to the end and shifts the
    rest), no record is lost or repeated. A record edited during the walk comes again, later, in its new
    version: callers keep the last one. Only when more records share one exact value than a page holds
    does the walk follow that query's cursor, through that value; when Close refuses that cursor (too deep,
    expired: a 400, whatever its wording) the walk asks afresh from the same value, leaving out the ids it
    already has there.
    Many `fields` are split across requests and merged by id (`selectors.py`); a selector Close refuses
    even alone is left out and appended to `dropped`.
    Relies only on the sort we ask for, and checks it: a page that goes backwards raises.
    """
    lower = parse_bound(start)
    upper = parse_bound(end)
    selectors = _selectors(object_type, field, fields, dropped)
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
    excluded: list[str] = []  # after a refused cursor: ids already yielded at `lower`, left out of the query
    while True:
        query = moment_range_query(object_type, field, lower, upper)
        if excluded:
            query["queries"].append(id_condition(object_type, excluded, negate=True))
        sent = selectors.first()
        body = _search_body(query, sort, page_size, cursor, selectors.fields(sent))
        try:
            page = checked_page(client.post(SEARCH_PATH, body), SEARCH_PATH, cursor_key="cursor", sent=cursor)
        except BadRequestError:
            if cursor is not None:  # the cursor ends here (depth, expiry): a fresh query from `lower`
                cursor, excluded = None, list(edge)
                continue
            probe = {**body, "_fields": selectors.fields(selectors.required), "_limit": 1}
            if selectors.refused(sent, partial(client.post, SEARCH_PATH, probe)):
                continue
            raise
        data = selectors.complete(client, page.get("data") or [])
        fresh = 0
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
            fresh += 1
            yield record
        if excluded and cursor is None and data and not fresh:
            raise CloseError(
                f"data/search/ kept returning {object_type}s it was asked to leave out; cannot page "
                f"through the {object_type}s that share one {field}",
                path=SEARCH_PATH,
            )
        if not page.get("cursor") or not data:
            return
        boundary = _next_bound(lower, newest_second, newest)
        if boundary is None:  # the whole page shares the boundary's value: page through it
            cursor = page.get("cursor")
            continue
        lower, cursor, excluded = boundary, None, []
        edge = {k: v for k, v in edge.items() if v is None or v >= boundary}


def _next_bound(lower: datetime | None, second: datetime | None, value: datetime | None) -> datetime | None:
    """Where the next keyset page starts: the last value's whole second if that moves past `lower` (some
    filters honour only seconds), else the exact value; None if neither moves (ties fill the page)."""
    for bound in (second, value):
        if bound is not None and (lower is None or bound > lower):
            return bound
    return None


def _selectors(object_type: str, field: str, fields: list[str] | dict[str, list[str]] | None,
               dropped: list[str] | None) -> Selectors:
    """The walk's selectors: `id` and the sort field always (the keyset needs them), the rest split."""
    mapping = {k: list(v) for k, v in fields.items()} if isinstance(fields, dict) else {}
    wanted = mapping.pop(object_type, []) if isinstance(fields, dict) else list(fields or [])
    return Selectors(object_type, ["id", field], wanted, mapping, dropped=dropped)


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
