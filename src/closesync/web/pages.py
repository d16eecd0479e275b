"""Server-rendered pages: Accounts, DataSets, the New/Edit DataSet panes, one DataSet, login.

Every action calls the DataCenter (through app.state.dc); errors it raises are shown next to the field
they name or as a message at the top of the page.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from closesync.datacenter import (
    Account,
    AccountKeyError,
    ConflictError,
    DataCenter,
    DataCenterError,
    Dataset,
    DatasetBusyError,
    NotFoundError,
    ReportInfo,
    ValidationError,
)
from closesync.datacenter.errors import OrganizationChangeError
from closesync.web import forms
from closesync.web.params import RowId
from closesync.web.rendering import download_response, flash, render
from closesync.web.run_pages import dataset_chart
from closesync.web.security import Auth, TooManyGuesses

router = APIRouter(include_in_schema=False)


def _dc(request: Request) -> DataCenter:
    return request.app.state.dc


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _form_text(form: Any, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


async def _dataset(request: Request, dataset_id: int) -> Dataset:
    """The dataset; an unknown id raises NotFoundError, which app.py renders as the 404 page."""
    return await run_in_threadpool(_dc(request).get_dataset, dataset_id)


# ---------------------------------------------------------------- login


@router.get("/", response_class=HTMLResponse)
async def home() -> Response:
    return _redirect("/datasets")


def _safe_next(target: str) -> str:
    """Only same-site paths: a login link must not bounce the user to another site."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/datasets"
    return target


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str = "/datasets") -> Response:
    if request.app.state.auth is None:
        return _redirect("/datasets")
    return render(request, "login.html", {"next": _safe_next(next), "error": None, "show_nav": False})


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    auth: Auth | None = request.app.state.auth
    form = await request.form()
    target = _safe_next(_form_text(form, "next") or "/datasets")
    if auth is None:
        return _redirect(target)
    given = form.get("password")
    try:
        ok = isinstance(given, str) and await auth.password_ok(request, given)
    except TooManyGuesses as exc:
        error = f"Too many wrong passwords from your address: wait {exc.retry_after} s and try again."
        page = render(request, "login.html", {"next": target, "error": error, "show_nav": False}, status=429)
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    if ok:
        auth.log_in(request)
        return _redirect(target)
    return render(
        request, "login.html", {"next": target, "error": "Wrong password.", "show_nav": False}, status=401
    )


@router.post("/logout")
async def logout(request: Request) -> Response:
    auth: Auth | None = request.app.state.auth
    if auth is not None:
        auth.log_out(request)
    request.session.clear()
    return _redirect("/login")


# ---------------------------------------------------------------- accounts


@router.get("/accounts", response_class=HTMLResponse)
async def accounts_page(request: Request) -> Response:
    accounts = await run_in_threadpool(_dc(request).list_accounts)
    return render(
        request, "accounts.html", {"section": "accounts", "accounts": accounts, "values": {}, "errors": {}}
    )


async def _add_account(request: Request, form: Any) -> tuple[Any | None, dict[str, str]]:
    """Validate the key live and save the account; errors keyed by form field."""
    name = _form_text(form, "account_name")
    key = form.get("api_key")
    key = key.strip() if isinstance(key, str) else ""
    base_url = _form_text(form, "base_url") or None
    errors: dict[str, str] = {}
    if not name:
        errors["account_name"] = "Give the account a name, e.g. the company or team."
    if not key:
        errors["api_key"] = "Paste the API key from Close (Settings → API Keys)."
    if errors:
        return None, errors
    try:
        account = await run_in_threadpool(_dc(request).add_account, name, api_key=key, base_url=base_url)
    except AccountKeyError as exc:
        return None, {"api_key": str(exc)}
    except ValidationError as exc:
        field = forms.FIELD_ALIASES.get(exc.field or "", exc.field or "")
        field = {"name": "account_name", "": "api_key"}.get(field, field)
        return None, {field: str(exc)}
    except ConflictError as exc:
        return None, {"account_name": str(exc)}
    except DataCenterError as exc:
        return None, {"api_key": str(exc)}
    return account, {}


