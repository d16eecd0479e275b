"""Ground truth: what a collection holds right now, without paging through the API.

    GET /_sandbox/truth/{collection}          {"collection", "records": [{"id", "date_updated"}, ...]} (oldest first;
                                              custom objects add "custom_object_type_id")
    GET /_sandbox/truth-custom/{collection}   the same, each record with "custom": {field id: value}

Tests compare a synced table with this listing, so a reader's own paging cannot hide its mistakes.
"""

from __future__ import annotations

from typing import Any

from closesync.sandbox.data import SandboxData

Record = dict[str, Any]
PREFIX = "_sandbox/truth/"
CUSTOM_PREFIX = "_sandbox/truth-custom/"
CUSTOM = "custom."
TYPE_KEY = "custom_object_type_id"


def truth(data: SandboxData, collection: str, custom: bool = False) -> list[Record]:
    """The id and date_updated of every live record of `collection`, oldest first; with `custom`, also
    its custom field values by field id."""
    if not custom:
        return [_identity(r) for r in data.iter_records(collection)]
    return [{**_identity(r), "custom": {k[len(CUSTOM):]: v for k, v in r.items() if k.startswith(CUSTOM)}}
            for r in data.iter_records(collection)]


def _identity(record: Record) -> Record:
    """Id and date_updated; a custom object also says its type (each type is a table of its own)."""
    # a record without an id (an unsubscribed email) is known by its address
    out = {"id": record.get("id", record.get("email")), "date_updated": record.get("date_updated")}
    if TYPE_KEY in record:
        out[TYPE_KEY] = record[TYPE_KEY]
    return out


def control(app: Any, method: str, path: str, payload: Record) -> tuple[int, Record] | None:
    """GET /_sandbox/truth/{collection} and /_sandbox/truth-custom/{collection}; None for any other path."""
    custom = path.startswith(CUSTOM_PREFIX)
    if method != "GET" or not (custom or path.startswith(PREFIX)):
        return None
    collection = path[len(CUSTOM_PREFIX if custom else PREFIX):]
    try:
        return 200, {"collection": collection, "records": truth(app.data, collection, custom)}
    except KeyError as exc:
        return 404, {"error": str(exc.args[0])}
