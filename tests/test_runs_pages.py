"""Run history in the web Data Center: the Runs page, a run's page, the dataset page's history and chart,
and the JSON API behind them, over a history of real runs against the sandbox (tests/runs_helpers.py)."""

from __future__ import annotations

import html
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from closesync.web import run_pages
from closesync.web.svg import check_svg
from fixtures_web import make_client
from runs_helpers import XSS_NAME, History, make_history


@pytest.fixture
def history(web_home: Path, sandbox: Any) -> History:
    return make_history(web_home, sandbox)


@pytest.fixture
def client(history: History) -> Iterator[Any]:
    with make_client(history.dc) as c:
        yield c


def _ids(answer: Any) -> list[int]:
    assert answer.status_code == 200, answer.text
    return [r["id"] for r in answer.json()["runs"]]


def _table_runs(page: str, table_id: str) -> list[int]:
    body = re.search(rf'id="{table_id}">.*?<tbody>(.*?)</tbody>', page, re.S)
    assert body is not None
    return [int(i) for i in re.findall(r'<tr data-run="(\d+)"', body.group(1))]


# ---------------------------------------------------------------- JSON API


def test_api_lists_runs_newest_first_with_filters(client: Any, history: History) -> None:
    every = [r.id for r in reversed(history.runs)]
    users = history.datasets["Users"]
    assert _ids(client.get("/api/runs")) == every
    assert _ids(client.get("/api/runs", params={"dataset": "Users"})) == [6, 5, 3, 1]
    assert _ids(client.get("/api/runs", params={"dataset": str(users.id)})) == [6, 5, 3, 1]
    assert _ids(client.get("/api/runs", params={"status": "failed"})) == [5, 2]
    assert _ids(client.get("/api/runs", params={"dataset": "Users", "status": "failed"})) == [5]
    assert _ids(client.get("/api/runs", params={"since": "2026-11-21"})) == [6, 5, 4, 3]
    assert _ids(client.get("/api/runs", params={"until": "2026-11-21"})) == [4, 3, 2, 1]  # the whole day
    assert _ids(client.get("/api/runs", params={"since": "2026-11-21", "until": "2026-11-21"})) == [4, 3]
    assert _ids(client.get("/api/runs", params={"since": "2026-11-20T09:10:00Z", "until": "2026-11-21T09:10Z"})) == [3, 2]
    paged = client.get("/api/runs", params={"limit": 2, "offset": 2}).json()
    assert [r["id"] for r in paged["runs"]] == [4, 3] and paged["limit"] == 2 and paged["offset"] == 2
    first = client.get("/api/runs").json()["runs"][-1]
    assert first["trigger"] == "manual" and first["throttle_waits"] == 1 and first["dataset_name"] == "Users"


def test_api_refuses_bad_filters_with_the_field(client: Any) -> None:
    bad_date = client.get("/api/runs", params={"since": "last tuesday"})
    assert bad_date.status_code == 422 and bad_date.json()["field"] == "since"
    assert "is not a date" in bad_date.json()["detail"]
    assert client.get("/api/runs", params={"status": "exploded"}).status_code == 422
    assert client.get("/api/runs", params={"limit": 0}).status_code == 422
    unknown = client.get("/api/runs", params={"dataset": "nope"})
    assert unknown.status_code == 404 and "No dataset named 'nope'" in unknown.json()["detail"]
    assert client.get("/api/runs/999").status_code == 404


def test_api_counts_runs_per_day_by_status(client: Any) -> None:
    days = client.get("/api/runs/daily").json()["days"]
    assert days == [
        {"day": "2026-11-20", "status": "failed", "runs": 1},
        {"day": "2026-11-20", "status": "success", "runs": 1},
        {"day": "2026-11-21", "status": "success", "runs": 2},
        {"day": "2026-11-22", "status": "failed", "runs": 1},
        {"day": "2026-11-22", "status": "success", "runs": 1},
    ]
    failed = client.get("/api/runs/daily", params={"status": "failed", "since": "2026-11-21"}).json()["days"]
    assert failed == [{"day": "2026-11-22", "status": "failed", "runs": 1}]


def test_api_run_has_the_full_error_and_its_reports(client: Any, history: History) -> None:
    broken = client.get("/api/runs/2").json()
    assert broken["status"] == "failed" and broken["error"] == history.runs[1].error
    assert len(broken["error"]) > 300
    forbidden = client.get("/api/runs/5").json()
    assert forbidden["http_status"] == 403 and forbidden["reports"][0]["status"] == "failed"


