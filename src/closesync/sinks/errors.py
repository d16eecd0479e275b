"""Errors of the destinations; importing them never loads pyarrow or a database driver."""

from __future__ import annotations

from closesync.errors import ClosesyncError


class SinkError(ClosesyncError):
    """A destination could not be opened, read or written. Messages are safe to show to users."""


class SinkLockedError(SinkError):
    """The destination is held by another process (e.g. a DuckDB file opened read-write elsewhere)."""


class UnknownDestinationError(SinkError, ValueError):
    """The destination string names no known sink kind."""


class TableNotFoundError(SinkError, KeyError):
    """A read asked for a table the sink does not have."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else "table not found"


class TableOwnedError(SinkError):
    """The table belongs to another writer (another dataset, or `closesync sync`); see sinks.ownership."""
