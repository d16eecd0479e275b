"""closesync: sync Close CRM data into DuckDB, PostgreSQL, Parquet or CSV.

Python API: `closesync.sync(...)` (the pipeline, closesync.pipeline.sync) and `closesync.run_dataset(name_or_id)`
(a saved Data Center dataset); both return result objects.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def run_dataset(name_or_id: str | int, *, home: str | None = None, full_refresh: bool = False) -> Any:
    """Run a saved dataset now (home: CLOSESYNC_HOME or ./data); returns its Run (see closesync.datacenter)."""
    from closesync.datacenter.service import run_dataset as _run_dataset

    return _run_dataset(name_or_id, home=home, full_refresh=full_refresh)


def __getattr__(name: str) -> Any:
    # `closesync.sync` is imported on first use so that `import closesync` stays light.
    if name == "sync":
        from closesync.pipeline import sync

        return sync
    raise AttributeError(f"module 'closesync' has no attribute {name!r}")
