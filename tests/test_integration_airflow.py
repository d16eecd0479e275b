"""The launcher contract (`closesync datasets run NAME --json`, docs/scale-out.md) and its examples: the
Airflow DAG (parsed by Airflow when it is installed, else compiled) and the crontab line, their commands run
for real against the sandbox, their JSON checked against every field the page documents."""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from croniter import croniter

from closesync.cli import cli
from closesync.cli.common import EXIT_BUSY, EXIT_FAILED, EXIT_INPUT
from closesync.datacenter import DataCenter

ROOT = Path(__file__).parents[1]
DAG = ROOT / "examples" / "airflow" / "closesync_dag.py"
CRONTAB = ROOT / "examples" / "cron" / "closesync.crontab"
DOC = ROOT / "docs" / "scale-out.md"
CLOSESYNC = Path(sys.executable).parent / "closesync"  # the installed command (PYTHONPATH=src still wins)
REPORTS = {"leads": "Leads", "opportunities": "Opportunities", "calls": "Activities Call"}


def _documented(heading: str) -> set[str]:
    """The fields in the first column of the table under `#### heading` in docs/scale-out.md."""
    section = DOC.read_text().split(f"#### {heading}\n", 1)[1].split("\n#", 1)[0]
    cells = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    return {name for cell in cells for name in re.findall(r"`(\w+)`", cell)}


def _dag_constants() -> dict[str, Any]:
    """The DAG file compiled, and its module-level literals (COMMAND, DATASETS, EXIT_CODES)."""
    tree = ast.parse(DAG.read_text(), str(DAG))
    compile(tree, str(DAG), "exec")
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            try:
                found[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue
    return found


def _closesync(home: Path, *args: str, **popen: Any) -> Any:
    env = {**os.environ, "CLOSESYNC_HOME": str(home)}
    if popen:
        return subprocess.Popen([str(CLOSESYNC), *args], env=env, text=True, **popen)
    return subprocess.run([str(CLOSESYNC), *args], env=env, text=True, capture_output=True, timeout=120)


@pytest.fixture
def datasets(home: Path, sandbox: Any) -> DataCenter:
    """A home with the DAG's datasets, on the sandbox."""
    dc = DataCenter(home)
    dc.add_account("acme", api_key=sandbox.api_key, base_url=sandbox.base_url)
    for name, report in REPORTS.items():
        dc.create_dataset(name, account="acme", report=report)
    return dc


def test_the_dag_loads_and_names_the_real_command_and_exit_codes() -> None:
    constants = _dag_constants()
    assert constants["EXIT_CODES"] == {"failed": EXIT_FAILED, "bad_input": EXIT_INPUT, "busy": EXIT_BUSY}
    assert set(constants["DATASETS"]) == set(REPORTS)
    program, group, command = constants["COMMAND"]
    run = cli.commands[group].commands[command]  # type: ignore[attr-defined]
    assert program == "closesync" and "--json" in {o for p in run.params for o in p.opts}
    if importlib.util.find_spec("airflow") is not None:
        from airflow.models import DagBag

        bag = DagBag(dag_folder=str(DAG), include_examples=False)
        assert not bag.import_errors and set(bag.dags["closesync"].task_ids) == {f"run_{n}" for n in REPORTS}


def test_the_dag_command_prints_every_documented_field(datasets: DataCenter, home: Path, sandbox: Any) -> None:
    _, *args = _dag_constants()["COMMAND"]
    for name in REPORTS:
        done = _closesync(home, *args, name, "--json")
        assert done.returncode == 0, done.stderr
        run = json.loads(done.stdout)
        assert _documented("The run") <= set(run) and run["status"] == "success" and run["dataset_name"] == name
        assert all(_documented("Each entry of `reports`") <= set(report) for report in run["reports"])
    assert run["rows"] == run["rows_written"] == sandbox.data.count("activity/call")


def test_exit_codes_follow_the_contract(datasets: DataCenter, home: Path, sandbox: Any) -> None:
    unknown = _closesync(home, "datasets", "run", "nope", "--json")
    assert unknown.returncode == EXIT_INPUT and unknown.stderr.startswith("Error: No dataset named 'nope'")
    error = json.loads(unknown.stdout)
    assert set(error) == _documented("No run") and error["status"] == "error" and error["dataset_name"] == "nope"

    sandbox.add_fault("401")  # Close refuses the run's first request
    failed = _closesync(home, "datasets", "run", "leads", "--json")
    assert failed.returncode == EXIT_FAILED
    run = json.loads(failed.stdout)
    assert run["status"] == "failed" and run["http_status"] == 401 and "could not verify" in run["error"]
    assert sandbox.api_key not in failed.stdout + failed.stderr

    sandbox.add_fault("slow", delay=3.0)  # holds the next run long enough to start another
    first = _closesync(home, "datasets", "run", "leads", "--json", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not datasets.history("leads", status="running") and time.monotonic() < deadline:
        time.sleep(0.1)
    busy = _closesync(home, "datasets", "run", "leads", "--json")
    assert busy.returncode == EXIT_BUSY and "is running already" in json.loads(busy.stdout)["error"]
    out, _ = first.communicate(timeout=60)
    assert first.returncode == 0 and json.loads(out)["status"] == "success"


def test_the_crontab_line_runs_and_is_the_one_documented(datasets: DataCenter, home: Path) -> None:
    lines = [line for line in CRONTAB.read_text().splitlines() if line and not line.startswith("#")]
    variables = dict(line.split("=", 1) for line in lines if re.match(r"^\w+=", line))
    [job] = [line for line in lines if not re.match(r"^\w+=", line)]
    assert variables.keys() == {"CLOSESYNC_HOME"} and job in DOC.read_text()
    fields = job.split(maxsplit=5)
    assert croniter.is_valid(" ".join(fields[:5]))
    words = shlex.split(fields[5])
    program, *args = words[: words.index(">>")]
    assert Path(program).name == "closesync"
    done = _closesync(home, *args)  # the line's own arguments, on the test's home
    assert done.returncode == 0 and json.loads(done.stdout)["status"] == "success"
