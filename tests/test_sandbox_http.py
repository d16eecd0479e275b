"""The sandbox over real HTTP: auth, paging and caps, filters, defaults, error bodies."""

from __future__ import annotations

import httpx
import pytest

from closesync.sandbox import Sandbox
from fixtures_sandbox import sandbox_client

MAX_SKIP = "The skip you set is larger than the maximum skip for this resource (max_skip = {}). " \
           "Please refine your search query."


def read_all(c: httpx.Client, path: str, params: dict | None = None, limit: int = 7) -> list[dict]:
    out, skip = [], 0
    while True:
        body = c.get(path, params={**(params or {}), "_skip": skip, "_limit": limit}).raise_for_status().json()
        out.extend(body["data"])
        skip += len(body["data"])
        if not body["has_more"]:
            return out


def test_wrong_key_gets_401_with_close_body(sandbox: Sandbox) -> None:
    r = sandbox_client(sandbox, "api_wrong").get("me/")
    assert r.status_code == 401
    assert "could not verify that you are authorized" in r.json()["error"]
    assert httpx.get(sandbox.base_url + "lead/").status_code == 401
    assert sandbox.api_key not in r.text


def test_me_and_organization(sandbox: Sandbox) -> None:
    c = sandbox_client(sandbox)
    me = c.get("me/").json()
    for key in ("email_accounts", "memberships", "organizations", "phone_numbers", "email_signatures",
                "sip_numbers"):
        assert me[key], key
    org_id = me["organizations"][0]["id"]
    org = c.get(f"organization/{org_id}/").json()
    assert org["memberships"] and org["inactive_memberships"] and org["invoices"]
    assert org["pipelines"][0]["statuses"] and org["lead_statuses"]
    assert c.get("organization/orga_doesnotexist123/").status_code == 404


@pytest.mark.parametrize("path", ["lead/", "contact/", "opportunity/", "task/", "activity/call/",
                                  "activity/email/", "activity/emailthread/", "activity/note/",
                                  "activity/status_change/lead/", "activity/status_change/opportunity/",
                                  "activity/custom/", "user/", "email_template/", "bulk_action/email/",
                                  "export/"])
def test_paging_reads_every_record_once_newest_first(sandbox: Sandbox, path: str) -> None:
    records = read_all(sandbox_client(sandbox), path)
    ids = [r["id"] for r in records]
    assert ids and len(ids) == len(set(ids))
    created = [r["date_created"] for r in records]
    name = path.strip("/")
    if name != "task":  # tasks default to lead tasks only
        assert len(ids) == sandbox.data.count(name)
    from closesync.sandbox.timefmt import parse_us

    stamps = [parse_us(t) for t in created]
    assert stamps == sorted(stamps, reverse=True)


def test_limit_and_skip_errors(sandbox: Sandbox) -> None:
    c = sandbox_client(sandbox)
    r = c.get("activity/call/", params={"_limit": 101})
    assert r.status_code == 400
    assert r.json() == {"error": "The limit you set is larger than the maximum limit for this resource "
                                 "(max_limit = 100)."}
    assert c.get("lead/", params={"_limit": 200}).status_code == 200
    assert c.get("lead/", params={"_limit": 201}).status_code == 400
    assert c.get("task/", params={"_limit": 1000}).status_code == 200
    assert c.get("lead/", params={"_limit": "x"}).json() == {"error": '_limit must be an integer (got "x" instead).'}
    assert c.get("lead/", params={"_skip": -1}).json() == {
        "error": '_skip must be a non-negative integer (got "-1" instead).'}
    sandbox.skip_cap = 50
    assert c.get("activity/call/", params={"_skip": 50}).status_code == 200
    r = c.get("activity/call/", params={"_skip": 51})
    assert r.status_code == 400 and r.json() == {"error": MAX_SKIP.format(50)}


def test_total_results_and_opportunity_aggregates(sandbox: Sandbox) -> None:
    c = sandbox_client(sandbox)
    leads = c.get("lead/", params={"_limit": 0}).json()
    assert leads["total_results"] == 20 and leads["data"] == []
    opps = c.get("opportunity/").json()
    assert opps["total_results"] == sandbox.data.count("opportunity")
    assert sum(opps["count_by_value_period"].values()) == opps["total_results"]
    assert opps["total_value_annualized"] == sum(
        o["value"] * (12 if o["value_period"] == "monthly" else 1) for o in opps["data"])


