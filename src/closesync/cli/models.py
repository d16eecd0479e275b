"""`closesync models build|docs`: the analytics models (a dbt project) on a destination's synced tables."""

from __future__ import annotations

from pathlib import Path

import click

from closesync.cli.common import echo, home_of

_DESTINATION_HELP = "DuckDB file (duckdb:PATH) or postgres://… URL the reports were synced into."


def _destination(ctx: click.Context, destination: str | None, dataset: str | None) -> str:
    """--destination, else the destination of the Data Center's --dataset, else HOME/close.duckdb."""
    if destination and dataset:
        raise click.UsageError("Give either --destination or --dataset, not both.")
    if dataset:
        from closesync.datacenter import DataCenter

        return DataCenter(home_of(ctx)).get_dataset(dataset).destination
    return destination or f"duckdb:{Path(home_of(ctx)) / 'close.duckdb'}"


def _work_dir(ctx: click.Context, destination: str) -> Path:
    from closesync.analytics.runner import default_work_dir

    return default_work_dir(destination, home_of(ctx))


@click.group("models")
def models() -> None:
    """Analytics models (dbt): pipeline, won/lost, activity, lead funnel, tasks (needs closesync[models])."""


@models.command("build")
@click.option("--destination", help=_DESTINATION_HELP + " [default: HOME/close.duckdb]")
@click.option("--dataset", help="Use the destination of this Data Center DataSet (name or id).")
@click.option("--select", "select", multiple=True, help="Build only these models (dbt --select syntax).")
@click.option("--strict", is_flag=True, help="Fail on broken relationships too (they warn by default).")
@click.option("--quiet", is_flag=True, help="Print only the summary, not dbt's progress.")
@click.pass_context
def models_build(
    ctx: click.Context,
    destination: str | None,
    dataset: str | None,
    select: tuple[str, ...],
    strict: bool,
    quiet: bool,
) -> None:
    """Build the staging models and marts with their tests (`dbt build`) in the destination."""
    from closesync.datacenter.marts import build_marts

    target = _destination(ctx, destination, dataset)
    result = build_marts(
        Path(home_of(ctx)), target, on_wait=echo, select=select, strict=strict, quiet=quiet
    )  # the home's lock on a DuckDB file: a scheduled sync of it and this build take turns
    echo(
        f"Built {result.models} models and passed {result.tests} tests in schema {result.schema} of "
        f"{result.destination} ({result.elapsed_s:.1f} s)."
    )
    if result.warnings:
        echo(f"Warnings ({len(result.warnings)}): {', '.join(result.warnings)}")
    echo("See them as charts: closesync serve, then open /insights.")


@models.command("docs")
@click.option("--destination", help=_DESTINATION_HELP + " [default: HOME/close.duckdb]")
@click.option("--dataset", help="Use the destination of this Data Center DataSet (name or id).")
@click.option(
    "--port", default=8580, show_default=True, type=click.IntRange(1, 65535), help="Port on 127.0.0.1."
)
@click.pass_context
def models_docs(ctx: click.Context, destination: str | None, dataset: str | None, port: int) -> None:
    """Generate dbt's documentation of the models and serve it on 127.0.0.1 until Ctrl-C."""
    from closesync.analytics import serve_docs

    target = _destination(ctx, destination, dataset)
    echo(f"dbt docs of the closesync models on http://127.0.0.1:{port}/ (Ctrl-C stops)")
    serve_docs(target, port=port, work_dir=_work_dir(ctx, target))
