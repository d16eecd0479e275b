"""What a matrix cell measures: rows lost and keys duplicated against the sandbox's truth, whether the tables of
a failed read are as they were, and whether a command's failure is readable (exit code, no traceback)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from writes_helpers import LEADS

from closesync.cli import cli
from closesync.close.timestamps import parse_timestamp
from closesync.reports import get_report
from closesync.sandbox import DEFAULT_API_KEY, Sandbox
from closesync.sinks import TableNotFoundError, open_sink

#: The reports of a cell, by the read (source) that feeds them: a plain list, an offset read, and the leads
#: search with its nested tables (published together).
SOURCES: dict[str, tuple[str, ...]] = {
    "users": ("users",),
    "activities_call": ("activities_call",),
    "leads": tuple(LEADS),
}
REPORTS = [t for tables in SOURCES.values() for t in tables]
COLLECTIONS = {"users": "user", "activities_call": "activity/call", "leads": "lead"}
NESTED = {"leads_contacts": "contacts", "leads_opportunities": "opportunities", "leads_tasks": "tasks"}


@dataclass(frozen=True)
class Cell:
    scenario: str
    variant: str
    method: str = "-"
    destination: str = "-"

    def __str__(self) -> str:
        return " / ".join(p for p in (self.scenario, self.variant, self.method, self.destination) if p != "-")

    @property
    def group(self) -> tuple[str, str, str]:
        return self.scenario, self.method, self.destination


@dataclass
class Outcome:
    """What a cell measured (None: not applicable) and what went wrong, in words."""

    cell: Cell
    run: str = ""
    lost: int | None = None
    duplicated: int | None = None
    intact: bool | None = None
    error: bool | None = None
    recovered: bool | None = None
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not (self.problems or self.lost or self.duplicated) and False not in (
            self.intact,
            self.error,
            self.recovered,
        )

    def explain(self) -> str:
        """The cell, what its run did, and everything that was wrong with it."""
        wrong = [
            *self.problems,
            *(f"{n} {v}" for n, v in (("lost", self.lost), ("duplicated", self.duplicated)) if v),
        ]
        wrong += [f"{n}: no" for n in ("intact", "error", "recovered") if getattr(self, n) is False]
        return f"{self.cell}: {self.run}; " + "; ".join(wrong)

    def to_dict(self) -> dict[str, Any]:
        return {
            "cell": str(self.cell),
            "scenario": self.cell.scenario,
            "variant": self.cell.variant,
            "method": self.cell.method,
            "destination": self.cell.destination,
            "run": self.run,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "intact": self.intact,
            "error": self.error,
            "recovered": self.recovered,
            "passed": self.passed,
            "problems": self.problems,
            "seconds": round(self.seconds, 2),
        }


@dataclass
class Count:
    """Rows missing (records, or record versions where the read can tell them apart) and rows beyond one per
    key (replace, upsert) or per version (append)."""

    lost: int = 0
    duplicated: int = 0

    def __add__(self, other: Count) -> Count:
        return Count(self.lost + other.lost, self.duplicated + other.duplicated)

    @property
    def clean(self) -> bool:
        return self.lost == 0 and self.duplicated == 0


def _versioned(table: str) -> bool:
    """Whether every run brings each record's last version: full reads, and date_updated cursors."""
    cursor = get_report(table).cursor
    return cursor is None or cursor == "date_updated"


def _expected_nested(leads: list[dict], table: str) -> Counter:
    """Keys the nested table must hold: child ids, or (addresses, keyed by position) rows per lead."""
    if table == "leads_addresses":
        return Counter({lead["id"]: len(lead.get("addresses") or []) for lead in leads})
    return Counter(child["id"] for lead in leads for child in lead.get(NESTED[table]) or [])


def read(destination: str, tables: list[str] | tuple[str, ...]) -> dict[str, list[dict]]:
    """Every row of `tables` through one open sink (a table that does not exist has none)."""
    sink = open_sink(destination)
    try:
        held = {}
        for table in tables:
            try:
                held[table] = [r for b in sink.iter_batches(table) for r in b.to_pylist()]
            except TableNotFoundError:
                held[table] = []
        return held
    finally:
        sink.close()


