"""Errors of the Data Center: each message is written to be shown to a user as is (never with a key)."""

from __future__ import annotations

from closesync.errors import ClosesyncError


class DataCenterError(ClosesyncError):
    """Base class: catch this in a front end and show str(error)."""


class NotFoundError(DataCenterError):
    """No account, dataset or run with that name or id."""


class ValidationError(DataCenterError):
    """Bad input; `field` names the form field so a web form can put the message next to it."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ConflictError(DataCenterError):
    """The request clashes with stored data (a name in use, an account still used by datasets)."""


class AccountKeyError(DataCenterError):
    """Close rejected the API key, or the key cannot be read (missing variable, undecryptable)."""


class DatasetBusyError(DataCenterError):
    """The dataset is running already (in this or another process)."""


class SecretKeyError(DataCenterError):
    """The master key that encrypts API keys is missing, malformed or not the one used to encrypt."""


class NotifyUnavailableError(DataCenterError):
    """Notification channels need the optional `apprise` library, which is not installed."""


class OrganizationChangeError(ConflictError):
    """A replacement API key belongs to other organizations than the account's key; confirm to use it."""
