"""What every command shares: the home folder, exit codes, failing cleanly, API keys, late help texts.

This module is imported by `closesync --help`, so it loads nothing heavier than click and the error
classes (pure standard library).
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Callable
from typing import Any, NoReturn

import click

from closesync.datacenter.errors import DataCenterError, DatasetBusyError
from closesync.errors import ClosesyncError
from closesync.sinks.errors import SinkLockedError

#: Exit codes (for cron, Airflow, Dagster): 0 done / run succeeded, 1 the run failed, 2 bad input or
#: unknown name, 3 the dataset (or its destination) is busy with another run.
EXIT_FAILED, EXIT_INPUT, EXIT_BUSY = 1, 2, 3


def home_of(ctx: click.Context) -> str:
    """The --home folder given to the root group (or its default)."""
    return (ctx.find_root().obj or {}).get("home")


#: Characters a terminal acts on instead of showing: C0 controls but tab and newline (ESC starts colours,
#: title changes, screen clears and OSC 8 hyperlinks; CR overwrites a line), DEL, C1, and the bidi overrides
#: that reorder what is shown.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """`text` with every terminal control character written out as an escape (`\\x1b`), so names, CRM data
    and Close's error text can never act on the terminal they are printed to."""
    return _CONTROL.sub(_escape, text)


def _escape(control: re.Match[str]) -> str:
    code = ord(control[0])
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def echo(message: str, err: bool = False) -> None:
    """`click.echo` for any line holding data (names, CRM values, error messages): see :func:`printable`."""
    click.echo(printable(message), err=err)


def warn_visible(option: str, instead: str) -> None:
    """Warn that a secret given as `option VALUE` is visible to other users (`ps`) and in shell history."""
    echo(
        f"Warning: {option} VALUE is visible to other users of this machine (`ps`) and stays in your shell "
        f"history; prefer {instead}.",
        err=True,
    )


def fail(message: str, code: int) -> NoReturn:
    """End the command: `Error: message` on stderr and the exit code, never a traceback."""
    echo(f"Error: {message}", err=True)
    raise click.exceptions.Exit(code)


def exit_code(error: ClosesyncError) -> int:
    """The documented exit code of an error: busy 3, bad input or unknown name 2, anything else 1."""
    if isinstance(error, DatasetBusyError | SinkLockedError):
        return EXIT_BUSY
    if isinstance(error, DataCenterError | ValueError | KeyError):  # incl. schedules, reports, destinations
        return EXIT_INPUT
    return EXIT_FAILED


def error_message(error: ClosesyncError) -> str:
    """`str(error)`, led by the option it is about when the error names a form field (`--schedule: …`);
    an error about several fields names each, one per line."""
    errors = getattr(error, "errors", None) or {getattr(error, "field", None): str(error)}
    return "\n".join(("--" + field.replace("_", "-") + ": " if field else "") + text for field, text in errors.items())


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str))


def pass_data_center(command: Callable[..., Any]) -> Callable[..., Any]:
    """Give the command the home's DataCenter as its first argument, opened when the command runs."""

    @click.pass_context
    @functools.wraps(command)
    def with_data_center(ctx: click.Context, /, *args: Any, **kwargs: Any) -> Any:
        from closesync.datacenter import DataCenter

        return command(DataCenter(home_of(ctx)), *args, **kwargs)

    return with_data_center


def resolve_api_key(api_key: str | None, api_key_env: str | None) -> str:
    """The key from --api-key or from the variable --api-key-env names; a clear error when neither works."""
    if api_key and api_key_env:
        raise click.UsageError("Give either --api-key or --api-key-env, not both.")
    if api_key_env:
        value = os.environ.get(api_key_env, "").strip()
        if not value:
            raise click.UsageError(f"The environment variable {api_key_env} is not set or empty.")
        return value
    if api_key:
        warn_visible("--api-key", "--api-key-env VAR")
        return api_key.strip()
    raise click.UsageError("An API key is needed: --api-key KEY or --api-key-env VAR.")


def default_base_url() -> str:
    """Close's API URL; a function so that only commands that talk to Close load the client."""
    from closesync.close import DEFAULT_BASE_URL

    return DEFAULT_BASE_URL


class LateHelpOption(click.Option):
    """An option whose help needs a value from a module `closesync --help` must not load (the Close
    client's URL, the sandbox's key, the schedule grammar).

    ``default`` may be a zero-argument function (click calls it when the command runs; help shows its
    value, not "(dynamic)"), and ``late_help`` returns text for the end of the help. Both are called only
    when this command's own help is printed.
    """

    def __init__(self, *args: Any, late_help: Callable[[], str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.late_help = late_help

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        if self.late_help is None:
            return super().get_help_record(ctx)
        early = self.help
        self.help = f"{early or ''} {self.late_help()}".strip()
        try:
            return super().get_help_record(ctx)
        finally:
            self.help = early

    def get_help_extra(self, ctx: click.Context) -> Any:
        extra = super().get_help_extra(ctx)
        if "default" in extra and callable(self.default):
            extra["default"] = str(self.default())
        return extra
