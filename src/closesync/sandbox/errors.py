"""Close's two error body formats, raised by handlers and turned into responses by the server."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An HTTP error with a Close-shaped JSON body."""

    def __init__(self, status: int, body: dict[str, Any] | None, headers: dict[str, str] | None = None) -> None:
        super().__init__(status, body)
        self.status, self.body, self.headers = status, body, headers or {}

    @classmethod
    def message(cls, status: int, text: str) -> ApiError:
        """Generic form: `{"error": "..."}`."""
        return cls(status, {"error": text})

    @classmethod
    def validation(cls, errors: list[str] | None = None, field_errors: dict[str, str] | None = None,
                   status: int = 400) -> ApiError:
        """Validation form: `{"errors": [...], "field-errors": {...}}`."""
        return cls(status, {"errors": errors or [], "field-errors": field_errors or {}})


def not_found(kind: str) -> ApiError:
    return ApiError.message(404, f"Empty query: {kind} matching query does not exist.")


def skip_too_large(skip_cap: int) -> ApiError:
    """Close's 400 for a `_skip` (or a search cursor's depth) past the resource's cap."""
    return ApiError.message(400, "The skip you set is larger than the maximum skip for this resource "
                                 f"(max_skip = {skip_cap}). Please refine your search query.")


UNAUTHORIZED = (
    "The server could not verify that you are authorized to access the URL requested. You either supplied the "
    "wrong credentials (e.g. a bad password), or your browser doesn't understand how to supply the credentials "
    "required."
)