# ---------------------------------------------------------------- the Runs page


def test_runs_page_lists_every_run_with_links_and_a_chart(client: Any, history: History) -> None:
    page = client.get("/runs")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    text = page.text
    assert _table_runs(text, "runs") == [6, 5, 4, 3, 2, 1]
    for run in history.runs:
        assert f'<a href="/runs/{run.id}"' in text
    assert f'<a href="/datasets/{history.datasets["Broken"].id}">Broken</a>' in text
    assert '<a href="/runs" class="active">Runs</a>' in text
    chart = re.search(r'<div class="chart"[^>]*>(<svg.*?</svg>)</div>', text, re.S)
    assert chart is not None and check_svg(chart.group(1))
    assert "Runs per day" in chart.group(1) and "Oct 24" in chart.group(1)  # 30 days up to the clock's day
    assert "<script" not in chart.group(1)
    # the long error is cut in the table (whole on hover, and on the run's page)
    error = history.runs[1].error or ""
    shown = re.search(r'<tr data-run="2"[^>]*>.*?<div class="clamp" title="([^"]*)">([^<]*)</div>', text, re.S)
    assert shown is not None and len(error) > 300
    assert html.unescape(shown.group(1)) == error
    assert html.unescape(shown.group(2)) == error[:297] + "..."


def test_runs_page_filters_keep_their_values(client: Any, history: History) -> None:
    users = history.datasets["Users"]
    page = client.get("/runs", params={"dataset": users.id, "status": "failed", "since": "2026-11-21",
                                       "until": "2026-11-22"}).text
    assert _table_runs(page, "runs") == [5]
    assert f'<option value="{users.id}" selected>Users</option>' in page
    assert '<option value="failed" selected>failed</option>' in page
    assert 'name="since" value="2026-11-21"' in page and 'name="until" value="2026-11-22"' in page
    assert "Runs per day · Nov 21 – Nov 22, 2026 · Users · failed" in page  # the chart's title
    empty = client.get("/runs", params={"status": "running"}).text
    assert "No runs match these filters." in empty


def test_runs_page_shows_a_bad_filter_next_to_the_form(client: Any) -> None:
    page = client.get("/runs", params={"since": "2026-02-30"})
    assert page.status_code == 422
    assert 'id="filter-error">&#39;2026-02-30&#39; is not a date' in page.text
    unknown = client.get("/runs", params={"dataset": "999"})
    assert unknown.status_code == 422 and "No dataset named" in unknown.text


def test_runs_page_pages(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_pages, "PAGE_SIZE", 4)
    first = client.get("/runs", params={"status": "", "page": 1}).text
    assert _table_runs(first, "runs") == [6, 5, 4, 3]
    assert 'href="/runs?page=2" rel="next"' in first and 'rel="prev"' not in first
    second = client.get("/runs?page=2").text
    assert _table_runs(second, "runs") == [2, 1]
    assert 'href="/runs?page=1" rel="prev"' in second and 'rel="next"' not in second
    since = client.get("/runs", params={"since": "2026-11-20", "page": 1}).text
    assert 'href="/runs?since=2026-11-20&amp;page=2"' in since  # the filters go along


def test_no_raw_markup_from_a_dataset_name_reaches_a_page(client: Any, history: History) -> None:
    xss = history.datasets[XSS_NAME]
    escaped = html.escape(XSS_NAME)
    pages = [
        client.get("/runs").text,
        client.get("/runs", params={"dataset": xss.id}).text,
        client.get(f"/runs/{history.runs[3].id}").text,
        client.get(f"/datasets/{xss.id}").text,
    ]
    for text in pages:
        assert XSS_NAME not in text
        assert "<script>" not in text.replace('<script src="/static/app.js', "")
    assert escaped in pages[0]
    filtered_chart = re.search(r"<svg.*?</svg>", pages[1], re.S)
    assert filtered_chart is not None and "&lt;script&gt;alert(1)&lt;/script&gt;" in filtered_chart.group(0)


# ---------------------------------------------------------------- one run


