"""`closesync notify …`: alert channels (Slack, Teams, email, webhooks through apprise), over the DataCenter."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from closesync.cli.common import EXIT_FAILED, echo, echo_json, pass_data_center

if TYPE_CHECKING:
    from closesync.datacenter import DataCenter, Delivery


@click.group("notify")
def notify() -> None:
    """Alerts: channels told when a DataSet fails with no retry left, and when it recovers.

    A channel is an apprise URL (https://github.com/caronc/apprise/wiki): slack://…, msteams://…,
    mailtos://…, json://host/path for a webhook. It is stored encrypted and only shown masked. Needs the
    notify extra: pip install 'closesync[notify]'. Links in messages point at $CLOSESYNC_PUBLIC_URL
    (default http://127.0.0.1:8080).
    """


@notify.command("add")
@click.argument("url", required=False)
@click.option(
    "--dataset", metavar="NAME", help="Only this DataSet. Without it: every DataSet without a channel of its own."
)
@click.option(
    "--on", "events", default="failure,recovery", show_default=True, metavar="EVENTS",
    help="When to send: failure (no retry left), recovery (first success after that), or both.",
)
@pass_data_center
def notify_add(dc: DataCenter, url: str | None, dataset: str | None, events: str) -> None:
    """Add a channel: URL is checked by apprise (nothing is sent).

    Omit URL to type it at a hidden prompt: a URL on the command line stays in your shell history.
    """
    if not url:
        url = click.prompt("Notification URL", hide_input=True)
    channel = dc.add_notification(url, dataset=dataset, events=events)
    echo(
        f"Added channel {channel.id}: {channel.url_masked} for {channel.scope} on {', '.join(channel.events)}. "
        f"Try it: closesync notify test {channel.id}"
    )


@notify.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_data_center
def notify_list(dc: DataCenter, as_json: bool) -> None:
    """List channels (URLs masked) with the outcome of their last message."""
    channels = dc.list_notifications()
    if as_json:
        return echo_json([c.to_dict() for c in channels])
    if not channels:
        return echo("No notification channels. Add one with: closesync notify add URL [--dataset NAME]")
    from closesync.cli.render import add_row, console, table, when

    result = table(None, ["ID", "Channel", "DataSets", "On", "Last message"])
    for c in channels:
        last = "-" if c.last_status is None else f"{c.last_status} {when(c.last_sent_at)}"
        if c.last_error:
            last += f": {c.last_error}"
        add_row(result, c.id, c.url_masked, c.dataset_name or "all (default)", ", ".join(c.events), last)
    console().print(result)
    return None


@notify.command("remove")
@click.argument("channel_id", metavar="ID")
@pass_data_center
def notify_remove(dc: DataCenter, channel_id: str) -> None:
    """Remove channel ID (see `notify list`)."""
    channel = dc.remove_notification(channel_id)
    echo(f"Removed channel {channel.id} ({channel.url_masked}).")


@notify.command("test")
@click.argument("channel_id", metavar="[ID]", required=False)
@pass_data_center
def notify_test(dc: DataCenter, channel_id: str | None) -> None:
    """Send a test message to channel ID, or to every channel (exit 1 if one fails)."""
    deliveries: list[Delivery] = dc.test_notification(channel_id)
    for d in deliveries:
        if d.ok:
            echo(f"Channel {d.notification_id} ({d.url_masked}): sent.")
        else:
            echo(f"Channel {d.notification_id} ({d.url_masked}): failed: {d.error}", err=True)
    if not all(d.ok for d in deliveries):
        raise click.exceptions.Exit(EXIT_FAILED)
