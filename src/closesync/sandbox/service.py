"""`Sandbox`: a running fake Close API in a background thread (tests, benchmarks, `closesync sandbox`)."""

from __future__ import annotations

import json
import threading
from typing import Any

from closesync.sandbox import control
from closesync.sandbox.app import SandboxApp
from closesync.sandbox.control import configure
from closesync.sandbox.data import SandboxData
from closesync.sandbox.faults import Fault, FaultPlan, make_fault, parse_spec
from closesync.sandbox.ratelimit import RateLimiter
from closesync.sandbox.surface import SandboxSurface
from closesync.sandbox.transport import SandboxHTTPServer

DEFAULT_API_KEY = "api_sandbox_0123456789abcdefABCDEF"


class Sandbox(SandboxSurface):
    """A seeded fake Close account served over HTTP on `host:port` (port 0 = a free one)."""

    def __init__(self, seed: int = 1, leads: int = 20, api_key: str = DEFAULT_API_KEY, *,
                 rate_limit: tuple[int, float] | None = None, skip_cap: int = 250_000, latency_ms: float = 0,
                 faults: str | list[Fault] | None = None, host: str = "127.0.0.1", port: int = 0,
                 activities_per_lead: float = 20.0, activity_mix: dict[str, int] | None = None,
                 extra_api_keys: tuple[str, ...] = (), gzip: bool = True, shared_custom_fields: bool = False,
                 generated_lead_fields: int = 0) -> None:
        self.data = SandboxData(seed=seed, leads=leads, activities_per_lead=activities_per_lead,
                                activity_mix=activity_mix, shared_custom_fields=shared_custom_fields,
                                generated_lead_fields=generated_lead_fields)
        plan = FaultPlan(parse_spec(faults) if isinstance(faults, str) else faults, seed=seed)
        self.app = SandboxApp(self.data, [api_key, *extra_api_keys], skip_cap=skip_cap, latency_ms=latency_ms,
                              limiter=RateLimiter(rate_limit), faults=plan)
        self.app.gzip = gzip
        self.api_key = api_key
        self.host, self._port = host, port
        self._server: SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:  # never shows the key
        return f"Sandbox(base_url={self.base_url!r}, leads={self.data.leads})"

    # -- lifecycle -----------------------------------------------------------------------------------------
    def start(self) -> Sandbox:
        if self._server is None:
            self._server = SandboxHTTPServer((self.host, self._port), self.app)
            self._port = self._server.server_address[1]
            self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                            name=f"sandbox:{self._port}", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.close_all()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def serve_forever(self) -> None:
        """Run in the calling thread until interrupted (the CLI)."""
        self.start()
        assert self._thread is not None
        try:
            while self._thread.is_alive():
                self._thread.join(0.5)
        finally:
            self.stop()

    def _config(self, **changes: Any) -> dict[str, Any]:
        return configure(self.app, changes)

    def _control(self, method: str, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        body = json.dumps(payload).encode() if payload is not None else b""
        status, answer = control.handle(self.app, method, f"/_sandbox/{path}", body)
        if status != 200:
            raise ValueError(answer.get("error", answer))
        return answer

    def add_fault(self, kind: str, path: str | None = None, count: int = 1, *, delay: float = 2.0,
                  reset: float = 1.0, probability: float | None = None, size_mb: float = 100.0) -> None:
        """Script a fault for the next `count` requests under `path` (or random ones with `probability`)."""
        self.app.faults.add(make_fault(kind, path, count, delay=delay, reset=reset, probability=probability,
                                       size_mb=size_mb))

    def clear_faults(self) -> None:
        self.app.faults.clear()

    # -- observations --------------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        return self.app.stats.snapshot()

    def reset_stats(self) -> None:
        self.app.stats.reset()
