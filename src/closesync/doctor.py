"""`closesync doctor`: what a Close API key can sync, found with a bounded number of read-only requests.

One request per source (a page of one record; the search sources one `POST data/search/`, the reports one
`POST report/activity/` and one `GET report/sent_emails/`), plus `/me/`, the organization, the activity
metrics and the custom field definitions: about thirty requests whatever the account's size, and never a
write (only GETs and the read-only POSTs). Each of the 38 reports gets a status (`STATUSES`) and what to do
next; the custom field counts say whether a leads or contacts search will need its `_fields` selectors
split (`SEARCH_SELECTOR_CEILING`); the rate-limit headers Close sent are kept per endpoint group.

`DoctorResult.to_dict()` is the stable JSON of `closesync doctor --json` (schema `closesync.doctor/1`,
documented in the README under "Troubleshooting"); it never holds the API key.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from closesync import __version__
from closesync.close.client import DEFAULT_BASE_URL, CloseClient
from closesync.close.errors import (
    AuthenticationError,
    CloseError,
    ConnectionFailedError,
    NotFoundError,
    PermissionDeniedError,
)
from closesync.close.groups import endpoint_group
from closesync.close.ratelimit import parse_ratelimit
from closesync.close.records import Record
from closesync.close.selectors import FIRST_GUESS
from closesync.reports import REPORTS
from closesync.reports.custom_fields import CustomField
from closesync.reports.readers import activity_metrics, custom_field_definitions, search_fields
from closesync.reports.shaping import Shaper
from closesync.reports.spec import ReadKind, ReportSpec, group_by_source

SCHEMA = "closesync.doctor/1"
#: `_fields` selectors a search request may name before Close refuses it (production connectors: ~80 work,
#: ~140 fail); more than this and the sync splits them across requests (close.selectors).
SEARCH_SELECTOR_CEILING = FIRST_GUESS
CUSTOM_FIELD_KINDS = ("lead", "contact", "opportunity", "activity")
AUTH_KEYS = ("status", "message", "user_id", "user_email", "organization_id", "organization_name")
STATUSES = ("ok", "empty", "not_available", "permission_denied", "error")
NEXT_STEPS = {
    "ok": "Nothing to do.",
    "empty": "Nothing to do: the account has no such records yet, so the report loads 0 rows.",
    "not_available": "Nothing to fix: the report loads 0 rows with a note saying why. Leave it out of your "
    "DataSets if you do not need it.",
    "permission_denied": "Ask an admin of the Close organization to give this key's user access to this data "
    "(or use a key of an admin), then run the doctor again.",
    "error": "Run the doctor again later; if it persists, attach the output of `closesync doctor --json` "
    "to a bug report.",
}
UNDOCUMENTED = "it is not in Close's public documentation and not every account has it"


@dataclass
class ReportCheck:
    """One report: its status (one of `STATUSES`), why, and what to do next."""

    slug: str
    name: str
    source: str
    status: str
    detail: str
    next_step: str


@dataclass
class DoctorResult:
    """Everything one doctor run found; `to_dict()` is the documented JSON."""

    base_url: str
    checked_at: str
    auth: dict[str, Any]
    reports: list[ReportCheck] = field(default_factory=list)
    custom_fields: dict[str, dict[str, Any]] = field(default_factory=dict)
    search_selectors: dict[str, dict[str, Any]] = field(default_factory=dict)
    rate_limits: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def key_accepted(self) -> bool:
        return self.auth.get("status") == "ok"

    @property
    def ok(self) -> bool:
        """The key works and no report met a permission problem or an error."""
        return self.key_accepted and all(r.status not in ("permission_denied", "error") for r in self.reports)

    def summary(self) -> dict[str, int]:
        counts = Counter(r.status for r in self.reports)
        return {status: counts.get(status, 0) for status in STATUSES}

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "closesync_version": __version__,
            "checked_at": self.checked_at,
            "base_url": self.base_url,
            "ok": self.ok,
            "auth": dict(self.auth),
            "summary": self.summary(),
            "reports": [asdict(r) for r in self.reports],
            "custom_fields": self.custom_fields,
            "search_selectors": self.search_selectors,
            "rate_limits": self.rate_limits,
            "requests": self.requests,
            "notes": list(self.notes),
        }


class _Recorder(httpx.BaseTransport):
    """The HTTP transport of the doctor's client: counts requests per endpoint group and keeps the last
    rate-limit reading Close sent for each (the client itself only paces by them)."""

    def __init__(self, inner: httpx.BaseTransport | None = None) -> None:
        self.inner = inner or httpx.HTTPTransport()
        self.requests: Counter[str] = Counter()
        self.limits: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        group = endpoint_group(request.method, request.url.path)
        with self._lock:
            self.requests[group] += 1
        response = self.inner.handle_request(request)
        info = parse_ratelimit(response.headers)
        if info is not None:
            with self._lock:
                self.limits[group] = {
                    "limit": info.limit, "remaining": info.remaining, "reset_seconds": info.reset
                }
        return response

    def close(self) -> None:
        self.inner.close()


def run_doctor(
    api_key: str,
    base_url: str = DEFAULT_BASE_URL,
    *,
    timeout: float = 30.0,
    transport: httpx.BaseTransport | None = None,
) -> DoctorResult:
    """Check what `api_key` can read at `base_url` (read-only, about thirty requests). Never raises for
    what Close answers: a refused key or an unreachable Close is the result's `auth`."""
    recorder = _Recorder(transport)
    result = DoctorResult(base_url=base_url, checked_at=_now(), auth=dict.fromkeys(AUTH_KEYS))
    try:
        with CloseClient(api_key, base_url, timeout=timeout, max_retries=2, max_retry_time=60.0, prefetch=1,
                         transport=recorder) as client:
            _Checks(client, result).run()
    finally:
        result.rate_limits = dict(sorted(recorder.limits.items()))
        by_group = dict(sorted(recorder.requests.items()))
        result.requests = {"total": sum(by_group.values()), "by_group": by_group}
    if result.key_accepted and not result.rate_limits:
        result.notes.append("Close sent no rate-limit headers (RateLimit) on these answers")
    return _scrubbed(result, api_key)


