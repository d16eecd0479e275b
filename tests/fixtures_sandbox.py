"""Fixtures that start the Close sandbox over real HTTP on 127.0.0.1 (owned by the sandbox area)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from closesync.sandbox import Sandbox


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A 20-lead sandbox without rate limits, on a free port; stopped after the test."""
    with Sandbox(seed=1, leads=20) as sb:
        yield sb


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., Sandbox]]:
    """Factory: `make_sandbox(leads=50, rate_limit=(5, 1.0), ...)` returns a started sandbox (stopped later)."""
    started: list[Sandbox] = []

    def make(**kwargs: Any) -> Sandbox:
        sb = Sandbox(**kwargs).start()
        started.append(sb)
        return sb

    yield make
    for sb in started:
        sb.stop()


def sandbox_client(sb: Sandbox, key: str | None = None) -> httpx.Client:
    """A plain httpx client for `sb`'s API (its own key unless `key` is given), for raw HTTP tests."""
    return httpx.Client(base_url=sb.base_url, auth=(key or sb.api_key, ""), timeout=10)
