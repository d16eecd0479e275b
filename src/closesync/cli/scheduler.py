"""`closesync scheduler`: run due datasets until stopped (or one pass with --once, for cron)."""

from __future__ import annotations

import logging
import signal
import sys

import click

from closesync.cli.common import home_of, printable


class _PrintableFormatter(logging.Formatter):
    """Log lines name datasets and quote Close's errors: their control characters are shown, not sent."""

    def format(self, record: logging.LogRecord) -> str:
        return printable(super().format(record))


@click.command("scheduler")
@click.option("--max-workers", default=4, show_default=True, type=click.IntRange(1, 64), help="Runs at once.")
@click.option(
    "--poll", "poll_seconds", default=5.0, show_default=True, type=float, help="Seconds between passes."
)
@click.option("--once", is_flag=True, help="One pass: start what is due, wait for it, exit.")
@click.option(
    "--account-runs", default=4, show_default=True, type=click.IntRange(1, 64),
    help="Runs of one account at once, over every process on this home (they share the key's rate limit).",
)
@click.pass_context
def scheduler(ctx: click.Context, max_workers: int, poll_seconds: float, once: bool, account_runs: int) -> None:
    """Run datasets when they are due, until stopped (Ctrl-C / SIGTERM let running runs finish)."""
    from closesync.datacenter import DataCenter

    dc = DataCenter(home_of(ctx), account_runs=account_runs)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_PrintableFormatter("%(asctime)s %(levelname)s %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    sched = dc.scheduler(max_workers=max_workers, poll_seconds=poll_seconds)
    if once:
        sched.tick(wait=True)
        return
    signal.signal(signal.SIGTERM, lambda *_: sched.request_stop())
    try:
        sched.run_forever()
    except KeyboardInterrupt:
        click.echo("Stopping: waiting for running runs to finish…", err=True)
        sched.stop(wait=True)
