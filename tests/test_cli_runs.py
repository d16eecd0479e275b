"""`closesync runs list/show` and `datasets history --status --limit` over real runs (tests/runs_helpers.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from closesync.cli import cli
from runs_helpers import XSS_NAME, History, make_history


@pytest.fixture
def history(home: Path, sandbox: Any) -> History:
    return make_history(home, sandbox)


@pytest.fixture
def run(home: Path, history: History) -> Any:
    def invoke(*args: str) -> Any:
        return CliRunner().invoke(cli, ["--home", str(home), *args], catch_exceptions=False)

    return invoke


def _json(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_runs_list_filters_like_the_runs_page(run: Any) -> None:
    assert [r["id"] for r in _json(run("runs", "list", "--json"))] == [6, 5, 4, 3, 2, 1]
    assert [r["id"] for r in _json(run("runs", "list", "--json", "--limit", "2"))] == [6, 5]
    assert [r["id"] for r in _json(run("runs", "list", "--json", "--status", "failed"))] == [5, 2]
    assert [r["id"] for r in _json(run("runs", "list", "--json", "--dataset", "Users", "--status", "success"))] == [6, 3, 1]
    dated = _json(run("runs", "list", "--json", "--since", "2026-11-21", "--until", "2026-11-21"))
    assert [r["id"] for r in dated] == [4, 3]

    table = run("runs", "list")
    assert table.exit_code == 0
    for column in ("Dataset", "Throttle waits", "Trigger", "Broken", "Users", "manual"):
        assert column in table.output
    assert "No runs match these filters." in run("runs", "list", "--status", "running").output


def test_runs_list_refuses_bad_input(run: Any) -> None:
    bad = run("runs", "list", "--since", "yesterday-ish")
    assert bad.exit_code == 2 and "--since: 'yesterday-ish' is not a date" in bad.output
    assert run("runs", "list", "--status", "odd").exit_code == 2
    unknown = run("runs", "list", "--dataset", "nope")
    assert unknown.exit_code == 2 and "No dataset named 'nope'" in unknown.output


def test_runs_show_prints_a_failed_run_in_full(run: Any, history: History) -> None:
    broken = history.runs[1]
    shown = run("runs", "show", str(broken.id))
    assert shown.exit_code == 0
    flat = "".join(shown.output.split())  # the terminal wraps long lines; the error is all there
    assert "".join((broken.error or "").split()) in flat
    assert "Status: failed" in shown.output and "Dataset: Broken" in shown.output

    forbidden = run("runs", "show", "5")
    assert "HTTP status: 403" in forbidden.output and "Reports" in forbidden.output
    throttled = run("runs", "show", "1")
    assert "Throttle waits: 1" in throttled.output and "Trigger: manual" in throttled.output
    as_json = _json(run("runs", "show", "2", "--json"))
    assert as_json["error"] == broken.error and as_json["dataset_name"] == "Broken"
    missing = run("runs", "show", "999")
    assert missing.exit_code == 2 and "No run with id 999" in missing.output


def test_datasets_history_status_and_limit(run: Any) -> None:
    failed = _json(run("datasets", "history", "Users", "--status", "failed", "--json"))
    assert [r["id"] for r in failed] == [5]
    assert [r["id"] for r in _json(run("datasets", "history", "Users", "--limit", "2", "--json"))] == [6, 5]
    text = run("datasets", "history", "Users", "--status", "success", "--limit", "1")
    assert text.exit_code == 0 and "Throttle waits" in text.output and "failed" not in text.output
    none = run("datasets", "history", XSS_NAME, "--status", "failed")
    assert none.exit_code == 0 and "has no failed runs" in none.output
    assert run("datasets", "history", "Users", "--status", "nope").exit_code == 2


def test_names_are_printed_as_text(run: Any) -> None:
    listed = run("runs", "list", "--dataset", XSS_NAME)
    assert listed.exit_code == 0 and XSS_NAME in listed.output  # rich markup is not read from data
    assert "alert(1)" in run("runs", "show", "4").output