class _Checks:
    """The checks of one run, in order; each fills its part of `result`."""

    def __init__(self, client: CloseClient, result: DoctorResult) -> None:
        self.client, self.result = client, result
        self.organization_id: str | None = None

    def run(self) -> None:
        me = self._auth()
        if me is None:
            return
        samples: dict[str, tuple[str, str, list[Record]]] = {}  # source -> (status, detail, sample records)
        custom = self._custom_fields()
        for specs in group_by_source(list(REPORTS)):
            first = specs[0]
            if first.read is ReadKind.ME:
                samples[first.source] = ("ok", "", [me])
            else:
                samples[first.source] = self._sample(first)
            self._search_selectors(specs, custom)
            for spec in specs:
                self.result.reports.append(self._judge(spec, *samples[first.source]))

    # -- the key and its organization -------------------------------------------------------------------
    def _auth(self) -> Record | None:
        auth = self.result.auth
        try:
            me = self.client.get("me/")
        except AuthenticationError as exc:
            auth.update(status="invalid", message=f"Close refused the API key ({exc.message}). Check that "
                        "the key is complete and not revoked (Close: Settings > API Keys); a new key can "
                        "replace it with `closesync accounts set-key`.")
            return None
        except ConnectionFailedError as exc:
            auth.update(status="unreachable", message=f"Could not reach Close at {self.result.base_url} "
                        f"({exc.message}). Check the address (--base-url), the network and any proxy.")
            return None
        except CloseError as exc:
            auth.update(status="error", message=f"Close answered /me/ with an error ({exc.message}).")
            return None
        organizations = [o for o in me.get("organizations") or [] if isinstance(o, dict) and o.get("id")]
        self.organization_id = str(organizations[0]["id"]) if organizations else None
        auth.update(
            status="ok",
            message="The key works.",
            user_id=me.get("id"),
            user_email=me.get("email"),
            organization_id=self.organization_id,
            organization_name=organizations[0].get("name") if organizations else None,
        )
        if self.organization_id is None:
            self.result.notes.append("The key's user belongs to no organization: organization reports fail")
        return me

    # -- one small page per source -----------------------------------------------------------------------
    def _sample(self, spec: ReportSpec) -> tuple[str, str, list[Record]]:
        """(status, detail, up to one record) for the source of `spec`."""
        try:
            return "ok", "", READS[spec.read](self, spec)
        except PermissionDeniedError as exc:
            return "permission_denied", f"Close refused access ({exc.message})", []
        except NotFoundError as exc:
            return "not_available", f"Close has no {spec.path} for this account ({exc.message})", []
        except CloseError as exc:
            return "error", exc.message, []
        except ValueError as exc:
            return "error", str(exc), []

    def _list(self, spec: ReportSpec) -> list[Record]:
        page = self.client.get(spec.path, {**dict(spec.fixed_params), "_limit": 1})
        return [r for r in page.get("data") or [] if isinstance(r, dict)][:1]

    def _fanout(self, spec: ReportSpec) -> list[Record]:
        """One parent from its list, then one of its records (none when the parent list is empty)."""
        assert spec.fanout is not None
        parents = [r for r in self.client.get(spec.fanout.path, {"_limit": 1}).get("data") or [] if isinstance(r, dict)]
        if not parents or not parents[0].get("id"):
            return []
        parent_id = str(parents[0]["id"])
        if spec.fanout.param is None:
            return [self.client.get(spec.path.format(id=parent_id))]
        page = self.client.get(spec.path, {spec.fanout.param: parent_id, "_limit": 1})
        return [r for r in page.get("data") or [] if isinstance(r, dict)][:1]

    def _search(self, spec: ReportSpec) -> list[Record]:
        nested = [s.nested.path[0] for s in REPORTS if s.source == spec.source and s.nested is not None]
        body = {
            "query": {"type": "and", "queries": [{"type": "object_type", "object_type": spec.source}]},
            "_limit": 1,
            "_fields": {spec.source: ["id", *nested]},
        }
        page = self.client.post("data/search/", body)
        return [r for r in page.get("data") or [] if isinstance(r, dict)][:1]

    def _object(self, spec: ReportSpec) -> list[Record]:
        if self.organization_id is None:
            raise ValueError("no organization to read (the key's user belongs to none)")
        return [self.client.get(spec.path.format(organization_id=self.organization_id))]

    def _activity_report(self, spec: ReportSpec) -> list[Record]:
        metrics = activity_metrics(self.client)
        if not metrics:
            return []
        body = {"type": "overview", "metrics": metrics[:1], "relative_range": "today"}
        return [r for r in self.client.post(spec.path, body).get("data") or [] if isinstance(r, dict)][:1]

    def _sent_emails(self, spec: ReportSpec) -> list[Record]:
        if self.organization_id is None:
            raise ValueError("no organization to read (the key's user belongs to none)")
        today = datetime.now(UTC).date().isoformat()
        page = self.client.get(spec.path.format(organization_id=self.organization_id),
                               {"date_start": today, "date_end": today})
        return [r for r in page.get("sent_email_stats") or [] if isinstance(r, dict)][:1]

    # -- what each report makes of its source ------------------------------------------------------------
    def _judge(self, spec: ReportSpec, status: str, detail: str, sample: list[Record]) -> ReportCheck:
        next_step = NEXT_STEPS[status]
        if status == "not_available":  # the source's endpoint itself: a sync of it would fail
            next_step = "Leave this report out of your DataSets: Close does not serve its source here."
        elif status == "ok" and not sample:
            status, detail, next_step = "empty", f"{spec.source} has no records", NEXT_STEPS["empty"]
        elif status == "ok" and spec.nested is not None:
            status, detail = _nested_status(spec, sample[0])
            next_step = NEXT_STEPS[status]
        elif status == "ok":
            detail = "read one record"
        return ReportCheck(spec.slug, spec.name, spec.source_label, status, detail, next_step)

    # -- custom fields and the search selector ceiling ---------------------------------------------------
    def _custom_fields(self) -> dict[str, list[CustomField]]:
        found: dict[str, list[CustomField]] = {}
        for kind in CUSTOM_FIELD_KINDS:
            notes: list[str] = []
            found[kind] = custom_field_definitions(self.client, kind, notes)
            self.result.custom_fields[kind] = {
                "count": None if notes else len(found[kind]),
                "error": "; ".join(notes) or None,
            }
        return found

    def _search_selectors(self, specs: list[ReportSpec], custom: dict[str, list[CustomField]]) -> None:
        if specs[0].read is not ReadKind.SEARCH:
            return
        fields = [f for kind in dict.fromkeys(s.custom_field_kind for s in specs if s.custom_field_kind)
                  for f in custom.get(kind or "", [])]
        shapers = {s.slug: Shaper(s, fields) for s in specs}
        selectors = len(search_fields(specs, shapers))
        self.result.search_selectors[specs[0].source] = {
            "selectors": selectors,
            "ceiling": SEARCH_SELECTOR_CEILING,
            "needs_splitting": selectors > SEARCH_SELECTOR_CEILING,
        }


