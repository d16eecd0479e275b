"""Fixtures that provide a real PostgreSQL server (owned by the postgres area).

`pg_url` (session): $CLOSESYNC_TEST_PG_URL if set (it must be reachable), else a throwaway server started
from Debian's binaries (closesync.sinks.pg_testserver) and stopped at the end of the session.
`pg_schema` (function): a fresh, empty schema in that database, dropped afterwards, so tests never see
each other's tables. `pg_sink_url` is the `postgres://…?schema=…` destination for that schema (what
`open_sink` / `sync(destination=…)` take) and `pg_conn` an autocommit connection for assertions.
With CI=true a missing server or missing binaries fails the test; elsewhere it is skipped with the reason.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from closesync.sinks.pg_testserver import PgServerError, PgTestServer, server_reachable

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
