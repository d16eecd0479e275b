"""closesync's reports in dlt (``pip install 'closesync[dlt]'``): any dlt destination, loaded by closesync.

- `close_source(api_key=…, reports=[…], organization_id=…, user_id=…)`: a dlt source whose resources are
  closesync's reports (`source.py`), for your own dlt pipelines.
- ``closesync sync --destination dlt:DESTINATION[?dataset=…]`` and datasets with such a destination: the
  pipeline loads through `DltSink` (`sink.py`).

Both stage closesync's own Arrow batches (`staging.py`) and give dlt the same hints (`hints.py`). Importing
this package loads neither dlt nor pyarrow; `close_source` is imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from closesync.integrations.dlt.source import close_source

__all__ = ["close_source"]


def __getattr__(name: str) -> object:
    if name != "close_source":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return importlib.import_module("closesync.integrations.dlt.source").close_source
