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
    sandbox = make_sandbox(leads=20, activities_per_lead=200, latency_ms=800)  # 12+ pages, several s
    monkeypatch.setattr(extract, "DEFAULT_BATCH_ROWS", 50)  # a batch per half page
    account = dc.add_account("Acme", api_key=sandbox.api_key, base_url=sandbox.base_url)
    ds = dc.create_dataset("Calls", account=account.id, report="activities_call", method="replace")
    expected = len(sandbox.data.records("activity/call"))
    assert expected > 1000  # more than ten pages of 100

    with make_client(dc) as client:
        token = client.get("/api/csrf").json()["csrf_token"]
        started = client.post(f"/api/datasets/{ds.id}/run", headers={"X-CSRF-Token": token})
        assert started.status_code == 202
        seen = _poll_until_done(client, ds.id)
        client.app.state.runs.wait(ds.id, 30)

    running = [s["run"] for s in seen if s["running"] and s["run"] and s["run"]["status"] == "running"]
    trace = [(r["rows"], r["requests"]) for r in running]
    assert any(r["rows"] > 0 for r in running), trace  # rows arrived before the run finished
    assert any(0 < r["rows"] < expected for r in running), trace  # ... and grew while it ran
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

        def current_wait(self, at_least: float) -> None:
            return None

    progress = RunProgress()
    assert progress.snapshot() == {"rows": 0, "requests": 0, "throttle_waits": 0, "retries": 0, "wait": None}
    progress(Result("leads", 10, 3))
    progress(Result("contacts", 5, 3))
    progress(Result("leads", 20, 4))  # a report's newer counts replace its older ones
    assert progress.snapshot()["rows"] == 25
    progress.watch(Stats())  # type: ignore[arg-type]
    assert progress.snapshot() == {"rows": 25, "requests": 9, "throttle_waits": 1, "retries": 2, "wait": None}


class _Result:
    def __init__(self, slug: str, rows: int, requests: int) -> None:
        self.slug, self.rows, self.requests, self.throttle_waits, self.retries = slug, rows, requests, 0, 0


def _wait_for(check: Any, limit_s: float = 10.0) -> None:
    deadline = time.monotonic() + limit_s
    while not check():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.02)


def test_heartbeat_writes_progress_but_never_touches_a_finished_run(dc: Any, leads_dataset: Any) -> None:
    from closesync.datacenter import history, leases

    claim = dc._runner.claim(leads_dataset.id)
    progress = RunProgress()
    with leases.Heartbeat(dc.store, leads_dataset.id, claim.run_id, progress=progress, beat_s=0.05):
        progress(_Result("leads", 7, 2))
        _wait_for(lambda: dc.get_run(claim.run_id).rows == 7)
        assert dc.get_run(claim.run_id).requests == 2 and dc.get_run(claim.run_id).status == "running"
    with dc.store.write() as conn:
        outcome = history.RunOutcome("success", rows=20, requests=4)
        history.finish(conn, claim.run_id, outcome, finished_at=dc.clock(), duration_s=1.0)
        history.progress(conn, claim.run_id, {"rows": 3, "requests": 1})  # a late beat
        leases.release(conn, leads_dataset.id, claim.run_id)
    assert (dc.get_run(claim.run_id).rows, dc.get_run(claim.run_id).requests) == (20, 4)


def test_a_broken_progress_snapshot_never_stops_the_lease_renewal(dc: Any, leads_dataset: Any) -> None:
    from closesync.datacenter import leases

    class Broken(RunProgress):
        def snapshot(self) -> dict[str, int]:
            raise RuntimeError("a client whose stats are not numbers")

    claim = dc._runner.claim(leads_dataset.id)

    def expires() -> str:
        with dc.store.connect() as conn:
            return str(leases.current(conn, leads_dataset.id)["expires_at"])

    first = expires()
    with leases.Heartbeat(dc.store, leads_dataset.id, claim.run_id, ttl_s=0.4, progress=Broken(), beat_s=0.05):
        _wait_for(lambda: expires() != first)  # renewed (with this short ttl, to an earlier time)
        renewed = expires()
        _wait_for(lambda: expires() > renewed)  # and again, beat after beat
    with dc.store.write() as conn:
        leases.release(conn, leads_dataset.id, claim.run_id)
