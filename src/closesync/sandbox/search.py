"""POST /data/search/ (Advanced Filtering) with cursor paging.

Supported: object types lead, contact, opportunity and custom_object; query nodes `and`, `or`, `object_type`, `match_all`,
`field_condition` on regular fields or `custom_field` ids with conditions `moment_range` (`on_or_after`,
`after`, `before`, `on_or_before` given as `{"type": "fixed_utc"|"fixed_local_date", "value": ...}` or a bare
string), `term` (`values`), `text` (`value`, substring), `reference` (`object_ids`) and `number_range`
(`gt`/`gte`/`lt`/`lte`); `negate` on any node. `sort` takes regular timestamp fields asc/desc. The cursor is
an offset into the sorted result, and an offset past the sandbox's skip cap answers 400 with Close's
max-skip message: long walks must restart from the last seen sort value. The `real_close.py` knobs add a
cursor depth limit, cursor expiry, a `_fields` selector ceiling and selectors refused even alone.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

from closesync.sandbox.collection import Collection
from closesync.sandbox.errors import ApiError, skip_too_large
from closesync.sandbox.real_close import RealClose
from closesync.sandbox.timefmt import parse_us

Record = dict[str, Any]
MAX_LIMIT = 200
OBJECT_TYPES = ("lead", "contact", "opportunity", "custom_object")
TIMESTAMP_FIELDS = ("date_created", "date_updated")


def _bad(message: str) -> ApiError:
    return ApiError.validation(errors=[message])


def _find_object_type(node: Any) -> str | None:
    if not isinstance(node, dict):
        return None
    if node.get("type") == "object_type":
        return node.get("object_type")
    for child in node.get("queries", []) or []:
        found = _find_object_type(child)
        if found:
            return found
    return None


def _moment(value: Any) -> int:
    raw = value.get("value") if isinstance(value, dict) else value
    if not isinstance(raw, str):
        raise _bad(f"Invalid moment: {value!r}")
    try:
        return parse_us(raw)
    except ValueError:
        raise _bad(f"Invalid moment: {raw!r}") from None


class _Evaluator:
    """Compiles a query tree into a predicate over collection indexes (records built only when needed)."""

    def __init__(self, coll: Collection, object_type: str) -> None:
        self.coll, self.object_type = coll, object_type

    def compile(self, node: Any) -> Callable[[int], bool]:
        if not isinstance(node, dict) or "type" not in node:
            raise _bad("Each query node needs a 'type'.")
        kind = node["type"]
        if kind in ("and", "or"):
            parts = [self.compile(q) for q in node.get("queries") or []]
            fn = (lambda i: all(p(i) for p in parts)) if kind == "and" else (lambda i: any(p(i) for p in parts))
        elif kind == "object_type":
            same = node.get("object_type") == self.object_type
            fn = lambda i: same  # noqa: E731
        elif kind == "match_all":
            fn = lambda i: True  # noqa: E731
        elif kind == "field_condition":
            fn = self._condition(node.get("field") or {}, node.get("condition") or {})
        else:
            raise _bad(f"Unsupported query type {kind!r} in the sandbox.")
        if node.get("negate"):
            inner = fn
            return lambda i: not inner(i)
        return fn

    def _condition(self, field: Record, cond: Record) -> Callable[[int], bool]:
        if field.get("type") == "custom_field":
            name = "custom." + str(field.get("custom_field_id", ""))
        elif field.get("type") == "regular_field":
            name = str(field.get("field_name", ""))
        else:
            raise _bad(f"Unsupported field type {field.get('type')!r}.")
        ctype = cond.get("type")
        coll = self.coll
        if ctype == "moment_range":
            lo_us, hi_us, lo_incl, hi_incl = None, None, True, False
            if "on_or_after" in cond:
                lo_us = _moment(cond["on_or_after"])
            if "after" in cond:
                lo_us, lo_incl = _moment(cond["after"]), False
            if "before" in cond:
                hi_us = _moment(cond["before"])
            if "on_or_before" in cond:
                hi_us, hi_incl = _moment(cond["on_or_before"]), True

            def in_range(i: int) -> bool:
                ms = coll.timestamp_ms(name, i)
                if ms is None:
                    return False
                us = ms * 1000
                if lo_us is not None and (us < lo_us or (us == lo_us and not lo_incl)):
                    return False
                return hi_us is None or us < hi_us or (us == hi_us and hi_incl)

            return in_range

        def value(i: int) -> Any:
            rec = coll.get(i) or {}
            return rec.get(name)

        if ctype in ("term", "reference"):
            wanted = {str(v) for v in (cond.get("values") or cond.get("object_ids") or [])}
            return lambda i: (lambda v: any(str(x) in wanted for x in v) if isinstance(v, list)
                              else str(v) in wanted)(value(i))
        if ctype == "text":
            needle = str(cond.get("value", "")).lower()
            return lambda i: needle in str(value(i) or "").lower()
        if ctype == "number_range":
            bounds = {k: cond[k] for k in ("gt", "gte", "lt", "lte") if cond.get(k) is not None}

            def num_ok(i: int) -> bool:
                v = value(i)
                if not isinstance(v, int | float):
                    return False
                return all({"gt": v > b, "gte": v >= b, "lt": v < b, "lte": v <= b}[k] for k, b in bounds.items())

            return num_ok
        raise _bad(f"Unsupported condition type {ctype!r} in the sandbox.")


def _order(coll: Collection, sort: list[Any]) -> tuple[list[int] | range, bool]:
    """Indexes in the requested order (default: newest first by date_created)."""
    if not sort:
        return range(len(coll) - 1, -1, -1), False
    spec = sort[0] if isinstance(sort[0], dict) else {}
    field = (spec.get("field") or {}).get("field_name")
    direction = spec.get("direction", "asc")
    if field not in TIMESTAMP_FIELDS or direction not in ("asc", "desc"):
        raise ApiError.validation(field_errors={"sort": "The sandbox sorts by date_created or date_updated, "
                                                        "direction asc or desc."})
    if field == "date_created":
        ordered: list[int] | range = range(len(coll)) if direction == "asc" else range(len(coll) - 1, -1, -1)
    else:
        ordered = coll.sorted_by(field)
        if direction == "desc":
            ordered = ordered[::-1]
    return ordered, True


def _cursor(key: str, offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"k": key, "o": offset, "t": time.time()}).encode()).decode()


def search(req: Any) -> Record:
    body = req.body if isinstance(req.body, dict) else None
    if body is None:
        raise ApiError.validation(field_errors={"query": "This field is required."})
    query = body.get("query")
    if not isinstance(query, dict):
        raise ApiError.validation(field_errors={"query": "This field is required."})
    object_type = _find_object_type(query)
    if object_type not in OBJECT_TYPES:
        raise ApiError.validation(errors=[f"The query must select one object_type: {', '.join(OBJECT_TYPES)}."])
    limit = body.get("_limit", 100)
    if not isinstance(limit, int) or limit < 0:
        raise ApiError.validation(field_errors={"_limit": "Must be a non-negative integer."})
    if limit > MAX_LIMIT:
        raise ApiError.message(
            400, f"The limit you set is larger than the maximum limit for this resource (max_limit = {MAX_LIMIT}).")
    sort = body.get("sort") or []
    key = hashlib.sha1(json.dumps([query, sort], sort_keys=True).encode()).hexdigest()[:16]
    real_close = req.extras.get("real_close") or RealClose()
    real_close.check_selectors(body.get("_fields"))
    offset = 0
    if body.get("cursor"):
        try:
            state = json.loads(base64.urlsafe_b64decode(body["cursor"]))
            if state["k"] != key:
                raise ValueError("cursor from another query")
            offset = int(state["o"])
        except (ValueError, KeyError, TypeError):
            raise ApiError.validation(field_errors={"cursor": "Invalid cursor for this query."}) from None
        real_close.check_cursor(offset, state.get("t"))
    if offset > req.skip_cap:
        raise skip_too_large(req.skip_cap)
    coll = req.data.collection(object_type)

    def compute() -> list[int]:
        predicate = _Evaluator(coll, object_type).compile(query)
        ordered, _ = _order(coll, sort)
        return [i for i in ordered if i not in coll.deleted and predicate(i)]

    matches = coll.cached(("search", key), compute)
    results_limit = body.get("results_limit")
    total = len(matches) if not isinstance(results_limit, int) else min(len(matches), results_limit)
    page = matches[offset:min(offset + limit, total)]
    fields = (body.get("_fields") or {}).get(object_type) if isinstance(body.get("_fields"), dict) else None
    data = []
    for i in page:
        rec = coll.get(i) or {}
        item = {"__object_type": object_type, "id": rec.get("id")}
        if fields:
            for f in fields:
                if f == "custom":
                    item.update({k: v for k, v in rec.items()
                                 if k.startswith("custom.") and real_close.serves(k)})
                elif f in rec:
                    item[f] = rec[f]
        data.append(item)
    end = offset + len(page)
    return {"data": data, "cursor": _cursor(key, end) if end < total else None}
