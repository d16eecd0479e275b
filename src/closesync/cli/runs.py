"""`closesync runs …`: the run history across datasets, and one run in full."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from closesync.cli.common import echo_json, pass_data_center
from closesync.datacenter import MAX_RUNS_LIMIT, RUN_STATUSES

if TYPE_CHECKING:
    from closesync.datacenter import DataCenter


@click.group("runs")
def runs() -> None:
    """Run history across datasets (what the web's Runs page shows)."""


@runs.command("list")
@click.option("--dataset", metavar="NAME", help="Only the runs of this dataset (name or id).")
@click.option("--status", type=click.Choice(RUN_STATUSES), help="Only runs with this status.")
@click.option("--since", metavar="DATE", help="Started on or after this date or time (UTC), e.g. 2026-11-01.")
@click.option("--until", metavar="DATE", help="Started on or before this day, or before this time (UTC).")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, MAX_RUNS_LIMIT),
              help="At most this many runs.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_data_center
def runs_list(
    dc: DataCenter, dataset: str | None, status: str | None, since: str | None, until: str | None, limit: int,
    as_json: bool,
) -> None:
    """Runs of every dataset, newest first."""
    from closesync.cli.render import print_runs

    items = dc.list_runs(dataset, status=status, since=since, until=until, limit=limit)
    if as_json:
        return echo_json([r.to_dict() for r in items])
    return print_runs(items, filtered=any((dataset, status, since, until)))


@runs.command("show")
@click.argument("run_id", metavar="ID", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_data_center
def runs_show(dc: DataCenter, run_id: int, as_json: bool) -> None:
    """Show run ID in full.

    Each report's rows, requests and throttle waits, the whole error and the notes (`--json` for scripts).
    """
    from closesync.cli.render import print_run_detail

    run = dc.get_run(run_id)
    if as_json:
        return echo_json(run.to_dict())
    return print_run_detail(run)
