"""The bad inputs of issue 10 §2/§3 as matrix cells: each command must end with a readable error and its
documented exit code (2 bad input; 1 where the run itself failed), change nothing, and leave the home usable."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from matrix_checks import KEY_ENV, Cell, Outcome, invoke, tables_of

from closesync.datacenter import DataCenter
from closesync.sandbox import Sandbox

if TYPE_CHECKING:
    from matrix import Lab


@dataclass(frozen=True)
class Setting:
    """What a bad-input command runs against: the sandbox, the home and a scratch folder."""

    sb: Sandbox
    home: Path
    scratch: Path

    def key(self) -> list[str]:
        return ["--api-key-env", KEY_ENV, "--base-url", self.sb.base_url]


def _create(*options: str) -> Callable[[Setting], list[str]]:
    return lambda s: ["datasets", "create", "bad", "--account", "acme", "--report", "Users", *options]


def _sync(*options: str) -> Callable[[Setting], list[str]]:
    return lambda s: ["sync", "users", *s.key(), *(o.format(scratch=s.scratch, home=s.home) for o in options)]


#: name -> (command, accepted exit codes, whether the home is read-only while it runs)
INPUTS: dict[str, tuple[Callable[[Setting], list[str]], tuple[int, ...], bool]] = {
    "reserved table name": (_create("--table", "_closesync_state"), (2,), False),
    "table clash via ..": (
        lambda s: _create("--destination", f"duckdb:{s.home}/sub/../close.duckdb")(s),
        (2,),
        False,
    ),
    "retry delay overflow": (_create("--retry-delay", "99999999999h"), (2,), False),
    "every overflow": (_create("--schedule", "every 99999999999999999999 minutes"), (2,), False),
    "cron that never runs": (_create("--schedule", "0 0 31 2 *"), (2,), False),
    "csv:/dev/null": (_sync("--destination", "csv:/dev/null"), (1, 2), False),
    "parquet on a file": (_sync("--destination", "parquet:{scratch}/hostname"), (1, 2), False),
    "--db not a DuckDB file": (_sync("--db", "{scratch}/hostname"), (1, 2), False),
    "--since not a date": (_sync("--since", "someday"), (2,), False),
    "unknown report": (lambda s: ["sync", "no_such_report", *s.key()], (2,), False),
    "read-only home: list": (lambda s: ["datasets", "list"], (0, 2), True),
    "read-only home: history": (lambda s: ["datasets", "history", "users"], (0, 2), True),
    "read-only home: run": (lambda s: ["datasets", "run", "users"], (2,), True),
}


def bad_inputs(lab: Lab, cells: list[Cell]) -> list[Outcome]:
    sb = lab.sandbox(leads=20)
    setting = Setting(sb, lab.home("bad-inputs"), lab.root / "bad-inputs" / "scratch")
    setting.scratch.mkdir(parents=True, exist_ok=True)
    (setting.scratch / "hostname").write_text("matrix\n")
    dc = DataCenter(setting.home)
    dc.add_account("acme", api_key=sb.api_key, base_url=sb.base_url)
    users = dc.create_dataset("users", account="acme", report="Users")
    assert dc.run_dataset("users").ok
    dc.close()

    def state() -> tuple:
        center = DataCenter(setting.home)
        try:
            names = [d.name for d in center.list_datasets()]
        finally:
            center.close()
        files = {p.name: p.read_bytes() for p in setting.scratch.iterdir()}
        return names, tables_of(users.destination, [users.table]), files

    outcomes = []
    for cell in cells:
        out = Outcome(cell)
        command, codes, read_only_home = INPUTS[cell.variant]
        before = state()
        if read_only_home:
            with lab.read_only(setting.home):
                done = invoke(setting.home, *command(setting))
        else:
            done = invoke(setting.home, *command(setting))
        out.run = f"exit {done.code}"
        out.error = done.readable(*codes) and (done.code == 0 or "error" in done.output.lower())
        if not out.error:
            out.problems.append(f"expected exit {'/'.join(map(str, codes))}: {done.describe()}")
        out.intact = state() == before
        out.recovered = invoke(setting.home, "datasets", "list").code == 0
        outcomes.append(out)
    return outcomes
