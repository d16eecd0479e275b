"""The Data Center: saved accounts, datasets on schedules, runs with history.

Every front end (the CLI, the web app, Python callers) goes through ONE object, :class:`DataCenter`;
nothing else in this package is meant to be called from outside. All methods are synchronous and
thread-safe (each opens its own short SQLite connection), so a web app may call them from worker threads.

    from closesync.datacenter import DataCenter, DataCenterError
    dc = DataCenter("./data")              # <home>/closesync.sqlite (WAL), migrated on open
                                           # DataCenter(home, clock=callable->aware UTC datetime,
                                           #            client_options={"max_retries": 0, ...})

Accounts (the API key is never returned, logged or stored in clear):
    dc.add_account(name, api_key=None, api_key_env=None, base_url=None) -> Account
        # validates with GET me/ (+ GET user/); a rejected key raises AccountKeyError, nothing stored
    dc.list_accounts() -> list[Account]; dc.get_account(name_or_id) -> Account
    dc.rename_account(name_or_id, new_name) -> Account
    dc.check_account(name_or_id) -> AccountCheck(ok, message, account)   # re-validates, records status
    dc.remove_account(name_or_id, force=False) -> list[str]   # names of datasets removed with it (force)
    dc.report_choices(account, refresh=False) -> ReportChoices(organizations=[Choice], users=[Choice])
        # Choice(id, label): what the Organization ID / User ID selects offer (from /me/ and /user/)

Reports (for the report select):
    dc.reports() -> list[ReportInfo(slug, name, description, uses_organization_id, uses_user_id,
                                     uses_date_range)]

Datasets:
    dc.create_dataset(name, account=, report=, organization_id=None, user_id=None, since=None,
                      method="upsert", schedule="manual", retries=0, retry_delay="5m",
                      destination=None, table=None, description="", enabled=True) -> Dataset
        # destination default duckdb:<home>/close.duckdb (file paths are made absolute), table default =
        # report slug; organization_id/user_id must be among report_choices() and the report must take them;
        # two datasets may not load the same table of one destination
    dc.list_datasets() -> list[Dataset]          # each with .last_run (Run | None), .next_run_at, .running
    dc.get_dataset(name_or_id) -> Dataset
    dc.edit_dataset(name_or_id, **changes) -> Dataset    # same keyword names as create (+ name=); a change
                                                         # of report/account/ids/since/destination/table drops
                                                         # the dataset's incremental cursors
    dc.delete_dataset(name_or_id, drop_table=False) -> Dataset   # refused (DatasetBusyError) while running
    dc.run_dataset(name_or_id, full_refresh=False, wait_s=600) -> Run
        # while it runs, its history row (status "running") shows rows, requests, throttle waits and retries
        # growing, written at most once a second with the lease heartbeat
        # runs now in this thread and returns the finished history row (Run.ok, .status, .error, ...); never
        # raises for a failed run. DatasetBusyError if the dataset is running, or if another process kept
        # its DuckDB file busy for wait_s seconds (DuckDB allows one writing process per file).
        # A failed run queues a retry (attempt + 1 after retry_delay) while attempts <= retries.
    dc.history(name_or_id, limit=50) -> list[Run]         # newest first
    dc.get_run(run_id) -> Run
    dc.preview(name_or_id, limit=20) -> Preview(table, columns: list[str], rows: list[tuple])
        # empty columns/rows before the first run
    dc.columns(name_or_id) -> list[Column(name, type)]     # the destination's type names; [] before a run
    dc.export(name_or_id, "csv" | "parquet") -> Export(filename, media_type, chunks: Iterator[bytes])
        # the whole table streamed batch by batch (flat memory); NotFoundError before any byte when there
        # is no table yet; a table without rows is still a valid file (CSV header / Parquet schema)
    Reads never create a table or file; while another process writes the dataset's DuckDB file they raise
    DatasetBusyError at once. Front ends never open a destination themselves.
    Dataset.to_dict() and Dataset.destination_display mask a PostgreSQL password; repr() omits it.

Schedules (validate a form field before saving; the message lists the accepted forms):
    dc.validate_schedule(spec) -> ScheduleInfo(spec, description, next_runs: list[datetime])
    closesync.datacenter.schedule.SCHEDULE_FORMS  # the accepted forms, for help texts
    closesync.datacenter.schedule.format_duration(seconds) -> "5m"  # how retry delays are written
    Forms: manual | every N minutes/hours/days | hourly | daily | daily at HH:MM | weekly on mon[,fri] at HH:MM
    | 5-field cron; times UTC unless followed by an IANA zone ("daily at 06:00 Europe/Berlin").

Scheduler (runs due datasets; at most one run per dataset across processes via a SQLite lease):
    sched = dc.scheduler(max_workers=4, poll_seconds=5.0)
    sched.start(); ...; sched.stop()      # background thread, e.g. inside the web app's process
    sched.tick(wait=True) -> list[int]    # one pass (tests): claims due datasets, returns run ids
    sched.run_forever()                   # what `closesync scheduler` does (until stop() / Ctrl-C)
    A run whose process died (killed, crashed) is marked failed ("Interrupted: ...") and rescheduled on
    the next pass, list_datasets() or history(); leases expire after 60 s without a heartbeat otherwise.

Errors: every error raised is a DataCenterError subclass whose str() is a message fit for a user:
NotFoundError, ValidationError (.field names the form field), ConflictError, AccountKeyError,
DatasetBusyError, SecretKeyError. Objects are dataclasses with .to_dict() (JSON-safe, no secrets).

Python API shortcuts: ``closesync.run_dataset(name_or_id, home=None)`` (home from CLOSESYNC_HOME or ./data).
"""

from closesync.datacenter.errors import (
    AccountKeyError,
    ConflictError,
    DataCenterError,
    DatasetBusyError,
    NotFoundError,
    SecretKeyError,
    ValidationError,
)
from closesync.datacenter.models import (
    Account,
    AccountCheck,
    Choice,
    Column,
    Dataset,
    Preview,
    ReportChoices,
    ReportInfo,
    Run,
    ScheduleInfo,
)
from closesync.datacenter.service import DataCenter
from closesync.datacenter.tables import Export

__all__ = [
    "Account",
    "AccountCheck",
    "AccountKeyError",
    "Choice",
    "Column",
    "ConflictError",
    "DataCenter",
    "DataCenterError",
    "Dataset",
    "DatasetBusyError",
    "Export",
    "NotFoundError",
    "Preview",
    "ReportChoices",
    "ReportInfo",
    "Run",
    "ScheduleInfo",
    "SecretKeyError",
    "ValidationError",
]
