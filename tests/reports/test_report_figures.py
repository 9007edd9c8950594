"""The reports without a browser: the page assembly (escaping, tables, the Plotly bundle either way), the
builders' helpers, and for every report route the figures on the page against the JSON answer of the same
request with the long series included; ``GET /v1/jobs/{id}/report`` on finished, running, failed jobs."""

from __future__ import annotations

import gzip
import json
import math
import re
import time
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from pydantic import BaseModel

from services.core import reports
from services.core.reports import Report, Section, Table, drawdown, figure, fmt, render, with_full_detail
from services.garch.report import realised_vol, trailing_rms
from services.intraday.report import fold_segments, heatmap_axes, sharpe_grid
from tests.reports.cases import CASES, Case, fake_job

FIG = re.compile(r'<script type="application/json" data-fig="(fig-\d+)">(.*?)</script>', re.S)


def figures_of(page: str) -> list[dict[str, Any]]:
    """The figure specs a report page carries, in page order."""
    return [json.loads(spec) for _, spec in FIG.findall(page)]


def trace(fig: dict[str, Any], name: str) -> dict[str, Any]:
    found = [t for t in fig["data"] if t.get("name") == name]
    assert len(found) == 1, [t.get("name") for t in fig["data"]]
    return found[0]


# --- the page assembly ------------------------------------------------------------------------------------
def test_fmt_and_drawdown() -> None:
    assert fmt(None) == "—" and fmt(float("nan")) == "—" and fmt(3) == "3" and fmt(True) == "yes"
    assert fmt(1.234567) == "1.235" and fmt({"fast": 5, "slow": 30.0}) == "fast=5, slow=30"
    assert drawdown([1.0, 1.2, 0.9, 1.3]) == pytest.approx([0, 0, 0.9 / 1.2 - 1, 0])


def test_text_is_escaped_everywhere() -> None:
    import plotly.graph_objects as go

    evil = "</script><img src=x onerror=alert(1)>&"
    page = render(
        Report(
            evil,
            {evil: evil},
            [
                Section(
                    evil,
                    [figure(go.Bar(x=[evil], y=[1]), title=evil), Table((evil,), [(evil,)], caption=evil)],
                )
            ],
        ),
        plotly_js="/p.js",
    )
    assert "<img" not in page and page.count("</script>") == 3  # the bundle's tag, the figure's, the boot's
    spec = figures_of(page)[0]
    assert spec["data"][0]["x"] == [evil] and spec["layout"]["title"]["text"] == evil


def test_the_bundle_inlined_or_by_url() -> None:
    report = Report("t", sections=[Section("s", [figure(title="f")])])
    by_url, inline = render(report, plotly_js="http://h/x.js"), render(report, plotly_js=None)
    version, js, packed = reports.plotly_bundle()
    assert '<script src="http://h/x.js"></script>' in by_url and len(by_url) < 10_000
    assert len(inline) > len(js) and "<script src=" not in inline
    assert gzip.decompress(packed) == js and version in reports.plotly_js_path()


def test_with_full_detail_turns_on_every_include_option() -> None:
    class Req(BaseModel):
        include: list[Literal["equity", "weights"]] = []
        n: int = 1

    class NoInclude(BaseModel):
        n: int = 1

    assert with_full_detail(Req(), n=2) == Req(include=["equity", "weights"], n=2)
    assert with_full_detail(NoInclude()) == NoInclude()


def test_sweep_heat_map_takes_the_best_over_other_parameters() -> None:
    def row(a: Any, b: Any, c: Any, sharpe: float | None) -> dict[str, Any]:
        return {"params": {"a": a, "b": b, "c": c}, "metrics": {"sharpe": sharpe}}

    rows = [
        row(1, "x", 0, 0.5),
        row(1, "x", 1, 0.7),
        row(2, "x", 0, None),
        row(2, "y", 1, -1.0),
        row(3, "y", 0, 2.0),
    ]
    x, y = heatmap_axes(rows)
    assert (x, y) == ("a", "b")  # a has 3 values; b and c 2 each (the first in order)
    xs, ys, z = sharpe_grid(rows, x, y)
    assert xs == [1, 2, 3] and ys == ["x", "y"]
    assert z == [[0.7, None, None], [None, -1.0, 2.0]]


def test_garch_helpers() -> None:
    assert realised_vol([0.0004, None], 252) == [pytest.approx(math.sqrt(0.0004 * 252)), None]
    assert trailing_rms([3.0, None, 4.0, 0.0], 2) == [
        None,
        None,
        pytest.approx(math.sqrt(12.5)),
        2.0 * math.sqrt(2),
    ]


