"""The command line's one error root: a ClosesyncError is a message on stderr and a documented exit code."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from closesync.cli import ClosesyncGroup, cli
from closesync.cli.common import EXIT_BUSY, EXIT_FAILED, EXIT_INPUT, exit_code
from closesync.close.errors import CloseError
from closesync.datacenter.errors import DatasetBusyError, NotFoundError, ValidationError
from closesync.datacenter.schedule import ScheduleError
from closesync.datacenter.spec import DatasetSpec
from closesync.errors import ClosesyncError
from closesync.reports import UnknownReportError
from closesync.sinks.errors import SinkError, SinkLockedError, UnknownDestinationError


@pytest.fixture
def run(home: Path) -> Any:
    def invoke(*args: str) -> Any:
        return CliRunner().invoke(cli, ["--home", str(home), *args])

    return invoke


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (DatasetBusyError("running"), EXIT_BUSY),
        (SinkLockedError("locked"), EXIT_BUSY),
        (NotFoundError("no such"), EXIT_INPUT),
        (ValidationError("bad", field="retry_delay"), EXIT_INPUT),
        (ScheduleError("bad schedule"), EXIT_INPUT),
        (UnknownReportError("no report"), EXIT_INPUT),
        (UnknownDestinationError("no kind"), EXIT_INPUT),
        (CloseError("Close said no"), EXIT_FAILED),
        (SinkError("disk full"), EXIT_FAILED),
        (ClosesyncError("anything else"), EXIT_FAILED),
    ],
)
def test_each_error_kind_has_its_exit_code(error: ClosesyncError, code: int) -> None:
    assert exit_code(error) == code


def test_the_root_group_turns_any_closesync_error_into_a_message() -> None:
    @click.group(cls=ClosesyncGroup)
    def root() -> None:
        pass

    @root.command()
    def busy() -> None:
        raise ValidationError("is busy", field="retry_delay")

    result = CliRunner().invoke(root, ["busy"])
    assert result.exit_code == EXIT_INPUT and isinstance(result.exception, SystemExit)
    assert result.stderr == "Error: --retry-delay: is busy\n" and result.stdout == ""


def test_unknown_dataset_is_exit_2_without_traceback(run: Any) -> None:
    for args in (["show", "nope"], ["history", "nope"], ["preview", "nope"], ["delete", "nope"]):
        result = run("datasets", *args)
        assert result.exit_code == EXIT_INPUT, result.output
        assert result.stderr.startswith("Error: No dataset named 'nope'") and "Traceback" not in result.output
    as_json = run("datasets", "run", "nope", "--json")
    assert as_json.exit_code == EXIT_INPUT and '"status": "error"' in as_json.stdout


def test_bad_schedule_names_the_option(run: Any, sandbox: Any) -> None:
    assert (
        run("accounts", "add", "acme", "--api-key", sandbox.api_key, "--base-url", sandbox.base_url).exit_code
        == 0
    )
    result = run(
        "datasets", "create", "u", "--account", "acme", "--report", "Users", "--schedule", "now and then"
    )
    assert result.exit_code == EXIT_INPUT
    assert result.stderr.startswith("Error: --schedule: ") and "daily at 06:00" in result.stderr
    bad_method = run("datasets", "create", "u", "--account", "acme", "--report", "Users", "--method", "merge")
    assert bad_method.exit_code == EXIT_INPUT and "'merge' is not one of" in bad_method.output


def test_sync_refuses_a_bad_destination_before_reading(run: Any) -> None:
    result = run("sync", "users", "--api-key", "api_x", "--destination", "mysql://db")
    assert result.exit_code == EXIT_INPUT and "unknown destination 'mysql'" in result.output
    bad_method = run("sync", "users", "--api-key", "api_x", "--method", "merge")
    assert (
        bad_method.exit_code == EXIT_INPUT
        and "'merge' is not one of 'replace', 'append', 'upsert'" in bad_method.output
    )


def test_dataset_options_cover_every_spec_field() -> None:
    def options(command: click.Command) -> dict[str, click.Parameter]:
        return {p.name: p for p in command.params if isinstance(p, click.Option) and p.name != "help"}

    datasets = cli.commands["datasets"]
    assert isinstance(datasets, click.Group)
    create, edit = options(datasets.commands["create"]), options(datasets.commands["edit"])
    fields = {f.name for f in dataclasses.fields(DatasetSpec)}
    assert set(create) == fields - {"name", "enabled"}
    assert set(edit) == fields - {"name"} | {"new_name"}
    assert create["account"].required and not edit["account"].required
    assert edit["enabled"].opts == ["--enable"] and edit["enabled"].secondary_opts == ["--disable"]
    assert create["retry_delay"].opts == ["--retry-delay"] and create["retries"].type == click.INT
