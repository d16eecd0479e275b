"""Ground truth: what a collection holds right now, without paging through the API.

    GET /_sandbox/truth/{collection}   {"collection", "records": [{"id", "date_updated"}, ...]} (oldest first)

Tests compare a synced table with this listing, so a reader's own paging cannot hide its mistakes.
"""

from __future__ import annotations

from typing import Any

from closesync.sandbox.data import SandboxData

Record = dict[str, Any]
PREFIX = "_sandbox/truth/"


def truth(data: SandboxData, collection: str) -> list[Record]:
    """The id and date_updated of every live record of `collection`, oldest first."""
    return [{"id": r.get("id"), "date_updated": r.get("date_updated")} for r in data.iter_records(collection)]


def control(app: Any, method: str, path: str, payload: Record) -> tuple[int, Record] | None:
    """GET /_sandbox/truth/{collection}; None for any other path."""
    if method != "GET" or not path.startswith(PREFIX):
        return None
    collection = path[len(PREFIX):]
    try:
        return 200, {"collection": collection, "records": truth(app.data, collection)}
    except KeyError as exc:
        return 404, {"error": str(exc.args[0])}
