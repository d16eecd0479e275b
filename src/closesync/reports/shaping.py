"""Shaping: raw Close records -> typed Arrow record batches.

Work is done column by column (one list per column, then one `pa.array` call with the declared type)
because row-by-row Python objects are several times slower at a million rows. The fast path trusts the
data; when Arrow refuses a column, that column alone is coerced value by value, and anything that cannot
be coerced is kept in the row's JSON ``extra`` column together with keys the catalog does not know.
Nothing is dropped and nothing crashes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from closesync.reports import timeparse
from closesync.reports.columns import JSON_METADATA, Column
from closesync.reports.custom_fields import (
    NESTED,
    CustomField,
    assign_columns,
    mapping_rows,
    nested_lookup,
    unnest_custom,
)
from closesync.reports.nesting import POSITION
from closesync.reports.spec import ReportSpec

EXTRA = "extra"

_MISSING = object()
# Envelope keys some endpoints add to every record (data/search/): not data, so neither column nor extra.
IGNORED_KEYS = frozenset({"__object_type"})
# What pa.array raises for values it will not take as the requested type (lone surrogates included).
ARROW_REFUSED = (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeEncodeError)
_encode_ascii = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), default=str).encode


def _encode_json(value: Any) -> bytes:
    """One JSON value as UTF-8 bytes (Arrow takes bytes for string columns without a decode).

    orjson is several times faster than the standard library on the big nested values Close sends
    (email threads embed every email); the standard library takes what orjson refuses (integers
    beyond 64 bits, lone surrogates), escaped to ASCII so the text is always valid UTF-8.
    """
    try:
        return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        return _encode_ascii(value).encode()


def _json_column(values: Sequence[Any]) -> pa.Array:
    dumps = orjson.dumps
    try:
        encoded = [None if v is None else dumps(v) for v in values]
    except (TypeError, orjson.JSONEncodeError):
        encoded = [None if v is None else _encode_json(v) for v in values]
    # orjson (and the ASCII fallback) always emit valid UTF-8: view the bytes as text without re-checking
    return pa.array(encoded, pa.binary()).view(pa.string())


def builtin_columns(spec: ReportSpec) -> list[Column]:
    """The report's own columns: parent key columns and position first for nested reports."""
    out: list[Column] = []
    if spec.nested is not None:
        out += [Column(name) for name, _ in spec.nested.parent_columns]
        out.append(Column(POSITION, "int"))
    names = {c.name for c in out}
    for column in spec.columns:
        if column.name not in names:
            out.append(column)
            names.add(column.name)
    return out


class Shaper:
    """Shapes records of one report; built once per read (custom fields and dynamic columns are fixed)."""

    def __init__(
        self,
        spec: ReportSpec,
        custom_fields: Iterable[CustomField] = (),
        extra_columns: Sequence[Column] = (),
    ) -> None:
        self.spec = spec
        builtin = builtin_columns(spec) + list(extra_columns)
        kind = spec.custom_field_kind
        fields = [f for f in custom_fields if kind is not None and f.kind == kind]
        object_type_id = dict(spec.row_filter).get("custom_object_type_id")
        if object_type_id is not None:  # one custom object type's table: its own fields only
            fields = [f for f in fields if f.custom_object_type_id == object_type_id]
        self.assigned = assign_columns(fields, [c.name for c in builtin] + [EXTRA])
        self.columns: list[Column] = builtin + [column for _, column in self.assigned]
        self.known = {c.source_key for c in self.columns} | set(spec.omit) | IGNORED_KEYS
        self.nested_custom = nested_lookup(field for field, _ in self.assigned)
        self.schema = pa.schema(
            [c.field() for c in self.columns] + [pa.field(EXTRA, pa.string(), metadata=JSON_METADATA)]
        )

    def custom_field_rows(self) -> list[dict[str, Any]]:
        return mapping_rows(self.spec.slug, self.assigned)

    def shape(self, records: Sequence[dict[str, Any]]) -> pa.RecordBatch:
        """Turn a list of record dicts into one RecordBatch with `self.schema`."""
        n = len(records)
        if n == 0:
            return pa.RecordBatch.from_arrays([pa.array([], f.type) for f in self.schema], schema=self.schema)
        if set(map(type, records)) != {dict}:  # tolerate odd items: keep them, in extra
            records = [r if isinstance(r, dict) else {"value": r} for r in records]
        if any(NESTED in r for r in records):  # older accounts, the aggregate selector: same columns
            records = [unnest_custom(r, self.nested_custom) for r in records]
        present, values_by_key = _columnize(records, [c.source_key for c in self.columns])
        extras: dict[int, dict[str, Any]] = {}
        arrays: list[pa.Array] = []
        for column in self.columns:
            key = column.source_key
            values = values_by_key.get(key)
            if values is None:
                arrays.append(pa.nulls(n, column.arrow_type))
                continue
            array, bad = build_array(column.type, values)
            for row, raw in bad.items():
                extras.setdefault(row, {})[key] = raw
            arrays.append(array)
        for key in sorted(present - self.known):
            for row, record in enumerate(records):
                value = record.get(key, _MISSING)
                if value is not _MISSING:
                    extras.setdefault(row, {})[key] = value
        if extras:
            extra_values: list[bytes | None] = [None] * n
            for row, found in extras.items():
                extra_values[row] = _encode_json(found)
            arrays.append(pa.array(extra_values, pa.string()))
        else:
            arrays.append(pa.nulls(n, pa.string()))
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)


