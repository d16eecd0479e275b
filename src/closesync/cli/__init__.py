"""The `closesync` command: thin click commands over the Python API, one module per command group.

`closesync --help` loads only click and these modules: each command imports what it drives (the
pipeline, the DataCenter, the web server, the sandbox, rich) when it runs. Every error closesync raises
on purpose (:class:`~closesync.errors.ClosesyncError`) ends here as one message on stderr with its exit
code (see :mod:`closesync.cli.common`), never as a traceback.
"""

from __future__ import annotations

from typing import Any

import click

from closesync import __version__
from closesync.cli.accounts import accounts
from closesync.cli.common import error_message, exit_code, fail
from closesync.cli.datasets import datasets
from closesync.cli.doctor import doctor_command
from closesync.cli.models import models
from closesync.cli.notify import notify
from closesync.cli.runs import runs
from closesync.cli.sandbox import sandbox_command
from closesync.cli.scheduler import scheduler
from closesync.cli.serve import serve_command
from closesync.cli.sync import reports_command, sync_command
from closesync.errors import ClosesyncError
from closesync.private_files import restrict_umask

__all__ = ["cli", "main"]


class ClosesyncGroup(click.Group):
    """The root group: any ClosesyncError from a command becomes `Error: …` and its documented exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ClosesyncError as error:
            fail(error_message(error), exit_code(error))


@click.group(cls=ClosesyncGroup, context_settings={"help_option_names": ["-h", "--help"]})
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


cli.add_command(sync_command)
cli.add_command(reports_command)
cli.add_command(serve_command)
cli.add_command(accounts)
cli.add_command(datasets)
cli.add_command(runs)
cli.add_command(scheduler)
cli.add_command(notify)
cli.add_command(sandbox_command)
cli.add_command(doctor_command)
cli.add_command(models)


def main() -> None:
    restrict_umask()  # files made by DuckDB and SQLite themselves (write-ahead logs) are owner-only too
    cli()
