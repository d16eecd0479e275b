"""The Insights pages for real: the sandbox synced over HTTP into DuckDB (and PostgreSQL), the models built
with dbt, the pages under TestClient and in Chromium. Some CRM names are hostile (markup, formulas): they
must stay text on the page, in the SVG and in the CSVs. Screenshots go to build/screenshots/."""

from __future__ import annotations

import csv
import io
import re
import shutil
import socket
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql

from closesync import sync
from closesync.analytics import REQUIRED_REPORTS, models_schema
from closesync.datacenter import DataCenter
from closesync.datacenter import marts as marts_module
from closesync.datacenter.marts import destination_key
from closesync.sandbox import Sandbox
from fixtures_web import LiveServer, csrf, make_client
from test_e2e_web import browser, page, shot  # noqa: F401 - the e2e tests' Chromium fixtures

HOSTILE_USER = ('<script>alert("u")</script>', "=HYPERLINK(1)")  # first and last name
HOSTILE_STATUS = "<img src=x onerror=alert(1)>"  # a lead status label
FORMULA_STATUS = "=SUM(A1:A9)"  # an opportunity status label
SECRET = "pw-Hq27-never-shown"


def _sync(destination: str) -> None:
    with Sandbox(seed=3, leads=60) as sandbox:
        result = sync(
            list(REQUIRED_REPORTS),
            api_key=sandbox.api_key,
            base_url=sandbox.base_url,
            destination=destination,
            method="replace",
        )
    assert {r.status for r in result.reports} == {"success"}


def _make_hostile(execute: Any) -> None:
    """Rename the busiest caller, one lead status and one opportunity status as a hostile CRM user could."""
    execute(
        "UPDATE users SET first_name = %s, last_name = %s WHERE id = "
        "(SELECT user_id FROM activities_call GROUP BY user_id ORDER BY count(*) DESC, user_id LIMIT 1)",
        HOSTILE_USER,
    )
    execute(
        "UPDATE lead_statuses SET label = %s WHERE id = (SELECT min(id) FROM lead_statuses)",
        (HOSTILE_STATUS,),
    )
    execute(
        "UPDATE opportunity_statuses SET label = %s WHERE id = (SELECT min(id) FROM opportunity_statuses "
        "WHERE type = 'active')",
        (FORMULA_STATUS,),
    )


@pytest.fixture(scope="module")
def synced_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DuckDB file with the sandbox's reports (hostile names included) and no models yet."""
    path = tmp_path_factory.mktemp("insights") / "synced.duckdb"
    _sync(f"duckdb:{path}")
    with duckdb.connect(str(path)) as con:
        _make_hostile(lambda q, p: con.execute(q.replace("%s", "?"), list(p)))
    return path


@pytest.fixture(scope="module")
def built_file(synced_file: Path) -> Path:
    """A copy of the synced file with the models built."""
    path = synced_file.with_name("built.duckdb")
    shutil.copy(synced_file, path)
    marts_module.build_marts(path.parent / "home", f"duckdb:{path}")
    return path


def _dataset(dc: DataCenter, sandbox: Any, destination: str) -> Any:
    account = dc.add_account("Acme", api_key=sandbox.api_key, base_url=sandbox.base_url)
    return dc.create_dataset("Leads", account=account.id, report="leads", destination=destination)


@pytest.fixture
def built(dc: DataCenter, sandbox: Any, built_file: Path) -> Iterator[tuple[TestClient, str]]:
    """The app over a DataSet whose destination has the models; the Insights page's URL."""
    destination = f"duckdb:{built_file}"
    _dataset(dc, sandbox, destination)
    with make_client(dc) as client:
        yield client, f"/insights/{destination_key(destination)}"


def _mart(path: Path, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(query, list(params)).fetchall()


def _csv(client: TestClient, url: str) -> list[dict[str, str]]:
    answer = client.get(url)
    assert answer.status_code == 200, answer.text[:300]
    assert answer.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(answer.text)))


def _csv_links(html: str) -> dict[str, str]:
    return {
        name: url.replace("&amp;", "&")
        for url, name in (
            (u, re.search(r"/insights/\w+/(\w+)\.csv", u).group(1))  # type: ignore[union-attr]
            for u in re.findall(r'href="(/insights/\w+/\w+\.csv[^"]*)"', html)
        )
    }


