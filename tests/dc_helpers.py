"""Helpers shared by the Data Center tests: a fake clock and DataCenter factories over the sandbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from closesync.datacenter import DataCenter

# Client settings that surface sandbox faults at once instead of retrying them away in the client.
FAST_CLIENT = {"max_retries": 0, "backoff_base": 0.01, "backoff_max": 0.05, "timeout": 30.0}


class FakeClock:
    """An injectable clock: tests move schedule time by hand, so nothing ever sleeps on a schedule."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 26, 10, 7, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def set(self, moment: datetime) -> None:
        self.now = moment


def make_dc(home: Path, clock: FakeClock | None = None, **client: Any) -> DataCenter:
    return DataCenter(home, clock=clock, client_options={**FAST_CLIENT, **client})


def add_account(dc: DataCenter, sb: Any, name: str = "acme") -> Any:
    return dc.add_account(name, api_key=sb.api_key, base_url=sb.base_url)


def store_bytes(home: Path) -> bytes:
    """Every byte the metadata store keeps on disk (main file, WAL, shared memory, backups)."""
    return b"".join(p.read_bytes() for p in sorted(home.glob("closesync.sqlite*")) if p.is_file())
