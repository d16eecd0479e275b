"""The Data Center: saved accounts, datasets on schedules, runs with history.

Every front end (the CLI, the web app, Python callers) goes through ONE object, :class:`DataCenter`, whose
typed methods say what each takes and returns; a dataset's fields are those of
:class:`closesync.datacenter.spec.DatasetSpec`. A few rules the signatures cannot say:

- API keys are validated with Close before they are stored (encrypted), and never returned or logged;
  `Dataset.to_dict()` and `Dataset.destination_display` mask a PostgreSQL password.
- `run_dataset` runs in the calling thread and returns the finished history row, never raising for a
  failed run; a failure queues a retry while the dataset's retries allow. One run per dataset at a time
  across processes (a SQLite lease); one process writes a DuckDB file at a time (`destlock`).
- Reads (`preview`, `columns`, `export`) never create a table or file; front ends never open a
  destination themselves.
- Notification channels (`add_notification`, apprise URLs stored encrypted, shown masked) are told when a
  dataset fails with no retry left and when it recovers; a failing channel never fails a run.
- Every error is a :class:`DataCenterError` (a ``closesync.ClosesyncError``) whose str() is fit for a user.

`DataCenter` (the service, with the scheduler and croniter behind it) is imported on first use, so front
ends that only need the errors, models or `DatasetSpec` (e.g. `closesync --help`) stay light.
"""

from typing import TYPE_CHECKING

from closesync.datacenter.errors import (
    AccountKeyError,
    ConflictError,
    DataCenterError,
    DatasetBusyError,
    NotFoundError,
    NotifyUnavailableError,
    SecretKeyError,
    ValidationError,
)
from closesync.datacenter.models import (
    MAX_RUNS_LIMIT,
    RUN_STATUSES,
    Account,
    AccountCheck,
    Choice,
    Column,
    Dataset,
    Export,
    Preview,
    ReportChoices,
    ReportInfo,
    Run,
    RunDay,
    RunStatus,
    ScheduleInfo,
)

if TYPE_CHECKING:
    from closesync.datacenter.notify import Delivery, Notification
    from closesync.datacenter.service import DataCenter

__all__ = [
    "MAX_RUNS_LIMIT",
    "RUN_STATUSES",
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
    "Delivery",
    "Export",
    "NotFoundError",
    "Notification",
    "NotifyUnavailableError",
    "Preview",
    "ReportChoices",
    "ReportInfo",
    "Run",
    "RunDay",
    "RunStatus",
    "ScheduleInfo",
    "SecretKeyError",
    "ValidationError",
]


def __getattr__(name: str) -> object:
    if name == "DataCenter":
        from closesync.datacenter.service import DataCenter

        return DataCenter
    if name in ("Notification", "Delivery"):
        from closesync.datacenter import notify

        return getattr(notify, name)
    raise AttributeError(f"module 'closesync.datacenter' has no attribute {name!r}")
