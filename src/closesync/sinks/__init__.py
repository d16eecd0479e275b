"""Destinations: ``open_sink("duckdb:PATH" | "postgres://…" | "parquet:DIR" | "csv:DIR")``.

Each sink implements :class:`~closesync.sinks.base.Sink`. Modules are imported on demand so that using
DuckDB never imports psycopg (and a missing optional driver only fails for the destination that needs it).
"""

from __future__ import annotations

from typing import Any

from closesync.sinks.base import (
    JSON_META_KEY,
    JSON_META_VALUE,
    METHODS,
    STATE_TABLE,
    Destination,
    LogicalType,
    Sink,
    SinkError,
    SinkLockedError,
    TableNotFoundError,
    TableWriter,
    UnknownDestinationError,
    is_json_field,
    json_field,
    logical_type,
    parse_destination,
)

__all__ = [
    "JSON_META_KEY",
    "JSON_META_VALUE",
    "METHODS",
    "STATE_TABLE",
    "Destination",
    "LogicalType",
    "Sink",
    "SinkError",
    "SinkLockedError",
    "TableNotFoundError",
    "TableWriter",
    "UnknownDestinationError",
    "is_json_field",
    "json_field",
    "logical_type",
    "open_sink",
    "parse_destination",
]


def open_sink(destination: str | Destination, **options: Any) -> Sink:
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
    raise UnknownDestinationError(f"unknown destination kind {dest.kind!r}")