def test_date_filters_are_exact(sandbox: Sandbox) -> None:
    c = sandbox_client(sandbox)
    calls = sandbox.data.records("activity/call")
    pivot = calls[len(calls) // 2]["date_created"]
    gte = read_all(c, "activity/call/", {"date_created__gte": pivot}, limit=100)
    lt = read_all(c, "activity/call/", {"date_created__lt": pivot}, limit=100)
    gt = read_all(c, "activity/call/", {"date_created__gt": pivot}, limit=100)
    assert len(gte) + len(lt) == len(calls)
    assert len(gte) == len(gt) + 1
    assert pivot in {r["date_created"] for r in gte} and pivot not in {r["date_created"] for r in gt}
    r = c.get("activity/call/", params={"date_created__gte": "not a date"})
    assert r.status_code == 400 and "field-errors" in r.json() and "errors" in r.json()


def test_lead_user_and_type_filters(sandbox: Sandbox) -> None:
    c = sandbox_client(sandbox)
    call = sandbox.data.records("activity/call")[0]
    by_lead = read_all(c, "activity/call/", {"lead_id": call["lead_id"]})
    assert by_lead and all(r["lead_id"] == call["lead_id"] for r in by_lead)
    by_user = read_all(c, "activity/call/", {"user_id": call["user_id"]})
    assert by_user and all(r["user_id"] == call["user_id"] for r in by_user)
    contacts = read_all(c, "contact/", {"lead_id": call["lead_id"]})
    assert {x["lead_id"] for x in contacts} == {call["lead_id"]}


def test_task_and_smart_view_defaults(sandbox: Sandbox) -> None:
    c = sandbox_client(sandbox)
    default = read_all(c, "task/")
    every = read_all(c, "task/", {"_type": "all"})
    assert {t["_type"] for t in default} == {"lead"}
    assert len({t["_type"] for t in every}) >= 4 and len(every) == sandbox.data.count("task")
    assert {t["id"][:5] for t in every} == {"task_", "noti_"}
    views = c.get("saved_search/").json()["data"]
    assert {v["type"] for v in views} == {"lead"}
    more = c.get("saved_search/", params={"type__in": "lead,contact,opportunity"}).json()["data"]
    assert {v["type"] for v in more} == {"lead", "contact", "opportunity"}


def test_order_by_and_date_updated_filters(sandbox: Sandbox) -> None:
    from closesync.sandbox.timefmt import parse_us

    c = sandbox_client(sandbox)
    opps = read_all(c, "opportunity/", {"_order_by": "date_updated"})
    stamps = [parse_us(o["date_updated"]) for o in opps]
    assert stamps == sorted(stamps)
    pivot = opps[len(opps) // 2]["date_updated"]
    newer = read_all(c, "opportunity/", {"date_updated__gte": pivot, "_order_by": "-date_updated"})
    assert all(parse_us(o["date_updated"]) >= parse_us(pivot) for o in newer) and newer
    tasks = read_all(c, "task/", {"_type": "all", "_order_by": "date_created"})
    assert [parse_us(t["date_created"]) for t in tasks] == sorted(parse_us(t["date_created"]) for t in tasks)
    assert c.get("opportunity/", params={"_order_by": "bogus"}).status_code == 400


def test_fields_projection_and_custom_fields(sandbox: Sandbox) -> None:
    c = sandbox_client(sandbox)
    leads = c.get("lead/", params={"_fields": "id,display_name,custom"}).json()["data"]
    keys = set().union(*(set(lead) for lead in leads))
    assert {"id", "display_name"} <= keys and all(k in ("id", "display_name") or k.startswith("custom.")
                                                   for k in keys)
    defs = {k: c.get(f"custom_field/{k}/").json()["data"] for k in ("lead", "contact", "opportunity", "activity")}
    assert all(defs.values())
    names = [f["name"] for f in defs["lead"]]
    assert "Deal Size ($)" in names and "Region" in names and "region" in names
    assert {f["type"] for f in defs["lead"]} >= {"text", "number", "date", "choices", "user"}
    assert any(f["accepts_multiple_values"] for f in defs["lead"])
    assert all(f["custom_activity_type_id"] for f in defs["activity"])


def test_get_single_objects_and_404(sandbox: Sandbox) -> None:
    c = sandbox_client(sandbox)
    lead = sandbox.data.records("lead")[3]
    assert c.get(f"lead/{lead['id']}/").json() == lead
    r = c.get("lead/lead_doesnotexistAAAAAAAAAA/")
    assert r.status_code == 404 and r.json() == {"error": "Empty query: Lead matching query does not exist."}
    assert c.get("nothing/here/").status_code == 404


def test_reports(sandbox: Sandbox) -> None:
    c = sandbox_client(sandbox)
    org_id = sandbox.data.catalog.org_id
    metrics = [m["key"] for m in c.get("report/activity/metrics/").json()["data"]]
    body = {"type": "overview", "metrics": metrics[:3],
            "datetime_range": {"start": "2023-01-01T00:00:00Z", "end": "2023-01-08T00:00:00Z"}}
    report = c.post("report/activity/", json=body).json()
    assert len(report["data"]) == 7 and set(report["aggregations"]["totals"]) == set(metrics[:3])
    comparison = c.post("report/activity/", json={**body, "type": "comparison"}).json()
    assert all("user_id" in row for row in comparison["data"])
    bad = c.post("report/activity/", json={"metrics": metrics[:1]})
    assert bad.status_code == 400 and bad.json()["field-errors"]["type"]
    sent = c.get(f"report/sent_emails/{org_id}/", params={"date_start": "2022-01-01", "date_end": "2024-01-01"})
    stats = sent.json()["sent_email_stats"]
    assert stats[0]["name"] == "All Emails" and stats[0]["template_id"] is None and len(stats) > 1


def test_escaping_and_unicode_are_in_the_data(sandbox: Sandbox) -> None:
    names = [lead["display_name"] for lead in sandbox.data.records("lead")]
    assert any("<script>alert(1)</script>" in n for n in names)
    assert any(not n.isascii() for n in names)


def test_gzip_when_accepted(sandbox: Sandbox) -> None:
    r = sandbox_client(sandbox).get("activity/email/", headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip" and r.json()["data"]


def test_statuses_keep_their_order_and_method_override(sandbox: Sandbox) -> None:
    c = sandbox_client(sandbox)
    labels = [s["label"] for s in c.get("status/lead/").json()["data"]]
    assert labels == [s["label"] for s in sandbox.data.catalog.lead_statuses]
    call = sandbox.data.records("activity/call")[0]
    r = c.post("activity/call/", headers={"x-http-method-override": "GET"},
               json={"_params": {"lead_id": call["lead_id"], "_limit": 100}})
    assert r.status_code == 200 and r.json()["data"]
    assert {a["lead_id"] for a in r.json()["data"]} == {call["lead_id"]}


def test_mixed_activity_feed(sandbox: Sandbox) -> None:
    from closesync.sandbox.timefmt import parse_us

    c = sandbox_client(sandbox)
    feed = read_all(c, "activity/", limit=100)
    total = sum(sandbox.data.count(n) for n in sandbox.data.names if n.startswith("activity/"))
    assert len(feed) == len({a["id"] for a in feed}) == total
    stamps = [parse_us(a["date_created"]) for a in feed]
    assert stamps == sorted(stamps, reverse=True)
    lead_id = feed[0]["lead_id"]
    notes = read_all(c, "activity/", {"lead_id": lead_id, "_type": "Note"})
    assert all(a["_type"] == "Note" and a["lead_id"] == lead_id for a in notes)


def test_user_order_by_names(sandbox: Sandbox) -> None:
    c = sandbox_client(sandbox)
    users = c.get("user/", params={"_order_by": "last_name,first_name"}).json()["data"]
    keys = [(u["last_name"].lower(), u["first_name"].lower()) for u in users]
    assert keys == sorted(keys) and len(users) == 8
    firsts = [u["first_name"].lower() for u in c.get("user/", params={"_order_by": "-first_name"}).json()["data"]]
    assert firsts == sorted(firsts, reverse=True)
