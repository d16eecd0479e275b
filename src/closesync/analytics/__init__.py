"""Analytics models: a dbt project over the tables closesync syncs (staging, then marts that answer questions).

The project ships as package data (`dbt_project/`); :func:`build_models` runs it with dbt's Python API and a
profile written from a closesync destination, so nobody writes profiles.yml. docs/analytics.md is the
contract of the marts (names and columns). Importing this package loads neither dbt nor a database driver.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from closesync.analytics.contract import MARTS, OPTIONAL_REPORTS, REQUIRED_REPORTS, models_schema
from closesync.analytics.errors import (
    DbtNotInstalledError,
    ModelsBuildError,
    ModelsError,
    ModelsInputError,
)

if TYPE_CHECKING:
    from closesync.analytics.runner import BuildResult, build_models, generate_docs, serve_docs

__all__ = [
    "MARTS",
    "OPTIONAL_REPORTS",
    "REQUIRED_REPORTS",
    "BuildResult",
    "DbtNotInstalledError",
    "ModelsBuildError",
    "ModelsError",
    "ModelsInputError",
    "build_models",
    "generate_docs",
    "models_schema",
    "serve_docs",
]

_LAZY = {"BuildResult", "build_models", "generate_docs", "serve_docs"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from closesync.analytics import runner

        return getattr(runner, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
