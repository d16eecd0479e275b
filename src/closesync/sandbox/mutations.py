"""Data that changes while a client reads it: create, edit and delete records now or on a schedule.

    POST   /_sandbox/mutate      {"collection", "action": "create"|"edit"|"delete", "count"?, "ids"?, "fields"?}
                                 -> {"ids": [...]} (applied at once)
    POST   /_sandbox/mutations   the same plus "after": N and "group"?: apply it just before the API request
                                 that makes N requests (in `group`, e.g. "GET activity/call", if given)
    GET    /_sandbox/mutations   {"pending": [...], "applied": [{"collection", "action", "ids"}, ...]}
    DELETE /_sandbox/mutations   forget pending and applied mutations

Scheduled mutations fire on request counts, not on time, so a test that changes the data in the middle of
a read is deterministic. Requests are counted from the moment a mutation is scheduled while none was
pending. Edited and deleted records are picked evenly across the live records (oldest to
newest, a different pick for each mutation), so they fall on every page of a read; `ids` names them.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from closesync.sandbox.data import SandboxData

Record = dict[str, Any]
ACTIONS = ("create", "edit", "delete")
MUTABLE = ("lead", "contact", "opportunity", "task", "activity/", "custom_field/", "custom_object")


@dataclass(frozen=True)
class Mutation:
    """One change to apply: `count` records of `collection` (or exactly `ids`)."""

    collection: str
    action: str
    count: int = 1
    ids: tuple[str, ...] = ()
    fields: dict[str, Any] = field(default_factory=dict)
    after: int = 0  # scheduled: fire before the request that makes this many (in `group`, if set)
    group: str | None = None

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"action must be one of {', '.join(ACTIONS)}")
        name = self.collection.strip("/")
        if not any(name == m or (m.endswith("/") and name.startswith(m)) for m in MUTABLE):
            raise ValueError(f"{self.collection!r} cannot be mutated "
                             "(lead, contact, opportunity, task, activity/…, custom_field/…, custom_object)")
        object.__setattr__(self, "collection", name)
        if self.count < 0:
            raise ValueError("count must be >= 0")

    @classmethod
    def from_payload(cls, payload: Record) -> Mutation:
        return cls(str(payload["collection"]), str(payload["action"]), int(payload.get("count", 1)),
                   tuple(str(i) for i in payload.get("ids") or ()), dict(payload.get("fields") or {}),
                   int(payload.get("after", 0)), payload.get("group"))


def apply(data: SandboxData, mutation: Mutation, draw: int = 0) -> list[str]:
    """Apply one mutation to `data`; the ids it created, edited or deleted. `draw` varies which records
    an edit or delete picks (the n-th mutation of a plan picks other ones than the first)."""
    name = mutation.collection
    if mutation.action == "create":
        return [data.add(name, None, **mutation.fields)["id"] for _ in range(mutation.count)]
    ids = list(mutation.ids) or _spread(data, name, mutation.count, draw)
    for record_id in ids:
        if mutation.action == "edit":
            data.update(name, record_id, **mutation.fields)
        else:
            data.delete(name, record_id)
    return ids


def _spread(data: SandboxData, name: str, count: int, draw: int) -> list[str]:
    """`count` live ids spread over the collection (one in each of `count` equal slices, creation order)."""
    ids = [r["id"] for r in data.iter_records(name)]
    if count >= len(ids):
        return ids
    rng = random.Random(f"{name}:{draw}")
    slices = [(-(-len(ids) * k // count), -(-len(ids) * (k + 1) // count)) for k in range(count)]  # disjoint
    return [ids[low + int(rng.random() * (high - low))] for low, high in slices]


class MutationPlan:
    """Scheduled mutations and the log of applied ones; `on_request` runs before each API request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._applying = threading.Lock()  # one mutation at a time: concurrent requests may fire several
        self.pending: list[Mutation] = []
        self.applied: list[Record] = []
        self._seen: dict[str | None, int] = {}  # requests counted per group (None: all groups)

    def schedule(self, mutation: Mutation) -> None:
        with self._lock:
            self.pending.append(mutation)

    def clear(self) -> None:
        with self._lock:
            self.pending.clear()
            self.applied.clear()
            self._seen.clear()

    def run(self, data: SandboxData, mutation: Mutation) -> list[str]:
        with self._applying:
            ids = apply(data, mutation, len(self.applied))
        with self._lock:
            self.applied.append({"collection": mutation.collection, "action": mutation.action, "ids": ids})
        return ids

    def on_request(self, data: SandboxData, group: str) -> None:
        """Count the request and fire every scheduled mutation whose count it reaches."""
        with self._lock:
            if not self.pending:
                return
            for key in (None, group):
                self._seen[key] = self._seen.get(key, 0) + 1
            due = [m for m in self.pending if self._seen.get(m.group, 0) >= m.after]
            self.pending = [m for m in self.pending if m not in due]
            if not self.pending:
                self._seen.clear()  # the next schedule counts from its own start
        for mutation in due:
            self.run(data, mutation)

    def snapshot(self) -> Record:
        with self._lock:
            return {"pending": [asdict(m) for m in self.pending], "applied": [dict(a) for a in self.applied]}


def control(app: Any, method: str, path: str, payload: Record) -> tuple[int, Record] | None:
    """The mutation control routes (see the module docstring); None for any other path."""
    plan: MutationPlan = app.mutations
    if (method, path) == ("POST", "_sandbox/mutate"):
        return 200, {"ids": plan.run(app.data, Mutation.from_payload(payload))}
    if path != "_sandbox/mutations":
        return None
    if method == "POST":
        plan.schedule(Mutation.from_payload(payload))
    elif method == "DELETE":
        plan.clear()
    return 200, plan.snapshot()
