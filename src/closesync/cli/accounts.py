"""`closesync accounts …`: saved Close accounts, over the DataCenter."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from closesync.cli.common import (
    EXIT_FAILED,
    EXIT_INPUT,
    LateHelpOption,
    default_base_url,
    echo,
    echo_json,
    fail,
    pass_data_center,
    warn_visible,
)

if TYPE_CHECKING:
    from closesync.datacenter import DataCenter


@click.group("accounts")
def accounts() -> None:
    """Saved Close accounts (API keys stored encrypted, or read from an environment variable)."""


@accounts.command("add")
@click.argument("name")
@click.option(
    "--api-key",
    help="The Close API key (checked with Close, then stored encrypted; prefer --api-key-env: "
    "a key on the command line is visible in `ps` and shell history).",
)
@click.option(
    "--api-key-env", metavar="VAR", help="Store only this variable's name; the key is read at run time."
)
@click.option(
    "--base-url",
    cls=LateHelpOption,
    help="Close API base URL",
    late_help=lambda: f"[default: {default_base_url()}].",
)
@pass_data_center
def accounts_add(
    dc: DataCenter, name: str, api_key: str | None, api_key_env: str | None, base_url: str | None
) -> None:
    """Add account NAME after checking its key with Close (GET /me/)."""
    if api_key:
        warn_visible("--api-key", "--api-key-env VAR")
    account = dc.add_account(name, api_key=api_key, api_key_env=api_key_env, base_url=base_url)
    orgs = ", ".join(c.label for c in account.organizations) or "none"
    echo(
        f"Added account {account.name!r}: key {account.key_hint} of {account.user_email} (organizations: {orgs})."
    )


@accounts.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_data_center
def accounts_list(dc: DataCenter, as_json: bool) -> None:
    """List saved accounts."""
    from closesync.cli.render import print_accounts

    items = dc.list_accounts()
    if as_json:
        return echo_json([a.to_dict() for a in items])
    return print_accounts(items)


@accounts.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_data_center
def accounts_show(dc: DataCenter, name: str, as_json: bool) -> None:
    """Show one account, with its organizations and users."""
    from closesync.cli.render import print_account

    account = dc.get_account(name)
    if as_json:
        return echo_json(account.to_dict())
    return print_account(account)


@accounts.command("rename")
@click.argument("name")
@click.argument("new_name")
@pass_data_center
def accounts_rename(dc: DataCenter, name: str, new_name: str) -> None:
    """Rename account NAME to NEW_NAME (datasets follow)."""
    account = dc.rename_account(name, new_name)
    echo(f"Renamed to {account.name!r}.")


@accounts.command("set-key")
@click.argument("name")
@click.option(
    "--api-key-env",
    metavar="VAR",
    help="Read the new key from this variable at run time (else you are asked for it, and it is stored "
    "encrypted).",
)
@click.option(
    "--allow-other-organization",
    is_flag=True,
    help="Accept a key of another Close organization (the datasets then read that organization in full).",
)
@pass_data_center
def accounts_set_key(
    dc: DataCenter, name: str, api_key_env: str | None, allow_other_organization: bool
) -> None:
    """Replace account NAME's API key (rotated or revoked): checked with Close, datasets keep working."""
    from closesync.datacenter.errors import OrganizationChangeError

    account = dc.get_account(name)
    api_key = None
    if not api_key_env:  # typed, never echoed nor left in `ps` or the shell history
        api_key = click.prompt(f"New API key for {account.name}", hide_input=True).strip()
    try:
        account = dc.set_account_key(
            account.id,
            api_key=api_key,
            api_key_env=api_key_env,
            allow_other_organization=allow_other_organization,
        )
    except OrganizationChangeError as exc:
        fail(f"{exc} Pass --allow-other-organization to use it anyway.", EXIT_INPUT)
    source = f"read from ${account.key_env}" if account.key_source == "env" else "stored encrypted"
    echo(
        f"Replaced the key of account {account.name!r}: {account.key_hint} ({source}) of "
        f"{account.user_email}; its {account.dataset_count} dataset(s) use it from their next run."
    )


@accounts.command("check")
@click.argument("name")
@pass_data_center
def accounts_check(dc: DataCenter, name: str) -> None:
    """Check that the key still works (exit 1 if Close rejects it)."""
    result = dc.check_account(name)
    echo(result.message, err=not result.ok)
    raise click.exceptions.Exit(0 if result.ok else EXIT_FAILED)


@accounts.command("remove")
@click.argument("name")
@click.option("--force", is_flag=True, help="Also delete the datasets that use it (their tables are kept).")
@pass_data_center
def accounts_remove(dc: DataCenter, name: str, force: bool) -> None:
    """Remove account NAME (refused while datasets use it, unless --force: they and their runs go too)."""
    account = dc.get_account(name)
    removed = dc.remove_account(account.id, force=force)
    history = f"{account.run_count} run(s) of history"
    extra = f" and its datasets {', '.join(removed)} ({history})" if removed else ""
    echo(f"Removed account {account.name!r}{extra}.")
