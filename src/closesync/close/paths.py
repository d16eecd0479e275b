"""What may go into a request path: Close ids and the API's path words, nothing that could climb out.

An id is a lowercase prefix, an underscore and letters and digits (`orga_RbRE…`, `user_…`, `lead_…`). Every
path the client sends is checked segment by segment, so an id from anywhere (a flag, a stored dataset, a
record) can never turn `organization/{id}/` into `me/` (`../me`), a query or another host.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from closesync.close.errors import InvalidIdError

_ID = re.compile(r"[a-z]+_[A-Za-z0-9]+")
_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")


def check_id(value: str, prefix: str) -> str:
    """`value` if it is a Close id with `prefix` (e.g. "orga"), else InvalidIdError naming what was given."""
    if not isinstance(value, str) or not _ID.fullmatch(value) or not value.startswith(f"{prefix}_"):
        raise InvalidIdError(f"{value!r} is not a Close id like {prefix}_… (letters and digits after {prefix}_)")
    return value


def check_path(path: str) -> str:
    """`path` if it is a relative API path made of plain segments (`organization/orga_x/`), else
    InvalidIdError: no scheme or host, query, `.`/`..`, percent escapes or other characters."""
    parts = urlsplit(path)
    segments = parts.path.strip("/").split("/")
    if parts.scheme or parts.netloc or parts.query or parts.fragment or "?" in path or not all(
        _SEGMENT.fullmatch(s) for s in segments
    ):
        raise InvalidIdError(f"Refusing to request {path!r}: an id in it is not a Close id")
    return path