def test_a_job_result_of_another_shape_has_no_report() -> None:
    import services.intraday.report  # noqa: F401 - registers its job reports

    assert reports.job_report("intraday", "sweep", {"output": "x.parquet", "symbols": []}) is None
    assert reports.job_report("intraday", "no-such-command", {}) is None


# --- every report route: the page's figures are the JSON answer's numbers ----------------------------------
def _both(services, case: Case) -> tuple[dict[str, Any], str]:
    url = services.url(case.service)
    with httpx.Client(base_url=url, timeout=300) as http:
        js = http.request(**case.json_request())
        page = http.request(**case.report_request())
    assert js.status_code == 200, js.text
    assert page.status_code == 200, page.text
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["content-encoding"] == "gzip"  # httpx asks for it
    html = page.text
    assert f'<script src="{url}{reports.plotly_js_path()}"></script>' in html
    assert len(figures_of(html)) == case.n_figures
    return js.json(), html


CHECKS: dict[str, Any] = {}


def check(name: str) -> Any:
    def register(fn: Any) -> Any:
        CHECKS[name] = fn
        return fn

    return register


@check("intraday-backtest")
def _intraday_backtest(body: dict[str, Any], figs: list[dict[str, Any]], html: str) -> None:
    eq, dd = figs
    assert trace(eq, "equity")["x"] == body["equity"]["datetime"]
    assert trace(eq, "equity")["y"] == body["equity"]["equity"]
    assert trace(dd, "drawdown")["y"] == pytest.approx(drawdown(body["equity"]["equity"]))
    assert f"<td>{fmt(body['metrics']['sharpe'])}</td>" in html
    assert f"of {len(body['trades']):,} trades" in html


@check("intraday-sweep")
def _intraday_sweep(body: dict[str, Any], figs: list[dict[str, Any]], html: str) -> None:
    (heat,) = figs
    assert len(body["results"]) == body["n_evaluated"]
    xs, ys, z = sharpe_grid(body["results"], "slow", "fast")
    data = heat["data"][0]
    assert (data["x"], data["y"], data["z"]) == (xs, ys, z)
    cells = {(r["params"]["slow"], r["params"]["fast"]): r["metrics"]["sharpe"] for r in body["results"]}
    assert all(z[ys.index(f)][xs.index(s)] == v for (s, f), v in cells.items())
    assert f"<td>{fmt(body['results'][0]['metrics']['sharpe'])}</td>" in html


@check("intraday-walk-forward")
def _intraday_walk_forward(body: dict[str, Any], figs: list[dict[str, Any]], html: str) -> None:
    eq, dd, sharpe = figs
    assert trace(dd, "drawdown")["y"] == pytest.approx(drawdown(body["equity"]["equity"]))
    assert len(eq["data"]) == len(body["folds"])
    for t, (xs, ys), fold in zip(eq["data"], fold_segments(body), body["folds"], strict=True):
        assert (t["x"], t["y"]) == (xs, ys) and fmt(fold["best_params"]) in t["name"]
        assert fmt(fold["best_params"]) in html
    stitched = [y for t in eq["data"] for y in t["y"]]
    assert stitched == body["equity"]["equity"]  # the folds' test windows cover the curve, in order
    assert trace(sharpe, "out-of-sample")["y"] == [f["out_of_sample"]["sharpe"] for f in body["folds"]]
    assert trace(sharpe, "in-sample")["y"] == [f["in_sample"]["sharpe"] for f in body["folds"]]


@check("portfolio-frontier")
def _portfolio_frontier(body: dict[str, Any], figs: list[dict[str, Any]], html: str) -> None:
    front, weights = figs
    line = trace(front, "efficient frontier")
    assert line["x"] == [p["volatility"] for p in body["data"]]
    assert line["y"] == [p["expected_return"] for p in body["data"]]
    best = max(body["data"], key=lambda p: p["sharpe"])
    chosen = trace(front, "chosen: max Sharpe")
    assert (chosen["x"], chosen["y"]) == ([best["volatility"]], [best["expected_return"]])
    for symbol, w in best["weights"].items():
        assert trace(weights, symbol)["y"] == [p["weights"].get(symbol, 0.0) for p in body["data"]]
        assert f"<td>{symbol}</td><td>{reports.pct(w)}</td>" in html


