"""`_fields` selectors on Close's data/search/: a request may name only so many of them.

Close answers `400` to a search naming too many `_fields` selectors (production connectors report ~80
working and ~140 failing; nothing documents the number or the wording). A search source asks for its base
fields plus one selector per custom field, so a big account's walk splits its selectors: the walk's own
page carries the first batch (always with `id` and the sort field), follow-up searches by id carry the
rest, merged into the page's records by id. Each refusal halves the batch, so a wrong guess costs requests,
never records. A selector Close refuses even alone (a field search cannot serve) costs its values only: one
probe without it proves the selector is to blame, it is dropped (`Selectors.dropped`, for the run's notes)
and the batch size goes back to the first guess: the refusals that isolated it may have blamed the count.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from closesync.close.errors import BadRequestError
from closesync.close.pages import checked_page
from closesync.close.records import Record

if TYPE_CHECKING:
    from closesync.close.client import CloseClient

SEARCH_PATH = "data/search/"
FIRST_GUESS = 80  # selectors per request before Close has refused any (works in production)
MAX_PAGE = 200  # data/search/'s largest `_limit`


class Selectors:
    """The selectors one search walk needs, and how many Close takes per request (learnt from refusals).

    `required` (id and the sort field) go in every request; `wanted` are split into batches.
    """

    def __init__(self, object_type: str, required: Sequence[str], wanted: Sequence[str],
                 others: dict[str, list[str]] | None = None, limit: int = FIRST_GUESS,
                 dropped: list[str] | None = None) -> None:
        self.object_type = object_type
        self.required = list(dict.fromkeys(required))
        self.wanted = [s for s in dict.fromkeys(wanted) if s not in self.required]
        self.others = dict(others or {})  # selectors for other object types (passed through, not split)
        self.limit = self.first_limit = max(limit, len(self.required) + 1)
        self.dropped = dropped if dropped is not None else []  # refused even alone, in the order met

    @property
    def batch(self) -> int:
        """Wanted selectors per request."""
        return max(self.limit - len(self.required), 1)

    def first(self) -> list[str]:
        """The selectors of the walk's own page."""
        return self.required + self.wanted[: self.batch]

    def fields(self, names: Sequence[str]) -> dict[str, list[str]]:
        return {**self.others, self.object_type: list(names)}

    def refused(self, sent: Sequence[str], probe: Callable[[], object]) -> bool:
        """Close refused a request naming `sent`: True to ask again, False when no selector can be blamed.

        Several wanted selectors: the batch halves. One: `probe()` sends the same request without it; if
        Close takes that, the selector is refused even alone and is dropped (its values stay empty); if
        not, the probe's own refusal propagates (the request fails for another reason)."""
        mine = [s for s in sent if s in self.wanted]
        if len(mine) > 1:
            self.limit = len(self.required) + len(mine) // 2
            return True
        if not mine:
            return False
        probe()
        self.wanted.remove(mine[0])
        self.dropped.append(mine[0])
        self.limit = self.first_limit
        return True

    def complete(self, client: CloseClient, records: list[Record]) -> list[Record]:
        """`records` (from a page that carried `first()`) with the other selectors' values merged by id."""
        ids = [str(r["id"]) for r in records if r.get("id") is not None]
        pending = self.wanted[self.batch:]
        if not pending or not ids:
            return records
        merged = {str(r["id"]): dict(r) for r in records if r.get("id") is not None}
        while pending:
            chunk = pending[: self.batch]
            try:
                for start in range(0, len(ids), MAX_PAGE):
                    for extra in _by_ids(client, self.object_type, ids[start:start + MAX_PAGE],
                                         self.fields(["id", *chunk])):
                        target = merged.get(str(extra.get("id")))
                        if target is not None:
                            _merge(target, extra)
            except BadRequestError:
                if not self.refused(chunk, lambda: _by_ids(client, self.object_type, ids[:1], self.fields(["id"]))):
                    raise
                pending = [s for s in pending if s in self.wanted]
                continue
            pending = pending[len(chunk):]
        return [merged.get(str(r.get("id")), r) for r in records]


def _merge(target: Record, extra: Record) -> None:
    """Add `extra`'s keys to `target`; objects both carry (a nested `custom`) are merged key by key."""
    for key, value in extra.items():
        if key not in target:
            target[key] = value
        elif isinstance(target[key], dict) and isinstance(value, dict):
            target[key] = {**value, **target[key]}


def id_condition(object_type: str, ids: Sequence[str], *, negate: bool = False) -> dict[str, Any]:
    """An Advanced Filtering node matching (or, negated, excluding) the `object_type` records `ids`."""
    node: dict[str, Any] = {
        "type": "field_condition",
        "field": {"type": "regular_field", "object_type": object_type, "field_name": "id"},
        "condition": {"type": "reference", "reference_type": object_type, "object_ids": list(ids)},
    }
    if negate:
        node["negate"] = True
    return node


def _by_ids(client: CloseClient, object_type: str, ids: list[str], fields: dict[str, list[str]]) -> list[Record]:
    """The `object_type` records `ids`, with `fields` (one page, unless Close hands out a cursor anyway)."""
    query = {"type": "and", "queries": [{"type": "object_type", "object_type": object_type},
                                        id_condition(object_type, ids)]}
    body: dict[str, Any] = {"query": query, "_limit": len(ids), "_fields": fields}
    found: list[Record] = []
    while True:
        page = checked_page(client.post(SEARCH_PATH, body), SEARCH_PATH, cursor_key="cursor",
                            sent=body.get("cursor"))
        data = page.get("data") or []
        found += data
        if not page.get("cursor") or not data or len(found) >= len(ids):
            return found
        body = {**body, "cursor": page["cursor"]}
