"""Nested reports: the rows of an array inside a parent object, each with its parent's key and position.

Close has no endpoint for lead addresses, contact emails, organization memberships or the /me/ arrays;
they are read from their parent, so each row gets the parent's id (and e.g. the contact's lead_id) plus
its 0-based position, which together key rows that have no id of their own.
"""

from __future__ import annotations

from typing import Any

from closesync.close.records import Record
from closesync.reports.spec import ReportSpec

POSITION = "position"


def nested_rows(spec: ReportSpec, parents: list[Record], notes: list[str] | None = None) -> list[Record]:
    """Flatten `spec.nested` out of `parents`. A parent without the key yields no rows and a note
    (Close does not serve invoices, email signatures or SIP numbers to every account)."""
    nested = spec.nested
    if nested is None:
        raise ValueError(f"{spec.name} is not a nested report")
    rows: list[Record] = []
    for parent in parents:
        if not isinstance(parent, dict):
            continue
        path = nested.path
        if parent.get(path[0]) is None and nested.fallback and parent.get(nested.fallback[0]) is not None:
            path = nested.fallback
            _note(
                notes,
                f"{spec.name}: read from '{path[0]}' because the {spec.source} has no '{nested.path[0]}'",
            )
        if path[0] not in parent:
            _note(
                notes,
                f"{spec.name}: the {spec.source} object has no '{path[0]}' key "
                "(Close does not provide it for this account); 0 rows",
            )
            continue
        base = {column: parent.get(key) for column, key in nested.parent_columns}
        if len(path) == 1:
            containers: list[tuple[Record, Any]] = [({}, parent.get(path[0]))]
        else:
            containers = [
                ({column: c.get(key) for column, key in nested.container_columns}, c.get(path[1]))
                for c in parent.get(path[0]) or []
                if isinstance(c, dict)
            ]
        position = 0
        for extra, items in containers:
            for item in items if isinstance(items, list) else []:
                row = dict(item) if isinstance(item, dict) else {"value": item}
                row.update(extra)
                row.update(base)
                row[POSITION] = position
                position += 1
                rows.append(row)
    return rows


def _note(notes: list[str] | None, text: str) -> None:
    if notes is not None and text not in notes:
        notes.append(text)
