"""`closesync serve`: the Data Center web app."""

from __future__ import annotations

import os
import secrets

import click

from closesync.cli.common import echo, home_of, warn_visible

_PASSWORD_SOURCES = "--password-env VAR, `--password` alone (it asks) or CLOSESYNC_PASSWORD"


def _password(password: str | None, password_env: str | None, generate: bool) -> str | None:
    """The password from the variable --password-env names, the prompt (`--password` alone), a generated
    one (printed once) or the literal `--password VALUE` (warned about: other users see it in `ps`); None
    leaves CLOSESYNC_PASSWORD to decide."""
    if sum((password is not None, bool(password_env), generate)) > 1:
        raise click.UsageError("Give one of --password, --password-env or --generate-password, not both.")
    if generate:
        value = secrets.token_urlsafe(18)
        echo(f"Password of this Data Center (shown once, not stored): {value}")
        return value
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


def _idle_seconds(text: str) -> float:
    from closesync.datacenter.schedule import ScheduleError, parse_duration

    try:
        seconds = parse_duration(text)
    except ScheduleError as exc:
        raise click.BadParameter(str(exc), param_hint="--session-idle") from None
    if seconds < 60:
        raise click.BadParameter("use at least 1 minute, e.g. 30m or 8h.", param_hint="--session-idle")
    return float(seconds)


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
    "Needed when --host is not loopback, then at least 12 characters; see also --password-env, "
    "--generate-password and CLOSESYNC_PASSWORD.",
)
@click.option("--password-env", metavar="VAR", help="Read the password from this environment variable.")
@click.option(
    "--generate-password", is_flag=True, help="Make up a strong password for this run and print it once."
)
@click.option(
    "--session-idle",
    default="8h",
    show_default=True,
    metavar="DURATION",
    help="Log a browser out after this long without a request (e.g. 30m, 8h).",
)
@click.option(
    "--https-only",
    is_flag=True,
    help="Browsers reach the Data Center over HTTPS only (a TLS proxy in front): mark cookies Secure.",
)
@click.option(
    "--trusted-proxy",
    "trusted_proxies",
    multiple=True,
    metavar="ADDR",
    help="Address of a reverse proxy whose X-Forwarded-Proto/-For/-Host headers are believed "
    "(repeatable). Requests it marks https get Secure cookies; logins are throttled per forwarded client.",
)
@click.pass_context
def serve_command(
    ctx: click.Context,
    host: str,
    port: int,
    no_scheduler: bool,
    password: str | None,
    password_env: str | None,
    generate_password: bool,
    session_idle: str,
    https_only: bool,
    trusted_proxies: tuple[str, ...],
) -> None:
    """Open the Data Center web app (accounts, DataSets, runs) on http://HOST:PORT/."""
    from closesync.web.security import check_bind
    from closesync.web.server import resolve_password, serve

    idle_s = _idle_seconds(session_idle)
    password = resolve_password(_password(password, password_env, generate_password))
    try:
        check_bind(host, password)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    echo(f"closesync Data Center on http://{host}:{port}/  (Ctrl-C to stop)")
    serve(
        home_of(ctx),
        host=host,
        port=port,
        password=password,
        scheduler=not no_scheduler,
        session_idle_s=idle_s,
        https_only=https_only,
        trusted_proxies=list(trusted_proxies) or None,
    )
