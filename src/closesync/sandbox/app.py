"""The request pipeline: auth, rate limits, faults, latency, routing and stats for one API call.

Transport-independent: it takes a parsed request and returns a `Reply`; `transport.py` does the sockets,
including the faults that need them (a body cut short, a dropped connection).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import IO, Any
from urllib.parse import parse_qsl, urlsplit

from closesync.sandbox import control
from closesync.sandbox import faults as fault_kinds
from closesync.sandbox.data import SandboxData
from closesync.sandbox.errors import UNAUTHORIZED, ApiError
from closesync.sandbox.exports import ExportFiles
from closesync.sandbox.faults import Fault, FaultPlan
from closesync.sandbox.mutations import MutationPlan
from closesync.sandbox.ratelimit import Decision, RateLimiter
from closesync.sandbox.real_close import RealClose
from closesync.sandbox.routes import Request, dispatch, endpoint_group
from closesync.sandbox.stats import Stats

log = logging.getLogger(__name__)
API_PREFIX = "/api/v1/"
SERVER_ERRORS = {
    500: {"error": "Internal Server Error"},
    502: {"error": "Bad Gateway"},
    503: {"error": "Service temporarily unavailable. Please try again shortly."},
}

CLIENT_ERRORS: dict[str, dict[str, Any]] = {
    "400": {"errors": ["The sandbox was told to reject this request."], "field-errors": {}},
    "401": {"error": UNAUTHORIZED},
    "403": {"error": "You don't have permission to do this."},
    "404": {"error": "Empty query: Object matching query does not exist."},
}


@dataclass
class Reply:
    """What to send back. `mode`: "normal", "cut" (half the body then close) or "drop" (close, no reply)."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    mode: str = "normal"
    delay: float = 0.0
    on_sent: Callable[[], None] | None = None  # run by the transport once the reply is written
    file: IO[bytes] | None = None              # streamed instead of `body` (already encoded)


