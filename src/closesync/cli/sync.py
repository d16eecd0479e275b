"""`closesync sync` (reports straight from Close into a destination) and `closesync reports` (the catalog)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from closesync.cli.common import LateHelpOption, default_base_url, echo_json, home_of, resolve_api_key
from closesync.datacenter.spec import methods_help
from closesync.errors import ClosesyncError
from closesync.memory_budget import DEFAULT_MEMORY_LIMIT
from closesync.sinks.destination import DEFAULT_METHOD, METHODS


@click.command("sync")
@click.argument("reports", nargs=-1)
@click.option(
    "--api-key", help="Close API key (prefer --api-key-env: keys on command lines end up in history)."
)
@click.option("--api-key-env", metavar="VAR", help="Name of the environment variable holding the API key.")
@click.option(
    "--base-url", cls=LateHelpOption, default=default_base_url, show_default=True, help="Close API base URL."
)
@click.option(
    "--db", "db_path", type=click.Path(dir_okay=False), help="DuckDB file [default: HOME/close.duckdb]."
)
@click.option(
    "--destination",
    help=(
        "Where to load instead of --db: duckdb:PATH, postgres://user@host/db, parquet:DIR, csv:DIR, or any "
        "dlt destination as dlt:DESTINATION[?dataset=…] (needs closesync[dlt])."
    ),
)
@click.option("--schema", help="PostgreSQL schema (same as ?schema= in the URL).")
@click.option(
    "--method", type=click.Choice(METHODS), default=DEFAULT_METHOD, show_default=True, help=methods_help()
)
@click.option("--organization-id", help="Organization to read [default: the key owner's first].")
@click.option("--user-id", help="Only this user's activities, opportunities, tasks and reporting rows.")
@click.option("--since", help="Only records created (or, for reporting, dated) on or after this date.")
@click.option("--until", help="Only records before this date.")
@click.option("--full-refresh", is_flag=True, help="Ignore saved cursors and read everything.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="Give up on a silent connection after this long (each attempt; failures are retried).",
)
@click.option(
    "--max-retry-time",
    type=click.FloatRange(min=0),
    default=600.0,
    show_default=True,
    metavar="SECONDS",
    help="Stop retrying a request (server errors, dropped connections, rate limits) after this long in all.",
)
@click.option(
    "--memory-limit",
    default=DEFAULT_MEMORY_LIMIT,
    show_default=True,
    metavar="SIZE",
    help="Memory the whole sync may use (e.g. 400MB, 1GB): fewer sources read at once when it is small.",
)
@click.option("--force", is_flag=True, help="Load tables a dataset owns, and take them over.")
@click.option(
    "--all", "all_reports", is_flag=True, help="Sync every report of the catalog, not only the 38 classic ones."
)
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
    timeout: float,
    max_retry_time: float,
    memory_limit: str,
    force: bool,
    all_reports: bool,
    as_json: bool,
) -> None:
    """Sync REPORTS (names or slugs; the 38 classic ones when none are given, every report with --all) into
    a database."""
    from rich.console import Console

    from closesync.cli.render import LiveProgress, print_summary
    from closesync.close import CloseClient
    from closesync.close.errors import InvalidIdError
    from closesync.close.paths import check_id
    from closesync.close.timestamps import parse_timestamp
    from closesync.memory_budget import MemoryBudget, MemoryLimitError
    from closesync.pipeline import resolve_reports, sync
    from closesync.reports import UnknownReportError

    key = resolve_api_key(api_key, api_key_env)
    try:
        specs = resolve_reports(reports, all_reports=all_reports)
    except UnknownReportError as exc:
        raise click.UsageError(str(exc)) from None
    except ValueError:
        raise click.UsageError("Give report names or --all, not both.") from None
    if destination and db_path:
        raise click.UsageError("Give either --db or --destination, not both.")
    db_folder = None
    if not destination:
        path = Path(db_path) if db_path else Path(home_of(ctx)) / "close.duckdb"
        db_folder = path.parent
        destination = f"duckdb:{path}"
    if schema:
        if not destination.startswith(("postgres://", "postgresql://")):
            raise click.UsageError("--schema applies to PostgreSQL destinations only.")
        destination += ("&" if "?" in destination else "?") + f"schema={schema}"
    since_at, until_at = (parse_timestamp(text) if text else None for text in (since, until))
    for option, text, moment in (("--since", since, since_at), ("--until", until, until_at)):
        if text and moment is None:  # `2024-01-31` or a full ISO timestamp, read as UTC without an offset
            raise click.BadParameter(f"{text!r} is not a date like 2024-01-31.", param_hint=option)

    ids = (("--organization-id", organization_id, "orga"), ("--user-id", user_id, "user"))
    for option, value, prefix in ids:  # they go into request paths: refuse anything but a Close id
        try:
            if value is not None:
                check_id(value, prefix)
        except InvalidIdError as exc:
            raise click.BadParameter(exc.message, param_hint=option) from None

    try:
        budget = MemoryBudget(memory_limit)
    except MemoryLimitError as exc:
        raise click.BadParameter(str(exc), param_hint="--memory-limit") from None

    console = Console(stderr=as_json)
    options = dict(
        memory_limit=budget,
        destination=destination,
        method=method,
        organization_id=organization_id,
        user_id=user_id,
        since=since_at,
        until=until_at,
        full_refresh=full_refresh,
        force=force,
    )
    try:
        if db_folder is not None:
            _make_folder(db_folder)
        options["client"] = ctx.with_resource(
            CloseClient(key, base_url=base_url, timeout=timeout, max_retry_time=max_retry_time)
        )
        if as_json:
            result = sync([s.slug for s in specs], **options)
            click.echo(json.dumps(result.to_dict(), indent=2))
        else:
            with LiveProgress(console) as live:
                result = sync([s.slug for s in specs], progress=live.update, **options)
            print_summary(console, result)
    except ClosesyncError as exc:  # e.g. a destination that cannot be opened, or is locked
        if as_json:  # callers parsing stdout get JSON in every case; the root group sets the exit code
            echo_json({"ok": False, "status": "error", "error": str(exc)})
        raise
    except ValueError as exc:  # bad parameters (e.g. --since after --until), before anything is written
        raise click.UsageError(str(exc)) from None
    ctx.exit(0 if result.ok else 1)


def _make_folder(folder: Path) -> None:
    """Create the DuckDB file's folder, or fail with a SinkError saying why (exit 1, no traceback)."""
    from closesync.private_files import make_private_dirs
    from closesync.sinks.errors import SinkError

    try:
        make_private_dirs(folder)
    except OSError as exc:
        raise SinkError(f"cannot create folder {folder}: {exc.strerror or exc}") from None


@click.command("reports")
@click.option("--wide", is_flag=True, help="Also show each report's slug, what it reads and its key.")
@click.option("--json", "as_json", is_flag=True, help="Print the catalog as a JSON list.")
def reports_command(wide: bool, as_json: bool) -> None:
    """List the reports, the 38 classic ones first and then the others by object family: the parameters each
    takes (Organization ID, User ID, Since/Until) and how it reads only what changed."""
    from closesync.cli.render import print_reports
    from closesync.reports import REPORTS, describe, grouped

    ordered = [spec for _, specs in grouped(REPORTS) for spec in specs]
    if as_json:
        click.echo(json.dumps([describe(spec) for spec in ordered], indent=2))
        return
    print_reports(ordered, wide=wide)
