"""Offset-paged list endpoints: parameter validation, documented filters, ordering, `_fields`, paging caps."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from closesync.sandbox.collection import Collection
from closesync.sandbox.errors import ApiError, skip_too_large
from closesync.sandbox.timefmt import ms_or_none, ms_range, parse_us

Record = dict[str, Any]
Params = dict[str, str]
Predicate = Callable[[Record], bool]

DATE_OPS = ("gt", "gte", "lt", "lte")


@dataclass(frozen=True)
class ListSpec:
    """What one list endpoint accepts (Close documents these per resource)."""

    collection: str
    max_limit: int = 100
    equal_filters: tuple[str, ...] = ()          # `field=value` and `field__in=a,b`
    date_filters: tuple[str, ...] = ()           # `field__gt/gte/lt/lte`; date_created is the fast path
    order_by: tuple[str, ...] = ()               # accepted `_order_by` fields (`-` prefix = descending)
    total_results: bool = False
    defaults: dict[str, str] = field(default_factory=dict)
    bool_filters: tuple[str, ...] = ()
    natural_order: bool = False                  # configuration lists keep their UI order (oldest first)


def int_param(params: Params, name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError.message(400, f'{name} must be an integer (got "{raw}" instead).') from None
    if value < 0:
        raise ApiError.message(400, f'{name} must be a non-negative integer (got "{raw}" instead).')
    return value


def paging(params: Params, max_limit: int, skip_cap: int, default_limit: int = 100) -> tuple[int, int]:
    """Validate `_skip`/`_limit` exactly as Close words its 400s."""
    limit = int_param(params, "_limit", min(default_limit, max_limit))
    skip = int_param(params, "_skip", 0)
    if limit > max_limit:
        raise ApiError.message(
            400, f"The limit you set is larger than the maximum limit for this resource (max_limit = {max_limit}).")
    if skip > skip_cap:
        raise skip_too_large(skip_cap)
    return skip, limit


def project(record: Record, fields: list[str] | None) -> Record:
    """Apply `_fields`: `custom` keeps every `custom.cf_…` key."""
    if not fields:
        return record
    wanted = set(fields)
    keep_custom = "custom" in wanted
    return {k: v for k, v in record.items() if k in wanted or (keep_custom and k.startswith("custom."))}


def parse_fields(params: Params) -> list[str] | None:
    raw = params.get("_fields")
    return [f.strip() for f in raw.split(",") if f.strip()] if raw else None


def _date_bounds(params: Params, name: str) -> tuple[int | None, int | None]:
    lo: int | None = None
    hi: int | None = None
    for op in DATE_OPS:
        raw = params.get(f"{name}__{op}")
        if raw is None:
            continue
        try:
            a, b = ms_range(op, parse_us(raw))
        except ValueError:
            raise ApiError.validation(field_errors={f"{name}__{op}": f"Invalid date/time: {raw!r}."}) from None
        if a is not None:
            lo = a if lo is None else max(lo, a)
        if b is not None:
            hi = b if hi is None else min(hi, b)
    return lo, hi


def build_predicates(spec: ListSpec, params: Params, coll: Collection | None = None
                     ) -> tuple[tuple[int | None, int | None], list[Predicate], tuple, list[Callable[[int], bool]]]:
    """(date_created ms range, record predicates, a hashable cache key, index predicates).

    Index predicates test a field the generator can tell without building the record (e.g. an activity's
    lead_id), so filtering a million activities by lead stays cheap.
    """
    created = _date_bounds(params, "date_created") if "date_created" in spec.date_filters else (None, None)
    preds: list[Predicate] = []
    index_preds: list[Callable[[int], bool]] = []
    key: list[Any] = []
    for name in spec.equal_filters:
        values: set[str] | None = None
        if name in params:
            values = {params[name]}
        elif f"{name}__in" in params:
            values = {v for v in params[f"{name}__in"].split(",") if v}
        elif name in spec.defaults:
            values = {spec.defaults[name]}
        if values is None:
            continue
        field_name = name
        if name == "_type" and "all" in values:
            continue
        key.append((name, tuple(sorted(values))))
        if coll is not None and coll.has_fast_value(field_name):
            index_preds.append(lambda i, f=field_name, vs=values, c=coll: str(c.value(f, i)) in vs)
        else:
            preds.append(lambda r, f=field_name, vs=values: str(r.get(f)) in vs)
    for name in spec.bool_filters:
        if name in params:
            want = params[name].lower() in ("true", "1", "yes")
            key.append((name, want))
            preds.append(lambda r, f=name, w=want: bool(r.get(f)) == w)
    for name in spec.date_filters:
        if name == "date_created":
            continue
        lo, hi = _date_bounds(params, name)
        if lo is None and hi is None:
            continue
        key.append((name, lo, hi))
        if coll is not None and coll.has_fast_timestamp(name):
            def in_range_fast(i: int, f: str = name, lo: int | None = lo, hi: int | None = hi,
                              c: Collection = coll) -> bool:
                ms = c.timestamp_ms(f, i)
                return ms is not None and (lo is None or ms >= lo) and (hi is None or ms < hi)

            index_preds.append(in_range_fast)
            continue

        def in_range(r: Record, f: str = name, lo: int | None = lo, hi: int | None = hi) -> bool:
            ms = ms_or_none(r.get(f))
            return ms is not None and (lo is None or ms >= lo) and (hi is None or ms < hi)

        preds.append(in_range)
    return created, preds, tuple(key), index_preds


class Selection:
    """The ordered index list one request pages through (lazy for the unfiltered newest-first case)."""

    def __init__(self, coll: Collection, a: int, b: int, indexes: list[int] | None, key: tuple = ()) -> None:
        self.coll, self.a, self.b, self.indexes, self.key = coll, a, b, indexes, key

    def __len__(self) -> int:
        return self.b - self.a if self.indexes is None else len(self.indexes)

    def page(self, skip: int, limit: int) -> list[Record]:
        if self.indexes is None:
            idx = range(self.b - 1 - skip, max(self.b - 1 - skip - limit, self.a - 1), -1)
        else:
            idx = self.indexes[skip:skip + limit]
        out = []
        for i in idx:
            rec = self.coll.get(i)
            if rec is not None:
                out.append(rec)
        return out

    def all(self) -> list[Record]:
        return self.page(0, len(self))

    def each(self) -> Iterator[Record]:
        """Every record of the selection, one at a time (aggregates over huge lists stay flat in memory)."""
        for start in range(0, len(self), 1000):
            yield from self.page(start, 1000)


def select(coll: Collection, spec: ListSpec, params: Params) -> Selection:
    """Filter and order a collection for one list request."""
    (lo, hi), preds, key, index_preds = build_predicates(spec, params, coll)
    a, b = coll.range_created(lo, hi)
    order = params.get("_order_by", "")
    for part in filter(None, order.split(",")):
        if part.lstrip("-") not in spec.order_by and not spec.natural_order:
            raise ApiError.validation(field_errors={"_order_by": f"Cannot order by {part!r}."})
    if spec.natural_order and not order:
        order = "date_created"
    if not preds and not index_preds and not order and not coll.deleted:
        return Selection(coll, a, b, None, ("range", a, b))

    def compute() -> list[int]:
        if "," in order:  # e.g. users: `last_name,first_name` (small collections: sort the records)
            candidates = list(range(a, b))
            for part in reversed(order.split(",")):
                name = part.lstrip("-")
                candidates.sort(key=lambda i, f=name: str((coll.get(i) or {}).get(f) or "").lower(),
                                reverse=part.startswith("-"))
        elif order and order.lstrip("-") != "date_created":
            candidates = [i for i in coll.sorted_by(order.lstrip("-")) if a <= i < b]
            if order.startswith("-"):
                candidates.reverse()
        else:
            candidates = list(range(a, b)) if order == "date_created" else list(range(b - 1, a - 1, -1))
        for ip in index_preds:
            candidates = [i for i in candidates if ip(i)]
        out = []
        for i in candidates:
            rec = coll.get(i) if preds or coll.deleted else True
            if rec is not None and (rec is True or all(p(rec) for p in preds)):
                out.append(i)
        return out

    return Selection(coll, a, b, coll.cached(("select", a, b, order, key), compute), ("select", a, b, key))


def list_response(coll: Collection, spec: ListSpec, params: Params, skip_cap: int,
                  extra: Callable[[Selection], Record] | None = None) -> Record:
    """`{"data": [...], "has_more": bool}` (+ `total_results` where Close sends it)."""
    skip, limit = paging(params, spec.max_limit, skip_cap)
    sel = select(coll, spec, params)
    fields = parse_fields(params)
    data = [project(r, fields) for r in sel.page(skip, limit)] if limit else []
    body: Record = {"data": data, "has_more": skip + limit < len(sel)}
    if spec.total_results:
        body["total_results"] = len(sel)
    if extra is not None:
        body.update(extra(sel))
    return body
