"""Reporting endpoints: POST /report/activity/, the metrics list, and sent-email stats.

Numbers derive from the generated activity volume in the requested range (counted by bisect, so even huge
accounts answer instantly) and are split deterministically by user and metric.
"""

from __future__ import annotations

import hashlib
from typing import Any

from closesync.sandbox.errors import ApiError, not_found
from closesync.sandbox.timefmt import DAY_MS, iso, parse_us

Record = dict[str, Any]

METRICS: list[tuple[str, str, str, str, int]] = [
    # key, name, description, source collection, share in percent of that collection's records
    ("calls.outbound.all.count", "Outbound calls", "Number of outbound calls", "activity/call", 66),
    ("calls.inbound.all.count", "Inbound calls", "Number of inbound calls", "activity/call", 34),
    ("calls.outbound.all.sum_duration", "Outbound call duration", "Seconds on outbound calls", "activity/call", 6000),
    ("emails.sent.all.count", "Sent emails", "Number of emails sent", "activity/email", 60),
    ("emails.received.all.count", "Received emails", "Number of emails received", "activity/email", 33),
    ("emails.opened.all.count", "Opened emails", "Number of sent emails opened", "activity/email", 20),
    ("notes.created.all.count", "Notes", "Number of notes created", "activity/note", 100),
    ("leads.created.all.count", "Leads created", "Number of leads created", "lead", 100),
    ("leads.status_changed.all.count", "Lead status changes", "Number of lead status changes",
     "activity/status_change/lead", 100),
    ("opportunities.created.all.count", "Opportunities created", "Number of opportunities created",
     "opportunity", 100),
    ("opportunities.won.all.count", "Opportunities won", "Number of opportunities won", "opportunity", 25),
    ("opportunities.won.all.sum_annualized_value", "Won value (annualized)", "Annualized value won, in cents",
     "opportunity", 2_500_000),
    ("custom_activities.created.all.count", "Custom activities", "Number of custom activities",
     "activity/custom", 100),
]
METRIC_BY_KEY = {m[0]: m for m in METRICS}
RELATIVE = {"today": 1, "yesterday": 1, "this-week": 7, "last-week": 7, "this-month": 30, "last-month": 30,
            "this-quarter": 91, "last-quarter": 91, "this-year": 365, "last-year": 365}


def _share(*parts: Any) -> int:
    return hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=2).digest()[0]


def _count(data: Any, name: str, lo: int, hi: int) -> int:
    coll = data.collection(name)
    a, b = coll.range_created(lo, hi)
    return b - a


def _value(data: Any, metric: str, lo: int, hi: int, users: list[str] | None, user: str | None = None) -> int:
    _key, _name, _desc, source, share = METRIC_BY_KEY[metric]
    n = _count(data, source, lo, hi) * share // 100
    all_users = data.catalog.active_user_ids
    if user is not None:  # spread over users with stable weights
        weights = {u: 1 + _share(metric, u) for u in all_users}
        return n * weights.get(user, 0) // sum(weights.values())
    if users:
        return sum(_value(data, metric, lo, hi, None, u) for u in users)
    return n


def activity_metrics(req: Any) -> Record:
    return {"data": [{"key": k, "name": n, "description": d} for k, n, d, _s, _p in METRICS]}


def activity_report(req: Any) -> Record:
    """POST report/activity/ as Close documents its body: `type` and `metrics` mandatory; `datetime_range`
    ({start, end}) or `relative_range`; optional `users` (user ids) and `query` ({type: saved_search,
    saved_search_id})."""
    body = req.body if isinstance(req.body, dict) else {}
    field_errors = _activity_body_errors(body)
    if field_errors:
        raise ApiError.validation(field_errors=field_errors)
    data, metrics = req.data, body["metrics"]
    if "datetime_range" in body:
        lo = parse_us(body["datetime_range"]["start"]) // 1000
        hi = parse_us(body["datetime_range"]["end"]) // 1000
    else:
        hi = data.layout.end_ms
        rel = body["relative_range"]
        lo = data.layout.start_ms if rel == "all-time" else hi - RELATIVE[rel] * DAY_MS
    users = body.get("users") or None
    if body["type"] == "comparison":
        rows = [{"user_id": u, **{m: _value(data, m, lo, hi, None, u) for m in metrics}}
                for u in (users or data.catalog.active_user_ids)]
    else:
        bucket = DAY_MS if hi - lo <= 62 * DAY_MS else 30 * DAY_MS
        rows = []
        start = lo - lo % DAY_MS
        while start < hi and len(rows) < 400:
            end = min(start + bucket, hi)
            rows.append({"datetime": iso(start, micros=False),
                         **{m: _value(data, m, max(lo, start), end, users) for m in metrics}})
            start = end
    totals = {m: sum(r[m] for r in rows) for m in metrics}
    return {"aggregations": {"totals": totals}, "data": rows,
            "queries": {"leads": {m: [f"sandbox metric {m}"] for m in metrics}}}