def json_reply(status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
    # ASCII-escaped output is the fastest path of the stdlib encoder; clients decode it identically.
    body = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()
    return Reply(status, body, {"Content-Type": "application/json", **(headers or {})})


class SandboxApp:
    """Holds the settings a running sandbox may change at run time (skip cap, rate limit, latency, faults)."""

    def __init__(self, data: SandboxData, api_keys: list[str], *, skip_cap: int, latency_ms: float,
                 limiter: RateLimiter, faults: FaultPlan) -> None:
        self.data, self.api_keys = data, list(api_keys)
        self.skip_cap, self.latency_ms = skip_cap, latency_ms
        self.limiter, self.faults, self.stats = limiter, faults, Stats()
        self.gzip = True  # compress responses for clients that accept it (real Close does)
        self.event_filters = "documented"  # GET event/ refuses filter combinations Close does not list
        self.undocumented_keys = True  # serve invoices, signatures, SIP numbers (routes.UNDOCUMENTED_KEYS)
        self.exports = ExportFiles()
        self.mutations = MutationPlan()  # scheduled data changes (mutations.py), fired by request counts
        self.real_close = RealClose()  # opt-in behaviours of big real accounts (real_close.py)

    def _key(self, authorization: str | None) -> str | None:
        if not authorization or not authorization.lower().startswith("basic "):
            return None
        try:
            user = base64.b64decode(authorization[6:].strip(), validate=True).decode().split(":", 1)[0]
        except (binascii.Error, UnicodeDecodeError):
            return None
        return user if user in self.api_keys else None

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        arrived = time.monotonic()
        parts = urlsplit(target)
        path = parts.path
        if path.startswith("/_sandbox/export/") and method == "GET":
            return self._download(path)
        if path.startswith("/_sandbox/"):
            return json_reply(*control.handle(self, method, path, body))
        if not path.startswith(API_PREFIX):
            return json_reply(404, {"error": "The requested URL was not found on the server."})
        rel = path[len(API_PREFIX):].strip("/")
        group = endpoint_group(method, rel)
        self.stats.request(group)
        self.mutations.on_request(self.data, group)
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        key = self._key(headers.get("authorization"))
        if key is None:
            self.stats.unauthenticated()
            return self._finish(json_reply(401, {"error": UNAUTHORIZED},
                                           {"WWW-Authenticate": 'Basic realm="Close API"'}))
        decision = self.limiter.check(key, group, arrived)
        if not decision.allowed:
            self.stats.throttle(group, decision.early_retry)
            reply = self._throttled(decision, group)
            reply.on_sent = partial(self.limiter.told, key, group)
            return self._finish(reply)
        fault = self.faults.take(rel, fault_kinds.REPLACING.__contains__)
        if fault is not None:
            self.stats.fault(fault.kind)
            reply = self._fault(fault, key, group)
            if reply.status == 429:
                reply.on_sent = partial(self.limiter.told, key, group)
            elif decision.limit and reply.mode == "normal":
                reply.headers["RateLimit"] = decision.header()
            return self._finish(reply)
        answer: Any = None
        req: Request | None = None
        try:
            params = dict(parse_qsl(parts.query, keep_blank_values=True))
            payload = self._json_body(body) if method in ("POST", "PUT") else None
            if method == "POST" and headers.get("x-http-method-override", "").upper() == "GET":
                # Close lets a POST carry long GET filters as {"_params": {...}}.
                method, extra = "GET", (payload or {}).get("_params") if isinstance(payload, dict) else None
                params.update({k: str(v) for k, v in (extra or {}).items()})
                payload = None
            req = Request(method, rel, params, payload, self.data, self.skip_cap,
                          {"origin": f"http://{headers.get('host', 'localhost')}", "real_close": self.real_close,
                           "event_filters": self.event_filters, "undocumented_keys": self.undocumented_keys})
            answer = self.real_close.nest(self.data.catalog, dispatch(req))
            reply = json_reply(200, answer)
        except ApiError as exc:
            reply = json_reply(exc.status, exc.body, exc.headers)
        except Exception:  # a sandbox bug must look like a Close 500, not kill the connection
            log.exception("sandbox handler failed for %s %s", method, rel)
            reply = json_reply(500, SERVER_ERRORS[500])
        late = self.faults.take(rel, lambda kind: kind in fault_kinds.ALTERING
                                and fault_kinds.fits(kind, reply.status, answer, req))
        if late is not None:
            self.stats.fault(late.kind)
            fault_kinds.alter(late, reply, answer, req)
        if decision.limit:
            reply.headers["RateLimit"] = decision.header()
        return self._finish(reply)

    def _download(self, path: str) -> Reply:
        """An export file, like the short-lived S3 URL Close hands out (no auth, gzip-encoded)."""
        export_id = path.strip("/").split("/")[2]
        job = self.data.get("export", export_id)
        if job is None or not job.get("download_url"):
            return json_reply(404, {"error": "No such export file."})
        f = self.exports.open(self.data, job)
        content_type = "text/csv" if job.get("format") == "csv" else "application/json"
        return Reply(200, headers={"Content-Type": content_type, "Content-Encoding": "gzip"}, file=f)

    @staticmethod
    def _json_body(body: bytes) -> Any:
        if not body:
            return None
        try:
            return json.loads(body)
        except ValueError:
            raise ApiError.message(400, "Could not parse the request body as JSON.") from None

    def _finish(self, reply: Reply) -> Reply:
        self.stats.status(reply.status)
        return reply

    def _throttled(self, decision: Decision, group: str) -> Reply:
        reset = max(decision.reset_ms_ceil, 0.001)
        limit = decision.limit or 1
        body = {"error": {"message": "API call count exceeded for this period", "rate_reset": round(reset, 3),
                          "rate_limit": limit, "rate_window": self.limiter.rate[1] if self.limiter.rate else reset,
                          "rate_endpoint_group": group, "rate_limit_type": "key"}}
        return json_reply(429, body, {
            "RateLimit": f"limit={limit}, remaining=0, reset={reset:.3f}",
            "Retry-After": str(max(1, int(reset + 0.999))),
        })

    def _fault(self, fault: Fault, key: str, group: str) -> Reply:
        """The reply that replaces the real answer (faults.REPLACING kinds)."""
        if fault.kind == "429":
            self.limiter.lock_out(key, group, fault.reset)
            self.stats.throttle(group, False)
            return self._throttled(Decision(False, self.limiter.rate[0] if self.limiter.rate else 1, 0,
                                            fault.reset), group)
        if fault.kind in ("500", "502", "503"):
            status = int(fault.kind)
            return json_reply(status, SERVER_ERRORS[status])
        if fault.kind in CLIENT_ERRORS:
            return json_reply(int(fault.kind), CLIENT_ERRORS[fault.kind])
        if fault.kind == "504":
            return Reply(504, b"", {"Content-Type": "text/html"})
        return Reply(0, mode="drop")
