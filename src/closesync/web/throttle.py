"""Slowing down password guessing, per client address, with delays that grow with each wrong guess.

One global counter let 20 wrong guesses from anywhere lock out everyone, the owner included. Here each
address (an IPv6 /64, which one machine usually holds whole) has its own count: a few mistakes are free,
then every further wrong password makes that address wait twice as long as the one before, up to a cap.
Form logins and `Authorization: Bearer` share the same counts, so neither doubles a guesser's budget.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

FREE_FAILURES = 5
FIRST_DELAY_S = 1.0
MAX_DELAY_S = 15 * 60.0
MAX_ADDRESSES = 10_000  # the oldest are forgotten first: memory stays bounded under a spray of addresses


def client_key(host: str | None) -> str:
    """The address guesses are counted by: the IPv4 address, the /64 of an IPv6 one."""
    host = host or "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:  # ::ffff:1.2.3.4 is 1.2.3.4
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


@dataclass
class _Record:
    failures: int = 0
    blocked_until: float = 0.0
    last_failure: float = 0.0


class GuessThrottle:
    """Counts wrong passwords per address; `wait_s` says how long an address must wait before trying again."""

    def __init__(self) -> None:
        self._records: OrderedDict[str, _Record] = OrderedDict()
        self._lock = threading.Lock()

    def wait_s(self, host: str | None) -> float:
        """Seconds before `host` may try a password again (0: now)."""
        with self._lock:
            record = self._records.get(client_key(host))
            return max(0.0, record.blocked_until - time.monotonic()) if record else 0.0

    def retry_after(self, host: str | None) -> int:
        """`wait_s` rounded up to whole seconds, for a Retry-After header."""
        return math.ceil(self.wait_s(host))

    def failed(self, host: str | None) -> None:
        now = time.monotonic()
        key = client_key(host)
        with self._lock:
            record = self._records.pop(key, None) or _Record()
            if now - record.last_failure > 2 * MAX_DELAY_S:  # quiet for long enough: start afresh
                record = _Record()
            record.failures += 1
            record.last_failure = now
            extra = record.failures - FREE_FAILURES
            if extra > 0:
                record.blocked_until = now + min(MAX_DELAY_S, FIRST_DELAY_S * 2 ** min(extra - 1, 30))
            self._records[key] = record
            while len(self._records) > MAX_ADDRESSES:
                self._records.popitem(last=False)

    def succeeded(self, host: str | None) -> None:
        with self._lock:
            self._records.pop(client_key(host), None)