READS: dict[ReadKind, Callable[[_Checks, ReportSpec], list[Record]]] = {
    ReadKind.LIST: _Checks._list,
    ReadKind.BY_DATE: _Checks._list,
    ReadKind.SEARCH: _Checks._search,
    ReadKind.OBJECT: _Checks._object,
    ReadKind.REPORT_ACTIVITY: _Checks._activity_report,
    ReadKind.REPORT_SENT_EMAILS: _Checks._sent_emails,
    ReadKind.FANOUT: _Checks._fanout,
    ReadKind.EVENTS: _Checks._list,  # GET event/?_limit=1: the newest event
}


def _nested_status(spec: ReportSpec, parent: Record) -> tuple[str, str]:
    """A nested report is available when its parent carries the array (or its documented fallback)."""
    nested = spec.nested
    assert nested is not None
    key, parent_name = nested.path[0], "/me/ answer" if spec.source == "me" else spec.source
    if key in parent:
        return "ok", f"the {parent_name} carries '{key}'"
    if nested.fallback and nested.fallback[0] in parent:
        return "ok", f"read from '{nested.fallback[0]}' (the {parent_name} has no '{key}')"
    return "not_available", f"the {parent_name} has no '{key}' key: {UNDOCUMENTED}"


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _scrubbed(result: DoctorResult, api_key: str) -> DoctorResult:
    """The result with the key removed from every text (Close's messages never hold it; belt and braces)."""

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace(api_key, "<api key>") if api_key else value
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    result.auth = clean(result.auth)
    result.notes = clean(result.notes)
    result.custom_fields = clean(result.custom_fields)
    for check in result.reports:
        check.detail = clean(check.detail)
    return result
