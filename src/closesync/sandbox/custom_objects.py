"""Custom objects: types (`GET custom_object_type/`), their custom fields (`GET custom_field/custom_object_type/`)
and instances on leads (`GET custom_object/?lead_id=…`, and every instance through POST data/search/).

Two types with different fields, so a client that gives each type its own table with its own typed
columns is tested; "Vehicle" has a field named like a built-in column ("Name") on purpose.
"""

from __future__ import annotations

from typing import Any

from closesync.sandbox.errors import ApiError
from closesync.sandbox.rand import Draw, make_id
from closesync.sandbox.timefmt import DAY_MS, iso

Record = dict[str, Any]

# (name, plural, fields: (name, type, multiple, choices), instances per lead)
TYPES: list[tuple[str, str, list[tuple[str, str, bool, list[str] | None]], float]] = [
    ("Vehicle", "Vehicles", [("VIN", "text", False, None), ("Model Year", "number", False, None),
                             ("Fuel", "choices", False, ["Petrol", "Diesel", "Electric"]),
                             ("Registered", "date", False, None), ("Name", "text", False, None)], 1.5),
    ("Support Contract", "Support Contracts", [("Tier", "choices", False, ["Basic", "Pro", "Enterprise"]),
                                               ("Seats", "number", False, None),
                                               ("Channels", "choices", True, ["Email", "Phone", "Chat"]),
                                               ("Account Manager", "user", False, None)], 0.5),
]


class CustomObjects:
    """The account's custom object types, their field definitions and instances."""

    def __init__(self, builders: Any, start_ms: int, end_ms: int) -> None:
        self.b, self.cat, self.lay, self.seed = builders, builders.cat, builders.lay, builders.seed
        org, owner = self.cat.org_id, self.cat.active_user_ids[0]
        self.types: list[Record] = []
        self.fields: list[Record] = []
        self.instances: list[Record] = []
        for t, (name, plural, defs, per_lead) in enumerate(TYPES):
            type_id = make_id("cotype_", self.seed, "cotype", t, 22)
            created = start_ms - (60 - t * 7) * DAY_MS
            fields = [self._field(type_id, t * 10 + k, spec, owner, created) for k, spec in enumerate(defs)]
            self.fields += fields
            self.types.append({
                "api_create_only": t == 1, "back_reference_fields": [], "created_by": owner,
                "date_created": iso(created), "date_updated": iso(created + DAY_MS), "description": f"{plural} we track",
                "editable_with_roles": [], "fields": fields, "id": type_id, "name": name, "name_plural": plural,
                "organization_id": org, "updated_by": owner,
            })
            count = max(3, int(self.lay.leads * per_lead))
            self.instances += [self._instance(type_id, name, fields, t, j, start_ms, end_ms) for j in range(count)]

    def _field(self, type_id: str, n: int, spec: tuple[str, str, bool, list[str] | None], owner: str,
               created: int) -> Record:
        name, ftype, multi, choices = spec
        return {
            "accepts_multiple_values": multi, "choices": choices, "created_by": owner,
            "custom_object_type_id": type_id, "date_created": iso(created + n * 60_000),
            "date_updated": iso(created + n * 60_000), "description": None, "editable_with_roles": [],
            "id": make_id("cf_", self.seed, "cocf", n), "is_shared": False, "name": name,
            "organization_id": self.cat.org_id, "required": n % 10 == 0, "type": ftype, "updated_by": owner,
        }

    def _instance(self, type_id: str, type_name: str, fields: list[Record], t: int, j: int, start_ms: int,
                  end_ms: int) -> Record:
        d = Draw(self.seed, f"custobj{t}", j)
        created = start_ms + d.below(end_ms - start_ms)
        updated = created if d.chance(0.5) else created + d.below(60 * DAY_MS)
        lead = d.below(self.lay.leads_before(created))
        user = self.cat.user_for(d)
        rec: Record = {
            "created_by": user, "custom_object_type_id": type_id, "date_created": iso(created),
            "date_updated": iso(updated), "id": make_id("custobj_", self.seed, f"custobj{t}", j),
            "lead_id": self.b.lead_id(lead), "name": f"{type_name} {j + 1}", "organization_id": self.cat.org_id,
            "updated_by": user,
        }
        for f in fields:
            if d.chance(0.8):
                rec["custom." + f["id"]] = self.b._custom_value(d, f, created)
        return rec


def check_list_params(params: dict[str, str]) -> None:
    """GET custom_object/ lists one lead's instances: Close requires `lead_id`."""
    if not params.get("lead_id"):
        raise ApiError.validation(field_errors={"lead_id": "This field is required."})


def collections(objects: CustomObjects) -> dict[str, list[Record]]:
    """The sandbox collections these objects are served from."""
    return {"custom_object_type": objects.types, "custom_field/custom_object_type": objects.fields,
            "custom_object": objects.instances}
