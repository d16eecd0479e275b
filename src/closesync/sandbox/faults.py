"""Scripted and random transport faults, so clients can be tested against a misbehaving Close.

Kinds: "429" (rate-limited burst, locks the caller out for `reset` seconds), "500", "502", "503", "504"
(server errors with Close-like bodies; 504 has an empty body as recorded), "slow" (sleep `delay` seconds,
then answer normally), "400"/"401"/"403"/"404" (client errors with Close's bodies, e.g. a key that lost a
permission), "cut" (send headers with the full Content-Length, half the body, then close),
"drop" (close the connection without answering), "badjson" (200 with a truncated JSON body).

`--faults SPEC`: comma-separated items, each `KIND:PROBABILITY` (e.g. `500:0.02,drop:0.01`) for random faults,
or `KIND*COUNT` for the next COUNT matching requests; either may end with `@PATH` to restrict it to API paths
starting with PATH (relative to /api/v1/, e.g. `429*3@activity/call/`).
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

KINDS = ("429", "500", "502", "503", "504", "slow", "cut", "drop", "badjson", "400", "401", "403", "404")


@dataclass
class Fault:
    kind: str
    path: str | None = None        # API path prefix, e.g. "activity/call/"; None = any path
    count: int | None = 1          # remaining uses; None = unlimited (random faults)
    probability: float = 1.0
    delay: float = 2.0             # "slow": seconds to wait
    reset: float = 1.0             # "429": seconds until the caller may retry

    def matches(self, path: str) -> bool:
        return self.path is None or path.startswith(self.path.strip("/"))


def make_fault(kind: str, path: str | None = None, count: int = 1, *, delay: float = 2.0, reset: float = 1.0,
               probability: float | None = None) -> Fault:
    """A fault for the next `count` requests under `path`, or for random ones when `probability` is given."""
    if probability is not None:
        return Fault(str(kind), path, count=None, probability=probability, delay=delay, reset=reset)
    return Fault(str(kind), path, count=count, delay=delay, reset=reset)


def _check_kind(kind: str) -> str:
    kind = str(kind).lower()
    if kind not in KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(KINDS)}")
    return kind


def parse_spec(spec: str) -> list[Fault]:
    """Parse a `--faults` string (see module docstring)."""
    faults = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        body, _, path = item.partition("@")
        if "*" in body:
            kind, _, count = body.partition("*")
            faults.append(Fault(_check_kind(kind), path or None, count=int(count)))
        elif ":" in body:
            kind, _, prob = body.partition(":")
            p = float(prob)
            if not 0 <= p <= 1:
                raise ValueError(f"fault probability must be within 0..1, got {prob}")
            faults.append(Fault(_check_kind(kind), path or None, count=None, probability=p))
        else:
            faults.append(Fault(_check_kind(body), path or None, count=1))
    return faults


class FaultPlan:
    """The faults still to serve; scripted ones first (in order added), then random ones."""

    def __init__(self, faults: list[Fault] | None = None, seed: int = 1) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = list(faults or [])
        self._random = random.Random(seed)

    def add(self, fault: Fault) -> None:
        _check_kind(fault.kind)
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, path: str) -> Fault | None:
        """The fault to apply to this request, if any (consumes one use of a counted fault)."""
        with self._lock:
            for fault in self._faults:
                if not fault.matches(path):
                    continue
                if fault.count is None:
                    if self._random.random() < fault.probability:
                        return fault
                    continue
                fault.count -= 1
                if fault.count <= 0:
                    self._faults.remove(fault)
                return fault
        return None