@router.post("/accounts", response_class=HTMLResponse)
async def add_account(request: Request) -> Response:
    form = await request.form()
    account, errors = await _add_account(request, form)
    if account is None:
        accounts = await run_in_threadpool(_dc(request).list_accounts)
        values = {"account_name": _form_text(form, "account_name"), "base_url": _form_text(form, "base_url")}
        return render(
            request,
            "accounts.html",
            {
                "section": "accounts",
                "accounts": accounts,
                "values": values,
                "errors": errors,
                "open_add": True,
            },
            status=422,
        )
    flash(
        request, "ok", f"Account “{account.name}” added: the key works ({account.user_email or 'validated'})."
    )
    return _redirect("/accounts")


async def _account_page(
    request: Request,
    account: Account,
    errors: dict[str, str] | None = None,
    status: int = 200,
    doctor: dict[str, Any] | None = None,
) -> Response:
    """One account: its health, details and DataSets, the doctor's check (once run), the Replace key form
    and the Remove form."""
    datasets = await run_in_threadpool(_dc(request).list_datasets)
    context = {
        "section": "accounts",
        "a": account,
        "datasets": [d for d in datasets if d.account_id == account.id],
        "errors": errors or {},
        "doctor": doctor,
    }
    return render(request, "account.html", context, status=status)


def _back(form: Any, account_id: int) -> RedirectResponse:
    """Back to the page the form was on: the account's own page or the Accounts list."""
    return _redirect(f"/accounts/{account_id}" if form.get("back") == "account" else "/accounts")


@router.get("/accounts/{account_id}", response_class=HTMLResponse)
async def account_page(request: Request, account_id: RowId) -> Response:
    account = await run_in_threadpool(_dc(request).get_account, account_id)  # unknown id: the 404 page
    return await _account_page(request, account)


@router.post("/accounts/{account_id}/key", response_class=HTMLResponse)
async def replace_key(request: Request, account_id: RowId) -> Response:
    """Replace key: only a key typed in (never a server variable), checked with Close, same organization
    unless the user ticks the confirmation the refusal shows."""
    dc = _dc(request)
    form = await request.form()
    account = await run_in_threadpool(dc.get_account, account_id)
    key = _form_text(form, "api_key")
    errors: dict[str, str] = {}
    if not key:
        errors["api_key"] = "Paste the new API key from Close (Settings → API Keys)."
    else:
        confirmed = form.get("confirm_organization_change") == "1"
        try:
            new = await run_in_threadpool(
                lambda: dc.set_account_key(account_id, api_key=key, allow_other_organization=confirmed)
            )
        except OrganizationChangeError as exc:
            errors["organization"] = str(exc)
        except DataCenterError as exc:  # Close refused the key, or it could not be reached
            errors["api_key"] = str(exc)
        else:
            who = new.user_email or "validated"
            flash(request, "ok", f"Key of “{new.name}” replaced: {new.key_hint} works ({who}).")
            return _redirect(f"/accounts/{account_id}")
    return await _account_page(request, account, errors, status=422)


@router.post("/accounts/{account_id}/check")
async def check_account(request: Request, account_id: RowId) -> Response:
    form = await request.form()
    try:
        result = await run_in_threadpool(_dc(request).check_account, account_id)
    except NotFoundError:
        raise  # app.py renders the 404 page
    except DataCenterError as exc:
        flash(request, "error", str(exc))
        return _back(form, account_id)
    flash(request, "ok" if result.ok else "error", f"{result.account.name}: {result.message}")
    return _back(form, account_id)


@router.post("/accounts/{account_id}/doctor", response_class=HTMLResponse)
async def doctor_account(request: Request, account_id: RowId) -> Response:
    """Check this account: the doctor's read-only requests, rendered on the account's page."""
    account = await run_in_threadpool(_dc(request).get_account, account_id)  # unknown id: the 404 page
    try:
        result = await run_in_threadpool(_dc(request).doctor, account_id)
    except DataCenterError as exc:  # e.g. the key's environment variable is not set here
        flash(request, "error", str(exc))
        return _redirect(f"/accounts/{account_id}")
    return await _account_page(request, account, doctor=result.to_dict())


