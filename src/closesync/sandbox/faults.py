"""Scripted and random faults, so clients can be tested against a misbehaving Close.

Faults that replace the answer (taken before the request is handled): "429" (rate-limited burst, locks the
caller out for `reset` seconds), "500", "502", "503", "504" (server errors with Close-like bodies; 504 has an
empty body as recorded), "400"/"401"/"403"/"404" (client errors with Close's bodies, e.g. a key that lost a
permission), "drop" (close the connection without answering).

Faults that alter the real answer (taken once it is known, and only by an answer they fit; otherwise they
wait for the next one): "slow" (sleep `delay` seconds first), "cut" (headers with the full Content-Length,
half the body, then close), "badjson" (a 2xx body truncated), "cuterror" (an error body truncated, e.g. the
`_skip`-cap 400), "huge" (a 2xx answer replaced by a valid `size_mb` MB page, generated while it is sent),
and contradictory answers a faithful client must refuse: "notalist" (`data` is a string, `has_more` true),
"nonobjects" (`data` holds `[1, "x", null]`), "emptymore" (an empty page that says there is more),
"stuckcursor" (a cursor page answers with the cursor it was sent), "notobject" (`[1,2,3]` instead of an
object), "nested" (`[` x 200,000).

`--faults SPEC`: comma-separated items, each `KIND:PROBABILITY` (e.g. `500:0.02,drop:0.01`) for random faults,
or `KIND*COUNT` for the next COUNT matching requests; either may end with `@PATH` to restrict it to API paths
starting with PATH (relative to /api/v1/, e.g. `429*3@activity/call/`). "huge" takes its size as `huge=MB`
(e.g. `huge=200*1@user/`).
"""

from __future__ import annotations

import io
import json
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from closesync.sandbox.app import Reply
    from closesync.sandbox.routes import Request

REPLACING = ("429", "500", "502", "503", "504", "400", "401", "403", "404", "drop")
CONTRADICTIONS = ("notalist", "nonobjects", "emptymore", "stuckcursor", "notobject", "nested")
ALTERING = ("slow", "cut", "badjson", "cuterror", "huge", *CONTRADICTIONS)
KINDS = (*REPLACING, *ALTERING)
_PAGE_KINDS = ("notalist", "nonobjects", "emptymore")
_CURSOR_KEYS = ("cursor", "cursor_next")
MB = 1024 * 1024


@dataclass
class Fault:
    kind: str
    path: str | None = None        # API path prefix, e.g. "activity/call/"; None = any path
    count: int | None = 1          # remaining uses; None = unlimited (random faults)
    probability: float = 1.0
    delay: float = 2.0             # "slow": seconds to wait
    reset: float = 1.0             # "429": seconds until the caller may retry
    size_mb: float = 100.0         # "huge": size of the answer

    def matches(self, path: str) -> bool:
        return self.path is None or path.startswith(self.path.strip("/"))


def make_fault(kind: str, path: str | None = None, count: int = 1, *, delay: float = 2.0, reset: float = 1.0,
               probability: float | None = None, size_mb: float = 100.0) -> Fault:
    """A fault for the next `count` requests under `path`, or for random ones when `probability` is given."""
    if probability is not None:
        return Fault(str(kind), path, count=None, probability=probability, delay=delay, reset=reset,
                     size_mb=size_mb)
    return Fault(str(kind), path, count=count, delay=delay, reset=reset, size_mb=size_mb)


def _check_kind(kind: str) -> str:
    kind = str(kind).lower()
    if kind not in KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(KINDS)}")
    return kind


def _parse_kind(text: str) -> tuple[str, float]:
    """`KIND` or `huge=MB`: the kind and its size (the default size when none is given)."""
    kind, _, size = text.partition("=")
    return _check_kind(kind), float(size) if size else Fault.size_mb


