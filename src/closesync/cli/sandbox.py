"""`closesync sandbox`: serve the fake Close API from the shell (demo, manual testing, benchmarks)."""

from __future__ import annotations

import logging

import click

from closesync.cli.common import LateHelpOption


def parse_rate(value: str | None) -> tuple[int, float] | None:
    """`20/1` or `600/15` -> (20, 1.0); empty -> no limit."""
    if not value:
        return None
    n, _, seconds = value.partition("/")
    try:
        rate = (int(n), float(seconds or 1))
    except ValueError:
        raise click.BadParameter("use N/SECONDS, e.g. 20/1") from None
    if rate[0] < 1 or rate[1] <= 0:
        raise click.BadParameter("use N/SECONDS with N >= 1 and SECONDS > 0")
    return rate


def _default_api_key() -> str:
    """The sandbox's fixed key; a function so that `closesync --help` does not load the sandbox."""
    from closesync.sandbox import DEFAULT_API_KEY

    return DEFAULT_API_KEY


@click.command("sandbox")
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Interface to bind (local only by default)."
)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--api-key",
    cls=LateHelpOption,
    default=_default_api_key,
    show_default=True,
    help="The API key the sandbox accepts.",
)
@click.option("--seed", default=1, show_default=True, type=int, help="Same seed, same data.")
@click.option(
    "--leads", default=500, show_default=True, type=int, help="Account size; everything scales with it."
)
@click.option("--activities-per-lead", default=20.0, show_default=True, type=float)
@click.option(
    "--rate-limit", default=None, metavar="N/SECONDS", help="Per key and endpoint group, e.g. 20/1."
)
@click.option("--skip-cap", default=250_000, show_default=True, type=int, help="Largest _skip accepted.")
@click.option("--latency-ms", default=0.0, show_default=True, type=float, help="Added to every API call.")
@click.option(
    "--faults",
    default=None,
    metavar="SPEC",
    help="e.g. '500:0.02,drop:0.01' (probabilities) or '429*3@activity/call/' (next N requests). "
    "Kinds: 429 500 502 503 504 400 401 403 404 slow cut drop badjson cuterror huge notalist nonobjects "
    "emptymore stuckcursor notobject nested.",
)
@click.option(
    "--shared-custom-fields", is_flag=True, help="Serve shared custom fields (custom_field/shared/) with values."
)
@click.option(
    "--custom-fields",
    "generated_lead_fields",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Add this many lead custom fields (a big account; see the search selector ceiling).",
)
@click.option(
    "--gzip/--no-gzip",
    "gzip_ok",
    default=True,
    show_default=True,
    help="Compress responses for clients that accept gzip.",
)
@click.option("--log-requests", is_flag=True, help="Print one line per request (method, path, status).")
def sandbox_command(
    host: str,
    port: int,
    api_key: str,
    seed: int,
    leads: int,
    activities_per_lead: float,
    rate_limit: str | None,
    skip_cap: int,
    latency_ms: float,
    faults: str | None,
    gzip_ok: bool,
    shared_custom_fields: bool,
    generated_lead_fields: int,
    log_requests: bool,
) -> None:
    """Serve a seeded fake Close API (v1) until interrupted."""
    from closesync.sandbox import Sandbox, parse_spec

    if log_requests:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        transport_log = logging.getLogger("closesync.sandbox.transport")
        transport_log.addHandler(handler)
        transport_log.setLevel(logging.INFO)
    try:
        fault_list = parse_spec(faults) if faults else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--faults") from None
    sb = Sandbox(
        seed=seed,
        leads=leads,
        api_key=api_key,
        rate_limit=parse_rate(rate_limit),
        skip_cap=skip_cap,
        latency_ms=latency_ms,
        faults=fault_list,
        host=host,
        port=port,
        activities_per_lead=activities_per_lead,
        gzip=gzip_ok,
        shared_custom_fields=shared_custom_fields,
        generated_lead_fields=generated_lead_fields,
    )
    sb.start()
    click.echo(f"Close sandbox: {sb.base_url}")
    click.echo(f"API key:       {sb.api_key}   (HTTP Basic, key as username, empty password)")
    click.echo(f"Stats:         {sb.stats_url}")
    click.echo(
        f"Data:          {leads} leads, seed {seed}; rate limit {rate_limit or 'off'}; "
        f"skip cap {skip_cap}; latency {latency_ms:g} ms; faults {faults or 'none'}"
    )
    click.echo("Press Ctrl+C to stop.")
    try:
        sb.serve_forever()
    except KeyboardInterrupt:
        click.echo("Stopped.")
