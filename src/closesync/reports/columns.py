"""Column declarations: the small type vocabulary of the catalog and its Arrow mapping.

Specs declare columns compactly as ``"name:type"`` words so the 38 reports stay readable; this module
turns them into `Column` objects and Arrow fields that follow the conventions in CONTRACTS.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

JSON_METADATA = {b"closesync.type": b"json"}

# type code -> Arrow type. "json" is a string column tagged with field metadata so sinks make it JSON/JSONB.
ARROW_TYPES: dict[str, pa.DataType] = {
    "str": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "ts": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
    "json": pa.string(),
    "list": pa.list_(pa.string()),
}


@dataclass(frozen=True)
class Column:
    """One output column: `key` is the record key it is read from, `name` the column it lands in."""

    name: str
    type: str = "str"
    key: str | None = None

    def __post_init__(self) -> None:
        if self.type not in ARROW_TYPES:
            raise ValueError(f"unknown column type {self.type!r} for column {self.name!r}")

    @property
    def source_key(self) -> str:
        return self.key if self.key is not None else self.name

    @property
    def arrow_type(self) -> pa.DataType:
        return ARROW_TYPES[self.type]

    def field(self) -> pa.Field:
        """The Arrow field; JSON columns carry the closesync.type=json metadata."""
        metadata = JSON_METADATA if self.type == "json" else None
        return pa.field(self.name, self.arrow_type, nullable=True, metadata=metadata)


def cols(text: str) -> tuple[Column, ...]:
    """Parse ``"id date_created:ts users:list"`` into columns (type defaults to str)."""
    out = []
    for word in text.split():
        name, _, type_ = word.partition(":")
        out.append(Column(name, type_ or "str"))
    return tuple(out)


def is_json_field(field: pa.Field) -> bool:
    return bool(field.metadata) and field.metadata.get(b"closesync.type") == b"json"
