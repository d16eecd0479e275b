"""GET /event/: the event log, newest first, with Close's cursor paging (`_cursor` -> `cursor_next`).

Close accepts only certain combinations of filters (its reference lists them; `action` alone is not one);
with the `event_filters` knob at "documented" (the default, as Close always behaves) any other combination
answers 400. "any" accepts every combination (the sandbox before it knew); "none" refuses every filter (an
event log that takes none of the queries a client sends: its deletions must be found another way).
"""

from __future__ import annotations

import base64
from typing import Any

from closesync.sandbox.errors import ApiError
from closesync.sandbox.listing import ListSpec, int_param, select

MAX_LIMIT = 50
FILTERS = ("object_type", "object_id", "action", "lead_id", "user_id", "request_id")
#: The sandbox's reading of Close's list of supported combinations (`date_updated__*` goes with any); no
#: filter at all lists the whole log.
ALLOWED_COMBINATIONS: frozenset[frozenset[str]] = frozenset(
    frozenset(names.split())
    for names in (
        "", "object_type object_id", "object_type action", "object_id action", "lead_id object_type",
        "lead_id object_type action", "lead_id user_id object_type", "lead_id user_id object_type action",
        "lead_id user_id", "user_id object_id", "user_id object_id action", "user_id object_type",
        "user_id object_type action", "lead_id", "user_id", "request_id",
    )
)
EVENT_FILTER_MODES = ("documented", "any", "none")
SPEC = ListSpec("event", max_limit=MAX_LIMIT,
                equal_filters=FILTERS,
                date_filters=("date_created",))


def _encode(index: int) -> str:
    return base64.urlsafe_b64encode(f"ev:{index}".encode()).decode().rstrip("=")


def _decode(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, index = text.partition(":")
        if kind != "ev":
            raise ValueError(cursor)
        return int(index)
    except (ValueError, UnicodeDecodeError):
        raise ApiError.validation(field_errors={"_cursor": "Invalid cursor."}) from None


def list_events(req: Any) -> dict[str, Any]:
    """Events are stamped once, so `date_updated` equals `date_created` and both filter the same range."""
    params = dict(req.params)
    if "_skip" in params:
        raise ApiError.validation(field_errors={"_skip": "Skip is not supported on this resource; use _cursor."})
    mode = req.extras.get("event_filters", "documented")
    if mode != "any":
        _check_combination(params, ALLOWED_COMBINATIONS if mode == "documented" else frozenset([frozenset()]))
    limit = int_param(params, "_limit", MAX_LIMIT)
    if limit > MAX_LIMIT:
        raise ApiError.message(
            400, f"The limit you set is larger than the maximum limit for this resource (max_limit = {MAX_LIMIT}).")
    for op in ("gt", "gte", "lt", "lte"):
        if f"date_updated__{op}" in params:
            params[f"date_created__{op}"] = params.pop(f"date_updated__{op}")
    coll = req.data.collection("event")
    sel = select(coll, SPEC, params)
    below = _decode(params["_cursor"]) if params.get("_cursor") else None
    out, last = [], None
    top = sel.b if below is None else min(sel.b, below)
    order = sel.indexes if sel.indexes is not None else range(top - 1, sel.a - 1, -1)
    for i in order:
        if below is not None and i >= below:
            continue
        rec = coll.get(i)
        if rec is None:
            continue
        if len(out) == limit:
            return {"data": out, "cursor_next": _encode(last), "cursor_previous": None}
        out.append(rec)
        last = i
    return {"data": out, "cursor_next": None, "cursor_previous": None}


def _check_combination(params: dict[str, str], allowed: frozenset[frozenset[str]]) -> None:
    given = frozenset(name for name in FILTERS if params.get(name))
    if given not in allowed:
        raise ApiError.validation(errors=[
            f"Unsupported combination of filters: {', '.join(sorted(given))}. "
            "See the event log documentation for the supported combinations."])
