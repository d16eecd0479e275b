"""DataCenter: the one facade the CLI, the web app and Python callers use.

All methods are synchronous and thread-safe (each opens its own short SQLite connection), so a web app may
call them from worker threads. Every error raised is a DataCenterError whose str() is fit for a user.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from closesync.datacenter import history
from closesync.datacenter.account_lease import ACCOUNT_RUNS
from closesync.datacenter.accounts import Accounts, ClientFactory, Clock
from closesync.datacenter.datasets import Datasets
from closesync.datacenter.errors import NotFoundError, ValidationError
from closesync.datacenter.leases import new_owner
from closesync.datacenter.models import (
    Account,
    AccountCheck,
    Column,
    Dataset,
    Export,
    Preview,
    ReportChoices,
    ReportInfo,
    Run,
    RunDay,
    ScheduleInfo,
)
from closesync.datacenter.notify import Delivery, Notification, Notifications
from closesync.datacenter.run_filters import RunFilter, check_page, check_status, parse_bound
from closesync.datacenter.runner import Runner
from closesync.datacenter.schedule import ScheduleError, parse_schedule, plan_problem
from closesync.datacenter.scheduler import Scheduler
from closesync.datacenter.secrets import Secrets
from closesync.datacenter.spec import DEFAULT_RETRY_DELAY, DEFAULT_SCHEDULE, DatasetSpec
from closesync.datacenter.store import Store
from closesync.sinks.destination import DEFAULT_METHOD, Method

if TYPE_CHECKING:
    from closesync.close.client import CloseClient
    from closesync.datacenter.progress import RunProgress
    from closesync.datacenter.tables import Tables
    from closesync.doctor import DoctorResult


def default_home() -> Path:
    return Path(os.environ.get("CLOSESYNC_HOME") or "./data")


#: A day or a moment as a date, a datetime or ISO text (what the run filters accept).
DateLike = str | date | datetime | None


def _utcnow() -> datetime:
    return datetime.now(UTC)


class DataCenter:
    """Accounts, datasets, runs and the scheduler of one home folder.

    `client_options` go to every CloseClient it makes, e.g. `{"timeout": 30, "max_retry_time": 300,
    "max_response_mb": 64}`. `account_runs`: runs of one account at once over every process on this home.
    """

    def __init__(
        self,
        home: str | Path | None = None,
        *,
        clock: Clock | None = None,
        client_options: dict[str, Any] | None = None,
        client_factory: ClientFactory | None = None,
        account_runs: int = ACCOUNT_RUNS,
    ) -> None:
        if account_runs < 1:
            raise ValidationError(f"account_runs must be at least 1, not {account_runs}.", field="account_runs")
        self.home = Path(home if home is not None else default_home()).expanduser().absolute()
        self.clock: Clock = clock or _utcnow
        self.store = Store(self.home)
        options = dict(client_options or {})

        def make_client(api_key: str, base_url: str) -> CloseClient:
            from closesync.close.budget import shared_pacer
            from closesync.close.client import CloseClient

            # one budget per key in this process: concurrent runs of an account pace together
            return CloseClient(api_key, base_url=base_url, pacer=shared_pacer(api_key, base_url), **options)

        factory = client_factory or make_client
        self._client_factory = factory
        self.owner = new_owner()
        secrets = Secrets(self.home)
        self._accounts = Accounts(self.store, secrets, factory, self.clock)
        self._datasets = Datasets(self.store, self._accounts, self.clock, self.home)
        self._notifications = Notifications(self.store, secrets, self.clock)
        self._runner = Runner(
            self.store, self._accounts, self._datasets, self.clock, factory, self.owner, self.home,
            self._notifications, account_runs=account_runs,
        )

    @functools.cached_property
    def _tables(self) -> Tables:
        from closesync.datacenter.tables import Tables  # pyarrow: only once a table is read

        return Tables(self.home)

    def __repr__(self) -> str:
        return f"DataCenter({str(self.home)!r})"

    def close(self) -> None:
        """Nothing stays open between calls; kept so callers can treat it like a resource."""

    # -- accounts -------------------------------------------------------------------------------------------
    def add_account(
        self, name: str, *, api_key: str | None = None, api_key_env: str | None = None, base_url: str | None = None
    ) -> Account:
        return self._accounts.add(name, api_key=api_key, api_key_env=api_key_env, base_url=base_url)

    def list_accounts(self) -> list[Account]:
        return self._accounts.list()

    def get_account(self, name_or_id: str | int) -> Account:
        return self._accounts.get(name_or_id)

    def rename_account(self, name_or_id: str | int, new_name: str) -> Account:
        return self._accounts.rename(name_or_id, new_name)

    def check_account(self, name_or_id: str | int) -> AccountCheck:
        """Re-validate the key with Close; the outcome (valid, or invalid with Close's reason) is recorded."""
        return self._accounts.check(name_or_id)

    def doctor(self, name_or_id: str | int) -> DoctorResult:
        """`closesync doctor` for a saved account: a bounded, read-only check of what its key can sync
        (see `closesync.doctor`). Close's answers never raise; a key that cannot be read here does."""
        from closesync.doctor import run_doctor

        account = self._accounts.get(name_or_id)
        return run_doctor(self._accounts.api_key(account), account.base_url)

    def account_client(self, name_or_id: str | int) -> CloseClient:
        """A Close client on a saved account's key and URL, for integrations (Dagster) that run the pipeline
        themselves: the key goes into the client, never to the caller. AccountKeyError if it cannot be read."""
        account = self._accounts.get(name_or_id)
        return self._client_factory(self._accounts.api_key(account), account.base_url)

    def set_account_key(
        self,
        name_or_id: str | int,
        *,
        api_key: str | None = None,
        api_key_env: str | None = None,
        allow_other_organization: bool = False,
    ) -> Account:
        """Replace the account's key in place (same account, so its datasets keep working).

        The key is validated with Close (AccountKeyError when refused) and must belong to the account's
        organizations, else OrganizationChangeError unless `allow_other_organization`.
        """
        return self._accounts.set_key(
            name_or_id,
            api_key=api_key,
            api_key_env=api_key_env,
            allow_other_organization=allow_other_organization,
        )

    def remove_account(self, name_or_id: str | int, *, force: bool = False) -> list[str]:
        """Delete the account; while datasets use it, ConflictError (naming them and their runs) unless
        `force`, which deletes them and their history too (tables are kept). Returns their names."""
        self._runner.recover()  # a lease left by a dead process must not block the removal
        return self._accounts.remove(name_or_id, force=force)

    def report_choices(self, account: str | int, *, refresh: bool = False) -> ReportChoices:
        return self._accounts.choices(account, refresh=refresh)

    # -- reports and schedules ------------------------------------------------------------------------------
    def reports(self) -> list[ReportInfo]:
        """Every report, the 38 classic ones first and then the others by family (the menu's order)."""
        from closesync.reports import REPORTS, grouped

        return [
            ReportInfo(
                s.slug, s.name, s.description, bool(s.uses_organization_id), bool(s.uses_user_id),
                bool(s.uses_date_range), s.family, s.classic,
            )
            for _, specs in grouped(REPORTS)
            for s in specs
        ]

    def validate_schedule(self, spec: str | None, count: int = 3) -> ScheduleInfo:
        try:
            schedule = parse_schedule(spec)
        except ScheduleError as exc:
            raise ValidationError(str(exc), field="schedule") from None
        return ScheduleInfo(schedule.spec, schedule.describe(), schedule.upcoming(self.clock(), count))

    # -- datasets -------------------------------------------------------------------------------------------
    def create_dataset(
        self,
        name: str,
        *,
        account: str | int,
        report: str,
        organization_id: str | None = None,
        user_id: str | None = None,
        since: str | date | datetime | None = None,
        method: Method = DEFAULT_METHOD,
        schedule: str = DEFAULT_SCHEDULE,
        retries: int = 0,
        retry_delay: str | int = DEFAULT_RETRY_DELAY,
        destination: str | None = None,
        table: str | None = None,
        description: str = "",
        enabled: bool = True,
    ) -> Dataset:
        """Save a dataset (the parameters are :class:`DatasetSpec`'s fields, whose help says what each is).

        The destination defaults to duckdb:<home>/close.duckdb (file paths are made absolute), the table to
        the report's slug; two datasets may not load the same table of one destination.
        """
        spec = DatasetSpec(
            name=name, account=account, report=report, organization_id=organization_id, user_id=user_id,
            since=since, method=method, schedule=schedule, retries=retries, retry_delay=retry_delay,
            destination=destination, table=table, description=description, enabled=enabled,
        )
        return self._datasets.create(spec)

    def list_datasets(self) -> list[Dataset]:
        self._runner.recover()
        return [self._with_problem(d) for d in self._datasets.list()]

    def get_dataset(self, name_or_id: str | int) -> Dataset:
        self._runner.recover()
        return self._with_problem(self._datasets.get(name_or_id))

    def _with_problem(self, dataset: Dataset) -> Dataset:
        """The dataset with `problem` set when its stored schedule or retry delay cannot be planned."""
        problem = plan_problem(dataset.schedule, dataset.retry_delay_s, self.clock())
        return dataclasses.replace(dataset, problem=problem) if problem else dataset

    def edit_dataset(self, name_or_id: str | int, **changes: Any) -> Dataset:
        """Change the given DatasetSpec fields (others raise ValidationError). A change of report, account,
        ids, since, destination or table drops the dataset's incremental cursors."""
        return self._datasets.edit(name_or_id, **changes)

    def check_dataset(self, name_or_id: str | int | None = None, **fields: Any) -> None:
        """Validate a new dataset's fields (or, with a name, changes to that dataset) without saving: the
        ValidationError (every wrong field in `errors`) or ConflictError that create or edit would raise."""
        self._datasets.check(name_or_id, fields)

    def delete_dataset(self, name_or_id: str | int, *, drop_table: bool = False) -> Dataset:
        return self._datasets.delete(name_or_id, drop_table=drop_table)

    def run_dataset(
        self,
        name_or_id: str | int,
        *,
        full_refresh: bool = False,
        wait_s: float = 600.0,
        force: bool = False,
        progress: RunProgress | None = None,
    ) -> Run:
        """Run now in this thread; DatasetBusyError if it is running elsewhere. A failed run is returned.
        ``force`` takes over a table another dataset (or `closesync sync`) loads; ``progress`` (a
        RunProgress) is filled as the run goes, for a caller that shows it."""
        dataset = self._datasets.get(name_or_id)
        return self._runner.run_now(
            dataset, full_refresh=full_refresh, wait_s=wait_s, force=force, progress=progress
        )

    def history(self, name_or_id: str | int, *, status: str | None = None, limit: int = 50) -> list[Run]:
        """The runs of one dataset, newest first (only those of `status` when given)."""
        return self.list_runs(self._datasets.get(name_or_id).id, status=status, limit=limit)

    def _run_filter(
        self, dataset: str | int | None, status: str | None, since: DateLike, until: DateLike
    ) -> RunFilter:
        return RunFilter(
            dataset_id=None if dataset is None or dataset == "" else self._datasets.get(dataset).id,
            status=check_status(status),
            since=parse_bound(since, "since"),
            until=parse_bound(until, "until", end=True),
        )

    def list_runs(
        self,
        dataset: str | int | None = None,
        *,
        status: str | None = None,
        since: DateLike = None,
        until: DateLike = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Run]:
        """Runs across datasets (or of one), newest first, one page of them.

        `status` is running, success or failed; `since`/`until` bound the start time (a bare date as
        `until` includes that whole day; dates are UTC). Bad values raise ValidationError naming the field.
        """
        runs = self._run_filter(dataset, status, since, until)
        check_page(limit, offset)
        self._runner.recover()  # a run whose process died shows as failed, not running forever
        with self.store.connect() as conn:
            return history.search(conn, runs, limit, offset)

    def run_stats_by_day(
        self,
        dataset: str | int | None = None,
        *,
        status: str | None = None,
        since: DateLike = None,
        until: DateLike = None,
    ) -> list[RunDay]:
        """How many runs started each UTC day, by status, with the filters of :meth:`list_runs`."""
        runs = self._run_filter(dataset, status, since, until)
        with self.store.connect() as conn:
            return history.per_day(conn, runs)

    def get_run(self, run_id: int) -> Run:
        with self.store.connect() as conn:
            run = history.get(conn, int(run_id))
        if run is None:
            raise NotFoundError(f"No run with id {run_id}.")
        return run

    def preview(self, name_or_id: str | int, *, limit: int = 20, table: str | None = None) -> Preview:
        """The first rows of the dataset's table (read-only; an empty preview before the first run). A
        dataset with one table per type ("Custom Objects") shows `table`, by default its first; `.tables`
        lists them, and a table not among them is a ValidationError naming them."""
        return self._tables.preview(self._datasets.get(name_or_id), limit, table)

    def tables(self, name_or_id: str | int) -> list[str]:
        """The tables the dataset has loaded: its own, or one per type; [] before the first run."""
        return self._tables.tables(self._datasets.get(name_or_id))

    def columns(self, name_or_id: str | int, *, table: str | None = None) -> list[Column]:
        """The columns of the dataset's table (`table`: as for `preview`) with the destination's type names;
        [] before the first run."""
        return self._tables.columns(self._datasets.get(name_or_id), table)

    def with_table_rows(self, datasets: list[Dataset], *, wait_s: float = 2.0) -> list[Dataset]:
        """The datasets with `table_rows` set: rows in each table now, counted from its destination. A busy
        or slow destination is not waited for beyond `wait_s`: its datasets keep None (shown as "—")."""
        counts = self._tables.row_counts(datasets, wait_s)
        return [dataclasses.replace(d, table_rows=counts.get(d.id)) for d in datasets]

    def export(self, name_or_id: str | int, fmt: str = "csv", *, table: str | None = None) -> Export:
        """The whole table as a CSV or Parquet file, streamed: iterate `.chunks` (filename, media_type set).

        Raises before any byte is produced: NotFoundError when there is no table yet, ValidationError for
        another format, DatasetBusyError while another process writes the DuckDB file. A table without rows
        still gives a valid file (CSV header, Parquet schema). `table` picks one of a dataset's per-type
        tables (as for `preview`).
        """
        return self._tables.export(self._datasets.get(name_or_id), fmt, table)

    # -- alerts ---------------------------------------------------------------------------------------------
    def add_notification(
        self, url: str, *, dataset: str | int | None = None, events: str | Iterable[str] | None = None
    ) -> Notification:
        """Add an apprise channel (its URL stored encrypted, shown masked) for one dataset or, without one,
        as the default of every dataset without its own; `events`: "failure", "recovery" or both (None).

        NotifyUnavailableError when apprise is not installed (`pip install 'closesync[notify]'`).
        """
        dataset_id = None if dataset is None else self._datasets.get(dataset).id
        return self._notifications.add(url, dataset_id=dataset_id, events=events)

    def list_notifications(self) -> list[Notification]:
        return self._notifications.list()

    def remove_notification(self, notification_id: int | str) -> Notification:
        return self._notifications.remove(notification_id)

    def test_notification(self, notification_id: int | str | None = None) -> list[Delivery]:
        """Send a test message to one channel, or to every channel; never raises for a channel that fails."""
        return self._notifications.test(notification_id)

    # -- scheduler ------------------------------------------------------------------------------------------
    def scheduler(self, *, max_workers: int = 4, poll_seconds: float = 5.0) -> Scheduler:
        return Scheduler(self.store, self._runner, self.clock, max_workers=max_workers, poll_seconds=poll_seconds)


def run_dataset(
    name_or_id: str | int, *, home: str | Path | None = None, full_refresh: bool = False, force: bool = False
) -> Run:
    """`closesync.run_dataset`: run one saved dataset now and return its history row."""
    return DataCenter(home).run_dataset(name_or_id, full_refresh=full_refresh, force=force)
