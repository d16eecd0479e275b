"""What one load writes: the table, its Arrow schema, the update method and the keys (no pyarrow import).

Every sink's ``writer()`` takes a :class:`WriteSpec`, so the arguments are normalised and checked once,
before anything is staged, instead of in each sink.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from closesync.sinks.destination import METHODS, Method
from closesync.sinks.errors import SinkError

if TYPE_CHECKING:
    import pyarrow as pa

    from closesync.sinks.ownership import TableClaim

#: One condition of a load's scope: (column, operator, value); operators are "=", ">=" and "<".
ScopeCondition = tuple[str, str, Any]
SCOPE_OPERATORS = ("=", ">=", "<")


def normalize_key(key: Sequence[str] | str | None) -> tuple[str, ...]:
    """Accept a column name, a sequence of names or None; always return a tuple."""
    if key is None:
        return ()
    if isinstance(key, str):
        return (key,)
    return tuple(key)


@dataclass(frozen=True)
class WriteSpec:
    """One table load: ``table`` gets ``schema`` by ``method``.

    ``primary_key`` identifies a row (upsert merges by it); ``parent_key``, if given, is what an upsert
    deletes by instead (children replaced per parent). Keys may be given as a name, a sequence or None and
    are stored as tuples. Construction fails with SinkError on arguments no sink can honour.

    ``version_key`` (append): the columns that identify a record version (e.g. id + date_updated); rows
    whose version is in the table already, or earlier in the load, are skipped, so re-read records and a
    retried run never add a row twice. Empty: every staged row is added.
    ``scope`` (upsert): conditions every target row this load may delete satisfies (e.g. user_id = the
    read's user), so covered keys never delete rows outside the read; with ``clear_scope`` every target row
    in scope is deleted before the insert (a full read of a filtered report: a replace of its scope only).
    ``claim``: who loads the table (see sinks.ownership); checked and recorded in the publish transaction.
    """

    table: str
    schema: pa.Schema
    method: Method = "replace"
    primary_key: tuple[str, ...] = ("id",)
    parent_key: tuple[str, ...] = ()
    version_key: tuple[str, ...] = ()
    scope: tuple[ScopeCondition, ...] = ()
    clear_scope: bool = False
    claim: TableClaim | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "primary_key", normalize_key(self.primary_key))
        object.__setattr__(self, "parent_key", normalize_key(self.parent_key))
        object.__setattr__(self, "version_key", normalize_key(self.version_key))
        object.__setattr__(self, "scope", tuple(tuple(c) for c in self.scope))
        self._check()

    @property
    def upsert_key(self) -> tuple[str, ...]:
        """The columns an upsert deletes by: the parent key if given, else the primary key."""
        return self.parent_key or self.primary_key

    def _check(self) -> None:
        """Fail early (before anything is staged) on arguments no sink can honour."""
        if self.method not in METHODS:
            raise SinkError(f"unknown method {self.method!r}; use one of {', '.join(METHODS)}")
        names = self.schema.names
        if len(set(names)) != len(names):
            dupes = sorted({n for n in names if names.count(n) > 1})
            raise SinkError(f"duplicate column names in schema: {dupes}")
        if self.method == "upsert":
            if not self.upsert_key:
                raise SinkError("upsert needs a primary_key or parent_key")
            missing = [k for k in self.upsert_key if k not in names]
            if missing:
                raise SinkError(f"upsert key column(s) {missing} not in schema")
        elif self.scope or self.clear_scope:
            raise SinkError("a scope applies to upsert loads only")
        missing = [k for k in self.version_key if k not in names]
        if missing:
            raise SinkError(f"version key column(s) {missing} not in schema")
        for column, operator, _ in self.scope:
            if column not in names or operator not in SCOPE_OPERATORS:
                raise SinkError(f"invalid scope condition on {column!r} ({operator})")
