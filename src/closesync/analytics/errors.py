"""Errors of the analytics models; importing them loads neither dbt nor a database driver."""

from __future__ import annotations

from closesync.errors import ClosesyncError

INSTALL_HINT = "pip install 'closesync[models]'"


class ModelsError(ClosesyncError):
    """The analytics models could not be built or served. Messages are safe to show (no password)."""


class DbtNotInstalledError(ModelsError):
    """dbt-core or the destination's adapter is not installed."""


class ModelsInputError(ModelsError, ValueError):
    """The destination cannot hold the models, or lacks the tables they read: the user can fix it."""


class ModelsBuildError(ModelsError):
    """`dbt build` ran and a model or a test failed."""
