"""The JSON API under /api/: every route, its status codes and the DataCenter error mapping."""

from __future__ import annotations

import dataclasses
import io
from typing import Any

import pyarrow.parquet as pq
import pytest

from fixtures_web import csrf


def _h(client: Any) -> dict[str, str]:
    return {"X-CSRF-Token": csrf(client)}


def test_openapi_describes_every_dataset_field_from_the_spec(client: Any) -> None:
    from closesync.datacenter.spec import DATASET_FIELDS, DatasetSpec

    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    helps = {f.name: f.metadata["help"] for f in dataclasses.fields(DatasetSpec)}
    for model in ("DatasetIn", "DatasetPatch"):
        properties = schemas[model]["properties"]
        assert tuple(properties) == DATASET_FIELDS
        assert {name: p["description"] for name, p in properties.items()} == helps
    assert schemas["DatasetIn"]["required"] == ["name", "account", "report"]
    assert schemas["DatasetIn"]["properties"]["method"]["enum"] == ["replace", "append", "upsert"]
    assert "required" not in schemas["DatasetPatch"]


def test_any_closesync_error_is_a_clear_answer_not_a_traceback(
    client: Any, dc: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from closesync.sinks.errors import SinkError

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise SinkError("the destination went away")

    monkeypatch.setattr(dc, "get_dataset", broken)
    answer = client.get("/api/datasets/1")
    assert answer.status_code == 500 and answer.json() == {"detail": "the destination went away"}
    page = client.get("/datasets/1")
    assert page.status_code == 500 and "the destination went away" in page.text and "<html" in page.text


def test_openapi_document_describes_the_api(client: Any) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in (
        "/api/accounts",
        "/api/datasets",
        "/api/datasets/{dataset_id}/run",
        "/api/datasets/{dataset_id}/status",
        "/api/datasets/{dataset_id}/download",
    ):
        assert path in paths
    assert not any(p.startswith(("/datasets", "/accounts", "/login")) for p in paths)  # pages stay out


def test_reports_and_schedule_check(client: Any, dc: Any) -> None:
    reports = client.get("/api/reports").json()
    assert len(reports) == len(dc.reports())
    assert {"slug", "name", "description", "uses_organization_id", "uses_user_id"} <= set(reports[0])
    info = client.get("/api/schedule", params={"spec": "daily at 6:00"}).json()
    assert info["spec"] == "daily at 06:00" and len(info["next_runs"]) == 3
    bad = client.get("/api/schedule", params={"spec": "whenever"})
    assert bad.status_code == 422 and bad.json()["field"] == "schedule"


def test_account_lifecycle(client: Any, sandbox: Any) -> None:
    h = _h(client)
    response = client.post(
        "/api/accounts",
        json={"name": "Acme", "api_key": sandbox.api_key, "base_url": sandbox.base_url},
        headers=h,
    )
    assert response.status_code == 201
    account = response.json()
    assert account["key_hint"].startswith("api_") and "api_key" not in account
    assert client.get("/api/accounts").json()[0]["id"] == account["id"]
    assert client.get(f"/api/accounts/{account['id']}").json()["name"] == "Acme"
    choices = client.get(f"/api/accounts/{account['id']}/choices").json()
    assert choices["organizations"] and choices["users"]
    renamed = client.patch(f"/api/accounts/{account['id']}", json={"name": "Acme EU"}, headers=h)
    assert renamed.status_code == 200 and renamed.json()["name"] == "Acme EU"
    check = client.post(f"/api/accounts/{account['id']}/check", headers=h).json()
    assert check["ok"] is True
    dup = client.post(
        "/api/accounts",
        json={"name": "Acme EU", "api_key": sandbox.api_key, "base_url": sandbox.base_url},
        headers=h,
    )
    assert dup.status_code in (409, 422)
    assert client.delete(f"/api/accounts/{account['id']}", headers=h).json()["removed"] is True
    assert client.get(f"/api/accounts/{account['id']}").status_code == 404


def test_wrong_key_is_a_400_on_the_key_field(client: Any, sandbox: Any) -> None:
    response = client.post(
        "/api/accounts",
        json={"name": "X", "api_key": "api_badbadbadbad", "base_url": sandbox.base_url},
        headers=_h(client),
    )
    assert response.status_code == 400 and response.json()["field"] == "api_key"


def test_dataset_lifecycle_and_run(client: Any, dc: Any, account: Any) -> None:
    h = _h(client)
    body = {
        "name": "Leads",
        "account": account.id,
        "report": "leads",
        "schedule": "every 2 hours",
        "retries": 1,
        "retry_delay": "30s",
        "method": "replace",
    }
    response = client.post("/api/datasets", json=body, headers=h)
    assert response.status_code == 201, response.text
    ds = response.json()
    assert ds["schedule"] == "every 2 hours" and ds["retry_delay_s"] == 30 and ds["next_run_at"]
    assert [d["name"] for d in client.get("/api/datasets").json()] == ["Leads"]
    status = client.get(f"/api/datasets/{ds['id']}/status").json()
    assert status == {
        "dataset_id": ds["id"],
        "running": False,
        "run": None,
        "waiting": None,
        "next_run_at": ds["next_run_at"],
        "pending_attempt": 0,
        "table_rows": None,  # no table before the first run
    }
    assert client.get(f"/api/datasets/{ds['id']}/preview").json()["rows"] == []
    assert client.get(f"/api/datasets/{ds['id']}/columns").json()["columns"] == []

    started = client.post(f"/api/datasets/{ds['id']}/run", headers=h)
    assert started.status_code == 202
    client.app.state.runs.wait(ds["id"], timeout=60)
    status = client.get(f"/api/datasets/{ds['id']}/status").json()
    assert status["running"] is False and status["run"]["status"] == "success" and status["run"]["rows"] == 20
    runs = client.get(f"/api/datasets/{ds['id']}/runs").json()["runs"]
    assert len(runs) == 1
    run = client.get(f"/api/runs/{runs[0]['id']}").json()
    assert run["dataset_id"] == ds["id"]
    preview = client.get(f"/api/datasets/{ds['id']}/preview", params={"limit": 5}).json()
    assert len(preview["rows"]) == 5 and "id" in preview["columns"]
    columns = client.get(f"/api/datasets/{ds['id']}/columns").json()["columns"]
    assert {"name": "id", "type": columns[0]["type"]} in columns
    download = client.get(f"/api/datasets/{ds['id']}/download", params={"format": "parquet"})
    assert pq.read_table(io.BytesIO(download.content)).num_rows == 20
    csv = client.get(f"/api/datasets/{ds['id']}/download")
    assert csv.headers["content-type"].startswith("text/csv") and csv.text.count("\n") >= 21

    patched = client.patch(
        f"/api/datasets/{ds['id']}", json={"schedule": "manual", "description": "hi"}, headers=h
    )
    assert patched.status_code == 200 and patched.json()["schedule"] == "manual"
    assert patched.json()["next_run_at"] is None and patched.json()["method"] == "replace"
    assert client.delete(f"/api/datasets/{ds['id']}", headers=h).json() == {"deleted": True}
    assert client.get(f"/api/datasets/{ds['id']}").status_code == 404


def test_validation_errors_name_the_field(client: Any, account: Any) -> None:
    h = _h(client)
    response = client.post(
        "/api/datasets",
        json={"name": "X", "account": account.id, "report": "leads", "schedule": "sometimes"},
        headers=h,
    )
    assert response.status_code == 422 and response.json()["field"] == "schedule"
    response = client.post(
        "/api/datasets", json={"name": "X", "account": account.id, "report": "nope"}, headers=h
    )
    assert response.status_code in (404, 422)
    response = client.post("/api/datasets", json={"name": "X", "account": 999, "report": "leads"}, headers=h)
    assert response.status_code == 404


def test_run_of_unknown_dataset_is_404(client: Any) -> None:
    h = _h(client)
    assert client.post("/api/datasets/777/run", headers=h).status_code == 404
    assert client.get("/api/datasets/777/status").status_code == 404
    assert client.get("/api/runs/777").status_code == 404


def test_second_run_while_running_is_409(client: Any, dc: Any, leads_dataset: Any) -> None:
    """The tracker refuses a second thread for a dataset whose run is still going."""
    import threading

    gate = threading.Event()
    tracker = client.app.state.runs

    class SlowDC:
        def run_dataset(self, *_: Any, **__: Any) -> None:
            gate.wait(10)

    tracker.start(SlowDC(), leads_dataset.id)
    try:
        response = client.post(f"/api/datasets/{leads_dataset.id}/run", headers=_h(client))
        assert response.status_code == 409
        assert client.get(f"/api/datasets/{leads_dataset.id}/status").json()["running"] is True
    finally:
        gate.set()
        tracker.wait(leads_dataset.id, 10)


def test_run_started_elsewhere_is_409_and_shows_as_running(
    client: Any, dc: Any, leads_dataset: Any, sandbox: Any
) -> None:
    """A run by the scheduler (or the CLI) holds the dataset's lease: Run now says so instead of queueing."""
    import threading
    import time

    sandbox.add_fault("slow", count=1, delay=3.0)
    other = threading.Thread(target=dc.run_dataset, args=(leads_dataset.id,))
    other.start()
    try:
        end = time.monotonic() + 20
        while not dc.get_dataset(leads_dataset.id).running and time.monotonic() < end:
            time.sleep(0.05)
        response = client.post(f"/api/datasets/{leads_dataset.id}/run", headers=_h(client))
        assert response.status_code == 409
        assert client.get(f"/api/datasets/{leads_dataset.id}/status").json()["running"] is True
        page = client.get(f"/datasets/{leads_dataset.id}").text
        assert 'data-running="1"' in page and 'class="badge running"' in page
    finally:
        other.join(30)
    assert client.get(f"/api/datasets/{leads_dataset.id}/status").json()["running"] is False
