"""Arrow -> PostgreSQL: column types, and each batch as CSV for `COPY … FROM STDIN (FORMAT csv)`.

pyarrow's C++ CSV writer does the work; lists of scalars are turned into PostgreSQL array literals with
vectorised compute first, so no Python loop runs per row except for the rare nested-list/struct/binary
columns. NUL characters (which PostgreSQL text and JSONB cannot hold) are replaced with U+FFFD.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from closesync.sinks.base import logical_type

_SCALAR_PG = {
    "timestamp": "timestamptz",
    "date": "date",
    "integer": "bigint",
    "float": "double precision",
    "boolean": "boolean",
    "string": "text",
    "json": "jsonb",
    "binary": "bytea",
}
_ARRAY_ITEMS = ("timestamp", "date", "integer", "float", "boolean", "string")


def pg_type(field: pa.Field) -> str:
    """PostgreSQL column type for an Arrow field (trusted constant text, never user input)."""
    lt = logical_type(field)
    if lt.kind == "list":
        item = lt.item.kind if lt.item else "json"
        return f"{_SCALAR_PG[item]}[]" if item in _ARRAY_ITEMS else "jsonb"
    return _SCALAR_PG.get(lt.kind, "jsonb")


def _strip_nul(arr: pa.Array, json_text: bool = False) -> pa.Array:
    """PostgreSQL text can't hold NUL and JSONB rejects \\u0000: replace both with U+FFFD (checked first, cheap)."""
    if pc.any(pc.match_substring(arr, "\x00")).as_py():
        arr = pc.replace_substring(arr, "\x00", "\ufffd")
    if json_text and pc.any(pc.match_substring(arr, "\\u0000")).as_py():
        arr = pc.replace_substring(arr, "\\u0000", "\\ufffd")
    return arr


def _as_string(arr: pa.Array) -> pa.Array:
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if not pa.types.is_string(arr.type):
        arr = pc.cast(arr, pa.string())
    return arr


def _array_literal(arr: pa.Array) -> pa.Array:
    """list<scalar> -> PostgreSQL array literal text (`{"a",NULL}`), vectorised; NULL lists stay NULL."""
    if pa.types.is_large_list(arr.type) or pa.types.is_fixed_size_list(arr.type):
        arr = pc.cast(arr, pa.list_(arr.type.value_type))
    offsets = arr.offsets
    first, last = offsets[0].as_py(), offsets[-1].as_py()
    values = arr.values.slice(first, last - first)
    if first:
        offsets = pc.subtract(offsets, pa.scalar(first, offsets.type))
    text = _strip_nul(_as_string(values))
    text = pc.replace_substring(text, "\\", "\\\\")
    text = pc.replace_substring(text, '"', '\\"')
    quoted = pc.fill_null(pc.binary_join_element_wise('"', text, '"', ""), "NULL")
    lists = pa.ListArray.from_arrays(offsets, quoted, mask=arr.is_null() if arr.null_count else None)
    return pc.binary_join_element_wise("{", pc.binary_join(lists, ","), "}", "")


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _python_json(arr: pa.Array) -> pa.Array:
    """Nested lists/structs/maps -> JSON text (per-value Python; only for columns shaping left nested)."""
    out = [
        None if v is None else json.dumps(v, default=_json_default, ensure_ascii=False)
        for v in arr.to_pylist()
    ]
    return _strip_nul(pa.array(out, pa.string()), json_text=True)


def _bytea_hex(arr: pa.Array) -> pa.Array:
    return pa.array([None if v is None else "\\x" + v.hex() for v in arr.to_pylist()], pa.string())


def encoder(field: pa.Field) -> Callable[[pa.Array], pa.Array]:
    """How one column becomes CSV-writable Arrow (most types pass through to pyarrow's CSV writer)."""
    lt = logical_type(field)
    t = field.type
    if lt.kind == "json":
        if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
            return lambda a: _strip_nul(_as_string(a), json_text=True)
        return _python_json
    if lt.kind == "string":
        if pa.types.is_null(t):
            return lambda a: pa.nulls(len(a), pa.string())
        return lambda a: _strip_nul(_as_string(a))
    if lt.kind == "list":
        return _array_literal if (lt.item and lt.item.kind in _ARRAY_ITEMS) else _python_json
    if lt.kind == "binary":
        return _bytea_hex
    if lt.kind == "float" and (pa.types.is_float16(t) or pa.types.is_decimal(t)):
        return lambda a: pc.cast(a, pa.float64())
    if pa.types.is_dictionary(t):
        return lambda a: a.dictionary_decode()
    return lambda a: a


_CSV_OPTIONS = pacsv.WriteOptions(include_header=False, batch_size=8192)


def encode_csv(
    batch: pa.RecordBatch | pa.Table, encoders: Sequence[Callable[[pa.Array], pa.Array]]
) -> memoryview:
    """One batch as PostgreSQL-CSV bytes: strings always quoted, NULL as an unquoted empty field."""
    if isinstance(batch, pa.Table):
        batch = batch.combine_chunks().to_batches()[0] if batch.num_rows else batch.to_batches()[0]
    arrays = [enc(batch.column(i)) for i, enc in enumerate(encoders)]
    encoded = pa.RecordBatch.from_arrays(arrays, names=[f"c{i}" for i in range(len(arrays))])
    sink = pa.BufferOutputStream()
    pacsv.write_csv(encoded, sink, _CSV_OPTIONS)
    return memoryview(sink.getvalue())  # zero-copy: psycopg slices it into protocol-sized chunks
