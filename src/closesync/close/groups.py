"""Endpoint groups: the unit Close rate-limits by (per key), shared by the client's pacer and the sandbox."""

from __future__ import annotations

import re

# A path segment that names one object (`lead_abc…`, `orga_…`) rather than a collection.
_OBJECT_ID = re.compile(r"^[a-z]+_(?=[A-Za-z0-9]*[A-Z0-9])[A-Za-z0-9]{8,}$")


def endpoint_group(method: str, path: str) -> str:
    """Return e.g. `GET activity/call` for `GET /api/v1/activity/call/?_skip=100`.

    Object ids are dropped so `GET /lead/lead_x/` shares the group of `GET /lead/`; at most three
    collection segments are kept, so each activity type and each status kind paces on its own.
    """
    path = path.split("?", 1)[0]
    segments = [s for s in path.strip("/").split("/") if s]
    if segments[:2] == ["api", "v1"]:
        segments = segments[2:]
    names = [s for s in segments if not _OBJECT_ID.match(s)]
    return f"{method.upper()} {'/'.join(names[:3])}"
