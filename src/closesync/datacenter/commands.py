"""The `accounts`, `datasets` and `scheduler` command groups: thin click + rich over the DataCenter.

Exit codes (for cron, Airflow, Dagster): 0 done / run succeeded, 1 the run failed, 2 bad input or
unknown name, 3 the dataset is running already.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import click

from closesync.close import DEFAULT_BASE_URL
from closesync.datacenter.errors import DataCenterError, DatasetBusyError
from closesync.datacenter.schedule import SCHEDULE_FORMS, format_duration

EXIT_FAILED, EXIT_INPUT, EXIT_BUSY = 1, 2, 3
PREVIEW_COLUMNS = 8


def _dc(ctx: click.Context) -> Any:
    from closesync.datacenter.service import DataCenter

    home = (ctx.find_root().obj or {}).get("home")
    try:
        return DataCenter(home)
    except DataCenterError as exc:
        _fail(str(exc), EXIT_INPUT)


def _fail(message: str, code: int) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


@contextmanager
def _errors() -> Iterator[None]:
    """Show a DataCenterError as one readable message with the documented exit code, never a traceback."""
    try:
        yield
    except DatasetBusyError as exc:
        _fail(str(exc), EXIT_BUSY)
    except DataCenterError as exc:
        field = getattr(exc, "field", None)
        option = "--" + field.replace("_", "-") + ": " if field else ""
        _fail(f"{option}{exc}", EXIT_INPUT)


def _console() -> Any:
    """Rich output; piped output gets a wide page so tables stay one row per line for grep and logs."""
    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=220)


def _table(title: str | None, columns: list[str]) -> Any:
    from rich.table import Table

    table = Table(title=title, header_style="bold", title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "-"


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str))


def _status(status: str | None) -> str:
    colour = {"success": "green", "failed": "red", "running": "yellow"}.get(status or "", "")
    return f"[{colour}]{status}[/{colour}]" if colour and status else (status or "-")


# -- accounts ---------------------------------------------------------------------------------------------
@click.group("accounts")
def accounts() -> None:
    """Saved Close accounts (API keys stored encrypted, or read from an environment variable)."""


@accounts.command("add")
@click.argument("name")
@click.option("--api-key", help="The Close API key (it is checked with Close, then stored encrypted).")
@click.option("--api-key-env", metavar="VAR", help="Store only this variable's name; the key is read at run time.")
@click.option("--base-url", help=f"Close API base URL [default: {DEFAULT_BASE_URL}].")
@click.pass_context
def accounts_add(ctx: click.Context, name: str, api_key: str | None, api_key_env: str | None, base_url: str | None) -> None:
    """Add account NAME after checking its key with Close (GET /me/)."""
    dc = _dc(ctx)
    with _errors():
        account = dc.add_account(name, api_key=api_key, api_key_env=api_key_env, base_url=base_url)
    orgs = ", ".join(c.label for c in account.organizations) or "none"
    click.echo(f"Added account {account.name!r}: key {account.key_hint} of {account.user_email} (organizations: {orgs}).")


@accounts.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def accounts_list(ctx: click.Context, as_json: bool) -> None:
    """List saved accounts."""
    items = _dc(ctx).list_accounts()
    if as_json:
        return _echo_json([a.to_dict() for a in items])
    table = _table(None, ["Name", "Key", "User", "Organizations", "Status", "Datasets", "Checked"])
    for a in items:
        key = a.key_hint if a.key_source == "stored" else f"${a.key_env} ({a.key_hint})"
        table.add_row(
            a.name, key, a.user_email or "-", ", ".join(c.label for c in a.organizations),
            "[green]ok[/green]" if a.status == "ok" else f"[red]{a.status}[/red]", str(a.dataset_count),
            _when(a.last_checked_at),
        )
    _console().print(table if items else "No accounts yet: `closesync accounts add NAME --api-key-env VAR`.")


@accounts.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def accounts_show(ctx: click.Context, name: str, as_json: bool) -> None:
    """Show one account, with its organizations and users."""
    dc = _dc(ctx)
    with _errors():
        a = dc.get_account(name)
    if as_json:
        return _echo_json(a.to_dict())
    console = _console()
    key = a.key_hint if a.key_source == "stored" else f"from ${a.key_env} ({a.key_hint})"
    for label, value in (
        ("Name", a.name), ("Id", a.id), ("Key", key), ("Base URL", a.base_url),
        ("User", f"{a.user_name or '-'} <{a.user_email or '-'}> ({a.user_id})"),
        ("Status", a.status + (f": {a.last_error}" if a.last_error else "")),
        ("Checked", _when(a.last_checked_at)), ("Datasets", a.dataset_count),
    ):
        console.print(f"[bold]{label}:[/bold] {value}", highlight=False)
    # plain lines, not a table: ids must never be folded, users copy them into --organization-id / --user-id
    console.print("[bold]Organizations[/bold] (--organization-id):")
    for c in a.organizations:
        click.echo(f"  {c.id}  {c.label}")
    console.print("[bold]Users[/bold] (--user-id):")
    for c in a.users:
        click.echo(f"  {c.id}  {c.label}")


@accounts.command("rename")
@click.argument("name")
@click.argument("new_name")
@click.pass_context
def accounts_rename(ctx: click.Context, name: str, new_name: str) -> None:
    """Rename account NAME to NEW_NAME (datasets follow)."""
    dc = _dc(ctx)
    with _errors():
        account = dc.rename_account(name, new_name)
    click.echo(f"Renamed to {account.name!r}.")


@accounts.command("check")
@click.argument("name")
@click.pass_context
def accounts_check(ctx: click.Context, name: str) -> None:
    """Check that the key still works (exit 1 if Close rejects it)."""
    dc = _dc(ctx)
    with _errors():
        result = dc.check_account(name)
    click.echo(result.message, err=not result.ok)
    sys.exit(0 if result.ok else EXIT_FAILED)


@accounts.command("remove")
@click.argument("name")
@click.option("--force", is_flag=True, help="Also delete the datasets that use it (their tables are kept).")
@click.pass_context
def accounts_remove(ctx: click.Context, name: str, force: bool) -> None:
    """Remove account NAME (refused while datasets use it, unless --force)."""
    dc = _dc(ctx)
    with _errors():
        removed = dc.remove_account(name, force=force)
    extra = f" and its datasets {', '.join(removed)}" if removed else ""
    click.echo(f"Removed account {name!r}{extra}.")


# -- datasets ---------------------------------------------------------------------------------------------
_SCHEDULE_HELP = "When to run: " + "; ".join(f.split("  (")[0] for f in SCHEDULE_FORMS[:-1]) + ". Times are UTC."


def _dataset_options(create: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        options = [
            click.option("--account", required=create, help="Account name."),
            click.option("--report", required=create, help="Report name or slug, e.g. 'Activities Call'."),
            click.option("--organization-id", help="Organization (see `accounts show`) [default: the key owner's first]."),
            click.option("--user-id", help="Only this user's rows (see `accounts show`)."),
            click.option("--since", help="Only records from this date (2024-01-31)."),
            click.option("--method", type=click.Choice(["replace", "append", "upsert"]),
                         help="Update method [default: upsert]."),
            click.option("--schedule", metavar="SPEC", help=_SCHEDULE_HELP),
            click.option("--retries", type=int, help="Retries after a failed run [default: 0]."),
            click.option("--retry-delay", metavar="DURATION", help="Wait before a retry, e.g. 30s, 5m [default: 5m]."),
            click.option("--destination", help="duckdb:PATH, postgres://…, parquet:DIR or csv:DIR [default: duckdb:HOME/close.duckdb]."),
            click.option("--table", help="Table name [default: the report's slug]."),
            click.option("--description", help="Free text."),
        ]
        if not create:
            options += [
                click.option("--name", "new_name", help="Rename the dataset."),
                click.option("--enable/--disable", "enabled", default=None, help="Pause or resume its schedule."),
            ]
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


@click.group("datasets")
def datasets() -> None:
    """Saved datasets: a report of an account loaded into a table, on a schedule."""


@datasets.command("create")
@click.argument("name")
@_dataset_options(create=True)
@click.pass_context
def datasets_create(ctx: click.Context, name: str, **options: Any) -> None:
    """Create dataset NAME."""
    dc = _dc(ctx)
    values = {k: v for k, v in options.items() if v is not None}
    with _errors():
        d = dc.create_dataset(name, **values)
    nxt = f", next run {_when(d.next_run_at)}" if d.next_run_at else ""
    click.echo(f"Created dataset {d.name!r}: {d.report_name} -> {d.table} ({d.method}, {d.schedule}{nxt}).")


@datasets.command("edit")
@click.argument("name")
@_dataset_options(create=False)
@click.pass_context
def datasets_edit(ctx: click.Context, name: str, new_name: str | None, **options: Any) -> None:
    """Change dataset NAME (give only what changes; pass '' to clear an id or date)."""
    dc = _dc(ctx)
    changes = {k: v for k, v in options.items() if v is not None}
    if new_name:
        changes["name"] = new_name
    with _errors():
        d = dc.edit_dataset(name, **changes)
    click.echo(f"Saved dataset {d.name!r}.")


def _last_run(d: Any) -> str:
    run = d.last_run
    if run is None:
        return "never"
    return f"{_status(run.status)} {_when(run.started_at)} ({run.rows} rows)"


@datasets.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def datasets_list(ctx: click.Context, as_json: bool) -> None:
    """List datasets with their last and next runs."""
    items = _dc(ctx).list_datasets()
    if as_json:
        return _echo_json([d.to_dict() for d in items])
    table = _table(None, ["Name", "Report", "Account", "Schedule", "Method", "Last run", "Next run"])
    for d in items:
        schedule = d.schedule if d.enabled else f"{d.schedule} (paused)"
        nxt = "running" if d.running else _when(d.next_run_at)
        table.add_row(d.name, d.report_name, d.account_name, schedule, d.method, _last_run(d), nxt)
    _console().print(table if items else "No datasets yet: `closesync datasets create NAME --account A --report R`.")


@datasets.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def datasets_show(ctx: click.Context, name: str, as_json: bool) -> None:
    """Show one dataset."""
    dc = _dc(ctx)
    with _errors():
        d = dc.get_dataset(name)
    if as_json:
        return _echo_json(d.to_dict())
    retry = f"{d.retries} after {format_duration(d.retry_delay_s)}" if d.retries else "none"
    console = _console()
    for label, value in (
        ("Name", d.name), ("Id", d.id), ("Description", d.description or "-"), ("Account", d.account_name),
        ("Report", f"{d.report_name} ({d.report})"), ("Organization ID", d.organization_id or "default"),
        ("User ID", d.user_id or "-"), ("Since", _when(d.since)), ("Method", d.method),
        ("Schedule", d.schedule + ("" if d.enabled else " (paused)")), ("Retries", retry),
        ("Destination", d.destination_display), ("Table", d.table),
        ("Next run", "running now" if d.running else _when(d.next_run_at)), ("Last run", _last_run(d)),
    ):
        console.print(f"[bold]{label}:[/bold] {value}", highlight=False)


@datasets.command("delete")
@click.argument("name")
@click.option("--drop-table", is_flag=True, help="Also drop the dataset's table in its destination.")
@click.pass_context
def datasets_delete(ctx: click.Context, name: str, drop_table: bool) -> None:
    """Delete dataset NAME with its history (the table stays unless --drop-table)."""
    dc = _dc(ctx)
    with _errors():
        d = dc.delete_dataset(name, drop_table=drop_table)
    click.echo(f"Deleted dataset {d.name!r}" + (f" and table {d.table!r}." if drop_table else "."))


@datasets.command("run")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the run as JSON (for cron, Airflow, Dagster).")
@click.option("--full-refresh", is_flag=True, help="Ignore the saved cursors and read everything.")
@click.pass_context
def datasets_run(ctx: click.Context, name: str, as_json: bool, full_refresh: bool) -> None:
    """Run dataset NAME now. Exit code: 0 success, 1 failed, 2 unknown/bad input, 3 running already."""
    import closesync

    home = (ctx.find_root().obj or {}).get("home")
    try:
        run = closesync.run_dataset(name, home=home, full_refresh=full_refresh)
    except DataCenterError as exc:
        if as_json:  # callers parsing stdout get JSON in every case
            _echo_json({"status": "error", "dataset": name, "error": str(exc)})
        with _errors():
            raise
    if as_json:
        _echo_json(run.to_dict())
    else:
        line = f"Run {run.id} of {run.dataset_name!r}: {_status(run.status)}, {run.rows} rows, {run.requests} requests"
        line += f", {run.throttle_waits} throttle waits, {run.duration_s or 0:.1f}s."
        if run.error:
            where = f" in {run.error_report}" if run.error_report else ""
            status = f" (HTTP {run.http_status})" if run.http_status else ""
            line += f"\nError{where}{status}: {run.error}"
        _console().print(line, highlight=False)
    sys.exit(0 if run.ok else EXIT_FAILED)


@datasets.command("history")
@click.argument("name")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def datasets_history(ctx: click.Context, name: str, limit: int, as_json: bool) -> None:
    """The runs of dataset NAME, newest first."""
    dc = _dc(ctx)
    with _errors():
        runs = dc.history(name, limit=limit)
    if as_json:
        return _echo_json([r.to_dict() for r in runs])
    table = _table(f"Runs of {name}", ["Run", "Status", "Started", "Duration", "Rows", "Requests",
                                       "Throttle waits", "Attempt", "Trigger", "Error"])
    for r in runs:
        error = ""
        if r.error:
            status = f"HTTP {r.http_status} " if r.http_status else ""
            error = f"{r.error_report + ': ' if r.error_report else ''}{status}{r.error}"
        duration = f"{r.duration_s:.1f}s" if r.duration_s is not None else "-"
        table.add_row(str(r.id), _status(r.status), _when(r.started_at), duration, str(r.rows), str(r.requests),
                      str(r.throttle_waits), str(r.attempt), r.trigger, error)
    _console().print(table if runs else f"Dataset {name!r} has not run yet.")


@datasets.command("preview")
@click.argument("name")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--columns", metavar="A,B,...", help="Only these columns.")
@click.option("--expanded", "-x", is_flag=True, help="One block per row (column: value), for wide tables.")
@click.pass_context
def datasets_preview(ctx: click.Context, name: str, limit: int, columns: str | None, expanded: bool) -> None:
    """The first rows of dataset NAME's table (the first 8 columns unless --columns or --expanded)."""
    dc = _dc(ctx)
    with _errors():
        preview = dc.preview(name, limit=limit)
    if not preview.columns:
        return click.echo(f"Table {preview.table!r} does not exist yet: run the dataset first.")
    shown = list(preview.columns)
    if columns:
        wanted = [c.strip() for c in columns.split(",") if c.strip()]
        unknown = [c for c in wanted if c not in shown]
        if unknown:
            _fail(f"--columns: no column {', '.join(unknown)} in {preview.table} (it has {', '.join(shown)}).",
                  EXIT_INPUT)
        shown = wanted
    elif not expanded and len(shown) > PREVIEW_COLUMNS:
        shown = shown[:PREVIEW_COLUMNS]
    index = [preview.columns.index(c) for c in shown]
    console = _console()
    title = f"{preview.table} (first {len(preview.rows)} rows)"
    if expanded:
        console.print(title, highlight=False)
        for n, row in enumerate(preview.rows, 1):
            table = _table(f"row {n}", ["Column", "Value"])
            for c, i in zip(shown, index, strict=True):
                table.add_row(c, "" if row[i] is None else str(row[i]))
            console.print(table)
        return None
    table = _table(title, shown)
    for row in preview.rows:
        table.add_row(*("" if row[i] is None else str(row[i])[:60] for i in index))
    console.print(table)
    hidden = len(preview.columns) - len(shown)
    if hidden > 0 and not columns:
        console.print(f"({hidden} more columns: use --columns A,B or --expanded)", highlight=False)
    return None


# -- scheduler --------------------------------------------------------------------------------------------
@click.command("scheduler")
@click.option("--max-workers", default=4, show_default=True, type=click.IntRange(1, 64), help="Runs at once.")
@click.option("--poll", "poll_seconds", default=5.0, show_default=True, type=float, help="Seconds between passes.")
@click.option("--once", is_flag=True, help="One pass: start what is due, wait for it, exit.")
@click.pass_context
def scheduler(ctx: click.Context, max_workers: int, poll_seconds: float, once: bool) -> None:
    """Run datasets when they are due, until stopped (Ctrl-C / SIGTERM let running runs finish)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    sched = _dc(ctx).scheduler(max_workers=max_workers, poll_seconds=poll_seconds)
    if once:
        sched.tick(wait=True)
        return
    signal.signal(signal.SIGTERM, lambda *_: sched.request_stop())
    try:
        sched.run_forever()
    except KeyboardInterrupt:
        click.echo("Stopping: waiting for running runs to finish…", err=True)
        sched.stop(wait=True)