def test_the_page_draws_five_svg_charts_each_with_its_csv(built: tuple[TestClient, str]) -> None:
    client, url = built
    answer = client.get(url)
    assert answer.status_code == 200
    for name in marts_module.CHARTS:
        card = answer.text.split(f'id="chart-{name}"')[1].split('class="card insight"')[0]
        assert "<svg" in card, name
    assert set(_csv_links(answer.text)) == set(marts_module.CHARTS)
    assert "no-store" in answer.headers["cache-control"]


def test_nav_and_the_dataset_page_link_to_insights(built: tuple[TestClient, str], dc: DataCenter) -> None:
    client, url = built
    assert 'href="/insights"' in client.get("/datasets").text
    [ds] = dc.list_datasets()
    assert f'href="/insights?dataset={ds.id}"' in client.get(f"/datasets/{ds.id}").text
    assert client.get(f"/insights?dataset={ds.id}").headers["location"] == url
    index = client.get("/insights")
    assert f'href="{url}"' in index.text


def test_csv_holds_the_chart_data_and_matches_the_mart(
    built: tuple[TestClient, str], built_file: Path
) -> None:
    client, url = built
    pipeline = _csv(client, f"{url}/pipeline.csv")
    [(count, cents)] = _mart(
        built_file, "SELECT sum(opportunity_count), sum(total_value) FROM analytics.close_pipeline_now"
    )
    assert sum(int(r["opportunities"]) for r in pipeline) == count
    assert round(sum(float(r["value"]) for r in pipeline) * 100) == cents
    answer = client.get(url).text
    table = answer.split('id="chart-pipeline"')[1].split("</table>")[0]
    assert len(re.findall(r"<tr>", table)) == len(pipeline) + 1  # the table under the chart: same rows


def test_filters_change_the_numbers(built: tuple[TestClient, str], built_file: Path) -> None:
    client, url = built
    [(user_id, user_name)] = _mart(
        built_file,
        "SELECT user_id, user_name FROM analytics.close_activity_by_user_day "
        "GROUP BY ALL ORDER BY count(*) DESC, user_id LIMIT 1",
    )
    query = f"since=2024-01-01&until=2024-12-31&user={user_id}"
    activity = _csv(client, f"{url}/activity.csv?{query}")
    [(expected,)] = _mart(
        built_file,
        "SELECT sum(total_activities) FROM analytics.close_activity_by_user_day "
        "WHERE activity_date BETWEEN '2024-01-01' AND '2024-12-31' AND user_id = ?",
        user_id,
    )
    assert sum(int(r["total"]) for r in activity) == expected
    assert {r["user"] for r in activity} == {user_name}
    everyone = _csv(client, f"{url}/activity.csv")
    assert sum(int(r["total"]) for r in everyone) > expected
    tasks = _csv(client, f"{url}/tasks.csv?user={user_id}")
    assert [r["user"] for r in tasks] == [user_name]
    answer = client.get(f"{url}?{query}")
    assert answer.status_code == 200
    assert set(_csv_links(answer.text)["won_lost"].split("?")[1].split("&")) == set(query.split("&"))


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("since=yesterday", "From must be a date like 2026-01-31"),
        ("until=2024-13-01", "To must be a date like 2026-01-31"),
        ("since=2024-05-01&until=2024-01-01", "The range ends before it starts"),
        ("user=user_nobody", "No user with that id"),
        ("user=%00%01", "not a user id"),
    ],
)
def test_bad_filters_say_what_is_wrong(built: tuple[TestClient, str], query: str, message: str) -> None:
    client, url = built
    answer = client.get(f"{url}?{query}")
    assert answer.status_code == 422
    assert message in answer.text
    assert "<svg" not in answer.text
    download = client.get(f"{url}/pipeline.csv?{query}")
    assert download.status_code == 422
    assert message in download.text


def test_unknown_destination_or_chart_is_a_404(built: tuple[TestClient, str]) -> None:
    client, url = built
    assert client.get("/insights/000000000000").status_code == 404
    assert client.get(f"{url}/secrets.csv").status_code == 404


def test_hostile_crm_text_stays_text(built: tuple[TestClient, str]) -> None:
    client, url = built
    answer = client.get(url).text
    for raw in (HOSTILE_USER[0], HOSTILE_STATUS):
        assert raw not in answer
    assert "&lt;script&gt;alert(" in answer  # in the user list, the tables and the SVG's text
    assert "&lt;img src=x onerror=alert(1)&gt;" in answer
    funnel = _csv(client, f"{url}/funnel.csv")
    assert HOSTILE_STATUS in {r["status"] for r in funnel}  # CSV keeps text as it is (not a formula)
    pipeline = _csv(client, f"{url}/pipeline.csv")
    assert "'" + FORMULA_STATUS in {r["status"] for r in pipeline}  # a formula is defused
    assert FORMULA_STATUS not in {r["status"] for r in pipeline}


