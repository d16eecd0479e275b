"""Custom objects: one table per custom object type, discovered per account when a sync starts.

The catalog holds one template report, "Custom Objects" (`ReportSpec.per_type`). A sync turns it into one
report per type from `GET custom_object_type/` ("Custom Objects Vehicle" -> table `custom_objects_vehicle`),
each keeping only its type's records (`row_filter`) and its type's custom fields as typed columns. All of
them share one source, so a single `/data/search/` walk over every custom object feeds every type's table,
and they publish together. Close lists instances per lead only (`GET custom_object/` needs `lead_id`), which
is why the walk is a search, as Close's reference advises.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from closesync.reports.spec import ReportSpec

if TYPE_CHECKING:
    from closesync.close.client import CloseClient

TYPES_PATH = "custom_object_type/"


def custom_object_types(client: CloseClient) -> list[dict]:
    """The account's custom object types, oldest first (a new type never renames an older one's table)."""
    types = [t for t in client.paginate(TYPES_PATH, page_size=None) if isinstance(t, dict) and t.get("id")]
    return sorted(types, key=lambda t: (str(t.get("date_created") or ""), str(t["id"])))


def per_type_reports(template: ReportSpec, types: Sequence[dict]) -> list[ReportSpec]:
    """One report per custom object type: its name after the type's, a slug no other type has."""
    out: list[ReportSpec] = []
    taken = {template.slug}  # a name without letters or digits would otherwise take the template's slug
    for object_type in types:
        type_id = str(object_type["id"])
        label = str(object_type.get("name") or type_id)
        spec = replace(
            template,
            name=f"{template.name} {label}",
            description=f"{template.description.split('.')[0]} of type {label!r} (custom object type {type_id}).",
            row_filter=(("custom_object_type_id", type_id),),
            per_type=False,
        )
        if spec.slug in taken:
            spec = replace(spec, name=f"{spec.name} {type_id}")
        taken.add(spec.slug)
        out.append(spec)
    return out


def expand_per_type(client: CloseClient, specs: Sequence[ReportSpec]) -> list[ReportSpec]:
    """`specs` with each per-type template replaced by its account's type reports (in place, in order)."""
    out: list[ReportSpec] = []
    types: list[dict] | None = None
    for spec in specs:
        if not spec.per_type:
            out.append(spec)
            continue
        if types is None:
            types = custom_object_types(client)
        out += per_type_reports(spec, types)
    return out
