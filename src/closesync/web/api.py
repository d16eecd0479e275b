"""The JSON API under /api/: the same DataCenter calls as the pages, as JSON (OpenAPI at /openapi.json).

Handlers are plain `def` so FastAPI runs the blocking DataCenter calls in its thread pool. DataCenter
errors become JSON answers in app.py (404 / 409 / 422 / 400) with the user-facing message as `detail`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal, get_type_hints

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from closesync.datacenter import MAX_RUNS_LIMIT, DataCenter, DataCenterError, RunStatus
from closesync.datacenter.errors import OrganizationChangeError
from closesync.datacenter.progress import describe_wait
from closesync.datacenter.spec import DatasetSpec
from closesync.web.params import RowId
from closesync.web.rendering import download_response
from closesync.web.security import csrf_token

router = APIRouter(prefix="/api", tags=["Data Center"])


def _dc(request: Request) -> DataCenter:
    return request.app.state.dc


def _json(obj: Any) -> Any:
    """DataCenter objects to JSON-safe values (they never carry a key)."""
    if isinstance(obj, list):
        return [_json(o) for o in obj]
    to_dict = getattr(obj, "to_dict", None)  # Dataset.to_dict masks a database password itself
    return jsonable_encoder(to_dict() if callable(to_dict) else obj)


class AccountIn(BaseModel):
    """A Close account to add, with its API key typed in (validated live, stored encrypted)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    api_key: str = Field(description="Validated live with GET /me/, stored encrypted, never returned.")
    base_url: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_environment_keys(cls, data: Any) -> Any:
        """The server's environment is not the caller's: naming a variable here could send its value
        (CLOSE_API_KEY, HOME, ...) to any base URL. Variables are for `closesync accounts add` on the host."""
        if isinstance(data, dict) and "api_key_env" in data:
            raise ValueError(
                "api_key_env is not accepted over the web: send the key itself as api_key "
                "(keys in environment variables are for `closesync accounts add --api-key-env` on the server)"
            )
        return data


def _dataset_model(name: str, doc: str, *, partial: bool) -> type[BaseModel]:
    """A pydantic model of DatasetSpec's fields (types, defaults, help as descriptions) for OpenAPI.

    `partial`: every field optional with no default, for PATCH (only the fields sent are changed).
    """
    hints = get_type_hints(DatasetSpec)
    fields: dict[str, Any] = {}
    for spec_field in dataclasses.fields(DatasetSpec):
        hint = hints[spec_field.name]
        described = {"description": spec_field.metadata["help"]}
        if partial:
            fields[spec_field.name] = (hint | None, Field(None, **described))
        else:
            required = spec_field.default is dataclasses.MISSING
            fields[spec_field.name] = (hint, Field(... if required else spec_field.default, **described))
    return create_model(name, __doc__=doc, **fields)


DatasetIn = _dataset_model(
    "DatasetIn", "A new DataSet (same fields as `closesync datasets create`).", partial=False
)
DatasetPatch = _dataset_model(
    "DatasetPatch", "Changes to a DataSet: only the fields given are changed.", partial=True
)


@router.get("/csrf", summary="CSRF token for this session (send it as X-CSRF-Token)")
def get_csrf(request: Request) -> dict[str, str]:
    return {"csrf_token": csrf_token(request)}


@router.get("/reports", summary="The reports a DataSet can copy, with the parameters each uses")
def list_reports(request: Request) -> list[dict[str, Any]]:
    return _json(_dc(request).reports())


@router.get("/schedule", summary="Check a schedule text and show its next run times")
def check_schedule(request: Request, spec: str) -> dict[str, Any]:
    return _json(_dc(request).validate_schedule(spec))


# ---------------------------------------------------------------- accounts


@router.get("/accounts", summary="List accounts (keys masked)")
def list_accounts(request: Request) -> list[dict[str, Any]]:
    return _json(_dc(request).list_accounts())


@router.post("/accounts", status_code=201, summary="Add an account: the key is validated live")
def add_account(request: Request, body: AccountIn) -> dict[str, Any]:
    return _json(_dc(request).add_account(body.name, api_key=body.api_key, base_url=body.base_url))


@router.get("/accounts/{account_id}", summary="One account")
def get_account(request: Request, account_id: RowId) -> dict[str, Any]:
    return _json(_dc(request).get_account(account_id))


class AccountPatch(BaseModel):
    """Rename an account. Its key and base URL stay: POST …/key replaces the key; another base URL means
    adding the account again with its key."""

    model_config = ConfigDict(extra="forbid")

    name: str

    @model_validator(mode="before")
    @classmethod
    def _no_new_address(cls, data: Any) -> Any:
        """A stored key goes only to the address it was checked with; a new one needs the key typed again."""
        if isinstance(data, dict) and ({"base_url", "api_key", "api_key_env"} & data.keys()):
            raise ValueError(
                "only the name can be changed here: to replace the key, POST /api/accounts/{id}/key; to "
                "use another base URL, add the account again with its API key (POST /api/accounts) and "
                "remove this one"
            )
        return data


