"""A run history worth looking at, made by real runs against the sandbox on three (fake) days.

Used by the Runs tests of the Data Center, the JSON API, the pages and the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from closesync.datacenter import DataCenter, Run
from dc_helpers import FakeClock, add_account, make_dc

XSS_NAME = "<script>alert(1)</script>"
DAY1 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@dataclass
class History:
    """The DataCenter, its clock, and the runs made, oldest first."""

    dc: DataCenter
    clock: FakeClock
    runs: list[Run] = field(default_factory=list)
    datasets: dict[str, Any] = field(default_factory=dict)

    def run(self, name: str) -> Run:
        result = self.dc.run_dataset(self.datasets[name].id)
        self.runs.append(result)
        self.clock.advance(minutes=20)
        return result

    @property
    def failed(self) -> list[Run]:
        return [r for r in self.runs if r.status == "failed"]


def make_history(home: Path, sandbox: Any, day1: datetime = DAY1) -> History:
    """Six runs on three days from `day1` (Nov 20-22, 2026 09:00 UTC unless given): Users three times (the
    first waits out a 429 once, the second-to-last fails with Close's 403), Broken once (its destination is
    under a file: an error of more than 300 characters) and a dataset named like a script tag once."""
    clock = FakeClock(day1)
    dc = make_dc(home, clock)
    account = add_account(dc, sandbox)
    blocker = home / ("not-a-folder-" + "x" * 240)
    blocker.write_text("a file where a folder should be")
    history = History(dc, clock)
    history.datasets = {
        "Users": dc.create_dataset("Users", account=account.id, report="users"),
        "Broken": dc.create_dataset(
            "Broken", account=account.id, report="users", destination=f"duckdb:{blocker}/deep/{'y' * 120}.duckdb"
        ),
        XSS_NAME: dc.create_dataset(XSS_NAME, account=account.id, report="users", table="users_xss"),
    }
    sandbox.add_fault("429", path="user/", count=1, reset=0.2)
    history.run("Users")  # Nov 20
    history.run("Broken")
    clock.set(day1 + timedelta(days=1))
    history.run("Users")
    history.run(XSS_NAME)
    clock.set(day1 + timedelta(days=2))
    sandbox.add_fault("403", path="user/", count=1)
    history.run("Users")
    history.run("Users")
    return history