@check("portfolio-backtest")
def _portfolio_backtest(body: dict[str, Any], figs: list[dict[str, Any]], html: str) -> None:
    eq, dd = figs
    assert trace(eq, "optimized")["x"] == body["equity"]["dates"]
    assert trace(eq, "optimized")["y"] == body["equity"]["values"]
    assert trace(eq, "benchmark")["y"] == body["benchmark_equity"]["values"]
    assert trace(dd, "drawdown")["y"] == pytest.approx(drawdown(body["equity"]["values"]))
    assert f"<td>{fmt(body['metrics']['sharpe'])}</td>" in html
    assert f"of {len(body['rebalances'])} rebalances" in html


@check("garch-rolling")
def _garch_rolling(body: dict[str, Any], figs: list[dict[str, Any]], html: str) -> None:
    vol, term = figs
    points = body["forecasts"]
    assert trace(vol, "forecast (1 step)")["x"] == [p["date"] for p in points]
    assert trace(vol, "forecast (1 step)")["y"] == [p["vol_annualized"][0] for p in points]
    realised = trace(vol, "realised |r|·√A")["y"]
    assert realised == pytest.approx(
        realised_vol([p["realized_squared"][0] for p in points], body["annualization"])
    )
    assert term["data"][0]["y"] == points[-1]["vol_annualized"]
    assert f"<td>{fmt(body['evaluation'][0]['qlike'])}</td>" in html


@check("sentiment-rankings")
def _sentiment_rankings(body: dict[str, Any], figs: list[dict[str, Any]], html: str) -> None:
    bars, heat = figs
    month = max(r["month"] for r in body["data"])
    rows = sorted((r for r in body["data"] if r["month"] == month), key=lambda r: r["rank"])
    assert bars["data"][0]["x"] == [r["symbol"] for r in rows]
    assert bars["data"][0]["y"] == [r["engagement_ratio"] for r in rows]
    months = sorted({r["month"] for r in body["data"]})
    assert heat["data"][0]["x"] == months
    z = {
        (s, m): v
        for s, zs in zip(heat["data"][0]["y"], heat["data"][0]["z"], strict=True)
        for m, v in zip(months, zs, strict=True)
    }
    assert all(z[(r["symbol"], r["month"])] == r["rank"] for r in body["data"])


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_report_figures_are_the_json_numbers(services, case: Case) -> None:
    body, html = _both(services, case)
    CHECKS[case.name](body, figures_of(html), html)


def test_every_case_is_checked() -> None:
    assert set(CHECKS) == {c.name for c in CASES}


# --- the bundle and the OpenAPI documents -------------------------------------------------------------------
@pytest.mark.slow
def test_plotly_bundle_is_served_gzipped_and_cached(services) -> None:
    url = services.url("intraday") + reports.plotly_js_path()
    _, js, packed = reports.plotly_bundle()
    zipped = httpx.get(url, headers={"accept-encoding": "gzip"})
    raw = httpx.get(url, headers={"accept-encoding": "identity"})
    assert zipped.headers["content-encoding"] == "gzip" and zipped.num_bytes_downloaded == len(packed)
    assert zipped.content == raw.content == js and "content-encoding" not in raw.headers
    for r in (zipped, raw):
        assert r.headers["cache-control"] == reports.ASSET_CACHE
        assert r.headers["content-type"].startswith("text/javascript")


REPORT_ROUTES = {
    "intraday": [
        ("post", "/v1/intraday/backtest"),
        ("post", "/v1/intraday/sweep"),
        ("post", "/v1/intraday/walk-forward"),
    ],
    "portfolio": [("post", "/v1/portfolio/frontier"), ("post", "/v1/portfolio/backtest")],
    "garch": [("post", "/v1/volatility/rolling")],
    "sentiment": [("get", "/v1/sentiment/rankings")],
}


@pytest.mark.slow
@pytest.mark.parametrize("service", list(REPORT_ROUTES))
def test_openapi_documents_the_html_answers(services, service: str) -> None:
    spec = httpx.get(services.url(service) + "/openapi.json").json()
    for method, path in REPORT_ROUTES[service]:
        op = spec["paths"][path][method]
        (param,) = [p for p in op["parameters"] if p["name"] == "report"]
        assert param["in"] == "query" and param["schema"]["type"] == "boolean" and not param.get("required")
        assert "text/html" in op["responses"]["200"]["content"], path
        assert "application/json" in op["responses"]["200"]["content"], path
    report = spec["paths"]["/v1/jobs/{job_id}/report"]["get"]
    assert "text/html" in report["responses"]["200"]["content"]
    assert {"202", "404", "409"} <= set(report["responses"])


