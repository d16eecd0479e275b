"""The dbt profile of a closesync destination, written for each run so a user never writes profiles.yml.

The password of a PostgreSQL URL never reaches the file: the profile reads it from an environment variable
that :func:`password_env` sets for the run's duration only.
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from closesync.analytics.contract import models_schema, source_schema
from closesync.analytics.errors import ModelsInputError
from closesync.sinks.destination import parse_destination

PROFILE = "closesync"  # the `profile:` of dbt_project.yml
TARGET = "closesync"
PASSWORD_ENV = "CLOSESYNC_DBT_PASSWORD"
_ADAPTERS = {"duckdb": "dbt-duckdb", "postgres": "dbt-postgres"}


@dataclass(frozen=True)
class DbtTarget:
    """One destination as dbt sees it: the adapter, its profile output, the schemas, and its password."""

    adapter: str
    output: dict[str, Any]
    source_schema: str
    models_schema: str
    password: str = field(default="", repr=False)

    @property
    def package(self) -> str:
        """The pip package of the adapter (for the "not installed" hint)."""
        return _ADAPTERS[self.adapter]

    def profiles_yml(self) -> str:
        """profiles.yml text (JSON is YAML): the one output this target needs, no secret in it."""
        return json.dumps({PROFILE: {"target": TARGET, "outputs": {TARGET: self.output}}}, indent=2)


def dbt_target(destination: str, threads: int = 4) -> DbtTarget:
    """The dbt target of a DuckDB file or a PostgreSQL URL; other destinations cannot hold models."""
    parsed = parse_destination(destination)
    schemas = {"source_schema": source_schema(destination), "models_schema": models_schema(destination)}
    if parsed.kind == "duckdb":
        path = Path(parsed.target).expanduser().resolve()
        if not path.is_file():
            raise ModelsInputError(
                f"no DuckDB file at {path}: sync the reports the models read first (closesync sync --db …)"
            )
        output = {"type": "duckdb", "path": str(path), "schema": schemas["models_schema"], "threads": 1}
        return DbtTarget("duckdb", output, **schemas)
    if parsed.kind == "postgres":
        from psycopg.conninfo import conninfo_to_dict

        from closesync.sinks.postgres.names import split_destination

        params = conninfo_to_dict(split_destination(parsed.target)[0])
        user = str(params.get("user") or os.environ.get("PGUSER") or getpass.getuser())
        output: dict[str, Any] = {
            "type": "postgres",
            "host": str(params.get("host") or os.environ.get("PGHOST") or "localhost"),
            "port": int(params.get("port") or os.environ.get("PGPORT") or 5432),
            "user": user,
            "password": "{{ env_var('" + PASSWORD_ENV + "', '') }}",
            "dbname": str(params.get("dbname") or os.environ.get("PGDATABASE") or user),
            "schema": schemas["models_schema"],
            "threads": threads,
        }
        if params.get("sslmode"):
            output["sslmode"] = str(params["sslmode"])
        password = str(params.get("password") or os.environ.get("PGPASSWORD") or "")
        return DbtTarget("postgres", output, password=password, **schemas)
    raise ModelsInputError(
        f"the models need a database: a DuckDB file or a PostgreSQL URL, not a {parsed.kind} folder"
    )


@contextmanager
def password_env(target: DbtTarget) -> Iterator[None]:
    """The target's password in PASSWORD_ENV while dbt runs (this process only), removed afterwards."""
    previous = os.environ.get(PASSWORD_ENV)
    os.environ[PASSWORD_ENV] = target.password
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(PASSWORD_ENV, None)
        else:
            os.environ[PASSWORD_ENV] = previous
