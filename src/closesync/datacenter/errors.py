"""Errors of the Data Center: each message is written to be shown to a user as is (never with a key)."""

from __future__ import annotations

from closesync.errors import ClosesyncError


class DataCenterError(ClosesyncError):
    """Base class: catch this in a front end and show str(error)."""


class NotFoundError(DataCenterError):
    """No account, dataset or run with that name or id."""


class _FieldErrors(DataCenterError):
    """An error about one or more form fields: `errors` maps each field to its message, so a form shows
    them all at once under their fields. `field` and str() are the first one's (a single-field error is
    raised as ``Error(message, field=...)``; several as ``Error(errors={field: message, ...})``)."""

    def __init__(self, message: str = "", field: str | None = None, *, errors: dict[str, str] | None = None):
        self.errors: dict[str, str] = dict(errors or ({field: message} if field else {}))
        if self.errors and not message:
            field, message = next(iter(self.errors.items()))
        super().__init__(message)
        self.field = field


class ValidationError(_FieldErrors):
    """Bad input; `field` names the form field so a web form can put the message next to it."""


class ConflictError(_FieldErrors):
    """The request clashes with stored data (a name in use, an account still used by datasets); `field`
    says which input clashes when there is one (the dataset's name or table)."""


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