def test_unbuilt_models_offer_a_build_that_runs_in_the_background(
    dc: DataCenter, sandbox: Any, synced_file: Path, tmp_path: Path
) -> None:
    """The POST answers at once; the page says "Building models…" and reloads itself (a Refresh header, no
    script) until the build ends, then shows the charts; a second POST meanwhile starts no second build."""
    path = tmp_path / "close.duckdb"
    shutil.copy(synced_file, path)
    destination = f"duckdb:{path}"
    _dataset(dc, sandbox, destination)
    key = destination_key(destination)
    url = f"/insights/{key}"
    with make_client(dc) as client:
        builds = client.app.state.model_builds  # type: ignore[attr-defined]
        answer = client.get(url)
        assert answer.status_code == 200 and "Refresh" not in answer.headers
        assert 'id="build-form"' in answer.text and "not built yet" in answer.text
        assert client.post(f"{url}/build").status_code == 403  # no CSRF token
        started = time.monotonic()
        answer = client.post(f"{url}/build", data={"csrf_token": csrf(client)})
        assert answer.status_code == 303 and answer.headers["location"] == url
        assert time.monotonic() - started < 5  # dbt takes far longer: it was not run in the request
        first = builds.current(key)
        assert first is not None and first.running
        answer = client.get(url)
        assert answer.status_code == 200 and answer.headers["Refresh"] == "3"
        assert re.search(r"Building models… .*started at \d\d:\d\d:\d\d UTC", answer.text)
        assert 'id="build-form"' not in answer.text and "<svg" not in answer.text
        assert client.post(f"{url}/build", data={"csrf_token": csrf(client)}).status_code == 303
        assert builds.current(key) is first  # the same build, not a second one
        assert "being built already" in client.get(url).text
        builds.wait(key, timeout=600)
        answer = client.get(url)
        assert "Refresh" not in answer.headers
        assert re.search(r"Built \d+ models and passed \d+ tests", answer.text)
        assert answer.text.count("<svg") >= 5
        assert builds.current(key) is None  # the outcome was shown once


def test_a_failed_build_shows_its_error_without_the_password(
    dc: DataCenter, sandbox: Any, tmp_path: Path
) -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    destination = f"postgresql://someone:{SECRET}@127.0.0.1:{port}/db"  # nothing listens there
    _dataset(dc, sandbox, destination)
    key = destination_key(destination)
    with make_client(dc) as client:
        client.post(f"/insights/{key}/build", data={"csrf_token": csrf(client)})
        client.app.state.model_builds.wait(key, timeout=120)  # type: ignore[attr-defined]
        answer = client.get(f"/insights/{key}")
    assert answer.status_code == 200 and "The models were not built:" in answer.text
    assert 'class="flash error"' in answer.text and "Traceback" not in answer.text
    assert SECRET not in answer.text