@router.post("/accounts/{account_id}/rename")
async def rename_account(request: Request, account_id: RowId) -> Response:
    """The account's name only: its key stays (Replace key changes that)."""
    form = await request.form()
    try:
        old = await run_in_threadpool(_dc(request).get_account, account_id)
        new = await run_in_threadpool(_dc(request).rename_account, account_id, _form_text(form, "name"))
    except NotFoundError:
        raise  # app.py renders the 404 page
    except DataCenterError as exc:  # empty, too long, or taken: the message says which
        flash(request, "error", str(exc))
        return _back(form, account_id)
    if new.name != old.name:
        flash(request, "ok", f"Account “{old.name}” renamed to “{new.name}”.")
    return _back(form, account_id)


@router.post("/accounts/{account_id}/delete")
async def remove_account(request: Request, account_id: RowId) -> Response:
    """Remove an account; one still used by DataSets only when its name is typed in the confirm field."""
    form = await request.form()
    account = await run_in_threadpool(_dc(request).get_account, account_id)  # unknown id: the 404 page
    confirmed = _form_text(form, "confirm_name") == account.name
    if account.dataset_count and not confirmed:
        errors = {"confirm_name": f"Type “{account.name}” exactly to remove it with its DataSets."}
        return await _account_page(request, account, errors, status=422)
    try:
        removed = await run_in_threadpool(_dc(request).remove_account, account_id, force=confirmed)
    except DataCenterError as exc:  # a DataSet is running: try when it ends
        flash(request, "error", str(exc))
        return _redirect(f"/accounts/{account_id}")
    history = f"{account.run_count} run(s) of history"
    extra = f" with its DataSets {', '.join(removed)} and {history}" if removed else ""
    flash(request, "ok", f"Removed account “{account.name}”{extra}.")
    return _redirect("/accounts")


# ---------------------------------------------------------------- datasets


@router.get("/datasets", response_class=HTMLResponse)
async def datasets_page(request: Request) -> Response:
    dc = _dc(request)
    datasets = await run_in_threadpool(dc.list_datasets)
    datasets = await run_in_threadpool(dc.with_table_rows, datasets)
    return render(request, "datasets.html", {"section": "datasets", "datasets": datasets})


def report_groups(reports: list[ReportInfo]) -> list[tuple[str, list[ReportInfo]]]:
    """The report menu's <optgroup>s: the 38 classic reports first, then one group per family, in the
    DataCenter's order (it lists them so)."""
    groups: dict[str, list[ReportInfo]] = {}
    for r in reports:
        groups.setdefault("Classic (the 38)" if r.classic else r.family or "Other", []).append(r)
    return list(groups.items())


async def _form_context(request: Request, form: forms.DatasetForm, **extra: Any) -> dict[str, Any]:
    """What the panes need: accounts, reports and the selected account's organization/user choices."""
    dc = _dc(request)
    accounts = await run_in_threadpool(dc.list_accounts)
    reports = await run_in_threadpool(dc.reports)
    choices = None
    if not form.get("account") and accounts:
        form.values["account"] = str(accounts[0].id)
    selected = next((a for a in accounts if str(a.id) == form.get("account")), None)
    if selected is not None:
        try:
            choices = await run_in_threadpool(dc.report_choices, selected.id)
        except DataCenterError:
            choices = None
    current = next((r for r in reports if r.slug == form.get("report")), None)
    ctx = {
        "form": form,
        "accounts": accounts,
        "reports": reports,
        "report_groups": report_groups(reports),
        "report": current,
        "choices": choices,
        "weekdays": forms.WEEKDAYS,
        "methods": forms.METHODS,
        "every_units": forms.EVERY_UNITS,
        "delay_units": forms.DELAY_UNITS,
        "add_account": form.get("account") == "new" or not accounts,
    }
    ctx.update(extra)
    return ctx


