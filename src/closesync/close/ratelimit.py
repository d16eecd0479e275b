"""Reading Close's rate-limit signals: the `RateLimit` header on every answer and the wait a 429 asks for.

Close changed its signalling over the years (REFERENCE.md §D), so the 429 wait is looked up in the order
the official client uses: `RateLimit` reset, `Retry-After`, `RateLimit-Reset`, legacy `X-Rate-Limit-Reset`,
legacy body `rate_reset` (top level or under `error`), else a short default.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_429_WAIT = 2.0

_PARAM = re.compile(r"([A-Za-z_-]+)\s*=\s*\"?([0-9]+(?:\.[0-9]+)?)\"?")


@dataclass(frozen=True)
class RateLimitInfo:
    """One `RateLimit: limit=…, remaining=…, reset=…` reading (reset in seconds from when it was sent)."""

    limit: int | None
    remaining: int | None
    reset: float | None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        for key, val in headers.items():
            if key.lower() == lowered:
                return val
    return value


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(str(text).strip())
    except ValueError:
        return None
    return value if value == value and value >= 0 else None  # drop NaN and negatives


def parse_ratelimit(headers: Mapping[str, str]) -> RateLimitInfo | None:
    """Parse the current `RateLimit` header, falling back to the legacy `X-Rate-Limit-*` trio.

    Close sends one `RateLimit` value for the limit closest to being hit; if several comma-joined
    policies ever arrive, the one with the least remaining budget wins.
    """
    raw = _header(headers, "RateLimit")
    if raw:
        best: RateLimitInfo | None = None
        params: dict[str, float] = {}
        for name, value in _PARAM.findall(raw):
            name = name.lower()
            if name in params:  # a second policy starts
                best = _tighter(best, _info(params))
                params = {}
            params[name] = float(value)
        best = _tighter(best, _info(params))
        if best is not None:
            return best
    legacy = [_header(headers, f"X-Rate-Limit-{k}") for k in ("Limit", "Remaining", "Reset")]
    if any(v is not None for v in legacy):
        limit, remaining, reset = (_number(v) for v in legacy)
        return RateLimitInfo(
            int(limit) if limit is not None else None,
            int(remaining) if remaining is not None else None,
            reset,
        )
    return None


def _info(params: dict[str, float]) -> RateLimitInfo | None:
    if not params:
        return None
    limit, remaining = params.get("limit"), params.get("remaining")
    return RateLimitInfo(
        int(limit) if limit is not None else None,
        int(remaining) if remaining is not None else None,
        params.get("reset"),
    )


def _tighter(a: RateLimitInfo | None, b: RateLimitInfo | None) -> RateLimitInfo | None:
    if a is None or b is None:
        return a or b
    ra = a.remaining if a.remaining is not None else 1 << 30
    rb = b.remaining if b.remaining is not None else 1 << 30
    return a if ra <= rb else b


def _retry_after(value: str | None, now: float | None = None) -> float | None:
    """`Retry-After` is delta-seconds or an HTTP date."""
    seconds = _number(value)
    if seconds is not None or value is None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def throttle_wait(headers: Mapping[str, str], body: Any = None, *, default: float = DEFAULT_429_WAIT) -> float:
    """Seconds a 429 tells us to wait before this endpoint group may be called again."""
    info = parse_ratelimit(headers)
    if info is not None and info.reset is not None and _header(headers, "RateLimit"):
        return info.reset
    for candidate in (
        _retry_after(_header(headers, "Retry-After")),
        _number(_header(headers, "RateLimit-Reset")),
        _number(_header(headers, "X-Rate-Limit-Reset")),
    ):
        if candidate is not None:
            return candidate
    if isinstance(body, dict):
        for holder in (body, body.get("error")):
            if isinstance(holder, dict):
                reset = _number(holder.get("rate_reset"))
                if reset is not None:
                    return reset
    return default
