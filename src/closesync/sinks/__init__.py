"""Destinations: ``open_sink("duckdb:PATH" | "postgres://…" | "parquet:DIR" | "csv:DIR" | "dlt:NAME?…")``.

Each sink implements :class:`~closesync.sinks.base.Sink`. Importing this package loads only destination
parsing and the errors (no pyarrow, no driver), so the Data Center and the CLI can name destinations
cheaply; the sink interface and the Arrow helpers are loaded on first use, and each sink module only
when a destination of its kind is opened (using DuckDB never imports psycopg, and a missing optional
driver only fails for the destination that needs it). ``dlt:`` destinations are loaded by the optional
dlt integration (``closesync[dlt]``), imported only when one is opened.
"""

import importlib as _importlib
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

from closesync.sinks.destination import (
    DEFAULT_METHOD,
    METHODS,
    Destination,
    Method,
    parse_destination,
    redact_destination,
)
from closesync.sinks.errors import SinkError, SinkLockedError, TableNotFoundError, UnknownDestinationError

if _TYPE_CHECKING:
    from closesync.sinks.base import (
        JSON_META_KEY,
        JSON_META_VALUE,
        STATE_TABLE,
        LogicalType,
        Sink,
        TableWriter,
        is_json_field,
        json_field,
        logical_type,
    )
    from closesync.sinks.writespec import WriteSpec

#: Names loaded on first access, and the module that holds each.
_LAZY = {
    "JSON_META_KEY": "closesync.sinks.base",
    "JSON_META_VALUE": "closesync.sinks.base",
    "STATE_TABLE": "closesync.sinks.base",
    "LogicalType": "closesync.sinks.base",
    "Sink": "closesync.sinks.base",
    "TableWriter": "closesync.sinks.base",
    "is_json_field": "closesync.sinks.base",
    "json_field": "closesync.sinks.base",
    "logical_type": "closesync.sinks.base",
    "WriteSpec": "closesync.sinks.writespec",
}

__all__ = [
    "DEFAULT_METHOD",
    "JSON_META_KEY",
    "JSON_META_VALUE",
    "METHODS",
    "STATE_TABLE",
    "Destination",
    "LogicalType",
    "Method",
    "Sink",
    "SinkError",
    "SinkLockedError",
    "TableNotFoundError",
    "TableWriter",
    "UnknownDestinationError",
    "WriteSpec",
    "is_json_field",
    "json_field",
    "logical_type",
    "open_sink",
    "parse_destination",
    "redact_destination",
]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


def open_sink(destination: str | Destination, **options: _Any) -> "Sink":
    """Open the sink a destination string names; ``options`` go to the sink's constructor.

    ``read_only=True`` (for previews) is accepted for every kind: DuckDB then opens the file read-only,
    or shares this process's writer, so a sync in another process is not locked out; other kinds ignore it.
    postgres accepts e.g. ``schema=``.
    """
    dest = destination if isinstance(destination, Destination) else parse_destination(destination)
    read_only = bool(options.pop("read_only", False))
    if dest.kind == "duckdb":
        from closesync.sinks.duckdb import DuckDBSink

        return DuckDBSink(dest.target, read_only=read_only, **options)
    if dest.kind == "postgres":
        from closesync.sinks.postgres import PostgresSink  # type: ignore[import-not-found,unused-ignore]

        return PostgresSink(dest.target, **options)
    if dest.kind in ("parquet", "csv"):
        from closesync.sinks.files import FileSink

        return FileSink(dest.target, fmt=dest.kind, **options)
    if dest.kind == "dlt":
        from closesync.integrations.dlt.sink import open_dlt_sink

        return open_dlt_sink(dest.target, **options)
    raise UnknownDestinationError(f"unknown destination kind {dest.kind!r}")