@router.get("/datasets/new", response_class=HTMLResponse)
async def new_dataset_page(request: Request, account: str = "", report: str = "") -> Response:
    form = forms.from_submission({"account": account, "report": report})
    ctx = await _form_context(request, form, section="new", mode="new")
    return render(request, "dataset_form.html", ctx)


async def _save(request: Request, dataset_id: int | None) -> Response:
    """Shared by create and edit: add the account if asked, compose the schedule, call the DataCenter."""
    dc = _dc(request)
    raw = await request.form()
    form = forms.from_submission(dict(raw))
    mode = "new" if dataset_id is None else "edit"
    if form.get("account") == "new":
        account, errors = await _add_account(request, raw)
        for field, message in errors.items():
            form.error(field, message)
        if account is not None:
            form.values["account"] = str(account.id)
            form.values["account_name"] = ""
    spec = forms.schedule_spec(form)
    if spec is not None and "schedule" not in form.errors:
        try:
            info = await run_in_threadpool(dc.validate_schedule, spec)
            spec = info.spec
        except DataCenterError as exc:
            form.error("schedule", str(exc))
            spec = None
    args = forms.dataset_arguments(form, spec)
    added_account_failed = form.get("account") == "new"
    if added_account_failed:  # its errors are under the new account's fields already
        args.pop("account")
    await _only_what_the_report_takes(request, args, dataset_id)
    try:
        if form.errors or added_account_failed:  # save nothing, but name every other wrong field too
            await run_in_threadpool(lambda: dc.check_dataset(dataset_id, **args))
        elif dataset_id is None:
            ds = await run_in_threadpool(lambda: dc.create_dataset(**args))
        else:
            ds = await run_in_threadpool(lambda: dc.edit_dataset(dataset_id, **args))
    except (ValidationError, ConflictError) as exc:
        for field, message in (exc.errors or {"general": str(exc)}).items():
            if not (added_account_failed and field == "account"):
                form.error(field, message)
    except DataCenterError as exc:
        form.error("general", str(exc))
    else:
        if not form.errors and not added_account_failed:
            flash(request, "ok", f"DataSet “{ds.name}” {'created' if mode == 'new' else 'saved'}.")
            return _redirect(f"/datasets/{ds.id}")
    ctx = await _form_context(
        request, form, section="new" if mode == "new" else "datasets", mode=mode, dataset_id=dataset_id
    )
    return render(request, "dataset_form.html", ctx, status=422)


async def _only_what_the_report_takes(request: Request, args: dict[str, Any], dataset_id: int | None) -> None:
    """Hidden selects still post their values: send only the parameters the report takes, and keep what
    the edit form shows unchanged as it is saved (a masked destination, a Since with a time of day)."""
    dc = _dc(request)
    reports = await run_in_threadpool(dc.reports)
    info = next((r for r in reports if r.slug == args.get("report")), None)
    if info is not None:
        for key, used in (
            ("organization_id", info.uses_organization_id),
            ("user_id", info.uses_user_id),
            ("since", info.uses_date_range),
        ):
            if not used:
                args[key] = None
    if dataset_id is not None:
        current = await run_in_threadpool(dc.get_dataset, dataset_id)
        if args.get("destination") == current.destination_display:
            args.pop("destination")  # shown masked; unchanged means keep the stored one
        if current.since is not None and args.get("since") == current.since.date().isoformat():
            args.pop("since")  # a date input shows the day only; the same day keeps the saved moment


@router.post("/datasets/new", response_class=HTMLResponse)
async def create_dataset(request: Request) -> Response:
    return await _save(request, None)


