"""The `closesync` command: a thin layer of click commands over the Python API."""

from __future__ import annotations

import click

from closesync import __version__
from closesync.close import DEFAULT_BASE_URL
from closesync.datacenter.commands import accounts, datasets, scheduler
from closesync.sandbox.cli import sandbox_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="closesync")
@click.option(
    "--home",
    type=click.Path(file_okay=False),
    envvar="CLOSESYNC_HOME",
    default="./data",
    show_default=True,
    help="Folder holding the metadata store and the default DuckDB file.",
)
@click.pass_context
def cli(ctx: click.Context, home: str) -> None:
    """Sync Close CRM data into a database you can query."""
    ctx.ensure_object(dict)
    ctx.obj["home"] = home


def resolve_api_key(api_key: str | None, api_key_env: str | None) -> str:
    """The key from --api-key or from the variable --api-key-env names; a clear error when neither works."""
    import os

    if api_key and api_key_env:
        raise click.UsageError("Give either --api-key or --api-key-env, not both.")
    if api_key_env:
        value = os.environ.get(api_key_env, "").strip()
        if not value:
            raise click.UsageError(f"The environment variable {api_key_env} is not set or empty.")
        return value
    if api_key:
        return api_key.strip()
    raise click.UsageError("An API key is needed: --api-key KEY or --api-key-env VAR.")


def parse_date_option(value: str | None, option: str):
    """`2024-01-31` or a full ISO timestamp, read as UTC when it has no offset."""
    from closesync.close.timestamps import parse_timestamp

    if not value:
        return None
    parsed = parse_timestamp(value)
    if parsed is None:
        raise click.BadParameter(f"{value!r} is not a date like 2024-01-31.", param_hint=option)
    return parsed


@cli.command("sync")
@click.argument("reports", nargs=-1)
@click.option("--api-key", help="Close API key (prefer --api-key-env: keys on command lines end up in history).")
@click.option("--api-key-env", metavar="VAR", help="Name of the environment variable holding the API key.")
@click.option("--base-url", default=DEFAULT_BASE_URL, show_default=True, help="Close API base URL.")
@click.option("--db", "db_path", type=click.Path(dir_okay=False), help="DuckDB file [default: HOME/close.duckdb].")
@click.option(
    "--destination",
    help="Where to load instead of --db: duckdb:PATH, postgres://user@host/db, parquet:DIR or csv:DIR.",
)
@click.option("--schema", help="PostgreSQL schema (same as ?schema= in the URL).")
@click.option("--method", type=click.Choice(["replace", "append", "upsert"]), default="upsert", show_default=True)
@click.option("--organization-id", help="Organization to read [default: the key owner's first].")
@click.option("--user-id", help="Only this user's activities, opportunities, tasks and reporting rows.")
@click.option("--since", help="Only records created (or, for reporting, dated) on or after this date.")
@click.option("--until", help="Only records before this date.")
@click.option("--full-refresh", is_flag=True, help="Ignore saved cursors and read everything.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON instead of tables.")
@click.pass_context
def sync_command(
    ctx: click.Context,
    reports: tuple[str, ...],
    api_key: str | None,
    api_key_env: str | None,
    base_url: str,
    db_path: str | None,
    destination: str | None,
    schema: str | None,
    method: str,
    organization_id: str | None,
    user_id: str | None,
    since: str | None,
    until: str | None,
    full_refresh: bool,
    as_json: bool,
) -> None:
    """Sync REPORTS (names or slugs; all 38 when none are given) into a database."""
    import json
    from pathlib import Path

    from rich.console import Console

    from closesync.display import LiveProgress, print_summary
    from closesync.pipeline import resolve_reports, sync
    from closesync.reports import UnknownReportError

    key = resolve_api_key(api_key, api_key_env)
    try:
        specs = resolve_reports(reports)
    except UnknownReportError as exc:
        raise click.UsageError(str(exc)) from None
    if destination and db_path:
        raise click.UsageError("Give either --db or --destination, not both.")
    if not destination:
        path = Path(db_path) if db_path else Path(ctx.obj["home"]) / "close.duckdb"
        path.parent.mkdir(parents=True, exist_ok=True)
        destination = f"duckdb:{path}"
    if schema:
        if not destination.startswith(("postgres://", "postgresql://")):
            raise click.UsageError("--schema applies to PostgreSQL destinations only.")
        destination += ("&" if "?" in destination else "?") + f"schema={schema}"

    console = Console(stderr=as_json)
    options = dict(
        api_key=key,
        base_url=base_url,
        destination=destination,
        method=method,
        organization_id=organization_id,
        user_id=user_id,
        since=parse_date_option(since, "--since"),
        until=parse_date_option(until, "--until"),
        full_refresh=full_refresh,
    )
    try:
        if as_json:
            result = sync([s.slug for s in specs], **options)
            click.echo(json.dumps(result.to_dict(), indent=2))
        else:
            with LiveProgress(console) as live:
                result = sync([s.slug for s in specs], progress=live.update, **options)
            print_summary(console, result)
    except ValueError as exc:  # bad parameters (e.g. --since after --until), before anything is written
        raise click.UsageError(str(exc)) from None
    ctx.exit(0 if result.ok else 1)


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8080, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on."
)
@click.option("--no-scheduler", is_flag=True, help="Do not run scheduled DataSets in this process.")
@click.option(
    "--password",
    is_flag=False,
    flag_value="",
    default=None,
    help="Require this password (or CLOSESYNC_PASSWORD); `--password` alone asks for it. "
    "Needed when --host is not loopback.",
)
@click.pass_context
def serve_command(ctx: click.Context, host: str, port: int, no_scheduler: bool, password: str | None) -> None:
    """Open the Data Center web app (accounts, DataSets, runs) on http://HOST:PORT/."""
    from closesync.web.server import resolve_password, serve

    if password == "":
        password = click.prompt("Password for the Data Center", hide_input=True, confirmation_prompt=True)
    password = resolve_password(password)
    try:
        from closesync.web.security import check_bind

        check_bind(host, password)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"closesync Data Center on http://{host}:{port}/  (Ctrl-C to stop)")
    serve(ctx.obj["home"], host=host, port=port, password=password, scheduler=not no_scheduler)


@cli.command("reports")
@click.option("--json", "as_json", is_flag=True, help="Print the catalog as a JSON list.")
def reports_command(as_json: bool) -> None:
    """List the 38 reports: name, slug, what they read, key, incremental cursor."""
    import json

    from closesync.reports import REPORTS, describe

    if as_json:
        click.echo(json.dumps([describe(spec) for spec in REPORTS], indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(REPORTS)} reports")
    for header in ("Report", "Slug", "Source", "Key", "Incremental"):
        table.add_column(header, overflow="fold")
    for spec in REPORTS:
        table.add_row(spec.name, spec.slug, spec.source_label, ", ".join(spec.primary_key), spec.incremental_label)
    Console().print(table)


cli.add_command(accounts)
cli.add_command(datasets)
cli.add_command(scheduler)
cli.add_command(sandbox_command)


def main() -> None:
    cli()
