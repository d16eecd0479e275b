"""Custom fields: turn Close's ``custom.cf_…`` keys into readable, typed, stable column names.

Close names a custom field value by the field's id (``custom.cf_v6S0…``); users think in field names
("# of users", "Deal Size ($)"). Names are made snake_case; a name that collides with a built-in column or
with another field's name gets a suffix taken from the field's own id, so adding or deleting other fields
never renames an existing column. The oldest field (by date_created, then id) keeps the plain name.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from closesync.reports.columns import Column

KEY_PREFIX = "custom."
NESTED = "custom"  # the older, aggregate form: {"custom": {field id or name: value}}

# Close field type -> column type code (see columns.ARROW_TYPES); anything else is kept as text.
_TYPES = {
    "text": "str",
    "textarea": "str",
    "number": "float",
    "date": "date",
    "datetime": "ts",
    "choices": "str",
    "user": "str",
    "contact": "str",
    "hidden": "str",
    "url": "str",
}


@dataclass(frozen=True)
class CustomField:
    """One custom field definition as the shaping needs it."""

    id: str
    name: str
    type: str
    multiple: bool = False
    kind: str = "lead"
    custom_activity_type_id: str | None = None
    date_created: str = ""
    custom_object_type_id: str | None = None

    @classmethod
    def from_definition(cls, definition: Mapping[str, Any], kind: str) -> CustomField:
        return cls(
            id=str(definition["id"]),
            name=str(definition.get("name") or definition["id"]),
            type=str(definition.get("type") or "text"),
            multiple=bool(definition.get("accepts_multiple_values")),
            kind=kind,
            custom_activity_type_id=definition.get("custom_activity_type_id"),
            date_created=str(definition.get("date_created") or ""),
            custom_object_type_id=definition.get("custom_object_type_id"),
        )

    @property
    def key(self) -> str:
        """The record key Close puts the value under."""
        return KEY_PREFIX + self.id

    @property
    def column_type(self) -> str:
        if self.multiple:
            return "list"
        return _TYPES.get(self.type, "str")


def snake_case(name: str) -> str:
    """``"Deal Size ($)"`` -> ``deal_size``; ``"# of users"`` -> ``of_users``; accents folded to ASCII."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    text = re.sub(r"[^0-9A-Za-z]+", "_", text).strip("_").lower()
    if not text:
        return "custom_field"
    if text[0].isdigit():
        text = "cf_" + text
    return text


def _id_suffix(field_id: str, length: int) -> str:
    tail = field_id.split("_", 1)[-1]
    return re.sub(r"[^0-9a-z]", "", tail.lower())[:length] or "x"


def assign_columns(
    fields: Iterable[CustomField], reserved: Iterable[str]
) -> list[tuple[CustomField, Column]]:
    """Give each field a unique column name that avoids `reserved` (the report's built-in columns)."""
    taken = {name.lower() for name in reserved}
    unique = {f.id: f for f in reversed(list(fields))}  # one column per field id (first definition wins)
    ordered = sorted(unique.values(), key=lambda f: (f.date_created, f.id))
    out: list[tuple[CustomField, Column]] = []
    for field in ordered:
        base = snake_case(field.name)
        candidates = [base] if base not in taken else []
        candidates += [f"{base}_{_id_suffix(field.id, n)}" for n in (6, 10, 40)]
        name = next((c for c in candidates if c not in taken), None)
        counter = 2
        while name is None or name in taken:
            name = f"{base}_{_id_suffix(field.id, 40)}_{counter}"
            counter += 1
        taken.add(name)
        out.append((field, Column(name, field.column_type, key=field.key)))
    return out


def nested_lookup(fields: Iterable[CustomField]) -> dict[str, str]:
    """Where a nested ``custom`` entry goes: field id -> its flat key, and each name that only one field
    has -> that field's flat key (a name two fields share cannot say which one it means)."""
    fields = list(fields)
    lookup = {f.id: f.key for f in fields}
    names: dict[str, set[str]] = {}
    for f in fields:
        names.setdefault(f.name, set()).add(f.key)
    lookup.update({name: next(iter(keys)) for name, keys in names.items() if len(keys) == 1 and name not in lookup})
    return lookup


def unnest_custom(record: dict[str, Any], lookup: Mapping[str, str]) -> dict[str, Any]:
    """`record` with its nested ``custom`` object's values under the flat ``custom.cf_…`` keys, so both forms
    land in the same columns. A flat value wins over a nested one; entries no field claims (or that differ
    from the flat value) stay in a residual ``custom`` object, which the shaper keeps in ``extra``."""
    nested = record.get(NESTED)
    if not isinstance(nested, dict):
        return record
    out = {k: v for k, v in record.items() if k != NESTED}
    rest: dict[str, Any] = {}
    for name, value in nested.items():
        key = lookup.get(name)
        if key is None or (key in out and out[key] != value):
            rest[name] = value
        elif key not in out:
            out[key] = value
    if rest:
        out[NESTED] = rest
    return out


def mapping_rows(report: str, assigned: Iterable[tuple[CustomField, Column]]) -> list[dict[str, Any]]:
    """Rows for the ``_closesync_custom_fields`` table: where each cf_ id landed."""
    return [
        {
            "report": report,
            "column": column.name,
            "field_id": field.id,
            "field_name": field.name,
            "object_type": field.kind,
            "field_type": field.type,
            "accepts_multiple_values": field.multiple,
            "column_type": column.type,
            "custom_activity_type_id": field.custom_activity_type_id,
            "custom_object_type_id": field.custom_object_type_id,
        }
        for field, column in assigned
    ]
