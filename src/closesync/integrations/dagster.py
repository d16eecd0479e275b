"""Dagster assets for closesync's reports (`pip install 'closesync[dagster]'`).

    from dagster import Definitions, EnvVar
    from closesync.integrations.dagster import closesync_assets

    defs = Definitions(assets=closesync_assets(
        reports=["leads", "opportunities"], destination="duckdb:close.duckdb", api_key=EnvVar("CLOSE_API_KEY")))

One asset per report, built as one multi-asset per source: Leads and its nested tables come from one read
of `/lead/`, exactly as in `closesync sync`. Materializing runs closesync's own pipeline (`closesync.sync`):
paced on Close's rate limits, incremental with its cursors kept in the destination, deletes applied. Each
report's materialization carries its description, rows, requests, throttle waits and the run's notes; a
failed read fails the step with Close's message, and the other sources' assets are unaffected.

The account lives in a resource (:class:`CloseAccount`): a Data Center account by name, or an API key read
from an environment variable when the step runs. A plain-text key is refused, so the key never enters
Dagster's definitions, run config, metadata or logs. Writers of one DuckDB file take turns through the
Data Center's file lock, so Dagster's steps and `closesync scheduler` never collide on it.
"""

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

try:
    from dagster import (
        AssetExecutionContext,
        AssetKey,
        AssetsDefinition,
        AssetSpec,
        ConfigurableResource,
        EnvVar,
        Failure,
        MaterializeResult,
        MetadataValue,
        multi_asset,
        with_resources,
    )
except ModuleNotFoundError as missing:  # the core install has no Dagster: say which extra adds it
    if missing.name != "dagster":
        raise
    raise ModuleNotFoundError(
        "closesync.integrations.dagster needs Dagster: pip install 'closesync[dagster]'", name=missing.name
    ) from None

from closesync.close import DEFAULT_BASE_URL, CloseClient
from closesync.close.budget import shared_pacer
from closesync.datacenter import DataCenter, destlock
from closesync.datacenter.secrets import redact
from closesync.datacenter.service import default_home
from closesync.errors import ClosesyncError
from closesync.pipeline import DEFAULT_DESTINATION, ReportResult, SyncResult, resolve_reports, sync
from closesync.reports import ReportSpec, group_by_source
from closesync.sinks.destination import METHODS, Method, redact_destination

__all__ = ["CloseAccount", "DagsterSetupError", "closesync_assets"]

#: How long a step waits while another process (a scheduler, another step) writes the same DuckDB file.
DUCKDB_WAIT_S = 600.0


class DagsterSetupError(ClosesyncError):
    """`closesync_assets` was given arguments it cannot build assets from."""


class CloseAccount(ConfigurableResource):
    """The Close account the assets read: `account`, saved in the Data Center at `home`, or `api_key`, an
    `EnvVar` resolved when a step runs. `home` (default `$CLOSESYNC_HOME` or `./data`) also holds the lock
    files through which writers of one DuckDB file take turns."""

    account: str | None = None
    api_key: str | None = None
    base_url: str = DEFAULT_BASE_URL
    home: str | None = None

    def sync(self, reports: Sequence[ReportSpec], destination: str, **options: object) -> SyncResult:
        """`closesync.sync` of `reports` into `destination` on this account, errors free of the key; a DuckDB
        file is written by one process at a time (the Data Center's lock in `home`, shared with its scheduler)."""
        home = Path(self.home) if self.home else default_home()
        if not destlock.acquire(home, destination, DUCKDB_WAIT_S):
            raise Failure(
                f"Another closesync process kept writing {redact_destination(destination)} for "
                f"{DUCKDB_WAIT_S:.0f}s; DuckDB lets one process write a file at a time."
            )
        try:
            with self._client(home) as client:
                result = sync([s.slug for s in reports], client=client, destination=destination, **options)
        finally:
            destlock.release(home, destination)
        for report in result.failed:
            report.error = redact(report.error or "failed", self.api_key)
        return result

    @contextmanager
    def _client(self, home: Path) -> Iterator[CloseClient]:
        if self.account:
            client = DataCenter(home).account_client(self.account)
        else:
            key = self.api_key or ""
            client = CloseClient(key, base_url=self.base_url, pacer=shared_pacer(key, self.base_url))
        with client:
            yield client


