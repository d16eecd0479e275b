"""Fixtures that provide a real PostgreSQL server (owned by the postgres area).

`pg_url` (session): $CLOSESYNC_TEST_PG_URL if set (it must be reachable), else a throwaway server started
from Debian's binaries (closesync.testing.postgres) and stopped at the end of the session.
`pg_schema` (function): a fresh, empty schema in that database, dropped afterwards, so tests never see
each other's tables. `pg_sink_url` is the `postgres://…?schema=…` destination for that schema (what
`open_sink` / `sync(destination=…)` take) and `pg_conn` an autocommit connection for assertions.
With CI=true a missing server or missing binaries fails the test; elsewhere it is skipped with the reason.

For "same rows and types as DuckDB" checks, `table_rows(sink, table, key)` gives a sink's rows as
comparable Python values (JSON parsed, NaN normalised, sorted by key) and `column_kinds(sink, table)` its
columns as destination-neutral logical types (e.g. {"date_created": "timestamp", "tags": "list<string>"}).
"""

from __future__ import annotations

import json
import math
import os
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
import pytest
from psycopg import sql

from closesync.sinks import Sink, is_json_field, logical_type
from closesync.testing.postgres import PgServerError, PgTestServer, server_reachable

ENV_URL = "CLOSESYNC_TEST_PG_URL"


def _unavailable(reason: str) -> None:
    """No silent skips: in CI a missing PostgreSQL is a failure."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"PostgreSQL unavailable in CI: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL unavailable: {reason}")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgTestServer | None]:
    """The throwaway server, or None when $CLOSESYNC_TEST_PG_URL names an existing one."""
    if os.environ.get(ENV_URL):
        yield None
        return
    server = PgTestServer(dbname="closesync_test")
    try:
        server.start()
    except PgServerError as e:
        _unavailable(str(e))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pg_url(pg_server: PgTestServer | None) -> str:
    """A libpq URL of a database the tests may create schemas in."""
    if pg_server is not None:
        return pg_server.url
    url = os.environ[ENV_URL]
    if not server_reachable(url):
        _unavailable(f"${ENV_URL} is set but the server does not answer")
    return url


@pytest.fixture
def pg_schema(pg_url: str) -> Iterator[str]:
    """A fresh empty schema for one test (dropped with everything in it afterwards)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


@pytest.fixture
def pg_sink_url(pg_url: str, pg_schema: str) -> str:
    """Destination string for the per-test schema, e.g. for open_sink() or sync(destination=...)."""
    sep = "&" if "?" in pg_url else "?"
    return f"{pg_url}{sep}schema={pg_schema}"


@pytest.fixture
def pg_conn(pg_url: str, pg_schema: str) -> Iterator[psycopg.Connection]:
    """Autocommit connection with search_path set to the per-test schema, for checking what landed."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(pg_schema)))
        yield conn


def _comparable(value: Any, is_json: bool) -> Any:
    if is_json and isinstance(value, str):
        return json.loads(value)
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, list):
        return [_comparable(v, False) for v in value]
    return value


def table_rows(sink: Sink, table: str, key: Sequence[str] = ("id",)) -> list[dict[str, Any]]:
    """All rows as plain dicts that compare equal across sinks (JSONB vs JSON text, tz objects, NaN)."""
    rows: list[dict[str, Any]] = []
    for batch in sink.iter_batches(table):
        flags = {f.name: is_json_field(f) for f in batch.schema}
        rows.extend({k: _comparable(v, flags[k]) for k, v in r.items()} for r in batch.to_pylist())
    return sorted(rows, key=lambda r: tuple(str(r.get(k)) for k in key))


def column_kinds(sink: Sink, table: str) -> dict[str, str]:
    """Column name -> logical type (closesync.sinks.logical_type) as the sink reads it back."""
    return {f.name: str(logical_type(f)) for f in sink.preview(table, limit=1).schema}


def assert_same_tables(reference: str, other: str, tables: Sequence[str]) -> None:
    """Each table has the same columns, types and rows in destination `other` as in `reference`."""
    from closesync.sinks import open_sink

    ref, oth = open_sink(reference), open_sink(other)
    try:
        for table in tables:
            kinds = column_kinds(ref, table)
            assert column_kinds(oth, table) == kinds, table
            assert table_rows(oth, table, tuple(kinds)) == table_rows(ref, table, tuple(kinds)), table
    finally:
        ref.close()
        oth.close()
