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
    """Thread-safe fixed windows; `rate=None` disables limiting but keeps lockouts from scripted 429s.

    A lockout starts when a 429 is decided; it counts against the caller (early retry) only for requests
    that arrived after that 429 was written to them, so requests already in flight are not blamed.
    """

    def __init__(self, rate: tuple[int, float] | None = None) -> None:
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, str], tuple[float, int]] = {}   # key -> (window start, count)
        self._locks: dict[tuple[str, str], list[float | None]] = {}   # key -> [locked until, told at]
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
        with self._lock:
            self._rate = value
            self._windows.clear()  # a new limit starts fresh windows and forgives lockouts
            self._locks.clear()

    def check(self, api_key: str, group: str, arrived: float | None = None) -> Decision:
        """Count one request (that arrived at monotonic time `arrived`) and decide whether it may proceed."""
        now = time.monotonic()
        arrived = now if arrived is None else arrived
        k = (api_key, group)
        with self._lock:
            lock = self._locks.get(k)
            locked = lock is not None and now < (lock[0] or 0.0)
            told = lock[1] if lock is not None and locked else None
            early = told is not None and told <= arrived
            until = lock[0] if locked and lock is not None else 0.0
            if lock is not None and not locked:
                del self._locks[k]
            if self._rate is None:
                if locked:
                    return Decision(False, 0, 0, (until or 0.0) - now, early_retry=early)
                return Decision(True, 0, 0, 0.0)
            n, seconds = self._rate
            start, count = self._windows.get(k, (now, 0))
            if now - start >= seconds:
                start, count = now, 0
            reset = max(0.0, start + seconds - now)
            if count >= n or locked:
                until = max(until or 0.0, start + seconds)
                self._locks[k] = [until, told]
                self._windows[k] = (start, count)
                return Decision(False, n, 0, max(reset, until - now), early_retry=early)
            count += 1
            self._windows[k] = (start, count)
            return Decision(True, n, n - count, reset)

    def lock_out(self, api_key: str, group: str, seconds: float) -> None:
        """A scripted 429 locks its caller out like a real one would."""
        with self._lock:
            k = (api_key, group)
            lock = self._locks.get(k)
            until = time.monotonic() + seconds
            if lock is not None and (lock[0] or 0.0) > until:
                return
            self._locks[k] = [until, lock[1] if lock is not None else None]

    def told(self, api_key: str, group: str) -> None:
        """The 429 that locks (key, group) out has been written: from now on, asking again is early."""
        now = time.monotonic()
        with self._lock:
            lock = self._locks.get((api_key, group))
            if lock is not None and lock[1] is None:
                lock[1] = now
