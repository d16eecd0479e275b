"""Issue 13 §3 and §6 in the CLI: `reports` shows each report's parameters in 80 columns, `datasets show` and
`list` give ids by name, rows in the table beside rows read, and the report's parameters only; --method says
what each method does; every wrong option is named at once (CliRunner against the sandbox)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from closesync.cli import cli
from closesync.datacenter.spec import METHOD_HELP


@pytest.fixture
def run(home: Path) -> Any:
    def invoke(*args: str, columns: int = 200) -> Any:
        return CliRunner().invoke(
            cli, ["--home", str(home), *args], catch_exceptions=False, env={"COLUMNS": str(columns)}
        )

    return invoke


def test_reports_show_their_parameters_in_80_columns(run: Any) -> None:
    result = run("reports", columns=80)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= 80, [line for line in lines if len(line) > 80]
    text = result.output
    assert "Org" in text and "User" in text and "Since/" in text and "--organization-id" in text
    by_name = {line.split("  ")[0].strip(): line for line in lines if line.startswith(" ") and "  " in line}
    assert by_name["Reporting Activity"].count("✓") == 3
    assert by_name["Organizations"].count("✓") == 1
    assert by_name["Activities Call"].count("✓") == 2
    assert by_name["Users"].count("✓") == 0
    wide = run("reports", "--wide", columns=220)
    assert "activities_call" in wide.output and "/activity/call/" in wide.output
    as_json = json.loads(run("reports", "--json").output)
    assert {r["slug"]: r["parameters"] for r in as_json}["organizations"] == ["organization_id"]


def test_method_help_says_what_each_method_does(run: Any) -> None:
    for command in (("sync", "--help"), ("datasets", "create", "--help"), ("datasets", "edit", "--help")):
        help_text = " ".join(run(*command).output.split())
        assert "every new or changed record version is added once" in help_text, command
        assert "the table becomes exactly what was read" in help_text
        assert "merged by primary key; records deleted in Close are removed" in help_text
    assert set(METHOD_HELP) == {"replace", "append", "upsert"}


def test_datasets_show_names_ids_and_lists_only_the_reports_parameters(run: Any, sandbox: Any) -> None:
    run("accounts", "add", "acme", "--api-key", sandbox.api_key, "--base-url", sandbox.base_url)
    account = json.loads(run("accounts", "list", "--json").output)[0]
    org, user = account["organizations"][0], account["users"][0]
    created = run("datasets", "create", "activity", "--account", "acme", "--report", "Reporting Activity",
                  "--organization-id", org["id"], "--user-id", user["id"])
    assert created.exit_code == 0, created.output
    shown = run("datasets", "show", "activity").output
    assert f"Organization ID: {org['label']} ({org['id']})" in shown
    assert f"User ID: {user['label']} ({user['id']})" in shown
    assert "Since: the whole history" in shown and "Rows in table: -" in shown

    assert run("datasets", "create", "users", "--account", "acme", "--report", "Users").exit_code == 0
    plain = run("datasets", "show", "users").output
    for absent in ("Organization ID", "User ID", "Since"):
        assert absent not in plain  # the Users report takes none of them
    listed = run("datasets", "list").output
    assert org["label"] in listed and user["label"] in listed


def test_rows_in_the_table_beside_rows_read(run: Any, sandbox: Any) -> None:
    run("accounts", "add", "acme", "--api-key", sandbox.api_key, "--base-url", sandbox.base_url)
    run("datasets", "create", "leads", "--account", "acme", "--report", "Leads")
    assert run("datasets", "run", "leads").exit_code == 0
    lead = sandbox.data.records("lead")[0]
    sandbox.data.update("lead", lead["id"], display_name="Renamed Inc")
    second = json.loads(run("datasets", "run", "leads", "--json").output)
    total = sandbox.data.count("lead")
    assert second["rows"] < total
    shown = run("datasets", "show", "leads").output
    assert f"Rows in table: {total}" in shown and f"({second['rows']} read)" in shown
    [listed] = json.loads(run("datasets", "list", "--json").output)
    assert listed["table_rows"] == total and listed["last_run"]["rows"] == second["rows"]
    assert f"{total}" in run("datasets", "list").output


def test_every_wrong_option_is_named_at_once(run: Any, sandbox: Any) -> None:
    run("accounts", "add", "acme", "--api-key", sandbox.api_key, "--base-url", sandbox.base_url)
    bad = run("datasets", "create", "u", "--account", "acme", "--report", "Users", "--schedule", "whenever",
              "--retries", "99", "--since", "someday")
    assert bad.exit_code == 2
    for option in ("--schedule:", "--retries:", "--since:"):
        assert option in bad.output, bad.output