def closesync_assets(
    reports: Sequence[str] | None = None,
    *,
    destination: str = DEFAULT_DESTINATION,
    account: str | None = None,
    api_key: str | None = None,
    base_url: str = DEFAULT_BASE_URL,
    organization_id: str | None = None,
    user_id: str | None = None,
    method: Method = "upsert",
    home: str | None = None,
    key_prefix: str | Sequence[str] = "close",
    group_name: str = "closesync",
    resource_key: str = "closesync",
) -> list[AssetsDefinition]:
    """One Dagster asset per report (all 38 when `reports` is None), keyed `key_prefix/slug`, one
    multi-asset per Close source. Give `account` (a Data Center account name) or `api_key=EnvVar(...)`.

    The resource is bound to the assets under `resource_key`: assets of two accounts in one `Definitions`
    need two keys (and two prefixes when they load the same reports).
    """
    if (account is None) == (api_key is None):
        raise DagsterSetupError("Give the account to read: account='NAME' or api_key=EnvVar('CLOSE_API_KEY').")
    if api_key is not None and not isinstance(api_key, EnvVar):
        raise DagsterSetupError(
            "Pass the API key as api_key=EnvVar('CLOSE_API_KEY'): a key written in the definitions would be "
            "shown in Dagster's UI and kept in its storage."
        )
    if method not in METHODS:
        raise DagsterSetupError(f"Unknown update method {method!r}: use one of {', '.join(METHODS)}.")
    plan = _Plan(
        destination,
        {"method": method, "organization_id": organization_id, "user_id": user_id},
        (key_prefix,) if isinstance(key_prefix, str) else tuple(key_prefix),
        group_name,
        resource_key,
    )
    assets = [plan.source_assets(group) for group in group_by_source(resolve_reports(reports))]
    resource = CloseAccount(account=account, api_key=api_key, base_url=base_url, home=home)
    return list(with_resources(assets, {resource_key: resource}))


@dataclass(frozen=True)
class _Plan:
    """What every asset of one `closesync_assets` call shares."""

    destination: str
    options: dict[str, object]
    prefix: tuple[str, ...]
    group_name: str
    resource_key: str

    def key(self, spec: ReportSpec) -> AssetKey:
        return AssetKey([*self.prefix, spec.slug])

    def source_assets(self, specs: list[ReportSpec]) -> AssetsDefinition:
        """The multi-asset of one source: a materialization per selected report, from one read."""
        by_key = {self.key(s): s for s in specs}
        shown = redact_destination(self.destination)

        @multi_asset(
            name=re.sub(r"\W", "_", "_".join([*self.prefix, specs[0].slug])),
            specs=[
                AssetSpec(
                    key,
                    description=spec.description,
                    group_name=self.group_name,
                    kinds={"closesync"},
                    metadata={"report": spec.name, "table": spec.slug, "destination": shown},
                    skippable=True,
                )
                for key, spec in by_key.items()
            ],
            can_subset=True,
            required_resource_keys={self.resource_key},
        )
        def read_source(context: AssetExecutionContext) -> Iterator[MaterializeResult]:
            account: CloseAccount = getattr(context.resources, self.resource_key)
            wanted = [spec for key, spec in by_key.items() if key in context.selected_asset_keys]
            try:
                result = account.sync(wanted, self.destination, **self.options)
            except ClosesyncError as exc:  # a Data Center account that is missing or whose key cannot be read
                raise Failure(description=str(exc)) from None
            for report, spec in zip(result.reports, wanted, strict=True):
                context.log.info(
                    f"{report.name}: {report.status}, {report.rows} rows, {report.requests} requests, "
                    f"{report.throttle_waits} throttle waits"
                )
                if report.status == "success":
                    yield MaterializeResult(asset_key=self.key(spec), metadata=_metadata(report, spec, shown))
            if result.failed:
                raise Failure(description=_failure_text(result.failed))

        return read_source


def _metadata(report: ReportResult, spec: ReportSpec, destination: str) -> dict[str, object]:
    """What a materialization records: the report, its counts (requests are the source read's) and notes."""
    return {
        "report": report.name,
        "description": spec.description,
        "table": report.table,
        "destination": destination,
        "dagster/row_count": report.rows,
        "requests": report.requests,
        "throttle_waits": report.throttle_waits,
        "retries": report.retries,
        "incremental": report.incremental,
        "duration_s": round(report.duration_s, 3),
        "notes": MetadataValue.json(report.notes),
    }


def _failure_text(failed: list[ReportResult]) -> str:
    """Each distinct reason once, with the reports it failed and Close's HTTP status."""
    reasons: dict[str, list[str]] = {}
    for report in failed:
        status = f" (HTTP {report.http_status})" if report.http_status else ""
        reasons.setdefault(f"{report.error}{status}", []).append(report.name)
    return "\n".join(f"{', '.join(names)}: {reason}" for reason, names in reasons.items())
