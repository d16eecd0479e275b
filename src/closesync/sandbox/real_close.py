"""Opt-in behaviours of big real Close accounts that the client must survive (all off by default).

Run-time knobs (GET/POST /_sandbox/config, or `Sandbox(...)`'s attributes of the same names):

* `search_cursor_depth` N: a data/search/ cursor pointing N or more records into its result set answers 400
  with a `cursor` field error (production connectors meet this around ten thousand records).
* `search_cursor_ttl` S: a data/search/ cursor older than S seconds answers the same way (expired).
* `search_selector_ceiling` N: a data/search/ request naming more than N `_fields` selectors answers 400
  (production: ~80 work, ~140 fail).
* `search_refused_selectors` [names]: data/search/ refuses (400) any request naming one of these `_fields`
  selectors, even alone, and the `custom` aggregate leaves their values out (a field search cannot serve).
* `nested_custom`: records carry their custom values as a nested `custom` object (the older form) instead
  of flat `custom.cf_…` keys, keyed by field id for every other field and by field name for the rest.

Data knobs that change what exists are `SandboxData`'s: `shared_custom_fields`, `generated_lead_fields`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields
from typing import Any

from closesync.sandbox.errors import ApiError

Record = dict[str, Any]
PREFIX = "custom."


@dataclass
class RealClose:
    search_cursor_depth: int | None = None
    search_cursor_ttl: float | None = None
    search_selector_ceiling: int | None = None
    search_refused_selectors: tuple[str, ...] = ()
    nested_custom: bool = False

    def config(self) -> Record:
        return {f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v for f in fields(self)}

    def configure(self, changes: Record) -> None:
        for name, convert in (("search_cursor_depth", int), ("search_cursor_ttl", float),
                              ("search_selector_ceiling", int)):
            if name in changes:
                setattr(self, name, None if changes[name] is None else convert(changes[name]))
        if "search_refused_selectors" in changes:
            self.search_refused_selectors = tuple(str(name) for name in changes["search_refused_selectors"] or ())
        if "nested_custom" in changes:
            self.nested_custom = bool(changes["nested_custom"])

    # -- data/search/ -----------------------------------------------------------------------------------------
    def check_selectors(self, fields_map: Any) -> None:
        if not isinstance(fields_map, dict):
            return
        named = [name for v in fields_map.values() if isinstance(v, list) for name in v]
        refused = sorted(set(named) & set(self.search_refused_selectors))
        if refused:
            raise ApiError.validation(field_errors={"_fields": f"Unknown field: {refused[0]}."})
        if self.search_selector_ceiling is not None and len(named) > self.search_selector_ceiling:
            raise ApiError.validation(field_errors={"_fields": "Too many fields requested."})

    def serves(self, key: str) -> bool:
        """Does the `custom` aggregate selector carry `key` (a `custom.cf_…` key)?"""
        return key not in self.search_refused_selectors

    def check_cursor(self, offset: int, issued: float | None) -> None:
        if self.search_cursor_depth is not None and offset >= self.search_cursor_depth:
            raise ApiError.validation(field_errors={"cursor": "This cursor can not be used to page any further."})
        if self.search_cursor_ttl is not None and issued is not None and time.time() - issued > self.search_cursor_ttl:
            raise ApiError.validation(field_errors={"cursor": "Cursor expired."})

    # -- every answer ---------------------------------------------------------------------------------------
    def nest(self, catalog: Any, answer: Any) -> Any:
        """`answer` with each record's custom values nested (knob on), else `answer` itself."""
        if not self.nested_custom or not isinstance(answer, dict):
            return answer
        names = {f["id"]: (k, f["name"]) for k, f in enumerate(_all_fields(catalog))}
        if isinstance(answer.get("data"), list):
            return {**answer, "data": [_nested(r, names) if isinstance(r, dict) else r for r in answer["data"]]}
        return _nested(answer, names)


def _all_fields(catalog: Any) -> list[Record]:
    regular = [f for kind in catalog.custom_fields.values() for f in kind]
    return regular + list(catalog.shared_custom_fields)


def _nested(record: Record, names: dict[str, tuple[int, str]]) -> Record:
    keys = [k for k in record if k.startswith(PREFIX)]
    if not keys:
        return record
    out = {k: v for k, v in record.items() if not k.startswith(PREFIX)}
    nested: Record = {}
    for key in keys:
        field_id = key[len(PREFIX):]
        position, name = names.get(field_id, (0, field_id))
        nested[field_id if position % 2 == 0 else name] = record[key]
    out["custom"] = nested
    return out