def _columnize(
    records: Sequence[dict[str, Any]], keys: list[str]
) -> tuple[set[str], dict[str, Sequence[Any]]]:
    """Pull the wanted keys out of the records as columns.

    Keys every record has are read row-major with one C-level itemgetter per record and transposed with
    zip, so each dict is walked once while it is in cache and no Python bytecode runs per value. Records
    with differing key sets (mixed task types) fall back to a per-column `dict.get`.
    """
    present: set[str] = set().union(*records)
    # Every record has exactly the union's keys when every record is as long as the union.
    common = present if set(map(len, records)) == {len(present)} else set()
    wanted = list(dict.fromkeys(k for k in keys if k in present))
    dense = [k for k in wanted if k in common]
    out: dict[str, Sequence[Any]] = {}
    if len(dense) == 1:
        out[dense[0]] = [r[dense[0]] for r in records]
    elif dense:
        out.update(zip(dense, zip(*map(itemgetter(*dense), records), strict=True), strict=True))
    for key in wanted:
        if key not in out:
            out[key] = [r.get(key) for r in records]
    return present, out


# ---------------------------------------------------------------------------------------------------------
# Column builders: fast path first, value-by-value coercion only for a column Arrow refuses.


def build_array(type_code: str, values: Sequence[Any]) -> tuple[pa.Array, dict[int, Any]]:
    """Build one typed column; returns the array and {row: raw value} for values that could not be typed."""
    if type_code == "ts":
        return timeparse.timestamps(values)
    if type_code == "date":
        return timeparse.dates(values)
    if type_code == "json":
        return _json_column(values), {}
    if type_code == "str":
        try:
            return pa.array(values, pa.string()), {}
        except ARROW_REFUSED:
            return _coerce(values, _as_str, pa.string())
    if type_code == "int":
        return _ints(values)
    if type_code == "float":
        try:
            if bool not in set(map(type, values)):
                return pa.array(values, pa.float64()), {}
        except ARROW_REFUSED:
            pass
        return _coerce(values, _as_float, pa.float64())
    if type_code == "bool":
        try:
            return pa.array(values, pa.bool_()), {}
        except ARROW_REFUSED:
            return _coerce(values, _as_bool, pa.bool_())
    if type_code == "list":
        list_type = pa.list_(pa.string())
        if set(map(type, values)) <= {list, type(None)}:
            try:  # Arrow refuses non-string items itself; a bare string would be split into characters
                return pa.array(values, list_type), {}
            except ARROW_REFUSED:
                pass
        return _coerce(values, _as_str_list, list_type)
    raise ValueError(f"unknown column type {type_code!r}")


def _ints(values: Sequence[Any]) -> tuple[pa.Array, dict[int, Any]]:
    try:
        inferred = pa.array(values)
    except (*ARROW_REFUSED, OverflowError):
        return _coerce(values, _as_int, pa.int64())
    if pa.types.is_integer(inferred.type) or pa.types.is_null(inferred.type):
        return inferred.cast(pa.int64()), {}
    if pa.types.is_floating(inferred.type):
        finite = pc.fill_null(pc.is_finite(inferred), True)
        whole = pc.fill_null(pc.equal(inferred, pc.floor(inferred)), True)
        if pc.all(pc.and_(finite, whole)).as_py():
            return inferred.cast(pa.int64()), {}
    return _coerce(values, _as_int, pa.int64())


class _Unusable(Exception):
    """A value that cannot be represented in the column's type."""


def _coerce(values: Sequence[Any], convert: Any, arrow_type: pa.DataType) -> tuple[pa.Array, dict[int, Any]]:
    out: list[Any] = []
    bad: dict[int, Any] = {}
    for i, value in enumerate(values):
        if value is None:
            out.append(None)
            continue
        try:
            out.append(convert(value))
        except (_Unusable, ValueError, TypeError, OverflowError):  # UnicodeEncodeError is a ValueError
            out.append(None)
            bad[i] = value
    return pa.array(out, arrow_type), bad


def _as_str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        value.encode()  # a lone surrogate cannot be stored as text: UnicodeEncodeError -> kept in extra
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return _encode_json(value).decode()


def _as_int(value: Any) -> int:
    if isinstance(value, bool):
        raise _Unusable
    if isinstance(value, int):
        if not -(2**63) <= value < 2**63:
            raise _Unusable
        return value
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return int(value)
        raise _Unusable
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            return _as_int(float(text))
    raise _Unusable


def _as_float(value: Any) -> float:
    if isinstance(value, bool):
        raise _Unusable
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        return float(value.strip().replace(",", ""))
    raise _Unusable


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "yes", "1", "t", "y"):
            return True
        if text in ("false", "no", "0", "f", "n"):
            return False
    raise _Unusable


def _as_str_list(value: Any) -> list[str | None]:
    if isinstance(value, list | tuple):
        return [_as_str(v) for v in value]
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return [_as_str(value)]
    raise _Unusable
