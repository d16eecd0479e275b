"""`SandboxProcess`: the sandbox in a child process, for benchmarks where client and server must not share
one interpreter (and its GIL). Same surface as `Sandbox`, steered through the `/_sandbox/` endpoints.

`data` is a local replica built from the same seed and sizes: equal to the served data until something
mutates it (mutations of the replica are not sent to the child).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from typing import Any

from closesync.sandbox.data import SandboxData
from closesync.sandbox.service import DEFAULT_API_KEY
from closesync.sandbox.surface import SandboxSurface


class SandboxProcess(SandboxSurface):
    """`closesync sandbox` in a subprocess; `start()` returns once it accepts connections."""

    def __init__(self, seed: int = 1, leads: int = 20, api_key: str = DEFAULT_API_KEY, *,
                 rate_limit: tuple[int, float] | None = None, skip_cap: int = 250_000, latency_ms: float = 0,
                 faults: str | None = None, host: str = "127.0.0.1", port: int = 0,
                 activities_per_lead: float = 20.0, gzip: bool = True, shared_custom_fields: bool = False,
                 generated_lead_fields: int = 0) -> None:
        self.seed, self.leads, self.activities_per_lead = seed, leads, activities_per_lead
        self.shared_custom_fields, self.generated_lead_fields = shared_custom_fields, generated_lead_fields
        self.api_key, self.host, self._port = api_key, host, port
        self._args = [sys.executable, "-m", "closesync", "sandbox", "--host", host, "--port", str(port),
                      "--api-key", api_key, "--seed", str(seed), "--leads", str(leads),
                      "--activities-per-lead", str(activities_per_lead), "--skip-cap", str(skip_cap),
                      "--latency-ms", str(latency_ms)]
        if rate_limit:
            self._args += ["--rate-limit", f"{rate_limit[0]}/{rate_limit[1]}"]
        if faults:
            self._args += ["--faults", faults]
        if not gzip:
            self._args.append("--no-gzip")
        if shared_custom_fields:
            self._args.append("--shared-custom-fields")
        if generated_lead_fields:
            self._args += ["--custom-fields", str(generated_lead_fields)]
        self._proc: subprocess.Popen[str] | None = None
        self._data: SandboxData | None = None

    def __repr__(self) -> str:
        return f"SandboxProcess(base_url={self.base_url!r}, leads={self.leads})"

    def start(self) -> SandboxProcess:
        if self._proc is None:
            self._proc = subprocess.Popen(self._args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            assert self._proc.stdout is not None
            line = self._proc.stdout.readline()
            match = re.search(r"http://[^:/]+:(\d+)/api/v1/", line)
            if match is None:
                self.stop()
                raise RuntimeError(f"sandbox process did not start: {line!r}")
            self._port = int(match.group(1))
        return self

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    @property
    def data(self) -> SandboxData:
        if self._data is None:
            self._data = SandboxData(
                seed=self.seed, leads=self.leads, activities_per_lead=self.activities_per_lead,
                shared_custom_fields=self.shared_custom_fields, generated_lead_fields=self.generated_lead_fields,
            )
        return self._data

    # -- control over HTTP ---------------------------------------------------------------------------------
    def _call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        body = json.dumps(payload).encode() if payload is not None else None
        req = urllib.request.Request(f"{self._root_url}_sandbox/{path}", data=body, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    _control = _call

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "stats")

    def reset_stats(self) -> None:
        self._call("POST", "stats/reset", {})

    def add_fault(self, kind: str, path: str | None = None, count: int = 1, *, delay: float = 2.0,
                  reset: float = 1.0, probability: float | None = None, size_mb: float = 100.0) -> None:
        self._call("POST", "faults", {"kind": str(kind), "path": path, "count": count, "delay": delay,
                                      "reset": reset, "probability": probability, "size_mb": size_mb})

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def _config(self, **changes: Any) -> dict[str, Any]:
        return self._call("POST", "config", changes) if changes else self._call("GET", "config")
