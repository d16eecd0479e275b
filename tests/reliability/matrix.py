"""The reliability matrix of issue 10 §4: every way a run can go wrong, counted against the sandbox's truth.

A cell is one fault (or race, or bad input) × update method × destination. For each cell the run under the
fault is measured: rows lost and keys duplicated against `/_sandbox/truth/…`, the tables of a failed read
as they were (`intact`), the error readable with its documented exit code (1 run failed, 2 bad input,
3 busy), and a clean rerun converging to the truth (`recovered`). `-` means the column does not apply.

The cells are data (`CELLS`); `Lab.outcome` runs them. pytest runs each cell as a test
(tests/reliability/test_matrix.py); `make reliability` runs this file, prints the table and writes
build/reliability.json. Cells of one group (scenario, method, destination) share a sandbox and a destination
and run in order, so the matrix stays within a few minutes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import matrix_inputs
import matrix_scenarios as scenarios
import psycopg
from matrix_checks import Cell, Outcome
from psycopg import sql
from writes_helpers import KINDS

from closesync.sandbox import Sandbox
from closesync.sinks.destination import METHODS

FAULT_KINDS = scenarios.TRANSIENT + scenarios.FAILING
MUTATIONS = ("create", "edit", "delete")


CELLS: list[Cell] = [
    *(Cell("fault", k, m, d) for d in KINDS for m in METHODS for k in FAULT_KINDS),
    *(Cell("mutation", a, m, d) for d in KINDS for m in METHODS for a in MUTATIONS),
    *(Cell("kill -9", "mid-load", m, d) for d in KINDS for m in METHODS),
    *(Cell("two schedulers", "--once x2", "all", d) for d in KINDS),
    *(Cell("disk full", "ENOSPC", m, d) for d in KINDS for m in METHODS),
    *(Cell("read-only", "destination", "upsert", d) for d in KINDS),
    Cell("locked", "by another process", "upsert", "duckdb"),
    *(Cell("bad input", name) for name in matrix_inputs.INPUTS),
]

SCENARIOS: dict[str, Callable[[Lab, list[Cell]], list[Outcome]]] = {
    "fault": scenarios.faults,
    "mutation": scenarios.mutations,
    "kill -9": scenarios.kill,
    "two schedulers": scenarios.schedulers,
    "disk full": scenarios.disk_full,
    "read-only": scenarios.read_only,
    "locked": scenarios.locked,
    "bad input": matrix_inputs.bad_inputs,
}


class Lab:
    """Where cells run: a scratch folder, sandboxes, PostgreSQL schemas and mounts, all undone by close()."""

    def __init__(self, root: Path, pg_url: Callable[[], str]) -> None:
        self.root = root
        self._pg_url = pg_url
        self._schemas: list[str] = []
        self._mounts: list[Path] = []
        self._sandboxes: list[Sandbox] = []
        self._outcomes: dict[Cell, Outcome] = {}

    def outcome(self, cell: Cell) -> Outcome:
        """The cell's outcome (its whole group runs the first time one of its cells is asked for)."""
        if cell not in self._outcomes:
            group = [c for c in CELLS if c.group == cell.group]
            started = time.monotonic()
            try:
                outcomes = SCENARIOS[cell.scenario](self, group)
            except Exception as exc:  # noqa: BLE001 - a crash is that group's result, not the matrix's end
                outcomes = [
                    Outcome(c, run="crashed", problems=[f"{type(exc).__name__}: {exc}"]) for c in group
                ]
            finally:
                self._stop_sandboxes()
            for out in outcomes:
                out.seconds = (time.monotonic() - started) / len(outcomes)
                self._outcomes[out.cell] = out
        return self._outcomes[cell]

    # -- resources -------------------------------------------------------------------------------------------
    def sandbox(self, leads: int = 40, activities_per_lead: float = 10.0) -> Sandbox:
        """A sandbox stopped after its group. 40 leads and ~120 calls: the offset read of calls takes two
        pages (so the `_skip` cap can answer), and every run stays well under a second."""
        sb = Sandbox(seed=1, leads=leads, activities_per_lead=activities_per_lead).start()
        self._sandboxes.append(sb)
        return sb

    def place(self, kind: str, name: str) -> str:
        """A fresh destination of `kind` (duckdb, postgres, parquet) for the group `name`."""
        folder = self.root / name
        folder.mkdir(parents=True, exist_ok=True)
        if kind == "duckdb":
            return f"duckdb:{folder / 'close.duckdb'}"
        if kind == "parquet":
            return f"parquet:{folder / 'files'}"
        schema = f"m_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self._pg_url(), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        self._schemas.append(schema)
        url = self._pg_url()
        return f"{url}{'&' if '?' in url else '?'}schema={schema}"

    def home(self, name: str) -> Path:
        return self.root / name / "home"

    def small_filesystem(self, name: str) -> Path | None:
        """A 24 MB tmpfs at the group's folder (mounted once), or None where mounting is not allowed."""
        folder = self.root / name
        if folder in self._mounts:
            return folder
        folder.mkdir(parents=True, exist_ok=True)
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(folder)], capture_output=True
        )
        if mounted.returncode != 0:
            return None
        self._mounts.append(folder)
        return folder

    @contextmanager
    def read_only(self, folder: Path) -> Iterator[None]:
        """`folder` read-only while the block runs: a read-only bind mount (root ignores permissions), else
        every write permission under it taken away."""
        mounted = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True)
        if mounted.returncode == 0:
            try:
                subprocess.run(
                    ["mount", "-o", "remount,bind,ro", str(folder)], check=True, capture_output=True
                )
                yield
            finally:
                subprocess.run(["umount", "-l", str(folder)], check=True)
            return
        modes = {p: p.stat().st_mode for p in [folder, *folder.rglob("*")]}
        for path, mode in modes.items():
            path.chmod(mode & ~0o222)
        try:
            yield
        finally:
            for path, mode in modes.items():
                path.chmod(mode)

    def read_only_role(self, destination: str) -> str:
        """`destination` (a PostgreSQL URL) as a role that may read its schema but not write."""
        schema = parse_qs(urlsplit(destination).query)["schema"][0]
        with psycopg.connect(self._pg_url(), autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'matrix_reader'").fetchone():
                conn.execute("CREATE ROLE matrix_reader LOGIN")
            conn.execute(
                sql.SQL(
                    "GRANT USAGE ON SCHEMA {0} TO matrix_reader; "
                    "GRANT SELECT ON ALL TABLES IN SCHEMA {0} TO matrix_reader"
                ).format(sql.Identifier(schema))
            )
        parts = urlsplit(destination)
        netloc = "matrix_reader@" + parts.netloc.rpartition("@")[2]
        return urlunsplit(parts._replace(netloc=netloc))

    def _stop_sandboxes(self) -> None:
        while self._sandboxes:
            self._sandboxes.pop().stop()

    def close(self) -> None:
        self._stop_sandboxes()
        for folder in self._mounts:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)
        if self._schemas:
            with psycopg.connect(self._pg_url(), autocommit=True) as conn:
                for schema in self._schemas:
                    conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
                conn.execute("DROP ROLE IF EXISTS matrix_reader")


