"""`closesync datasets …`: saved datasets (a report of an account loaded into a table, on a schedule).

The options of `create` and `edit` are derived from :class:`DatasetSpec`, the one list of dataset fields:
a new field there is a new option here.
"""

from __future__ import annotations

import dataclasses
import sys
import typing
from collections.abc import Callable
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

import click

from closesync.cli.common import (
    EXIT_FAILED,
    EXIT_INPUT,
    LateHelpOption,
    echo,
    echo_json,
    error_message,
    fail,
    home_of,
    pass_data_center,
)
from closesync.datacenter import MAX_RUNS_LIMIT, RUN_STATUSES
from closesync.datacenter.spec import DatasetSpec

if TYPE_CHECKING:
    from closesync.datacenter import DataCenter, Preview

PREVIEW_COLUMNS = 8
_TABLE_HELP = "For a dataset with one table per type (Custom Objects): which one (default: the first)."

#: What the command line adds to a field's help: where to look an id up.
_HINTS = {
    "organization_id": "See `accounts show`.",
    "user_id": "See `accounts show`.",
}
_METAVARS = {"schedule": "SPEC", "retry_delay": "DURATION"}


def _schedule_forms() -> str:
    """The accepted schedule forms, from the schedule grammar (loaded only for this help)."""
    from closesync.datacenter.schedule import SCHEDULE_FORMS

    return "Forms: " + "; ".join(form.split("  (")[0] for form in SCHEDULE_FORMS[:-1]) + ". Times are UTC."


#: Help read from modules `closesync --help` must not load, by field.
_LATE_HELP: dict[str, Callable[[], str]] = {"schedule": _schedule_forms}


def _field_option(spec_field: dataclasses.Field[Any], hint: Any, create: bool) -> Callable[[Any], Any]:
    """`--organization-id` for `organization_id`: its help, type, shown default and whether it is required.

    A Literal field (the update method) becomes a choice, an int an integer, anything else text that the
    DataCenter validates (dates, durations, destinations).
    """
    required = spec_field.default is dataclasses.MISSING
    help_text = " ".join(filter(None, (spec_field.metadata["help"], _HINTS.get(spec_field.name))))
    default = "" if required or spec_field.default in (None, "") else f"[default: {spec_field.default}]"
    late = _LATE_HELP.get(spec_field.name)
    if typing.get_origin(hint) is typing.Literal:
        kind: click.ParamType | type = click.Choice(typing.get_args(hint))
    else:
        kind = int if hint is int else str
    return click.option(
        "--" + spec_field.name.replace("_", "-"),
        spec_field.name,
        cls=LateHelpOption,
        type=kind,
        required=required and create,
        metavar=_METAVARS.get(spec_field.name),
        help=help_text if late else f"{help_text} {default}".strip(),
        late_help=(lambda: f"{late()} {default}".strip()) if late else None,
    )


