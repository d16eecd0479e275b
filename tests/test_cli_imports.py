"""`closesync --help` stays fast: it loads click and the command modules, not what the commands drive."""

from __future__ import annotations

import subprocess
import sys

import pytest

#: Loaded only when a command runs: Arrow and the databases, the HTTP client, the sandbox, the web app, apprise,
#: the Data Center's service and schedule grammar, the pipeline and catalog, rich.
HEAVY = (
    "pyarrow",
    "dlt",
    "duckdb",
    "psycopg",
    "httpx",
    "rich",
    "croniter",
    "fastapi",
    "apprise",
    "closesync.sandbox",
    "closesync.web",
    "closesync.close",
    "closesync.reports",
    "closesync.pipeline",
    "closesync.datacenter.service",
    "closesync.datacenter.runner",
    "closesync.datacenter.schedule",
)


def imported_modules(*args: str) -> set[str]:
    """The modules `python -m closesync ARGS` imports, read from `-X importtime` (stderr)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "closesync", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return {
        line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")
    }


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["datasets", "--help"],
        ["accounts", "--help"],
        ["notify", "--help"],
        ["runs", "--help"],
        ["doctor", "--help"],
        ["models", "--help"],
        ["models", "build", "--help"],
    ],
)
def test_help_imports_nothing_heavy(args: list[str]) -> None:
    modules = imported_modules(*args)
    assert "closesync.cli.datasets" in modules  # the measurement works
    loaded = sorted(m for m in modules if m.split(".")[0] in HEAVY or m.startswith(HEAVY))
    assert loaded == [], f"`closesync {' '.join(args)}` imported {loaded}"
