"""Live progress: a running run's history row shows rows and requests growing, before the run ends.

A real run against a sandbox with latency (each page takes a moment) is polled through the web status
endpoint, the way the dataset page does it. Batches are made small (the extraction's buffer size is a
tuning constant) so rows are loaded, and counted, page by page instead of all at the end.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from closesync.datacenter.progress import RunProgress
from closesync.reports import extract
from fixtures_web import make_client


def _poll_until_done(client: Any, dataset_id: int, limit_s: float = 120.0) -> list[dict[str, Any]]:
    """Every status answer seen while the run went on (the last one is the finished run)."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        status = client.get(f"/api/datasets/{dataset_id}/status").json()
        seen.append(status)
        if not status["running"] and status["run"] and status["run"]["status"] != "running":
            return seen
        time.sleep(0.2)
    raise AssertionError(f"the run did not finish: {seen[-1]}")


def test_running_run_shows_rows_and_requests_growing(
    dc: Any, make_sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = make_sandbox(leads=20, activities_per_lead=60, latency_ms=700)  # ~6 requests, 4 s
    monkeypatch.setattr(extract, "DEFAULT_BATCH_ROWS", 50)  # a batch per half page
    account = dc.add_account("Acme", api_key=sandbox.api_key, base_url=sandbox.base_url)
    ds = dc.create_dataset("Calls", account=account.id, report="activities_call", method="replace")
    expected = len(sandbox.data.records("activity/call"))
    assert expected > 200  # several pages of 100

    with make_client(dc) as client:
        token = client.get("/api/csrf").json()["csrf_token"]
        started = client.post(f"/api/datasets/{ds.id}/run", headers={"X-CSRF-Token": token})
        assert started.status_code == 202
        seen = _poll_until_done(client, ds.id)
        client.app.state.runs.wait(ds.id, 30)

    running = [s["run"] for s in seen if s["running"] and s["run"] and s["run"]["status"] == "running"]
    assert any(r["rows"] > 0 for r in running), running  # rows arrived before the run finished
    assert any(0 < r["rows"] < expected for r in running), running  # ... and grew while it ran
    request_counts = [r["requests"] for r in running]
    assert request_counts == sorted(request_counts) and len(set(request_counts)) > 1  # growing
    final = seen[-1]["run"]
    assert final["status"] == "success" and final["rows"] == expected
    assert final["requests"] >= max(request_counts)
    # the finished row is the pipeline's result, not a late progress write
    assert dc.history(ds.id)[0].rows == expected


def test_run_progress_sums_reports_and_counts_live_requests() -> None:
    class Result:
        def __init__(self, slug: str, rows: int, requests: int) -> None:
            self.slug, self.rows, self.requests, self.throttle_waits, self.retries = slug, rows, requests, 0, 0

    class Stats:
        requests, throttled, retries = 9, 1, 2

    class Client:
        stats = Stats()

    progress = RunProgress()
    assert progress.snapshot() == {"rows": 0, "requests": 0, "throttle_waits": 0, "retries": 0}
    progress(Result("leads", 10, 3))
    progress(Result("contacts", 5, 3))
    progress(Result("leads", 20, 4))  # a report's newer counts replace its older ones
    assert progress.snapshot()["rows"] == 25
    progress.watch(Client())
    assert progress.snapshot() == {"rows": 25, "requests": 9, "throttle_waits": 1, "retries": 2}
