"""How hard the client tries: the retry policy, and what a failed attempt becomes when it runs out."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from closesync.close import errors
from closesync.close.ratelimit import DEFAULT_429_WAIT


@dataclass
class RetryPolicy:
    """How hard to try: transport errors, 5xx and unreadable bodies back off exponentially with jitter,
    at most `max_retries` times and while the request has run less than `max_retry_time` seconds (429 waits
    included); 429s wait what the server says, up to `max_throttle_retries` in a row and
    `max_throttle_wait` each."""

    max_retries: int = 5
    max_retry_time: float = 600.0
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    max_throttle_retries: int = 20
    max_throttle_wait: float = 900.0
    default_throttle_wait: float = DEFAULT_429_WAIT

    def backoff(self, attempt: int) -> float:
        """Delay before retry number `attempt` (1-based): base * 2^(n-1), capped, with 50-100 % jitter."""
        delay = min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1)))
        return delay * random.uniform(0.5, 1.0)


@dataclass
class Transient:
    """A failed attempt worth repeating, and what to raise if the retry budget runs out first."""

    kind: type[errors.CloseError]
    reason: str  # what went wrong, without the HTTP status (the error's head names it)
    status: int | None = None
    retry_after: float | None = None

    def give_up(
        self, retries: int, elapsed: float, method: str, path: str, scrub: Callable[[str], str]
    ) -> errors.CloseError:
        """The error for this failure once `retries` retries over `elapsed` seconds did not help."""
        took = f"{elapsed:.0f} s" if elapsed >= 10 else f"{elapsed:.1f} s"
        tries = "retry" if retries == 1 else "retries"
        message = f"{self.reason}; gave up after {retries} {tries} over {took}" if retries else self.reason
        return self.kind(scrub(message), status=self.status, method=method, path=path)