def test_without_dbt_the_page_says_what_to_install(
    dc: DataCenter, sandbox: Any, synced_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    destination = f"duckdb:{synced_file}"
    _dataset(dc, sandbox, destination)
    monkeypatch.setitem(sys.modules, "dbt.cli", None)  # what an install without the extra looks like
    monkeypatch.setitem(sys.modules, "dbt.cli.main", None)
    url = f"/insights/{destination_key(destination)}"
    with make_client(dc) as client:
        answer = client.get(url).text
        assert "pip install &#39;closesync[models]&#39;" in answer
        assert 'id="build-form"' not in answer
        client.post(f"{url}/build", data={"csrf_token": csrf(client)})
        client.app.state.model_builds.wait(destination_key(destination), timeout=60)  # type: ignore[attr-defined]
        assert "The models were not built" in client.get(url).text


def test_a_files_destination_is_not_offered(dc: DataCenter, sandbox: Any, tmp_path: Path) -> None:
    _dataset(dc, sandbox, f"parquet:{tmp_path / 'files'}")
    with make_client(dc) as client:
        assert 'id="insights-empty"' in client.get("/insights").text


@pytest.mark.postgres
def test_postgres_destination_reads_its_models_schema(dc: DataCenter, sandbox: Any, pg_url: str) -> None:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    destination = f"{pg_url}{'&' if '?' in pg_url else '?'}schema={schema}"
    try:
        _sync(destination)
        marts_module.build_marts(dc.home, destination)
        _dataset(dc, sandbox, destination)
        url = f"/insights/{destination_key(destination)}"
        with make_client(dc) as client, psycopg.connect(pg_url) as conn:
            assert client.get(url).text.count("<svg") >= 5
            pipeline = _csv(client, f"{url}/pipeline.csv")
            mart = sql.Identifier(models_schema(destination), "close_pipeline_now")
            [(count,)] = conn.execute(
                sql.SQL("SELECT sum(opportunity_count) FROM {}").format(mart)
            ).fetchall()
            assert sum(int(r["opportunities"]) for r in pipeline) == count
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            for name in (schema, models_schema(destination)):
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


def _table(tab: Any, name: str) -> list[list[str]]:
    """The rows of the data table under a chart (hidden in its <details>, so read as text content)."""
    cells = tab.locator(f"#chart-{name} table.insight-data tbody tr")
    return [[(c or "").strip() for c in row.locator("td").all_text_contents()] for row in cells.all()]


def _download(tab: Any, name: str) -> list[list[str]]:
    """A chart's CSV as the browser downloads it, with the ' that defuses a formula taken off again."""
    with tab.expect_download() as info:
        tab.click(f"#chart-{name} a.csv")
    rows = csv.reader(io.StringIO(Path(info.value.path()).read_text(encoding="utf-8")))
    return [[c[1:] if re.match(r"'[=+\-@]", c) else c for c in row] for row in rows]


@pytest.mark.browser
def test_insights_in_chromium(
    page: Any,  # noqa: F811 - the fixture imported above
    web_home: Path,
    sandbox: Any,
    synced_file: Path,
    tmp_path: Path,
) -> None:
    """A user opens Insights from a DataSet, builds the models, filters by a user and a year, downloads."""
    path = tmp_path / "close.duckdb"
    shutil.copy(synced_file, path)
    dc = DataCenter(str(web_home))
    ds = _dataset(dc, sandbox, f"duckdb:{path}")
    dc.close()
    with LiveServer(web_home, scheduler=False) as srv:
        page.goto(f"{srv.url}/datasets/{ds.id}")
        page.click("#insights-link")
        page.wait_for_selector("#build-form")
        assert "not built yet" in page.inner_text("#models-missing")
        shot(page, "insights-01-not-built")

        page.click("#build-form button")  # answered at once: the build runs in the background
        page.wait_for_selector("#models-building")
        assert re.search(
            r"Building models… \(started at \d\d:\d\d:\d\d UTC\)", page.inner_text("#models-building")
        )
        shot(page, "insights-01b-building")
        page.set_default_timeout(180_000)  # dbt build on the sandbox's data; the page reloads itself
        page.wait_for_selector(".flash.ok")
        page.set_default_timeout(20_000)
        assert re.search(r"Built \d+ models", page.inner_text(".flash.ok"))
        assert page.locator(".card.insight .chart svg").count() == 5
        shot(page, "insights-02-charts")

        hostile = " ".join(HOSTILE_USER)
        assert hostile in page.locator("#f-user option").all_inner_texts()  # shown as text, not run
        assert page.locator(f"#chart-funnel text:has-text('{HOSTILE_STATUS[:8]}')").count() >= 1
        unfiltered = sum(int(r[-1]) for r in _table(page, "activity"))

        page.select_option("#f-user", label=hostile)
        page.fill("#f-since", "2024-01-01")
        page.fill("#f-until", "2024-12-31")
        page.click("#insights-filters button[type=submit]")
        page.wait_for_url(re.compile(r"since=2024-01-01"))
        rows = _table(page, "activity")
        user_id = page.locator("#f-user").input_value()
        [(expected,)] = _mart(
            path,
            "SELECT sum(total_activities) FROM analytics.close_activity_by_user_day "
            "WHERE activity_date BETWEEN '2024-01-01' AND '2024-12-31' AND user_id = ?",
            user_id,
        )
        assert sum(int(r[-1]) for r in rows) == expected < unfiltered
        assert {r[1] for r in rows} == {hostile}
        shot(page, "insights-03-filtered")

        for name in ("activity", "tasks", "pipeline"):
            header, *data = _download(page, name)
            assert header == page.locator(f"#chart-{name} table.insight-data th").all_text_contents()
            assert data == _table(page, name)
        assert [r[0] for r in _download(page, "activity")[1:]] == [r[0] for r in rows]

        page.goto(f"{page.url}&until=2023-01-01")
        assert "The range ends before it starts" in page.inner_text("#filter-error")
        assert page.locator(".card.insight").count() == 0
        shot(page, "insights-04-bad-filter")
    assert page.dialogs == []  # type: ignore[attr-defined]
    assert page.console_errors == []  # type: ignore[attr-defined]
