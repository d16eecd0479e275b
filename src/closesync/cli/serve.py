"""`closesync serve`: the Data Center web app."""

from __future__ import annotations

import click

from closesync.cli.common import home_of


@click.command("serve")
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
    from closesync.web.security import check_bind
    from closesync.web.server import resolve_password, serve

    if password == "":
        password = click.prompt("Password for the Data Center", hide_input=True, confirmation_prompt=True)
    password = resolve_password(password)
    try:
        check_bind(host, password)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"closesync Data Center on http://{host}:{port}/  (Ctrl-C to stop)")
    serve(home_of(ctx), host=host, port=port, password=password, scheduler=not no_scheduler)
