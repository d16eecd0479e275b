"""Typed errors for Close API failures, built from either of Close's two error body formats.

Callers branch on the type (a revoked key is not worth retrying; a 404 may just mean "gone"), and the
run history shows `str(error)`, so messages are short, readable and never carry the API key.
"""

from __future__ import annotations

import re
from typing import Any

from closesync.errors import ClosesyncError

_MAX_SKIP = re.compile(r"max_skip\s*=\s*(\d+)")
_MAX_LIMIT = re.compile(r"max_limit\s*=\s*(\d+)")


class CloseError(ClosesyncError):
    """Base class: anything that went wrong talking to Close.

    `status` is the HTTP status (None for transport failures), `message` Close's own text,
    `errors` its non-field messages and `field_errors` its `{field: message}` validation map.
    """

    default_message = "Close API request failed"

    def __init__(
        self,
        message: str | None = None,
        *,
        status: int | None = None,
        method: str | None = None,
        path: str | None = None,
        errors: list[str] | None = None,
        field_errors: dict[str, Any] | None = None,
        body: Any = None,
    ) -> None:
        self.message = message or self.default_message
        self.status = status
        self.method = method
        self.path = path
        self.errors = list(errors or [])
        self.field_errors = dict(field_errors or {})
        self.body = body
        super().__init__(self._render())

    @property
    def detail(self) -> str:
        """The error without its "HTTP n" head, for displays that show `status` on their own."""
        where = f"{self.method} {self.path}" if self.method and self.path else (self.path or "")
        text = self.message
        extras = [e for e in self.errors if e and e != self.message]
        if extras:
            text += " (" + "; ".join(extras) + ")"
        if self.field_errors:
            text += " [" + "; ".join(f"{k}: {_flatten(v)}" for k, v in self.field_errors.items()) + "]"
        return f"{where}: {text}" if where else text

    def _render(self) -> str:
        return f"HTTP {self.status} {self.detail}" if self.status is not None else self.detail

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructor: pickle through a helper so errors survive process pools.
        return (_rebuild, (type(self), self.__dict__.copy()))


def _rebuild(cls: type[CloseError], state: dict[str, Any]) -> CloseError:
    error = cls.__new__(cls)
    error.__dict__.update(state)
    Exception.__init__(error, error._render())
    return error


def _flatten(value: Any) -> str:
    if isinstance(value, list):
        return "; ".join(_flatten(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_flatten(v)}" for k, v in value.items())
    return str(value)


class AuthenticationError(CloseError):
    """401: the API key is wrong, revoked or missing; retrying cannot help."""

    default_message = "The API key was not accepted (wrong, revoked or missing key)"


class PermissionDeniedError(CloseError):
    """403: the key is valid but its user may not read this resource."""

    default_message = "The API key's user is not allowed to access this resource"


class NotFoundError(CloseError):
    """404: the object or endpoint does not exist (or is not visible to this key)."""

    default_message = "Not found"


class BadRequestError(CloseError):
    """400: Close rejected the request; `message`, `errors` and `field_errors` say why."""

    default_message = "Bad request"

    @property
    def max_skip(self) -> int | None:
        """The `_skip` cap named in Close's "maximum skip" message, if this is that error."""
        match = _MAX_SKIP.search(self.message)
        return int(match.group(1)) if match else None

    @property
    def max_limit(self) -> int | None:
        """The `_limit` cap named in Close's "maximum limit" message, if this is that error."""
        match = _MAX_LIMIT.search(self.message)
        return int(match.group(1)) if match else None


class RateLimitError(CloseError):
    """429 beyond the client's waiting budget (too many 429s in a row, or a wait longer than allowed)."""

    default_message = "Rate limited by Close beyond the retry budget"

    def __init__(self, message: str | None = None, *, retry_after: float | None = None, **kw: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)


class ServerError(CloseError):
    """5xx (or 408) that persisted through every retry."""

    default_message = "Close answered with a server error"


class ConnectionFailedError(CloseError):
    """Transport failure (refused, reset, timed out, body cut short) that persisted through every retry."""

    default_message = "Could not reach Close"


class RequestTimeoutError(ConnectionFailedError):
    """No answer within the client's timeout, on every attempt: the message names the request and the timeout."""

    default_message = "Close did not answer in time"


class ProtocolError(CloseError):
    """Close answered something a faithful answer cannot be: unreadable JSON, a non-object where an object
    belongs, a page that contradicts itself (`data` not a list, records not objects, `has_more` on an empty
    page, a cursor that does not advance). The read stops, so it never replaces good data."""

    default_message = "Close returned an unexpected answer"


class ResponseTooLargeError(ProtocolError):
    """One answer was larger than the client's `max_response_mb`; it is not read further."""

    default_message = "Close's answer was larger than allowed"


class InvalidIdError(CloseError, ValueError):
    """An id (or a path built from one) that is not a Close id, refused before any request is sent.
    A ValueError too: it is bad input, like any other bad parameter."""

    default_message = "Not a Close id"


_BY_STATUS: dict[int, type[CloseError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    429: RateLimitError,
}


def parse_error_body(body: Any) -> tuple[str | None, list[str], dict[str, Any]]:
    """Read Close's generic `{"error": msg}` and validation `{"errors": [...], "field-errors": {...}}` bodies.

    Returns (message, errors, field_errors); the message falls back to the first non-field error.
    """
    if not isinstance(body, dict):
        text = body.strip() if isinstance(body, str) else ""
        return (text[:500] or None), [], {}
    message: str | None = None
    error = body.get("error")
    if isinstance(error, str):
        message = error
    elif isinstance(error, dict) and isinstance(error.get("message"), str):
        message = error["message"]
    if message is None and isinstance(body.get("message"), str):
        message = body["message"]
    raw_errors = body.get("errors") or []
    errors = [str(e) for e in raw_errors] if isinstance(raw_errors, list) else [str(raw_errors)]
    field_errors = body.get("field-errors") or body.get("field_errors") or {}
    if not isinstance(field_errors, dict):
        field_errors = {"_": field_errors}
    if message is None and errors:
        message = errors[0]
    if message is None and field_errors:
        message = "Invalid fields"
    return message, errors, dict(field_errors)


def error_for_status(
    status: int, body: Any, *, method: str | None = None, path: str | None = None
) -> CloseError:
    """Build the typed error for a non-2xx answer (5xx -> ServerError, unknown 4xx -> CloseError)."""
    message, errors, field_errors = parse_error_body(body)
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else CloseError)
    if message is None:
        message = cls.default_message if cls is not CloseError else f"Unexpected HTTP {status} from Close"
    return cls(
        message,
        status=status,
        method=method,
        path=path,
        errors=errors,
        field_errors=field_errors,
        body=body,
    )
