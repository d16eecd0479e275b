"""`closesync serve`: the Data Center web app."""

from __future__ import annotations

import os

import click

from closesync.cli.common import echo, home_of, warn_visible

_PASSWORD_SOURCES = "--password-env VAR, `--password` alone (it asks) or CLOSESYNC_PASSWORD"


def _password(password: str | None, password_env: str | None) -> str | None:
    """The password from the variable --password-env names, the prompt (`--password` alone) or the literal
    `--password VALUE` (warned about: other users see it in `ps`); None leaves CLOSESYNC_PASSWORD to decide."""
    if password is not None and password_env:
        raise click.UsageError("Give either --password or --password-env, not both.")
    if password_env:
        value = os.environ.get(password_env, "")
        if not value:
            raise click.UsageError(f"The environment variable {password_env} is not set or empty.")
        return value
    if password == "":
        return click.prompt("Password for the Data Center", hide_input=True, confirmation_prompt=True)
    if password:
        warn_visible("--password", _PASSWORD_SOURCES)
    return password


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
    help="Require a password: `--password` alone asks for it (a value given here is visible in `ps`). "
    "Needed when --host is not loopback; see also --password-env and CLOSESYNC_PASSWORD.",
)
@click.option("--password-env", metavar="VAR", help="Read the password from this environment variable.")
@click.pass_context
def serve_command(
    ctx: click.Context,
    host: str,
    port: int,
    no_scheduler: bool,
    password: str | None,
    password_env: str | None,
) -> None:
    """Open the Data Center web app (accounts, DataSets, runs) on http://HOST:PORT/."""
    from closesync.web.security import check_bind
    from closesync.web.server import resolve_password, serve

    password = resolve_password(_password(password, password_env))
    try:
        check_bind(host, password)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    echo(f"closesync Data Center on http://{host}:{port}/  (Ctrl-C to stop)")
    serve(home_of(ctx), host=host, port=port, password=password, scheduler=not no_scheduler)