@router.get("/datasets/{dataset_id}", response_class=HTMLResponse)
async def dataset_page(request: Request, dataset_id: RowId, table: str | None = None) -> Response:
    dc = _dc(request)
    ds = await _dataset(request, dataset_id)
    [ds] = await run_in_threadpool(dc.with_table_rows, [ds])
    runs = await run_in_threadpool(dc.history, dataset_id, limit=50)
    preview = None
    preview_error = None
    try:
        preview = await run_in_threadpool(lambda: dc.preview(dataset_id, limit=100, table=table))
    except DataCenterError as exc:
        preview_error = str(exc)
    except Exception as exc:  # a table not created yet or a destination that went away
        preview_error = f"No rows to show yet ({type(exc).__name__})."
    try:
        columns = await run_in_threadpool(lambda: dc.columns(dataset_id, table=table))
    except Exception:  # the preview above already says why the table cannot be read
        columns = []
    running = request.app.state.runs.is_running(dataset_id) or ds.running
    latest = runs[0] if runs else None
    chart = await run_in_threadpool(dataset_chart, dc, dataset_id)
    account = await run_in_threadpool(dc.get_account, ds.account_id)  # its health shows on the page
    return render(
        request,
        "dataset.html",
        {
            **chart,
            "account": account,
            "section": "datasets",
            "ds": ds,
            "runs": runs,
            "latest": latest,
            "running": running or (latest is not None and latest.status == "running"),
            "preview": preview,
            "preview_error": preview_error,
            "columns": columns,
        },
    )


@router.get("/datasets/{dataset_id}/edit", response_class=HTMLResponse)
async def edit_dataset_page(request: Request, dataset_id: RowId) -> Response:
    ds = await _dataset(request, dataset_id)
    form = forms.from_dataset(ds)
    ctx = await _form_context(request, form, section="datasets", mode="edit", dataset_id=dataset_id)
    return render(request, "dataset_form.html", ctx)


@router.post("/datasets/{dataset_id}/edit", response_class=HTMLResponse)
async def edit_dataset(request: Request, dataset_id: RowId) -> Response:
    await _dataset(request, dataset_id)
    return await _save(request, dataset_id)


@router.post("/datasets/{dataset_id}/run")
async def run_dataset(request: Request, dataset_id: RowId) -> Response:
    """Fallback for browsers without JavaScript: start the run and come back to the page."""
    ds = await _dataset(request, dataset_id)
    try:
        request.app.state.runs.start(_dc(request), ds.id, busy=ds.running)
        flash(request, "info", f"Run of “{ds.name}” started.")
    except DatasetBusyError as exc:
        flash(request, "error", str(exc))
    return _redirect(f"/datasets/{dataset_id}")


@router.post("/datasets/{dataset_id}/delete")
async def delete_dataset(request: Request, dataset_id: RowId) -> Response:
    form = await request.form()
    ds = await _dataset(request, dataset_id)
    try:
        await run_in_threadpool(
            _dc(request).delete_dataset, dataset_id, drop_table=form.get("drop_table") == "1"
        )
    except DataCenterError as exc:
        flash(request, "error", str(exc))
        return _redirect(f"/datasets/{dataset_id}")
    flash(request, "ok", f"DataSet “{ds.name}” deleted.")
    return _redirect("/datasets")


@router.get("/datasets/{dataset_id}/download.{fmt}")
def download(request: Request, dataset_id: RowId, fmt: str, table: str | None = None) -> Response:
    return download_response(_dc(request), dataset_id, fmt, table)  # DataCenter errors: app.py's error page


# ---------------------------------------------------------------- API reference (no CDN assets)


@router.get("/api", response_class=HTMLResponse)
async def api_page(request: Request) -> Response:
    spec = request.app.openapi()
    endpoints = []
    for path, ops in spec.get("paths", {}).items():
        for method, op in ops.items():
            endpoints.append({"method": method.upper(), "path": path, "summary": op.get("summary", "")})
    return render(request, "api.html", {"section": "api", "endpoints": endpoints})


@router.get("/openapi.json")
async def openapi_document(request: Request) -> Response:
    """The OpenAPI document of /api/ (behind the login when a password is set)."""
    return JSONResponse(request.app.openapi())