def count_rows(sb: Sandbox, held: list[dict], slug: str, method: str, leads: list[dict]) -> Count:
    """A table of report `slug` against the truth: lost records, and duplicated keys (replace, upsert) or
    record versions (append: key + date_updated, as writes_helpers.duplicated_versions counts them). `leads`
    (the sandbox's leads) hold what nested tables must."""
    if slug in COLLECTIONS:
        truth = sb.truth(COLLECTIONS[slug])
        if _versioned(slug):
            want = {(r["id"], parse_timestamp(r["date_updated"])) for r in truth}
            have = {(r["id"], r["date_updated"]) for r in held}
        else:
            want, have = {r["id"] for r in truth}, {r["id"] for r in held}
        lost = len(want - have)
    else:
        expected = _expected_nested(leads, slug)
        got = Counter(r["lead_id"] if slug == "leads_addresses" else r["id"] for r in held)
        lost = sum(max(0, n - got[k]) for k, n in expected.items())
    key = get_report(slug).primary_key
    if method == "append":
        versions = Counter(
            tuple(r[k] for k in key)
            + ((r["date_updated"],) if "date_updated" in r else tuple(sorted(map(repr, r.items()))))
            for r in held
        )
    else:
        versions = Counter(tuple(r[k] for k in key) for r in held)
    return Count(lost, sum(n - 1 for n in versions.values()))


def count(sb: Sandbox, destination: str, method: str, tables: dict[str, str] | None = None) -> Count:
    """`tables` (table -> its report; default: every report of a cell, each in its own table) against the
    truth."""
    tables = tables or {t: t for t in REPORTS}
    held = read(destination, list(tables))
    leads = sb.data.records("lead") if set(tables.values()) & {*NESTED, "leads_addresses"} else []
    total = Count()
    for table, slug in tables.items():
        total += count_rows(sb, held[table], slug, method, leads)
    return total


def tables_of(destination: str, tables: list[str] | tuple[str, ...] = tuple(REPORTS)) -> dict[str, list[str]]:
    """A comparable snapshot of `tables` (sorted row reprs, as writes_helpers.snapshot takes them)."""
    return {t: sorted(repr(sorted(r.items())) for r in rows) for t, rows in read(destination, tables).items()}


def change_data(sb: Sandbox) -> None:
    """Edits, creations and deletions of leads and calls, so the next run has something to write."""
    sb.mutate("lead", "edit", 2)
    sb.mutate("lead", "create", 1)
    sb.mutate("lead", "delete", 1)
    sb.mutate("activity/call", "create", 2)
    sb.mutate("activity/call", "delete", 1)


# -- commands -------------------------------------------------------------------------------------------------


@dataclass
class CommandRun:
    """A finished command: exit code, standard output, everything it printed, and whether it showed a
    traceback (an exception that escaped the command, or one printed)."""

    code: int
    stdout: str
    output: str
    traceback: bool

    def readable(self, *codes: int) -> bool:
        return self.code in codes and not self.traceback

    def describe(self) -> str:
        text = " ".join(self.output.split())
        return f"exit {self.code}{' with a traceback' if self.traceback else ''}: {text[:300]}"


#: Commands read the sandbox's key from here (`--api-key-env`), as a careful user would.
KEY_ENV = "CLOSESYNC_MATRIX_API_KEY"


def invoke(home: Path, *args: str) -> CommandRun:
    """`closesync --home HOME ARGS` in this process (the sandbox and any injected fault live here too)."""
    result = CliRunner().invoke(
        cli, ["--home", str(home), *args], terminal_width=200, env={KEY_ENV: DEFAULT_API_KEY}
    )
    escaped = result.exception is not None and not isinstance(result.exception, SystemExit)
    return CommandRun(result.exit_code, result.stdout, result.output, escaped or "Traceback" in result.output)


def spawn(home: Path, *args: str) -> subprocess.Popen[str]:
    """`closesync --home HOME ARGS` in a child process (for SIGKILL and racing processes)."""
    return subprocess.Popen(
        [sys.executable, "-m", "closesync", "--home", str(home), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, KEY_ENV: DEFAULT_API_KEY},
    )


def finished(proc: subprocess.Popen[str], timeout: float = 120) -> CommandRun:
    out, err = proc.communicate(timeout=timeout)
    return CommandRun(proc.returncode, out, out + err, "Traceback" in out + err)


def sync_args(sb: Sandbox, destination: str, method: str, *extra: str) -> list[str]:
    return [
        "sync",
        *REPORTS,
        "--api-key-env",
        KEY_ENV,
        "--base-url",
        sb.base_url,
        "--destination",
        destination,
        "--method",
        method,
        "--json",
        *extra,
    ]


def statuses(run: CommandRun) -> dict[str, Any]:
    """slug -> the report's result, from `sync --json` (empty when the command printed no result)."""
    try:
        return {r["slug"]: r for r in json.loads(run.stdout)["reports"]}
    except (ValueError, KeyError, TypeError):
        return {}
