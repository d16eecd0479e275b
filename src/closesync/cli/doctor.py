"""`closesync doctor`: check what a Close API key can sync, read-only (the checks are `closesync.doctor`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from closesync.cli.common import EXIT_FAILED, EXIT_INPUT, echo_json, home_of, printable, resolve_api_key

if TYPE_CHECKING:
    from closesync.doctor import DoctorResult

STYLES = {"ok": "green", "empty": "cyan", "not_available": "yellow", "permission_denied": "red", "error": "red"}


@click.command("doctor")
@click.option("--account", metavar="NAME", help="A saved account (its key and base URL).")
@click.option("--api-key-env", metavar="VAR", help="Name of the environment variable holding the API key.")
@click.option("--base-url", help="Close API base URL (with --api-key-env) [default: Close's].")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (schema closesync.doctor/1).")
@click.pass_context
def doctor_command(
    ctx: click.Context, account: str | None, api_key_env: str | None, base_url: str | None, as_json: bool
) -> None:
    """Check a Close API key: what each report can read, custom fields, rate limits.

    About thirty read-only requests (GETs, one search and the reports); nothing is written to Close and
    the key is never printed. Exit code 0: every report can sync (some may be empty or not available on
    this account); 1: a report met an error or a permission problem, or Close could not be reached;
    2: Close refused the key (or no key was given).
    """
    if (account is None) == (api_key_env is None):
        raise click.UsageError("Give either --account NAME or --api-key-env VAR.")
    if account is not None:
        if base_url:
            raise click.UsageError("--base-url goes with --api-key-env; a saved account has its own.")
        from closesync.datacenter import DataCenter

        result = DataCenter(home_of(ctx)).doctor(account)
    else:
        from closesync.close import DEFAULT_BASE_URL
        from closesync.doctor import run_doctor

        result = run_doctor(resolve_api_key(None, api_key_env), base_url or DEFAULT_BASE_URL)
    if as_json:
        echo_json(result.to_dict())
    else:
        _print(result)
    if result.auth["status"] == "invalid":
        ctx.exit(EXIT_INPUT)
    ctx.exit(0 if result.ok else EXIT_FAILED)


def _print(result: DoctorResult) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(highlight=False)
    auth = result.auth
    console.print(Text(printable(f"Close at {result.base_url}")), style="bold")
    if not result.key_accepted:
        console.print(Text(printable(f"Key: {auth['status']}. {auth['message']}")), style="red")
        return
    who = auth.get("user_email") or auth.get("user_id") or "?"
    org = auth.get("organization_name") or auth.get("organization_id") or "no organization"
    console.print(Text(printable(f"Key: works (user {who}, organization {org})")), style="green")

    table = Table(title="Reports", title_justify="left", show_lines=False)
    for column in ("Report", "Status", "Detail", "Next"):
        table.add_column(column, overflow="fold")
    for check in result.reports:
        next_step = "" if check.status == "ok" else check.next_step
        table.add_row(
            Text(check.name),
            Text(check.status, style=STYLES.get(check.status, "")),
            Text(printable(check.detail)),
            Text(printable(next_step)),
        )
    console.print(table)
    summary = ", ".join(f"{n} {status}" for status, n in result.summary().items() if n)
    console.print(f"Summary: {summary}")

    fields = ", ".join(
        f"{kind} {info['count'] if info['count'] is not None else 'unreadable'}"
        for kind, info in result.custom_fields.items()
    )
    console.print(Text(printable(f"Custom fields: {fields}")))
    for source, info in result.search_selectors.items():
        verdict = "will be split across requests" if info["needs_splitting"] else "fit in one request"
        console.print(
            f"Search selectors ({source}s): {info['selectors']} of about {info['ceiling']}: {verdict}"
        )
    if result.rate_limits:
        limits = Table(title="Rate limits seen (per endpoint group)", title_justify="left")
        for column in ("Group", "Limit", "Remaining", "Reset (s)"):
            limits.add_column(column)
        for group, info in result.rate_limits.items():
            limits.add_row(group, *(str(info[k]) if info[k] is not None else "" for k in
                                    ("limit", "remaining", "reset_seconds")))
        console.print(limits)
    console.print(f"Requests made: {result.requests.get('total', 0)} (read-only)")
    for note in result.notes:
        console.print(Text(printable(f"Note: {note}")), style="yellow")