def parse_spec(spec: str) -> list[Fault]:
    """Parse a `--faults` string (see module docstring)."""
    faults = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        body, _, path = item.partition("@")
        if "*" in body:
            kind, _, count = body.partition("*")
            name, size = _parse_kind(kind)
            faults.append(Fault(name, path or None, count=int(count), size_mb=size))
        elif ":" in body:
            kind, _, prob = body.partition(":")
            p = float(prob)
            if not 0 <= p <= 1:
                raise ValueError(f"fault probability must be within 0..1, got {prob}")
            name, size = _parse_kind(kind)
            faults.append(Fault(name, path or None, count=None, probability=p, size_mb=size))
        else:
            name, size = _parse_kind(body)
            faults.append(Fault(name, path or None, count=1, size_mb=size))
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

    def take(self, path: str, fits: Callable[[str], bool] = lambda kind: True) -> Fault | None:
        """The fault to apply to this request, if any (consumes one use of a counted fault). Faults of a
        kind that does not `fit` this stage or answer are left for a later request."""
        with self._lock:
            for fault in self._faults:
                if not fault.matches(path) or not fits(fault.kind):
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


# -- faults that alter a real answer ------------------------------------------------------------------------


def _sent_cursor(request: Request | None) -> str | None:
    if request is None:
        return None
    payload = request.body if isinstance(request.body, dict) else {}
    return payload.get("cursor") or request.params.get("_cursor") or None


def fits(kind: str, status: int, answer: Any, request: Request | None) -> bool:
    """Whether an altering fault of `kind` applies to this answer (`answer`: the decoded 2xx body, if any)."""
    ok = 200 <= status < 300
    if kind in ("slow", "cut"):
        return True
    if kind == "cuterror":
        return status >= 400
    if kind in ("badjson", "huge", "notobject", "nested"):
        return ok
    page = ok and isinstance(answer, dict) and isinstance(answer.get("data"), list)
    if kind in _PAGE_KINDS:
        return page
    if kind == "stuckcursor":
        return page and _sent_cursor(request) is not None and any(answer.get(k) for k in _CURSOR_KEYS)
    return False


def alter(fault: Fault, reply: Reply, answer: Any, request: Request | None) -> None:
    """Apply an altering fault (one that `fits`) to `reply` in place."""
    kind = fault.kind
    if kind == "slow":
        reply.delay = fault.delay
    elif kind == "cut":
        reply.mode = "cut"
    elif kind in ("badjson", "cuterror"):
        reply.body = reply.body[: max(1, len(reply.body) // 2)] or b"{"
    elif kind == "huge":
        reply.body, reply.file = b"", HugeBody(int(fault.size_mb * MB))
    elif kind == "notobject":
        reply.body = b"[1,2,3]"
    elif kind == "nested":
        reply.body = b"[" * 200_000
    else:
        reply.body = json.dumps(_contradict(kind, dict(answer), _sent_cursor(request))).encode()


def _contradict(kind: str, page: dict[str, Any], sent: str | None) -> dict[str, Any]:
    cursor_key = next((k for k in _CURSOR_KEYS if k in page), None)
    if kind == "notalist":
        page["data"] = "notalist"
    elif kind == "nonobjects":
        page["data"] = [1, "x", None]
    elif kind == "emptymore":
        page["data"] = []
    elif kind == "stuckcursor" and cursor_key is not None:
        page[cursor_key] = sent
        return page
    if cursor_key is None:
        page["has_more"] = True if kind != "nonobjects" else page.get("has_more", False)
    elif kind != "nonobjects":
        page[cursor_key] = page.get(cursor_key) or "more"
    return page


class HugeBody(io.RawIOBase):
    """A valid JSON page of exactly `size` bytes (an empty `data` list and a long pad), produced as it is
    read so the sandbox never holds it."""

    _HEAD = b'{"data":[],"has_more":false,"pad":"'
    _TAIL = b'"}'

    def __init__(self, size: int) -> None:
        super().__init__()
        self._size = max(size, len(self._HEAD) + len(self._TAIL))
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, min(self._size, base + offset))
        return self._position

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        n = min(len(view), self._size - self._position)
        view[:n] = self._bytes(self._position, n)
        self._position += n
        return n

    def _bytes(self, start: int, n: int) -> bytes:
        end, head, tail = start + n, self._HEAD, self._TAIL
        tail_at = self._size - len(tail)
        pad = max(0, min(end, tail_at) - max(start, len(head)))
        return head[start:end] + b"x" * pad + tail[max(0, start - tail_at): max(0, end - tail_at)]
