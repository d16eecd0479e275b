"""Deterministic randomness keyed by (seed, kind, index).

Every generated value is a pure function of its key, so any record can be rebuilt on its own (random access
without generating its predecessors) and the same seed always yields the same data. blake2b is stable across
Python versions, unlike `random.Random`'s helpers.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")

_ID_TABLE = bytes.maketrans(b"+/", b"Az")


def digest(seed: int, kind: str, index: int, salt: str = "") -> bytes:
    """64 pseudo-random bytes for one key."""
    return hashlib.blake2b(f"{seed}:{kind}:{index}:{salt}".encode(), digest_size=64).digest()


def make_id(prefix: str, seed: int, kind: str, index: int, length: int = 43) -> str:
    """A Close-looking id such as `lead_` + 43 alphanumerics, unique per (seed, kind, index)."""
    raw = hashlib.blake2b(f"id:{seed}:{kind}:{index}".encode(), digest_size=33).digest()
    return prefix + base64.b64encode(raw)[:length].translate(_ID_TABLE).decode()


class Draw:
    """A cheap stream of random choices drawn from one key's digest (refilled on demand)."""

    __slots__ = ("_key", "_n", "_pool")

    def __init__(self, seed: int, kind: str, index: int) -> None:
        self._key = (seed, kind, index)
        self._n = 0
        self._pool = int.from_bytes(digest(seed, kind, index), "little")

    def below(self, n: int) -> int:
        """Uniform int in [0, n)."""
        if n <= 1:
            return 0
        if self._pool < (1 << 64):
            self._n += 1
            self._pool = int.from_bytes(digest(*self._key, salt=str(self._n)), "little")
        self._pool, r = divmod(self._pool, n)
        return r

    def between(self, lo: int, hi: int) -> int:
        """Uniform int in [lo, hi]."""
        return lo + self.below(hi - lo + 1)

    def unit(self) -> float:
        """Uniform float in [0, 1)."""
        return self.below(1 << 20) / float(1 << 20)

    def chance(self, p: float) -> bool:
        return self.unit() < p

    def pick(self, items: Sequence[T]) -> T:
        return items[self.below(len(items))]

    def sample(self, items: Sequence[T], k: int) -> list[T]:
        """k distinct items, in the order of `items`."""
        pool = list(range(len(items)))
        chosen = sorted(pool.pop(self.below(len(pool))) for _ in range(min(k, len(pool))))
        return [items[i] for i in chosen]

    def weighted(self, items: Sequence[T], weights: Sequence[int]) -> T:
        r = self.below(sum(weights))
        for item, w in zip(items, weights, strict=True):
            if r < w:
                return item
            r -= w
        return items[-1]