# --- GET /v1/jobs/{id}/report --------------------------------------------------------------------------------
@pytest.mark.slow
def test_job_report_of_each_state(services) -> None:
    from services.core.settings import get_settings

    results = Path(get_settings().results_dir).expanduser().resolve()
    case = next(c for c in CASES if c.name == "intraday-sweep")
    url = services.url("intraday")
    with httpx.Client(base_url=url, timeout=300) as http:
        sweep = http.request(**case.json_request()).json()
        done = fake_job(results, "intraday", "sweep", result=sweep)
        r = http.get(f"/v1/jobs/{done}/report")
        assert r.status_code == 200 and r.headers["content-type"] == "text/html; charset=utf-8"
        CHECKS["intraday-sweep"](sweep, figures_of(r.text), r.text)

        running = fake_job(results, "intraday", "walk-forward")
        r = http.get(f"/v1/jobs/{running}/report")
        assert r.status_code == 202 and '<meta http-equiv="refresh" content="5">' in r.text
        assert "PENDING" in r.text and not figures_of(r.text)

        failed = fake_job(results, "intraday", "sweep", error={"status": 500, "title": "Job Failed"})
        r = http.get(f"/v1/jobs/{failed}/report")
        assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem+json")

        other = fake_job(results, "intraday", "sweep", result={"output": "x.parquet", "symbols": []})
        r = http.get(f"/v1/jobs/{other}/report")
        assert r.status_code == 409 and "no report" in r.json()["detail"]

        assert http.get(f"/v1/jobs/raysvc-intraday-sweep-{'0' * 12}/report").status_code == 404
        # another service's job is not this service's to report
        garch = fake_job(results, "garch", "rolling", result={})
        assert http.get(f"/v1/jobs/{garch}/report").status_code == 404


# --- page weight: the bundle by URL (what the services do) against inlined ------------------------------------
def page_weights(services, case: Case) -> dict[str, int]:
    """Bytes of ``case``'s report page: as served (the bundle by URL; raw and gzipped), with the bundle inlined
    (raw and gzipped), and of the bundle itself (raw and gzipped, fetched once and then cached)."""
    url = services.url(case.service)
    with httpx.Client(base_url=url, timeout=300) as http:
        page = http.request(**case.report_request())
    _, js, packed = reports.plotly_bundle()
    tag = f'<script src="{url}{reports.plotly_js_path()}"></script>'
    inline = page.text.replace(tag, "<script>" + js.decode().replace("</script", "<\\/script") + "</script>")
    return {
        "page": len(page.content),
        "page_gzip": page.num_bytes_downloaded,
        "inline": len(inline.encode()),
        "inline_gzip": len(gzip.compress(inline.encode(), compresslevel=6)),
        "bundle": len(js),
        "bundle_gzip": len(packed),
    }


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_page_weight(services, case: Case) -> None:
    """A page without the bundle stays light (under 500 KB, under 100 KB gzipped: docs/reports.md lists them);
    inlined, every page would carry the 4.8 MB bundle (1.5 MB gzipped) again."""
    w = page_weights(services, case)
    assert w["page"] < 500_000 and w["page_gzip"] < 100_000, w
    assert w["inline"] > w["page"] + w["bundle"] - 1000, w
    assert w["inline_gzip"] > w["bundle_gzip"], w


@pytest.mark.slow
def test_report_of_a_job_run_on_the_cluster(services) -> None:
    """A walk-forward sent with ``report=true`` and ``mode: job`` runs as a Ray job (its own driver process);
    once finished, its report draws the numbers of the synchronous JSON answer to the same request."""
    case = next(c for c in CASES if c.name == "intraday-walk-forward")
    with httpx.Client(base_url=services.url(case.service), timeout=300) as http:
        r = http.post(case.path, params={"report": "true"}, json={**case.body, "mode": "job"})
        assert r.status_code == 202, r.text
        status_url = r.json()["status_url"]
        deadline = time.monotonic() + 480
        while (info := http.get(status_url).json())["status"] in ("PENDING", "RUNNING"):
            assert time.monotonic() < deadline, info
            time.sleep(1.0)
        assert info["status"] == "SUCCEEDED", info
        page = http.get(f"{status_url}/report")
        body = http.request(**case.json_request()).json()
    assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    CHECKS[case.name](body, figures_of(page.text), page.text)
