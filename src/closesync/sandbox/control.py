"""The `/_sandbox/` control endpoints (no auth): observe and steer a sandbox running in another process.

    GET    /_sandbox/stats           counters (same as Sandbox.stats())
    POST   /_sandbox/stats/reset     zero the counters
    GET    /_sandbox/config          {"skip_cap", "rate_limit": [N, SECONDS] | null, "latency_ms", "gzip",
                                      "event_filters": "documented" | "any" | "none", "undocumented_keys": bool,
                                      real_close.py's knobs: "search_cursor_depth", "search_cursor_ttl",
                                      "search_selector_ceiling", "search_refused_selectors",
                                      "nested_custom"}
    POST   /_sandbox/config          change any of those keys, or {"api_key": KEY} to accept only KEY from now
                                     on (a rotated key; never shown by GET)
    POST   /_sandbox/faults          {"kind", "path"?, "count"?, "delay"?, "reset"?, "probability"?,
                                      "size_mb"?}
    DELETE /_sandbox/faults          forget every pending fault

Data changes during a read and the ground truth have their own modules: `mutations.py` (/_sandbox/mutate,
/_sandbox/mutations) and `truth.py` (/_sandbox/truth/{collection}).
"""

from __future__ import annotations

import json
from typing import Any

from closesync.sandbox import mutations, truth
from closesync.sandbox.events import EVENT_FILTER_MODES
from closesync.sandbox.faults import make_fault

Record = dict[str, Any]


def handle(app: Any, method: str, path: str, body: bytes) -> tuple[int, Record]:
    """(status, JSON payload) for a control request; `app` is the SandboxApp."""
    try:
        payload = json.loads(body) if body else {}
    except ValueError:
        return 400, {"error": "Could not parse the request body as JSON."}
    if not isinstance(payload, dict):
        return 400, {"error": "Expected a JSON object."}
    route = (method, path.strip("/"))
    try:
        for knob in (mutations.control, truth.control):
            reply = knob(app, *route, payload)
            if reply is not None:
                return reply
        if route == ("GET", "_sandbox/stats"):
            return 200, app.stats.snapshot()
        if route == ("POST", "_sandbox/stats/reset"):
            app.stats.reset()
            return 200, app.stats.snapshot()
        if route == ("GET", "_sandbox/config"):
            return 200, config(app)
        if route == ("POST", "_sandbox/config"):
            return 200, configure(app, payload)
        if route == ("POST", "_sandbox/faults"):
            probability = payload.get("probability")
            app.faults.add(make_fault(str(payload["kind"]), payload.get("path"), int(payload.get("count", 1)),
                                      delay=float(payload.get("delay", 2.0)), reset=float(payload.get("reset", 1.0)),
                                      probability=None if probability is None else float(probability),
                                      size_mb=float(payload.get("size_mb", 100.0))))
            return 200, {"pending": len(app.faults.pending())}
        if route == ("DELETE", "_sandbox/faults"):
            app.faults.clear()
            return 200, {"pending": 0}
    except (KeyError, ValueError, TypeError, IndexError) as exc:
        return 400, {"error": f"Bad control request: {exc}"}
    return 404, {"error": "Unknown sandbox control endpoint."}


def config(app: Any) -> Record:
    """The run-time knobs of `app` (the body of GET /_sandbox/config)."""
    rate = app.limiter.rate
    return {"skip_cap": app.skip_cap, "rate_limit": list(rate) if rate else None, "latency_ms": app.latency_ms,
            "gzip": app.gzip, "event_filters": app.event_filters, "undocumented_keys": app.undocumented_keys,
            **app.real_close.config()}


def configure(app: Any, changes: Record) -> Record:
    """Apply any of the config keys to `app` (POST /_sandbox/config and `Sandbox`'s knobs); the new config."""
    if "skip_cap" in changes:
        app.skip_cap = int(changes["skip_cap"])
    if "rate_limit" in changes:
        rate = changes["rate_limit"]
        app.limiter.rate = None if rate is None else (int(rate[0]), float(rate[1]))
    if "latency_ms" in changes:
        app.latency_ms = float(changes["latency_ms"])
    if "gzip" in changes:
        app.gzip = bool(changes["gzip"])
    if "event_filters" in changes:
        mode = changes["event_filters"]
        if mode not in EVENT_FILTER_MODES:
            raise ValueError(f"event_filters must be one of {', '.join(EVENT_FILTER_MODES)}")
        app.event_filters = mode
    if "undocumented_keys" in changes:
        app.undocumented_keys = bool(changes["undocumented_keys"])
    app.real_close.configure(changes)
    if "api_key" in changes:
        key = changes["api_key"]
        if not isinstance(key, str) or not key:
            raise ValueError("api_key must be a non-empty string")
        app.api_keys = [key]
    return config(app)