def test_run_page_shows_a_failed_runs_full_error(client: Any, history: History) -> None:
    broken = history.runs[1]
    page = client.get(f"/runs/{broken.id}")
    assert page.status_code == 200
    text = page.text
    assert f'<pre class="error-text">{html.escape(broken.error or "")}</pre>' in text
    assert "No report ran" in text and 'class="badge failed"' in text
    assert f'href="/datasets/{broken.dataset_id}"' in text and f'href="/runs?dataset={broken.dataset_id}"' in text


def test_run_page_shows_each_report(client: Any, history: History) -> None:
    forbidden = client.get("/runs/5").text
    reports = re.search(r'id="run-reports">.*?<tbody>(.*?)</tbody>', forbidden, re.S)
    assert reports is not None and "users" in reports.group(1) and "permission" in reports.group(1)
    assert "<dt>HTTP status</dt><dd>403</dd>" in forbidden
    throttled = client.get("/runs/1").text
    counts = re.search(r'id="run-counts">(.*?)</dl>', throttled, re.S)
    assert counts is not None and re.search(r"<dt>Throttle waits</dt><dd>1 ", counts.group(1))
    assert "<dt>Trigger</dt><dd>manual</dd>" in throttled
    missing = client.get("/runs/999")
    assert missing.status_code == 404 and "No run with id 999" in missing.text


# ---------------------------------------------------------------- the dataset page


def test_dataset_history_has_trigger_throttle_waits_links_and_a_chart(client: Any, history: History) -> None:
    users = history.datasets["Users"]
    page = client.get(f"/datasets/{users.id}").text
    assert _table_runs(page, "history") == [6, 5, 3, 1]
    head = re.search(r'id="history">\s*<thead>(.*?)</thead>', page, re.S)
    assert head is not None and "Throttle waits" in head.group(1) and "Trigger" in head.group(1)
    first = re.search(r'<tr data-run="1"[^>]*>(.*?)</tr>', page, re.S)
    assert first is not None
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", first.group(1), re.S)]
    assert cells[0] == "1" and cells[1] == "success" and cells[2] == "manual" and cells[7] == "1"  # throttle waits
    assert '<a href="/runs/1"' in page and f'href="/runs?dataset={users.id}"' in page
    chart = re.search(r'<div class="chart"[^>]*>(<svg.*?</svg>)</div>', page, re.S)
    assert chart is not None and check_svg(chart.group(1))
    assert "Duration per run" in chart.group(1) and "Rows loaded per run" in chart.group(1)


def test_pages_without_vl_convert_show_tables_and_a_notice(
    client: Any, history: History, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "vl_convert", None)  # import fails as when the extra is not installed
    runs = client.get("/runs").text
    assert "<svg" not in runs and "pip install 'closesync[charts]'" in runs
    assert _table_runs(runs, "runs") == [6, 5, 4, 3, 2, 1]
    dataset = client.get(f"/datasets/{history.datasets['Users'].id}").text
    assert "<svg" not in dataset and "closesync[charts]" in dataset and _table_runs(dataset, "history")


def test_dataset_page_before_any_run_says_the_chart_comes_later(client: Any, history: History) -> None:
    fresh = history.dc.create_dataset("Fresh", account="acme", report="users", table="fresh")
    page = client.get(f"/datasets/{fresh.id}").text
    assert "The chart appears once a run has finished." in page and "<svg" not in page


# ---------------------------------------------------------------- the SVG check


@pytest.mark.parametrize(
    "svg",
    [
        '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><g/></svg>',
        '<svg xmlns="http://www.w3.org/2000/svg"><g style="fill:red"/></svg>',
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:x="http://www.w3.org/1999/xlink"><a x:href="javascript:1"/></svg>',
        '<svg xmlns="http://www.w3.org/2000/svg"><rect fill="url(https://evil.example/x)"/></svg>',
        '<svg xmlns="http://www.w3.org/2000/svg"><foreignObject><div/></foreignObject></svg>',
        '<!DOCTYPE svg [<!ENTITY a "b">]><svg xmlns="http://www.w3.org/2000/svg"><text>&a;</text></svg>',
    ],
)
def test_svg_check_refuses_anything_active(svg: str) -> None:
    with pytest.raises(ValueError):
        check_svg(svg)


def test_svg_check_keeps_shapes_text_and_local_clip_paths() -> None:
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><defs><clipPath id="c1"><rect width="5"/>'
        '</clipPath></defs><g clip-path="url(#c1)"><text font-size="10px">&lt;script&gt;</text></g></svg>'
    )
    assert check_svg(svg) == svg