# -- the table -----------------------------------------------------------------------------------------------

COLUMNS = ("cell", "run", "lost", "dup", "intact", "error", "recovered", "result")


def _mark(value: bool | int | None, good: Callable[[Any], bool]) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    return str(value) if good(value) else f"{value}!"


def _row(out: Outcome) -> tuple[str, ...]:
    return (
        str(out.cell),
        out.run,
        _mark(out.lost, lambda n: n == 0),
        _mark(out.duplicated, lambda n: n == 0),
        _mark(out.intact, bool),
        _mark(out.error, bool),
        _mark(out.recovered, bool),
        "pass" if out.passed else "FAIL",
    )


def render(outcomes: list[Outcome]) -> str:
    rows = [COLUMNS, *(_row(o) for o in outcomes)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    failed = [o for o in outcomes if not o.passed]
    lines.append("")
    lines.append(
        f"{len(outcomes) - len(failed)}/{len(outcomes)} cells pass; "
        f"lost {sum(o.lost or 0 for o in outcomes)}, duplicated {sum(o.duplicated or 0 for o in outcomes)}"
    )
    lines += [f"FAIL {o.explain()}" for o in failed]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """`make reliability`: run every cell (or those whose name contains argv[0]), print, write the JSON."""
    from closesync.testing.postgres import PgTestServer

    wanted = argv[0] if argv else ""
    server: list[PgTestServer] = []

    def pg_url() -> str:
        if os.environ.get("CLOSESYNC_TEST_PG_URL"):
            return os.environ["CLOSESYNC_TEST_PG_URL"]
        if not server:
            server.append(PgTestServer(dbname="closesync_matrix"))
            server[0].start()
        return server[0].url

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="closesync-matrix-") as root:
        lab = Lab(Path(root), pg_url)
        try:
            outcomes = []
            for cell in (c for c in CELLS if wanted in str(c)):
                outcomes.append(lab.outcome(cell))
                print(f"{'.' if outcomes[-1].passed else 'F'}", end="", flush=True, file=sys.stderr)
        finally:
            lab.close()
            for s in server:
                s.stop()
    print(file=sys.stderr)
    print(render(outcomes))
    seconds = time.monotonic() - started
    print(f"{seconds:.0f} s")
    out = Path(__file__).resolve().parents[2] / "build" / "reliability.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "seconds": round(seconds, 1),
                "cells": [o.to_dict() for o in outcomes],
                "passed": sum(o.passed for o in outcomes),
                "total": len(outcomes),
            },
            indent=2,
        )
    )
    print(f"wrote {out}")
    return 0 if all(o.passed for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
