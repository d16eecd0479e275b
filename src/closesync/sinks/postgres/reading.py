"""PostgreSQL -> Arrow: how a table's columns are selected and typed when it is read back."""

from __future__ import annotations

import re
from typing import Any

import pyarrow as pa
from psycopg import sql

from closesync.sinks.base import JSON_META_KEY, JSON_META_VALUE

# PostgreSQL type (format_type output) -> Arrow type, for reading tables back.
_PG_TO_ARROW: dict[str, pa.DataType] = {
    "timestamp with time zone": pa.timestamp("us", tz="UTC"),
    "timestamp without time zone": pa.timestamp("us"),
    "date": pa.date32(),
    "bigint": pa.int64(),
    "integer": pa.int64(),
    "smallint": pa.int64(),
    "double precision": pa.float64(),
    "real": pa.float64(),
    "numeric": pa.float64(),
    "boolean": pa.bool_(),
    "text": pa.string(),
    "character varying": pa.string(),
    "bytea": pa.binary(),
    "jsonb": pa.string(),
    "json": pa.string(),
}

_NATIVE_READ = {
    t for t in _PG_TO_ARROW if t not in ("jsonb", "json", "numeric")
}  # psycopg gives Arrow-ready values


def _base_type(pg_type: str) -> str:
    """format_type without modifiers: `character varying(20)` -> `character varying`."""
    return re.sub(r"\(\d+(,\d+)?\)", "", pg_type)


def read_expr(ident: str, pg_type: str) -> sql.Composable:
    """Select native values where they convert to Arrow directly, text otherwise (JSONB, uuid, …)."""
    base = _base_type(pg_type)
    if base.endswith("[]"):
        if base[:-2] in _NATIVE_READ and base[:-2] != "bytea":
            return sql.Identifier(ident)
        return sql.SQL("{}::text[]").format(sql.Identifier(ident))
    if base in _NATIVE_READ or base == "numeric":
        return sql.Identifier(ident)
    return sql.SQL("{}::text").format(sql.Identifier(ident))


def _arrow_type(pg_type: str) -> pa.DataType:
    base = _base_type(pg_type)
    if base.endswith("[]"):
        item = base[:-2]
        return pa.list_(_PG_TO_ARROW[item] if item in _NATIVE_READ and item != "bytea" else pa.string())
    return _PG_TO_ARROW.get(base, pa.string())


def arrow_schema(cols: list[tuple[str, str, str]]) -> pa.Schema:
    fields = []
    for name, _, typ in cols:
        meta = {JSON_META_KEY: JSON_META_VALUE} if typ in ("jsonb", "json") else None
        fields.append(pa.field(name, _arrow_type(typ), metadata=meta))
    return pa.schema(fields)


def rows_to_batch(rows: list[tuple[Any, ...]], schema: pa.Schema) -> pa.RecordBatch:
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
    arrays = []
    for values, field in zip(columns, schema, strict=True):
        if pa.types.is_floating(field.type):
            values = [None if v is None else float(v) for v in values]
        arrays.append(pa.array(values, type=field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