@router.patch("/accounts/{account_id}", summary="Rename an account")
def rename_account(request: Request, account_id: RowId, body: AccountPatch) -> dict[str, Any]:
    return _json(_dc(request).rename_account(account_id, body.name))


class AccountKeyIn(BaseModel):
    """A new API key for an account (rotated or revoked in Close), typed in: never a server variable."""

    model_config = ConfigDict(extra="forbid")  # api_key_env is refused, as for POST /api/accounts

    api_key: str = Field(description="Validated live with GET /me/, stored encrypted, never returned.")
    confirm_organization_change: bool = Field(
        False, description="Accept a key of another Close organization (refused otherwise, with 409)."
    )


@router.post("/accounts/{account_id}/key", summary="Replace an account's API key (validated live)")
def replace_account_key(request: Request, account_id: RowId, body: AccountKeyIn) -> dict[str, Any]:
    try:
        account = _dc(request).set_account_key(
            account_id, api_key=body.api_key, allow_other_organization=body.confirm_organization_change
        )
    except OrganizationChangeError as exc:
        confirm = 'Send "confirm_organization_change": true to use it anyway.'
        raise OrganizationChangeError(f"{exc} {confirm}") from None
    return _json(account)


@router.post("/accounts/{account_id}/check", summary="Re-validate an account's key")
def check_account(request: Request, account_id: RowId) -> dict[str, Any]:
    return _json(_dc(request).check_account(account_id))


@router.get("/accounts/{account_id}/choices", summary="Organization ID and User ID choices of an account")
def account_choices(request: Request, account_id: RowId, refresh: bool = False) -> dict[str, Any]:
    return _json(_dc(request).report_choices(account_id, refresh=refresh))


@router.delete(
    "/accounts/{account_id}", summary="Remove an account (force: with its DataSets and their run history)"
)
def remove_account(request: Request, account_id: RowId, force: bool = False) -> dict[str, Any]:
    removed = _dc(request).remove_account(account_id, force=force)
    return {"removed": True, "datasets_removed": list(removed)}


# ---------------------------------------------------------------- datasets


@router.get("/datasets", summary="List DataSets with their last and next run")
def list_datasets(request: Request) -> list[dict[str, Any]]:
    dc = _dc(request)
    return _json(dc.with_table_rows(dc.list_datasets()))


@router.post("/datasets", status_code=201, summary="Create a DataSet")
def create_dataset(request: Request, body: DatasetIn) -> dict[str, Any]:
    return _json(_dc(request).create_dataset(**body.model_dump()))


@router.get("/datasets/{dataset_id}", summary="One DataSet")
def get_dataset(request: Request, dataset_id: RowId) -> dict[str, Any]:
    dc = _dc(request)
    return _json(dc.with_table_rows([dc.get_dataset(dataset_id)])[0])


@router.patch("/datasets/{dataset_id}", summary="Edit a DataSet")
def edit_dataset(request: Request, dataset_id: RowId, body: DatasetPatch) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    return _json(_dc(request).edit_dataset(dataset_id, **changes))


@router.delete("/datasets/{dataset_id}", summary="Delete a DataSet (drop_table: its table too)")
def delete_dataset(request: Request, dataset_id: RowId, drop_table: bool = False) -> dict[str, Any]:
    _dc(request).delete_dataset(dataset_id, drop_table=drop_table)
    return {"deleted": True}


@router.post("/datasets/{dataset_id}/run", status_code=202, summary="Start a run now (returns at once)")
def run_dataset(request: Request, dataset_id: RowId, full_refresh: bool = False) -> dict[str, Any]:
    ds = _dc(request).get_dataset(dataset_id)
    request.app.state.runs.start(_dc(request), ds.id, full_refresh=full_refresh, busy=ds.running)
    return {"started": True, "dataset_id": ds.id}


@router.get(
    "/datasets/{dataset_id}/status",
    summary="Is it running, the latest run, and what a waiting run waits for (poll this)",
)
def dataset_status(request: Request, dataset_id: RowId) -> dict[str, Any]:
    dc = _dc(request)
    ds = dc.get_dataset(dataset_id)
    runs = dc.history(dataset_id, limit=1)
    latest = runs[0] if runs else None
    web_running = request.app.state.runs.is_running(ds.id)
    running = web_running or ds.running or (latest is not None and latest.status == "running")
    going = latest if latest is not None and latest.status == "running" else None
    return {
        "dataset_id": ds.id,
        "running": bool(running),
        "run": _json(latest) if latest is not None else None,
        "waiting": describe_wait(going.waiting, going.rows) if going else None,
        "next_run_at": _json(ds.next_run_at),
        "pending_attempt": ds.pending_attempt,
        # rows in the table now (counted once a run has ended; None while one runs or when busy)
        "table_rows": None if running else dc.with_table_rows([ds])[0].table_rows,
    }


