"""The generated data (determinism, shapes, formats, scale) and the cursor endpoints (search, events)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx

from closesync.sandbox import Sandbox, SandboxData
from closesync.sandbox.layout import ACTIVITY_MIX
from closesync.sandbox.timefmt import parse_us
from fixtures_sandbox import sandbox_client

EXAMPLES = Path(__file__).parent / "data" / "close_examples"  # Close's documented payloads


def test_same_seed_same_data_other_seed_other_data() -> None:
    a, b, c = SandboxData(seed=7, leads=15), SandboxData(seed=7, leads=15), SandboxData(seed=8, leads=15)
    for name in ("lead", "activity/call", "task", "user", "custom_field/lead"):
        assert a.records(name) == b.records(name)
    assert a.records("lead") != c.records("lead")
    assert a.me() == b.me()


def test_random_access_matches_streaming() -> None:
    data = SandboxData(seed=3, leads=30)
    coll = data.collection("activity/email")
    streamed = data.records("activity/email")
    assert [coll.get(i) for i in reversed(range(len(coll)))] == streamed[::-1]


def test_sizes_scale_with_leads() -> None:
    small, big = SandboxData(leads=20), SandboxData(leads=200, activities_per_lead=5)
    assert big.count("contact") > 5 * small.count("contact")
    assert big.count("activity/call") == 200 * 5 * 30 // 100
    # activities_per_lead splits across the seven classic kinds; issue 14's kinds come on top (activity_objects)
    assert sum(big.count(n) for n in ACTIVITY_MIX) == 1000


def test_record_keys_follow_the_examples() -> None:
    import json

    data = SandboxData(leads=40)
    pairs = {"activity/call": "activity_call", "activity/email": "activity_email",
             "activity/note": "activity_note", "activity/status_change/lead": "activity_status_change_lead",
             "activity/status_change/opportunity": "activity_status_change_opportunity",
             "activity/custom": "activity_custom", "activity/emailthread": "activity_emailthread",
             "opportunity": "opportunity", "contact": "contact", "email_template": "email_template",
             "bulk_action/email": "bulk_action_email", "saved_search": "saved_search", "user": "user_list",
             "status/lead": "status_lead", "status/opportunity": "status_opportunity",
             "custom_field/lead": "custom_field_lead", "export": "export", "lead": "lead"}
    for name, example in pairs.items():
        with open(f"{EXAMPLES}/{example}.json") as f:
            sample = json.load(f)["data"][0]
        expected = {k for k in sample if not k.startswith("custom.")}
        ours = set().union(*(set(r) for r in data.records(name)))
        assert expected <= ours, (name, expected - ours)
    with open(f"{EXAMPLES}/me.json") as f:
        assert set(json.load(f)) <= set(data.me())
    with open(f"{EXAMPLES}/organization.json") as f:
        assert set(json.load(f)) <= set(data.organization())


def test_ids_prefixes_money_and_timestamp_formats() -> None:
    data = SandboxData(leads=60)
    leads = data.records("lead")
    assert all(lead["id"].startswith("lead_") and len(lead["id"]) == 48 for lead in leads)
    assert all(c["id"].startswith("cont_") for lead in leads for c in lead["contacts"])
    opps = data.records("opportunity")
    assert all(isinstance(o["value"], int) for o in opps)
    stamps = [r["date_created"] for n in data.names if n.startswith("activity/") for r in data.records(n)]
    stamps += [r["date_updated"] for r in data.records("activity/call")]
    assert any(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00", s) for s in stamps)
    assert any(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", s) for s in stamps)
    assert any(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?", s) for s in stamps)
    assert any(re.fullmatch(r"\d{4}-\d\d-\d\d", t["date"]) for t in data.records("task"))
    years = {s[:4] for s in stamps}
    assert len(years) >= 4
    types = {t["_type"] for t in data.records("task")}
    assert {"lead", "incoming_email", "email_followup", "missed_call", "voicemail", "opportunity_due"} <= types
    assert {v["type"] for v in data.records("saved_search")} >= {"lead", "contact", "opportunity", "call"}


def test_nested_lead_children_are_consistent() -> None:
    data = SandboxData(leads=25)
    contacts = {c["id"]: c for c in data.records("contact")}
    for lead in data.records("lead"):
        for c in lead["contacts"]:
            assert contacts[c["id"]] == c and c["lead_id"] == lead["id"]
        assert lead["contact_ids"] == [c["id"] for c in lead["contacts"]]
        assert all(t["_type"] == "lead" and not t["is_complete"] for t in lead["tasks"])
        assert all(o["lead_id"] == lead["id"] for o in lead["opportunities"])
    lead_ids = {lead["id"] for lead in data.records("lead")}
    assert all(a["lead_id"] in lead_ids for a in data.records("activity/call"))


def test_mutations_move_date_updated_and_reach_http(sandbox: Sandbox) -> None:
    c = sandbox_client(sandbox)
    data = sandbox.data
    lead = data.records("lead")[4]
    changed = data.update("lead", lead["id"], name="Renamed", display_name="Renamed")
    assert parse_us(changed["date_updated"]) > parse_us(lead["date_updated"])
    assert c.get(f"lead/{lead['id']}/").json()["name"] == "Renamed"
    added = data.add("activity/call", note="new call")
    newest = c.get("activity/call/", params={"_limit": 1}).json()["data"][0]
    assert newest["id"] == added["id"] and newest["note"] == "new call"
    since = c.get("activity/call/", params={"date_created__gte": added["date_created"]}).json()["data"]
    assert [a["id"] for a in since] == [added["id"]]
    data.delete("activity/call", added["id"])
    assert c.get(f"activity/call/{added['id']}/").status_code == 404
    events = c.get("event/").json()["data"]
    assert [e["action"] for e in events[:3]] == ["deleted", "created", "updated"]
    # Over HTTP too: PUT patches and moves date_updated.
    opp = data.records("opportunity")[0]
    r = c.put(f"opportunity/{opp['id']}/", json={"note": "patched"}).json()
    assert r["note"] == "patched" and parse_us(r["date_updated"]) > parse_us(opp["date_updated"])
    assert c.get("opportunity/", params={"date_updated__gte": r["date_updated"]}).json()["data"][0]["id"] == opp["id"]


def _search(c: httpx.Client, body: dict) -> list[dict]:
    out, cursor = [], None
    while True:
        page = c.post("data/search/", json={**body, "cursor": cursor}).raise_for_status().json()
        out.extend(page["data"])
        cursor = page["cursor"]
        if not cursor:
            return out


def test_search_cursor_fields_and_moment_range(sandbox: Sandbox) -> None:
    c = sandbox_client(sandbox)
    leads = sandbox.data.records("lead")
    pivot = sorted(lead["date_updated"] for lead in leads)[len(leads) // 2]
    query = {"type": "and", "queries": [
        {"type": "object_type", "object_type": "lead"},
        {"type": "field_condition",
         "field": {"type": "regular_field", "object_type": "lead", "field_name": "date_updated"},
         "condition": {"type": "moment_range", "on_or_after": {"type": "fixed_utc", "value": pivot}}}]}
    sort = [{"direction": "asc", "field": {"type": "regular_field", "object_type": "lead",
                                           "field_name": "date_updated"}}]
    found = _search(c, {"query": query, "sort": sort, "_limit": 3,
                        "_fields": {"lead": ["id", "display_name", "date_updated", "contacts"]}})
    expected = [lead for lead in leads if parse_us(lead["date_updated"]) >= parse_us(pivot)]
    assert {f["id"] for f in found} == {lead["id"] for lead in expected}
    assert [parse_us(f["date_updated"]) for f in found] == sorted(parse_us(f["date_updated"]) for f in found)
    assert all(f["__object_type"] == "lead" and "contacts" in f and "name" not in f for f in found)
    bare = c.post("data/search/", json={"query": query, "_limit": 1}).json()["data"][0]
    assert set(bare) == {"__object_type", "id"}
    contacts = _search(c, {"query": {"type": "object_type", "object_type": "contact"}, "_limit": 200})
    assert len(contacts) == sandbox.data.count("contact")


def test_search_depth_is_capped(sandbox: Sandbox) -> None:
    c = sandbox_client(sandbox)
    sandbox.skip_cap = 10
    body = {"query": {"type": "object_type", "object_type": "contact"}, "_limit": 5}
    cursor, seen = None, 0
    while True:
        r = c.post("data/search/", json={**body, "cursor": cursor})
        if r.status_code == 400:
            assert "max_skip = 10" in r.json()["error"]
            break
        seen += len(r.json()["data"])
        cursor = r.json()["cursor"]
        assert cursor
    assert seen == 15
    assert c.post("data/search/", json={"query": {"type": "bogus"}}).status_code == 400
    assert c.post("data/search/", json={**body, "_limit": 201}).status_code == 400


def test_event_cursor(make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(leads=120)
    c = sandbox_client(sb)
    assert c.get("event/", params={"_limit": 51}).status_code == 400
    out, cursor = [], None
    while True:
        page = c.get("event/", params={"_limit": 50, **({"_cursor": cursor} if cursor else {})}).json()
        out.extend(page["data"])
        cursor = page["cursor_next"]
        if not cursor:
            break
    assert len(out) == len({e["id"] for e in out}) == 120
    assert all(e["object_type"] == "lead" and e["action"] == "created" for e in out)


def test_large_account_streams_lazily() -> None:
    data = SandboxData(leads=20_000)
    assert data.count("activity/call") == 120_000
    coll = data.collection("activity/call")
    a, b = coll.range_created(parse_us("2024-01-01") // 1000, parse_us("2024-01-02") // 1000)
    day = [coll.get(i) for i in range(a, b)]
    assert day and all(r["date_created"].startswith("2024-01-01") for r in day)
    assert coll.get(a - 1)["date_created"] < "2024-01-01"
    assert sum(1 for _ in zip(range(1000), data.iter_records("lead"), strict=False)) == 1000


def test_fast_accessors_agree_with_records() -> None:
    """Filters read some fields without building records; they must see what the records say."""
    data = SandboxData(leads=80)
    for name in ("contact", "opportunity", "activity/call", "activity/custom", "activity/status_change/lead"):
        coll = data.collection(name)
        for i in range(len(coll)):
            rec = coll.get(i)
            assert coll.value("lead_id", i) == rec["lead_id"]
            assert coll.timestamp_ms("date_updated", i) == parse_us(rec["date_updated"]) // 1000
            assert coll.created_ms(i) == parse_us(rec["date_created"]) // 1000
            if name.startswith("activity/"):
                assert coll.value("user_id", i) == rec["user_id"]


def test_creation_times_never_decrease_with_the_index() -> None:
    """Date filters bisect on this; a violation would make windows skip or repeat records."""
    for leads in (7, 3000):
        data = SandboxData(seed=5, leads=leads)
        for name in ("lead", "contact", "opportunity", "task", *(n for n in data.names if n.startswith("activity/"))):
            coll = data.collection(name)
            times = [coll.created_ms(i) for i in range(len(coll))]
            assert times == sorted(times), name


def test_export_api(sandbox: Sandbox) -> None:
    c = sandbox_client(sandbox)
    job = c.post("export/lead/", json={"type": "leads", "format": "json"}).json()
    assert job["status"] == "created" and job["id"].startswith("expo_")
    done = c.get(f"export/{job['id']}/").json()
    assert done["status"] == "done" and done["n_docs"] == 20
    file = httpx.get(done["download_url"])
    assert file.headers["content-encoding"] == "gzip"
    assert [lead["id"] for lead in file.json()] == [lead["id"] for lead in sandbox.data.records("lead")]
    query = {"type": "and", "queries": [
        {"type": "object_type", "object_type": "lead"},
        {"type": "field_condition", "condition": {"type": "text", "value": "script"},
         "field": {"type": "regular_field", "object_type": "lead", "field_name": "display_name"}}]}
    csv_job = c.post("export/lead/", json={"type": "contacts", "format": "csv", "s_query": query}).json()
    text = httpx.get(c.get(f"export/lead/{csv_job['id']}/").json()["download_url"]).text
    evil = next(lead for lead in sandbox.data.records("lead") if "<script>" in lead["name"])
    assert text.splitlines()[0].startswith("id,") and len(text.splitlines()) == 1 + len(evil["contacts"])
    opp_job = c.post("export/opportunity/", json={"params": {"status_type": "won"}}).json()
    opps = httpx.get(c.get(f"export/{opp_job['id']}/").json()["download_url"]).json()
    assert opps and {o["status_type"] for o in opps} == {"won"}
    assert c.post("export/lead/", json={"type": "bogus"}).status_code == 400
    assert job["id"] in {e["id"] for e in c.get("export/").json()["data"]}
