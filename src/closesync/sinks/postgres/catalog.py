"""What the writer asks PostgreSQL's catalog at commit: existing columns, unique key indexes, free names, grants.

Every function runs on the writer's cursor inside its commit transaction; `schema` is the sink's schema.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg
from psycopg import sql

from closesync.sinks.postgres.names import INTERNAL_PREFIX, NAME_COMMENT_PREFIX, pg_ident, pg_message

log = logging.getLogger(__name__)

#: Marks unique indexes the sink created (and may drop for append).
INDEX_COMMENT = "closesync upsert key"
_TABLE_PRIVILEGES = {"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER", "MAINTAIN"}


@dataclass(frozen=True)
class Column:
    """One column of a load: its name in the Arrow schema, its PostgreSQL name and type."""

    name: str
    ident: str
    pg_type: str


def existing_columns(cur: psycopg.Cursor, schema: str, relname: str) -> dict[str, str] | None:
    """PostgreSQL name -> type (format_type) of the table's columns in order; None if there is no table."""
    rows = cur.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
        "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped "
        "ORDER BY a.attnum",
        (schema, relname),
    ).fetchall()
    return {r[0]: r[1] for r in rows} if rows else None


def same_type(existing: str, wanted: str) -> bool:
    """True when an existing column's format_type names the type this load declares."""
    return existing == {
        "timestamptz": "timestamp with time zone",
        "timestamptz[]": "timestamp with time zone[]",
    }.get(wanted, wanted)


def comment_names(cur: psycopg.Cursor, relation: sql.Composable, columns: Sequence[Column]) -> None:
    """Keep names we had to shorten in the column comment, so reads can give them back."""
    for c in columns:
        if c.ident != c.name:
            cur.execute(
                sql.SQL("COMMENT ON COLUMN {}.{} IS {}").format(
                    relation, sql.Identifier(c.ident), sql.Literal(NAME_COMMENT_PREFIX + c.name)
                )
            )


def key_index(
    cur: psycopg.Cursor,
    schema: str,
    relname: str,
    key: Sequence[str],
    *,
    label: str,
    nulls_not_distinct: bool,
    temp_name: bool = False,
) -> str | None:
    """Name of a unique index on exactly `key` (creating one if missing); None if duplicates prevent it.

    `label` names the table in the warning about duplicates (as users know it, not the staging name).
    """
    if not key:
        return None
    key = [pg_ident(k) for k in key]
    rows = cur.execute(
        "SELECT i.relname, array(SELECT a.attname FROM unnest(x.indkey) k "
        "JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k) "
        "FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid "
        "JOIN pg_namespace n ON n.oid = t.relnamespace "
        "WHERE n.nspname = %s AND t.relname = %s AND x.indisunique AND x.indpred IS NULL "
        "AND x.indexprs IS NULL",
        (schema, relname),
    ).fetchall()
    for name, cols in rows:
        if sorted(cols) == sorted(key):
            return str(name)
    name = (
        f"{INTERNAL_PREFIX}_pk_{uuid.uuid4().hex[:12]}"
        if temp_name
        else free_relname(cur, schema, pg_ident(f"{relname}_pkey"))
    )
    nulls = sql.SQL(" NULLS NOT DISTINCT") if nulls_not_distinct else sql.SQL("")
    cur.execute("SAVEPOINT closesync_index")
    try:
        cur.execute(
            sql.SQL("CREATE UNIQUE INDEX {} ON {} ({}){}").format(
                sql.Identifier(name),
                sql.Identifier(schema, relname),
                sql.SQL(", ").join(sql.Identifier(k) for k in key),
                nulls,
            )
        )
    except psycopg.errors.UniqueViolation:
        cur.execute("ROLLBACK TO SAVEPOINT closesync_index")
        log.warning("table %r has duplicate keys %s; no unique index created", label, list(key))
        return None
    cur.execute(
        sql.SQL("COMMENT ON INDEX {} IS {}").format(sql.Identifier(schema, name), sql.Literal(INDEX_COMMENT))
    )
    cur.execute("RELEASE SAVEPOINT closesync_index")
    return name


def is_own_index(cur: psycopg.Cursor, schema: str, index: str) -> bool:
    """True for a unique index the sink created (marked with INDEX_COMMENT)."""
    row = cur.execute(
        "SELECT obj_description(c.oid, 'pg_class') FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s",
        (schema, index),
    ).fetchone()
    return bool(row and row[0] == INDEX_COMMENT)


def free_relname(cur: psycopg.Cursor, schema: str, wanted: str) -> str:
    """`wanted` if no relation in the schema has that name yet, else a hashed variant."""
    taken = cur.execute(
        "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s",
        (schema, wanted),
    ).fetchone()
    return pg_ident(f"{wanted}\x00{uuid.uuid4().hex[:6]}") if taken else wanted


def copy_grants(cur: psycopg.Cursor, schema: str, relname: str, to: sql.Composable, label: str) -> None:
    """Give `to` the privileges table `relname` has, so e.g. a BI role can still read it after replace.

    A privilege we may not grant is skipped with a warning naming `label` (the table as users know it).
    """
    rows = cur.execute(
        "SELECT CASE WHEN a.grantee = 0 THEN NULL ELSE pg_get_userbyid(a.grantee) END, a.privilege_type, "
        "a.is_grantable FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a "
        "WHERE n.nspname = %s AND c.relname = %s AND c.relacl IS NOT NULL AND a.grantee <> c.relowner",
        (schema, relname),
    ).fetchall()
    for role, privilege, grantable in rows:
        if privilege not in _TABLE_PRIVILEGES:
            continue
        grant = sql.SQL("GRANT {} ON {} TO {}{}").format(
            sql.SQL(privilege),
            to,
            sql.SQL("PUBLIC") if role is None else sql.Identifier(role),
            sql.SQL(" WITH GRANT OPTION") if grantable else sql.SQL(""),
        )
        cur.execute("SAVEPOINT closesync_grant")
        try:
            cur.execute(grant)
        except psycopg.Error as e:
            cur.execute("ROLLBACK TO SAVEPOINT closesync_grant")
            log.warning("could not carry %s on %r over to the new table: %s", privilege, label, pg_message(e))
        else:
            cur.execute("RELEASE SAVEPOINT closesync_grant")
