"""How a closesync load (`WriteSpec`) becomes dlt hints, and covered keys become dlt hard deletes.

- replace → ``replace``; append → ``merge`` on the version key (each record version once, as `VERSION`),
  or plain ``append`` where the destination cannot merge or there is no version key;
- upsert → ``merge`` (``delete-insert``) on the primary key, with the parent key as ``merge_key`` for the
  nested reports of an incremental read (a re-read parent's rows are replaced whole), ``date_updated`` as
  ``dedup_sort`` (the last version wins) and the `DELETED` column as ``hard_delete``: a covered key comes
  as one row holding only the key and ``DELETED = true``, which deletes every row with that key and is
  never inserted. A full read of a filtered report (``clear_scope``) replaces the table: a dlt table holds
  one read configuration, and dlt cannot delete inside a filter.

The primary key columns are declared nullable: a deletion row of a nested table carries its parent key
only. dlt keeps the `DELETED` column in the table (always null there), and an append's `VERSION` column
(its version key's values joined: dlt's merge compares with SQL's =, which never matches a null).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from closesync.sinks.base import is_json_field, logical_type, quote_ident
from closesync.sinks.writespec import WriteSpec

DELETED = "_closesync_deleted"
VERSION = "_closesync_version"
MERGE = {"disposition": "merge", "strategy": "delete-insert"}


def resource_hints(spec: WriteSpec, can_merge: bool = True) -> dict[str, Any]:
    """Keyword arguments for `dlt.resource` / `dlt.mark.make_hints` that load `spec` as closesync would."""
    columns: dict[str, dict[str, Any]] = {k: {"data_type": "json"} for k in json_columns(spec.schema)}
    columns.update({f.name: {"data_type": "text"} for f in spec.schema if pa.types.is_null(f.type)})
    columns.update({k: {"nullable": True} for k in spec.primary_key})
    hints: dict[str, Any] = {"write_disposition": "replace", "primary_key": list(spec.primary_key)}
    if versions(spec, can_merge):
        hints.update(write_disposition=MERGE, primary_key=[VERSION])
        columns[VERSION] = {"data_type": "text", "nullable": False}
    elif spec.method == "append":
        hints["write_disposition"] = "append"
    elif deletes(spec):
        hints["write_disposition"] = MERGE
        if spec.parent_key:
            hints["merge_key"] = list(spec.parent_key)
        columns[DELETED] = {"data_type": "bool", "nullable": True, "hard_delete": True}
        if "date_updated" in spec.schema.names:
            columns["date_updated"] = {"dedup_sort": "desc"}
    hints["columns"] = columns
    return hints


def deletes(spec: WriteSpec) -> bool:
    """Whether the load may carry hard deletes (an upsert that is not a replace of its scope)."""
    return spec.method == "upsert" and not spec.clear_scope


def versions(spec: WriteSpec, can_merge: bool = True) -> bool:
    """Whether an append merges on its record versions (`VERSION`: the version key's values joined, nulls
    included, since SQL's = never matches a null and dlt's merge compares with =)."""
    return spec.method == "append" and can_merge and bool(spec.version_key)


def joined_key(table: pa.Table, columns: Sequence[str]) -> pa.Array | pa.ChunkedArray:
    """Columns' values as one string per row (nulls as NUL), so multi-column keys compare as one value."""
    parts = [pc.fill_null(pc.cast(table[c], pa.string()), "\x00") for c in columns]
    return parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, "\x1f")


def merges(spec: WriteSpec) -> bool:
    """Whether dlt merges this load (so the destination must support merge)."""
    return resource_hints(spec)["write_disposition"] == MERGE


def json_columns(schema: pa.Schema) -> list[str]:
    """Columns dlt gets as JSON text: closesync's JSON columns and lists (dlt types both as ``json``, and
    its CSV loaders, PostgreSQL's among them, take no Arrow lists)."""
    return [f.name for f in schema if is_json_field(f) or logical_type(f).kind == "list"]


def rows(spec: WriteSpec, table: pa.Table, can_merge: bool = True) -> pa.Table:
    """Staged rows as dlt gets them: lists as JSON text; a null `DELETED` column where the load may delete
    (so rows and deletion rows share one Arrow schema), a `VERSION` column where an append merges."""
    lists = [n for n in json_columns(spec.schema) if not pa.types.is_string(table.schema.field(n).type)]
    if lists:
        text = _json_text(table.select(lists))
        for name in lists:
            table = table.set_column(table.schema.get_field_index(name), name, text[name])
    if versions(spec, can_merge):
        return table.append_column(pa.field(VERSION, pa.string()), joined_key(table, spec.version_key))
    if not deletes(spec):
        return table
    return table.append_column(pa.field(DELETED, pa.bool_()), pa.nulls(table.num_rows, pa.bool_()))


def _json_text(table: pa.Table) -> pa.Table:
    """Every column of `table` as JSON text, in DuckDB (vectorised; row order kept)."""
    import duckdb

    with duckdb.connect() as db:
        db.register("staged", table)
        columns = ", ".join(
            f"to_json({quote_ident(n)})::VARCHAR AS {quote_ident(n)}" for n in table.column_names
        )
        return db.sql(f"SELECT {columns} FROM staged").to_arrow_table()


def deletion_rows(spec: WriteSpec, keys: pa.Table) -> pa.Table:
    """Covered upsert-key values as dlt hard-delete rows: the key columns, `DELETED` = true, nulls else."""
    n = keys.num_rows
    columns = [keys[f.name] if f.name in spec.upsert_key else pa.nulls(n, f.type) for f in spec.schema]
    table = rows(spec, pa.Table.from_arrays(columns, schema=spec.schema))
    return table.set_column(table.num_columns - 1, DELETED, pa.array([True] * n, pa.bool_()))