def _dataset_options(create: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Every DatasetSpec field as an option; `edit` adds --name (rename) and --enable/--disable."""
    hints = typing.get_type_hints(DatasetSpec)
    options = [
        _field_option(f, hints[f.name], create)
        for f in dataclasses.fields(DatasetSpec)
        if f.name not in ("name", "enabled")
    ]
    if not create:
        options += [
            click.option("--name", "new_name", help="Rename the dataset."),
            click.option("--enable/--disable", "enabled", default=None, help="Pause or resume its schedule."),
        ]

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


@click.group("datasets")
def datasets() -> None:
    """Saved datasets: a report of an account loaded into a table, on a schedule."""


@datasets.command("create")
@click.argument("name")
@_dataset_options(create=True)
@pass_data_center
def datasets_create(dc: DataCenter, name: str, **options: Any) -> None:
    """Create dataset NAME."""
    from closesync.cli.render import when

    d = dc.create_dataset(name, **{k: v for k, v in options.items() if v is not None})
    nxt = f", next run {when(d.next_run_at)}" if d.next_run_at else ""
    echo(f"Created dataset {d.name!r}: {d.report_name} -> {d.table} ({d.method}, {d.schedule}{nxt}).")


@datasets.command("edit")
@click.argument("name")
@_dataset_options(create=False)
@pass_data_center
def datasets_edit(dc: DataCenter, name: str, new_name: str | None, **options: Any) -> None:
    """Change dataset NAME (give only what changes; pass '' to clear an id or date)."""
    changes = {k: v for k, v in options.items() if v is not None}
    if new_name:
        changes["name"] = new_name
    d = dc.edit_dataset(name, **changes)
    echo(f"Saved dataset {d.name!r}.")


@datasets.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_data_center
def datasets_list(dc: DataCenter, as_json: bool) -> None:
    """List datasets with their last and next runs."""
    from closesync.cli.render import print_datasets

    items = dc.with_table_rows(dc.list_datasets())
    if as_json:
        return echo_json([d.to_dict() for d in items])
    return print_datasets(items)


@datasets.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_data_center
def datasets_show(dc: DataCenter, name: str, as_json: bool) -> None:
    """Show one dataset."""
    from closesync.cli.render import print_dataset

    [d] = dc.with_table_rows([dc.get_dataset(name)])
    if as_json:
        return echo_json(d.to_dict())
    return print_dataset(d)


@datasets.command("delete")
@click.argument("name")
@click.option("--drop-table", is_flag=True, help="Also drop the dataset's table in its destination.")
@pass_data_center
def datasets_delete(dc: DataCenter, name: str, drop_table: bool) -> None:
    """Delete dataset NAME with its history (the table stays unless --drop-table)."""
    d = dc.delete_dataset(name, drop_table=drop_table)
    echo(f"Deleted dataset {d.name!r}" + (f" and table {d.table!r}." if drop_table else "."))


@datasets.command("run")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the run as JSON (for cron, Airflow, Dagster).")
@click.option("--full-refresh", is_flag=True, help="Ignore the saved cursors and read everything.")
@click.option(
    "--force", is_flag=True, help="Take over the table if another dataset or `closesync sync` loads it."
)
@click.pass_context
def datasets_run(ctx: click.Context, name: str, as_json: bool, full_refresh: bool, force: bool) -> None:
    """Run dataset NAME now, showing its progress in a terminal. Exit code: 0 success, 1 failed, 2 unknown/bad
    input, 3 running already. With --json, stdout is one JSON object: the run, or
    {"status": "error", "dataset_name", "error"} when no run started (docs/scale-out.md)."""
    from closesync.cli.render import RunStatusLine, console, print_run
    from closesync.datacenter import DataCenter
    from closesync.datacenter.progress import RunProgress
    from closesync.errors import ClosesyncError

    progress = RunProgress()
    shown = RunStatusLine(console(), name, progress) if not as_json and sys.stdout.isatty() else nullcontext()
    try:
        with shown:
            run = DataCenter(home_of(ctx)).run_dataset(
                name, full_refresh=full_refresh, force=force, progress=progress
            )
    except ClosesyncError as exc:
        if as_json:  # callers parsing stdout get JSON in every case; the root group still sets the exit code
            echo_json({"status": "error", "dataset_name": name, "error": error_message(exc)})
        raise
    if as_json:
        echo_json(run.to_dict())
    else:
        print_run(run)
    raise click.exceptions.Exit(0 if run.ok else EXIT_FAILED)


@datasets.command("history")
@click.argument("name")
@click.option("--status", type=click.Choice(RUN_STATUSES), help="Only runs with this status.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, MAX_RUNS_LIMIT),
              help="At most this many runs.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_data_center
def datasets_history(dc: DataCenter, name: str, status: str | None, limit: int, as_json: bool) -> None:
    """The runs of dataset NAME, newest first (`closesync runs show ID` for one in full)."""
    from closesync.cli.render import print_history

    runs = dc.history(name, status=status, limit=limit)
    if as_json:
        return echo_json([r.to_dict() for r in runs])
    return print_history(name, runs, only=status)


def _preview_columns(preview: Preview, columns: str | None, expanded: bool) -> list[str]:
    """The columns asked for (all must exist), else all of them when expanded, else the first eight."""
    shown = list(preview.columns)
    if columns:
        wanted = [c.strip() for c in columns.split(",") if c.strip()]
        unknown = [c for c in wanted if c not in shown]
        if unknown:
            fail(
                f"--columns: no column {', '.join(unknown)} in {preview.table} (it has {', '.join(shown)}).",
                EXIT_INPUT,
            )
        return wanted
    return shown if expanded else shown[:PREVIEW_COLUMNS]


@datasets.command("preview")
@click.argument("name")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--columns", metavar="A,B,...", help="Only these columns.")
@click.option("--expanded", "-x", is_flag=True, help="One block per row (column: value), for wide tables.")
@click.option("--table", "table_name", metavar="TABLE", help=_TABLE_HELP)
@pass_data_center
def datasets_preview(
    dc: DataCenter, name: str, limit: int, columns: str | None, expanded: bool, table_name: str | None
) -> None:
    """The first rows of dataset NAME's table (the first 8 columns unless --columns or --expanded)."""
    from closesync.cli.render import print_preview

    preview = dc.preview(name, limit=limit, table=table_name)
    if not preview.columns:
        return echo(f"Table {preview.table!r} does not exist yet: run the dataset first.")
    print_preview(preview, _preview_columns(preview, columns, expanded), expanded, chosen=bool(columns))
    if len(preview.tables) > 1:
        echo(f"Tables of {name}: {', '.join(preview.tables)} (pick one with --table).")
    return None


@datasets.command("export")
@click.argument("name")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), required=True,
              help="The file to write ('-' for standard output).")
@click.option("--table", "table_name", metavar="TABLE", help=_TABLE_HELP)
@pass_data_center
def datasets_export(dc: DataCenter, name: str, fmt: str, output: str, table_name: str | None) -> None:
    """Write dataset NAME's whole table as CSV or Parquet (streamed, so any size fits)."""
    export = dc.export(name, fmt, table=table_name)  # errors (no table, unknown --table) before any byte
    with click.open_file(output, "wb") as out:
        for chunk in export.chunks:
            out.write(chunk)
    if output != "-":
        echo(f"Wrote table {export.filename.rsplit('.', 1)[0]!r} to {output}.")