def _activity_body_errors(body: Record) -> dict[str, str]:
    """Close's field errors for an activity-report body (empty when it is well formed)."""
    errors: dict[str, str] = {}
    if body.get("type") not in ("overview", "comparison"):
        errors["type"] = "This field is required." if "type" not in body else "Must be overview or comparison."
    metrics = body.get("metrics")
    if not isinstance(metrics, list) or not metrics:
        errors["metrics"] = "This field is required."
    elif unknown := [m for m in metrics if m not in METRIC_BY_KEY]:
        errors["metrics"] = f"Unknown metrics: {', '.join(map(str, unknown))}."
    if "datetime_range" in body:
        window = body["datetime_range"]
        try:
            if not isinstance(window, dict) or parse_us(window["start"]) > parse_us(window["end"]):
                raise ValueError(window)
        except (KeyError, ValueError, TypeError):
            errors["datetime_range"] = "Needs ISO start and end, start not after end."
    elif "relative_range" in body:
        if body["relative_range"] not in (*RELATIVE, "all-time"):
            errors["relative_range"] = f"Must be one of: {', '.join((*RELATIVE, 'all-time'))}."
    else:
        errors["datetime_range"] = "Give datetime_range or relative_range."
    users = body.get("users")
    if users is not None and (not isinstance(users, list) or not all(isinstance(u, str) for u in users)):
        errors["users"] = "Must be a list of user ids."
    query = body.get("query")
    if query is not None and (
        not isinstance(query, dict) or query.get("type") != "saved_search" or not query.get("saved_search_id")
    ):
        errors["query"] = "Only {type: saved_search, saved_search_id} is supported."
    return errors


def sent_emails(req: Any, id: str) -> Record:  # noqa: A002 - the route's group name
    data = req.data
    if id != data.catalog.org_id:
        raise not_found("Organization")
    params = req.params
    try:
        lo = parse_us(params["date_start"]) // 1000 if params.get("date_start") else data.layout.start_ms
        hi = parse_us(params["date_end"]) // 1000 + DAY_MS if params.get("date_end") else data.layout.end_ms
    except ValueError:
        raise ApiError.validation(field_errors={"date_start": "Invalid date."}) from None
    user = params.get("user_id")
    total_sent = _value(data, "emails.sent.all.count", lo, hi, None, user) if user else _count(
        data, "activity/email", lo, hi) * 60 // 100
    rows = []
    remaining = total_sent
    for t in data.catalog.email_templates:
        n = total_sent * (5 + _share("tmpl", t["id"]) % 20) // 100
        remaining -= n
        rows.append(_stat(t["name"], t["id"], data.catalog.org_id, t["is_shared"], n))
    return {"sent_email_stats": [_stat("All Emails", None, data.catalog.org_id, True, total_sent), *rows]}


def _stat(name: str, template_id: str | None, org_id: str, shared: bool, total: int) -> Record:
    opened = total * 40 // 100
    responded = total * 9 // 100
    tmpl = f' template:"{name}"' if template_id else ""
    return {
        "_queries": {"opened": f"email(direction:sent{tmpl} opened:yes)",
                     "responded": f"email(direction:sent{tmpl} has_reply:yes)",
                     "total": f"email(direction:sent{tmpl})"},
        "is_shared": shared, "name": name, "opened": opened,
        "percentage_opened": opened * 100 // total if total else 0,
        "percentage_responded": responded * 100 // total if total else 0, "responded": responded,
        "template_id": template_id,
        "template_url": f"/organization/{org_id}/email_templates/{template_id}/" if template_id else None,
        "total": total,
    }
