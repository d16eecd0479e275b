"""The `closesync` command: a thin layer of click commands over the Python API."""

from __future__ import annotations

import click

from closesync import __version__


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


def main() -> None:
    cli()