@router.get("/datasets/{dataset_id}/runs", summary="Run history, newest first")
def dataset_runs(
    request: Request, dataset_id: RowId, limit: int = Query(50, ge=1, le=1000)
) -> dict[str, Any]:
    return {"runs": _json(_dc(request).history(dataset_id, limit=limit))}


@router.get("/runs", summary="Runs across DataSets, newest first (filter by dataset, status, dates)")
def list_runs(
    request: Request,
    dataset: str | None = Query(None, description="A DataSet's name or id; all DataSets when left out."),
    status: RunStatus | None = None,
    since: str | None = Query(None, description="Started at or after this date or time (UTC), e.g. 2026-11-01."),
    until: str | None = Query(None, description="Started before this time, or on or before this day (UTC)."),
    limit: int = Query(50, ge=1, le=MAX_RUNS_LIMIT),
    offset: int = Query(0, ge=0),
) -> dict[str, Any]:
    runs = _dc(request).list_runs(dataset, status=status, since=since, until=until, limit=limit, offset=offset)
    return {"runs": _json(runs), "limit": limit, "offset": offset}


@router.get("/runs/daily", summary="How many runs started each UTC day, by status (same filters)")
def runs_per_day(
    request: Request,
    dataset: str | None = None,
    status: RunStatus | None = None,
    since: str | None = None,
    until: str | None = None,
) -> dict[str, Any]:
    days = _dc(request).run_stats_by_day(dataset, status=status, since=since, until=until)
    return {"days": _json(days)}


@router.get("/runs/{run_id}", summary="One run with its per-report details")
def get_run(request: Request, run_id: RowId) -> dict[str, Any]:
    return _json(_dc(request).get_run(run_id))


@router.get("/datasets/{dataset_id}/preview", summary="The first rows of the DataSet's table")
def dataset_preview(
    request: Request, dataset_id: RowId, limit: int = Query(100, ge=1, le=1000), table: str | None = None
) -> dict[str, Any]:
    try:
        return _json(_dc(request).preview(dataset_id, limit=limit, table=table))
    except DataCenterError:
        raise
    except Exception as exc:  # e.g. a destination folder that cannot be created: nothing to preview
        raise HTTPException(404, f"Cannot read the table ({type(exc).__name__}).") from None


@router.get("/datasets/{dataset_id}/columns", summary="Columns of the DataSet's table and their types")
def dataset_columns(request: Request, dataset_id: RowId, table: str | None = None) -> dict[str, Any]:
    dc = _dc(request)
    ds = dc.get_dataset(dataset_id)
    return {"table": table or ds.table, "columns": _json(dc.columns(ds.id, table=table))}


@router.get(
    "/datasets/{dataset_id}/download",
    summary="Download the whole table as CSV or Parquet (streamed)",
    response_class=Response,
)
def dataset_download(
    request: Request, dataset_id: RowId, format: Literal["csv", "parquet"] = "csv", table: str | None = None
) -> Response:
    return download_response(_dc(request), dataset_id, format, table)


# ---------------------------------------------------------------- alerts


class NotificationIn(BaseModel):
    """A channel to tell when a DataSet fails with no retry left, or recovers."""

    url: str = Field(
        description="An apprise URL (slack://…, msteams://…, mailtos://…, json://host/path). Stored encrypted, "
        "never returned: answers show `url_masked` (scheme and host)."
    )
    dataset: str | int | None = Field(
        None, description="A DataSet's name or id; none: the default of every DataSet without its own channel."
    )
    events: list[Literal["failure", "recovery"]] = Field(["failure", "recovery"], description="When to send.")


@router.get("/notifications", summary="List notification channels (URLs masked)")
def list_notifications(request: Request) -> list[dict[str, Any]]:
    return _json(_dc(request).list_notifications())


@router.post("/notifications", status_code=201, summary="Add a notification channel (needs apprise)")
def add_notification(request: Request, body: NotificationIn) -> dict[str, Any]:
    return _json(_dc(request).add_notification(body.url, dataset=body.dataset, events=body.events))


@router.delete("/notifications/{notification_id}", summary="Remove a notification channel")
def remove_notification(request: Request, notification_id: int) -> dict[str, Any]:
    _dc(request).remove_notification(notification_id)
    return {"removed": True}


@router.post("/notifications/test", summary="Send a test message to every channel")
def test_notifications(request: Request) -> dict[str, Any]:
    return {"deliveries": _json(_dc(request).test_notification())}


@router.post("/notifications/{notification_id}/test", summary="Send a test message to one channel")
def test_notification(request: Request, notification_id: int) -> dict[str, Any]:
    return {"deliveries": _json(_dc(request).test_notification(notification_id))}
