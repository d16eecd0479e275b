"""Cursor walks on Close: Advanced Filtering search (POST `data/search/`) and the event log (GET `event/`).

Neither has `_skip`: a search follows `cursor`, the event log `cursor_next`. A search walk is depth-capped
like `_skip` (Close's 400 carries `max_skip = N`, remembered per endpoint group on the client), so big reads
restart as an ascending keyset walk (`search_by_date`). Offset paging and date windows live in `paging.py`.
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
    """Every `object_type` record with start <= field < end, ascending by `field`, each once.

    A keyset walk: search sorted ascending by `field`; when the cursor walk reaches the depth cap
    (learned from Close's 400 or known on the client), start a new search at the last value seen
    (inclusive) and drop the ids already yielded at exactly that value. Relies only on the sort we ask for,
    and checks it: a page that goes backwards raises instead of silently losing records.
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
    edge_ids: set[str] = set()
    path = SEARCH_PATH
    while True:
        query = moment_range_query(object_type, field, lower, upper)
        cursor: str | None = None
        depth = 0
        last: datetime | None = None
        at_last: set[str] = set()
        restart = False
        while True:
            cap = client.skip_cap(path)
            if cap is not None and depth > cap:
                restart = True
                break
            body = {"query": query, "sort": sort, "_limit": page_size, "cursor": cursor, "_fields": wanted}
            try:
                page = checked_page(client.post(path, body), path, cursor_key="cursor", sent=cursor)
            except BadRequestError as exc:
                if exc.max_skip is None or depth == 0:
                    raise
                client.learn_skip_cap(path, exc.max_skip)
                restart = True
                break
            data = page.get("data") or []
            for record in data:
                value = parse_timestamp(record.get(field))
                rid = record.get("id")
                if value is not None:
                    if last is not None and value < last:
                        raise CloseError(
                            f"data/search/ returned {object_type}s out of {field} order; "
                            "a keyset walk would lose records",
                            path=path,
                        )
                    if value != last:
                        last, at_last = value, set()
                    if rid is not None:
                        at_last.add(rid)
                if rid is not None and value == lower and rid in edge_ids:
                    continue
                yield record
            depth += len(data)
            cursor = page.get("cursor")
            if not cursor or not data:
                return
        if not restart:
            return
        if last is None or last == lower:
            raise CloseError(
                f"More {object_type}s share one {field} value than one search may page through",
                path=path,
            )
        lower, edge_ids = last, at_last


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
