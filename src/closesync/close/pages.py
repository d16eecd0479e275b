"""What a Close answer must look like before anything is built from it: one object, and for lists a page
whose `data` is a list of objects and whose "more" signals are consistent.

A contradictory answer is a `ProtocolError` that stops the read, so it can never replace good data with
garbage, empty tables or an endless loop. Readers call `checked_page` on every page (paging.py, cursors.py);
the client calls `decode` and `expect_object` on every body.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from closesync.close.errors import ProtocolError

Page = dict[str, Any]


class UnreadableBody(ValueError):
    """The body is not JSON (cut short or damaged on the way): worth asking again."""


def decode(content: bytes) -> Any:
    """The JSON document in `content`; UnreadableBody if it is not JSON, ProtocolError if it is nested too
    deeply to be a Close answer (Python's decoder would otherwise raise RecursionError).

    orjson decodes pages about twice as fast as the standard library (decoding was a third of a full sync's
    CPU). What orjson refuses (NaN, a BOM, lone surrogates, depth over 1024, damage) goes to the standard
    library, so results and errors stay its own. One difference remains: an integer beyond 64 bits becomes
    a float, which Close (numbers are 64-bit there) never sends, and no destination column could hold.
    """
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        pass  # judged (and worded) by the standard library below
    try:
        return json.loads(content)
    except RecursionError:
        raise ProtocolError("Close returned an unexpected answer (JSON nested too deeply)") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise UnreadableBody(str(exc)) from None


def expect_object(body: Any, path: str, method: str | None = None) -> dict[str, Any]:
    """`body` if it is a JSON object (every Close endpoint answers one), else ProtocolError."""
    if not isinstance(body, dict):
        message = f"Close returned an unexpected answer ({_kind(body)} instead of an object)"
        raise ProtocolError(message, method=method, path=path)
    return body


def checked_page(body: Any, path: str, *, cursor_key: str | None = None, sent: str | None = None) -> Page:
    """`body` as a page of `path`, or ProtocolError naming what contradicts itself.

    Offset pages say "more" with `has_more`; cursor pages (`cursor_key`: "cursor" or "cursor_next") with a
    next cursor, which must differ from the one `sent`. Either is only believable with records on the page.
    """
    page = expect_object(body, path)
    data = page.get("data")
    if not isinstance(data, list):
        raise _contradiction(path, f"its `data` is {_kind(data)}, not a list")
    strangers = [r for r in data if not isinstance(r, dict)]
    if strangers:
        raise _contradiction(path, f"{len(strangers)} of its {len(data)} records are not objects")
    if cursor_key is None:
        if page.get("has_more") and not data:
            raise _contradiction(path, "`has_more` is true on an empty page")
        return page
    following = page.get(cursor_key)
    if following is not None and not isinstance(following, str):
        raise _contradiction(path, f"its `{cursor_key}` is {_kind(following)}")
    if following and not data:
        raise _contradiction(path, f"an empty page carries a `{cursor_key}` for more")
    if following and following == sent:
        raise _contradiction(path, f"the `{cursor_key}` does not advance")
    return page


def _contradiction(path: str, what: str) -> ProtocolError:
    return ProtocolError(f"Close returned an unexpected answer: a page where {what}", path=path)


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number" if isinstance(value, int | float) else type(value).__name__)
