"""closesync: sync Close CRM data into DuckDB, PostgreSQL, Parquet or CSV.

The Python API, in full::

    import closesync
    result = closesync.sync(["leads"], api_key=..., destination="duckdb:close.duckdb")  # -> SyncResult
    run = closesync.run_dataset("calls")                      # a saved Data Center dataset -> Run
    dc = closesync.DataCenter("./data")                       # accounts, datasets, history, scheduler
    except closesync.ClosesyncError as error: print(error)    # the root of every error closesync raises

Names are imported on first use, so ``import closesync`` (and ``closesync --help``) stays light.
"""

import importlib as _importlib
from typing import TYPE_CHECKING as _TYPE_CHECKING

from closesync.errors import ClosesyncError

__version__ = "0.1.0"

if _TYPE_CHECKING:
    from closesync.datacenter import DataCenter, Dataset, Run
    from closesync.datacenter.service import run_dataset
    from closesync.datacenter.spec import DatasetSpec
    from closesync.pipeline import ReportResult, SyncResult, sync
    from closesync.reports import REPORTS, ReportSpec

#: Where each lazily imported public name lives.
_LAZY = {
    "sync": "closesync.pipeline",
    "SyncResult": "closesync.pipeline",
    "ReportResult": "closesync.pipeline",
    "run_dataset": "closesync.datacenter.service",
    "DataCenter": "closesync.datacenter",
    "Dataset": "closesync.datacenter",
    "DatasetSpec": "closesync.datacenter.spec",
    "Run": "closesync.datacenter",
    "REPORTS": "closesync.reports",
    "ReportSpec": "closesync.reports",
}

__all__ = [
    "REPORTS",
    "ClosesyncError",
    "DataCenter",
    "Dataset",
    "DatasetSpec",
    "ReportResult",
    "ReportSpec",
    "Run",
    "SyncResult",
    "__version__",
    "run_dataset",
    "sync",
]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'closesync' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
