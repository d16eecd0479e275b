"""Run the shipped dbt project on a destination with dbt's Python API (`dbtRunner`): build, docs, serve.

Each run writes the profile into a work folder of its own (profiles.yml, target/, logs/), so the project
folder inside the installed package is only read. Messages are stripped of the destination's password.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any

from closesync.analytics.contract import REQUIRED_REPORTS
from closesync.analytics.errors import (
    INSTALL_HINT,
    DbtNotInstalledError,
    ModelsBuildError,
    ModelsInputError,
)
from closesync.analytics.profiles import DbtTarget, dbt_target, password_env
from closesync.private_files import make_private_dirs
from closesync.sinks.destination import redact_destination, redact_password

_FAILED = ("error", "fail", "runtime error")
_DBT_LOCK = threading.Lock()  # dbt keeps global state (flags, adapters, logging): one invocation at a time


@dataclass(frozen=True)
class BuildResult:
    """What `dbt build` did: models built and tests passed in `schema`, and the tests that only warned."""

    destination: str  # fit to show (password masked)
    schema: str
    models: int
    tests: int
    warnings: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0


def default_work_dir(destination: str, home: str | Path | None = None) -> Path:
    """Where the runs for a destination keep dbt's files: HOME/analytics/<hash> (~/.cache/closesync without
    a home); one folder per destination, so docs and partial parsing survive between runs. The hash is of
    the destination without its password."""
    base = Path(home) / "analytics" if home else Path.home() / ".cache" / "closesync" / "analytics"
    return base / hashlib.sha256(redact_destination(destination).encode()).hexdigest()[:16]


def build_models(
    destination: str,
    *,
    work_dir: str | Path | None = None,
    select: Sequence[str] = (),
    strict: bool = False,
    quiet: bool = True,
    threads: int = 4,
) -> BuildResult:
    """`dbt build` (models and their tests) on `destination`, a DuckDB file or a PostgreSQL URL.

    `select` limits the run (dbt's --select). `strict` turns the relationship tests' warnings into
    failures (closesync's own tests use it; a real account keeps activities of deleted leads). Raises
    ModelsInputError before dbt starts when the destination lacks a table the models read.
    """
    target = dbt_target(destination, threads)
    _check_sources(destination)
    args = ["--select", *select] if select else []
    started = time.monotonic()
    with _session(target, destination, work_dir, quiet) as invoke:
        results = invoke("build", args, {"relationship_severity": "error" if strict else "warn"})
    models = [r for r in results if r["type"] == "model"]
    tests = [r for r in results if r["type"] == "test"]
    return BuildResult(
        destination=redact_destination(destination),
        schema=target.models_schema,
        models=len(models),
        tests=len(tests),
        warnings=[r["name"] for r in tests if r["status"] == "warn"],
        elapsed_s=round(time.monotonic() - started, 2),
    )


def generate_docs(destination: str, *, work_dir: str | Path | None = None, quiet: bool = True) -> Path:
    """`dbt docs generate` for `destination`; returns the index.html it wrote."""
    target = dbt_target(destination)
    with _session(target, destination, work_dir, quiet) as invoke:
        invoke("docs generate")
    return _work(destination, work_dir) / "target" / "index.html"


def serve_docs(destination: str, *, port: int = 8580, work_dir: str | Path | None = None) -> None:
    """Generate dbt's docs for `destination` and serve them on 127.0.0.1:`port` until interrupted. Serving
    reads only the generated files: the database is released first (a sync can run meanwhile)."""
    generate_docs(destination, work_dir=work_dir, quiet=False)
    with _session(dbt_target(destination), destination, work_dir, quiet=False) as invoke:
        invoke("docs serve", ["--host", "127.0.0.1", "--port", str(port), "--no-browser"])


def _work(destination: str, work_dir: str | Path | None) -> Path:
    """The work folder, absolute: dbt reads relative paths from the project folder (inside the package)."""
    return (Path(work_dir) if work_dir is not None else default_work_dir(destination)).resolve()


def _check_sources(destination: str) -> None:
    """Fail with the reports to sync when the destination lacks a table the staging models read."""
    from closesync.reports import get_report
    from closesync.sinks import open_sink

    with open_sink(destination, read_only=True) as sink:
        present = set(sink.tables())
    missing = [report for report in REQUIRED_REPORTS if get_report(report).slug not in present]
    if missing:
        names = ", ".join(f'"{report}"' for report in missing)
        raise ModelsInputError(f"the models read reports this destination lacks; sync them first: {names}")


def _dbt_runner(target: DbtTarget) -> Any:
    """A dbtRunner, or DbtNotInstalledError naming what to install."""
    try:
        from dbt.cli.main import dbtRunner
    except ImportError as error:
        raise DbtNotInstalledError(f"the analytics models need dbt-core: {INSTALL_HINT}") from error
    if importlib.util.find_spec(f"dbt.adapters.{target.adapter}") is None:
        raise DbtNotInstalledError(f"the models on this destination need {target.package}: {INSTALL_HINT}")
    return dbtRunner()


@contextmanager
def _session(target: DbtTarget, destination: str, work_dir: str | Path | None, quiet: bool) -> Iterator[Any]:
    """A function `invoke(command, args=(), variables=None)` that runs one dbt command on `target` and returns
    its results as dicts (type, name, status, message); a failed command raises ModelsBuildError (password
    removed). `variables` are dbt vars added to the source schema's."""
    runner = _dbt_runner(target)
    work = _work(destination, work_dir)
    make_private_dirs(work)
    (work / "profiles.yml").write_text(target.profiles_yml(), encoding="utf-8")
    with ExitStack() as stack:
        stack.enter_context(_DBT_LOCK)
        if target.adapter == "duckdb":
            stack.callback(_release_duckdb)
        project = stack.enter_context(as_file(files("closesync.analytics") / "dbt_project"))
        stack.enter_context(password_env(target))
        common = [
            "--project-dir", str(project), "--profiles-dir", str(work),
            "--target-path", str(work / "target"), "--log-path", str(work / "logs"),
        ]  # fmt: skip
        flags = ["--no-send-anonymous-usage-stats", "--no-use-colors"] + (["--quiet"] if quiet else [])

        def invoke(
            command: str, args: Sequence[str] = (), variables: dict[str, str] | None = None
        ) -> list[dict[str, str]]:
            dbt_vars = json.dumps({"closesync_schema": target.source_schema, **(variables or {})})
            outcome = runner.invoke([*flags, *command.split(), *common, "--vars", dbt_vars, *args])
            results = _results(outcome.result)
            failed = [r for r in results if r["status"] in _FAILED]
            if outcome.exception is not None or failed or not outcome.success:
                raise ModelsBuildError(redact_password(_failure(command, outcome, failed), destination))
            return results

        yield invoke


def _release_duckdb() -> None:
    """Close the DuckDB database dbt-duckdb keeps open for the process after a run (it only drops it at
    exit), so this process can open the file again (closesync's own sinks, a read-only query, the next run)."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        environment, DuckDBConnectionManager._ENV = DuckDBConnectionManager._ENV, None
    if environment is not None:
        environment.close()


def _results(result: Any) -> list[dict[str, str]]:
    """The node results of a dbt command (none for commands without them)."""
    out = []
    for item in getattr(result, "results", None) or []:
        node = getattr(item, "node", None)
        status = getattr(item, "status", "")
        out.append({
            "type": str(getattr(getattr(node, "resource_type", ""), "value", "")),
            "name": str(getattr(node, "name", "")),
            "status": str(getattr(status, "value", status)),
            "message": str(getattr(item, "message", "") or ""),
        })  # fmt: skip
    return out


def _failure(command: str, outcome: Any, failed: list[dict[str, str]]) -> str:
    lines = [f"dbt {command} failed"]
    if outcome.exception is not None:
        lines.append(str(outcome.exception).strip())
    lines += [f"  {r['type']} {r['name']}: {r['status']}: {r['message']}".rstrip() for r in failed[:10]]
    if len(failed) > 10:
        lines.append(f"  … and {len(failed) - 10} more")
    return "\n".join(lines)


__all__ = ["BuildResult", "build_models", "default_work_dir", "generate_docs", "serve_docs"]
