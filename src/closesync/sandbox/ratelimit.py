"""Fixed-window rate limits per (API key, endpoint group), with lockout tracking for `early_retries`.

Close limits each endpoint group per key and reports the state on every response as
`RateLimit: limit=N, remaining=R, reset=S`. A request over the limit gets 429; one that arrives while its
caller is still locked out by a 429 it was served counts as an early retry (a client that honours the
headers never makes one).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass


@dataclass
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset: float           # seconds until the window (or lockout) ends
    early_retry: bool = False

    @property
    def reset_ms_ceil(self) -> float:
        """`reset` rounded up to the millisecond, so a client that waits exactly that long is never early."""
        return math.ceil(self.reset * 1000 - 1e-6) / 1000

    def header(self) -> str:
        return f"limit={self.limit}, remaining={self.remaining}, reset={self.reset_ms_ceil:.3f}"


class RateLimiter:
    """Thread-safe fixed windows; `rate=None` disables limiting but keeps lockouts from scripted 429s."""

    def __init__(self, rate: tuple[int, float] | None = None) -> None:
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, str], tuple[float, int]] = {}   # key -> (window start, count)
        self._locked_until: dict[tuple[str, str], float] = {}
        self.rate = rate

    @property
    def rate(self) -> tuple[int, float] | None:
        return self._rate

    @rate.setter
    def rate(self, value: tuple[int, float] | None) -> None:
        if value is not None:
            n, seconds = value
            if n < 1 or seconds <= 0:
                raise ValueError("rate limit needs N >= 1 requests per SECONDS > 0")
            value = (int(n), float(seconds))
        with getattr(self, "_lock", threading.Lock()):
            self._rate = value
            if hasattr(self, "_windows"):  # a new limit starts fresh windows and forgives lockouts
                self._windows.clear()
                self._locked_until.clear()

    def check(self, api_key: str, group: str) -> Decision:
        """Count one request and decide whether it may proceed."""
        now = time.monotonic()
        k = (api_key, group)
        with self._lock:
            locked = self._locked_until.get(k, 0.0)
            early = now < locked
            if not early and locked:
                self._locked_until.pop(k, None)
            if self._rate is None:
                if early:
                    return Decision(False, 0, 0, locked - now, early_retry=True)
                return Decision(True, 0, 0, 0.0)
            n, seconds = self._rate
            start, count = self._windows.get(k, (now, 0))
            if now - start >= seconds:
                start, count = now, 0
            reset = max(0.0, start + seconds - now)
            if count >= n or early:
                self._locked_until[k] = max(self._locked_until.get(k, 0.0), start + seconds)
                self._windows[k] = (start, count)
                return Decision(False, n, 0, max(reset, locked - now), early_retry=early)
            count += 1
            self._windows[k] = (start, count)
            return Decision(True, n, n - count, reset)

    def lock_out(self, api_key: str, group: str, seconds: float) -> None:
        """A scripted 429 locks its caller out like a real one would."""
        with self._lock:
            k = (api_key, group)
            self._locked_until[k] = max(self._locked_until.get(k, 0.0), time.monotonic() + seconds)
