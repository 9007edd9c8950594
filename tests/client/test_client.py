"""The client against the four real services: its pandas outputs hold the same numbers the raw HTTP call
returns for the same input (exactly: both parse the same JSON), sync and async alike, and ``plot()`` draws
what the data holds."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import matplotlib
import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal, assert_series_equal

from services.client import AsyncClient, Client

matplotlib.use("Agg")
import matplotlib.pyplot as plt

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client(live_urls) -> Client:
    with Client(live_urls, progress=False) as c:
        yield c


@pytest.fixture(scope="module")
def prices(data_dir: Path) -> pd.DataFrame:
    return pd.read_csv(data_dir / "prices.csv", index_col=0, parse_dates=True)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def raw(urls: dict[str, str], service: str, method: str, path: str, **kwargs) -> dict:
    """The body of the same request sent by hand."""
    r = httpx.request(method, urls[service] + path, timeout=120, **kwargs)
    assert r.status_code == 200, r.text
    return r.json()


def test_score_keeps_the_series_index_and_the_numbers(client, live_urls) -> None:
    texts = pd.Series(
        [
            "Shares surge after record profit",
            "Company misses estimates, cuts guidance",
            "Board meets Tuesday",
        ],
        index=["n1", "n2", "n3"],
    )
    result = client.sentiment.score(texts, model="lexicon")
    body = raw(
        live_urls, "sentiment", "POST", "/v1/sentiment/score", json={"texts": list(texts), "model": "lexicon"}
    )
    frame = result.to_frame()
    assert list(frame.index) == ["n1", "n2", "n3"]
    assert frame["text"].tolist() == texts.tolist()
    assert frame["label"].tolist() == [r["label"] for r in body["results"]]
    assert frame["score"].tolist() == [r["score"] for r in body["results"]]
    assert frame["positive"].tolist() == [r["probabilities"]["positive"] for r in body["results"]]
    ax = result.plot()
    assert len(ax.patches) == 3  # a bar per text
    assert [p.get_height() for p in ax.patches] == frame["score"].tolist()


def test_forecast_of_a_price_series(client, live_urls, prices) -> None:
    series = prices["AAPL"].iloc[-400:]
    result = client.garch.forecast(series=series, horizon=5)
    body = raw(
        live_urls,
        "garch",
        "POST",
        "/v1/volatility/forecast",
        json={
            "series": {"dates": [d.strftime("%Y-%m-%d") for d in series.index], "prices": series.tolist()},
            "horizon": 5,
        },
    )
    frame = result.to_frame()
    assert frame.shape == (5, 1) and list(frame.index) == [1, 2, 3, 4, 5]
    np.testing.assert_array_equal(frame.iloc[:, 0].to_numpy(), body["results"][0]["forecast_vol_annualized"])
    np.testing.assert_array_equal(
        result.to_frame(annualized=False).iloc[:, 0].to_numpy(), body["results"][0]["forecast_variance"]
    )
    assert result.params().iloc[0].to_dict() == body["results"][0]["params"]


def test_forecast_of_dataset_symbols_plots_a_line_per_symbol(client, live_urls) -> None:
    result = client.garch.forecast(["AAPL", "MSFT"], dataset="prices", horizon=7)
    body = raw(
        live_urls,
        "garch",
        "POST",
        "/v1/volatility/forecast",
        json={"symbols": ["AAPL", "MSFT"], "dataset": "prices", "horizon": 7},
    )
    expected = pd.DataFrame(
        {r["symbol"]: r["forecast_vol_annualized"] for r in body["results"]},
        index=pd.RangeIndex(1, 8, name="h"),
    )
    assert_frame_equal(result.to_frame(), expected)
    ax = result.plot()
    assert [line.get_label() for line in ax.get_lines()] == ["AAPL", "MSFT"]
    assert all(len(line.get_xdata()) == 7 for line in ax.get_lines())
    np.testing.assert_array_equal(ax.get_lines()[1].get_ydata(), expected["MSFT"].to_numpy())


def test_async_client_gives_the_same_frame(live_urls, client) -> None:
    async def run() -> pd.DataFrame:
        async with AsyncClient(live_urls, progress=False) as ac:
            return (await ac.garch.forecast("AAPL", dataset="prices", horizon=3)).to_frame()

    assert_frame_equal(
        asyncio.run(run()), client.garch.forecast("AAPL", dataset="prices", horizon=3).to_frame()
    )


def test_optimize_a_returns_frame(client, live_urls, prices) -> None:
    returns = prices[["AAPL", "MSFT", "JPM", "XOM"]].pct_change().dropna().iloc[-500:]
    result = client.portfolio.optimize(returns, objective="min_variance")
    body = raw(
        live_urls,
        "portfolio",
        "POST",
        "/v1/portfolio/optimize",
        json={
            "returns": {
                "dates": [d.strftime("%Y-%m-%d") for d in returns.index],
                "columns": list(returns.columns),
                "values": returns.to_numpy().tolist(),
            },
            "objective": "min_variance",
        },
    )
    assert_series_equal(
        result.weights, pd.Series(body["weights"], name="weight", dtype="float64").rename_axis("symbol")
    )
    assert result.raw.volatility == body["volatility"]
    ax = result.plot()
    assert [p.get_height() for p in ax.patches] == list(body["weights"].values())


def test_portfolio_backtest_equity_weights_and_plot(client, live_urls) -> None:
    req = {
        "symbols": ["AAPL", "MSFT", "JPM", "XOM", "KO"],
        "strategy": "equal_weight",
        "rebalance": "Q",
        "start": "2022-01-01",
        "benchmark": "equal_weight",
    }
    result = client.portfolio.backtest(**req)  # the client asks for the curves and rebalances by default
    body = raw(
        live_urls,
        "portfolio",
        "POST",
        "/v1/portfolio/backtest",
        json={**req, "include": ["equity", "rebalances"]},
    )
    np.testing.assert_array_equal(result.equity.to_numpy(), body["equity"]["values"])
    assert [d.strftime("%Y-%m-%d") for d in result.equity.index] == [d[:10] for d in body["equity"]["dates"]]
    weights = result.weights()
    assert len(weights) == len(body["rebalances"])
    assert weights.iloc[0].to_dict() == pytest.approx(body["rebalances"][0]["weights"], abs=0)
    assert result.metrics()["sharpe"] == body["metrics"]["sharpe"]
    ax = result.plot()
    lines = ax.get_lines()
    assert len(lines) == (2 if body.get("benchmark_equity") else 1)
    assert len(lines[0].get_xdata()) == len(body["equity"]["values"])
    summary = client.portfolio.backtest(**req, include=())  # the service's summary: the latest rebalance only
    assert summary.equity.empty and summary.raw.n_rebalances == len(body["rebalances"])
    assert summary.weights().iloc[0].to_dict() == pytest.approx(body["rebalances"][-1]["weights"], abs=0)


def test_intraday_backtest_equity_and_trades(client, live_urls) -> None:
    req = {
        "symbol": "SIM",
        "strategy": {"name": "sma_cross", "params": {"fast": 12, "slow": 48}},
        "start": "2023-06-01",
        "end": "2023-07-01",
        "include": ["equity", "trades"],
    }
    result = client.intraday.backtest(
        "sma_cross", {"fast": 12, "slow": 48}, symbol="SIM", start="2023-06-01", end="2023-07-01"
    )
    body = raw(live_urls, "intraday", "POST", "/v1/intraday/backtest", json=req)
    np.testing.assert_array_equal(result.equity.to_numpy(), body["equity"]["equity"])
    assert len(result.equity) == len(body["equity"]["datetime"])
    trades = result.trades()
    assert len(trades) == len(body["trades"]) > 0
    np.testing.assert_array_equal(trades["return"].to_numpy(), [t["return"] for t in body["trades"]])
    assert result.metrics()["n_trades"] == body["metrics"]["n_trades"]
    ax = result.plot()
    assert len(ax.get_lines()) == 1 and len(ax.get_lines()[0].get_xdata()) == len(body["equity"]["equity"])


def test_intraday_sweep_frame(client, live_urls) -> None:
    grid = {"fast": [6, 12], "slow": [24, 48, 96]}
    req = {
        "symbol": "SIM",
        "strategy": "sma_cross",
        "grid": grid,
        "start": "2023-06-01",
        "end": "2023-07-01",
        "top": 6,
    }
    result = client.intraday.sweep(
        "sma_cross", grid, symbol="SIM", start="2023-06-01", end="2023-07-01", top=6
    )
    body = raw(live_urls, "intraday", "POST", "/v1/intraday/sweep", json=req)
    expected = pd.DataFrame([{**r["params"], **r["metrics"]} for r in body["results"]])
    assert_frame_equal(result.to_frame(), expected, check_dtype=False)
    ax = result.plot()
    assert len(ax.patches) == len(body["results"]) == 6
    first = body["results"][0]["params"]
    assert ax.get_xticklabels()[0].get_text() == f"fast={first['fast']}, slow={first['slow']}"


def test_bars_frame_goes_in_as_inline_bars(client, data_dir) -> None:
    bars = pd.read_csv(data_dir / "simulated_5min_data.csv", usecols=range(6))
    bars.index = pd.to_datetime(bars.pop("datetime"), format="%m/%d/%Y %H:%M")
    bars = bars.iloc[-2000:]
    inline = client.intraday.signals("sma_cross", {"fast": 6, "slow": 24}, bars=bars)
    frame = inline.to_frame()
    assert len(frame) == len(bars)
    np.testing.assert_allclose(frame["close"].to_numpy(), bars["close"].to_numpy())
    assert set(frame.columns) >= {"close", "target", "position"}


@pytest.mark.parametrize(
    ("path", "call"),
    [
        ("/v1/volatility/forecast", lambda c: c.garch.forecast("AAPL", dataset="prices", horizon=3)),
        ("/v1/volatility/rolling", lambda c: c.garch.rolling("AAPL", dataset="prices", start="2023-01-01")),
    ],
    ids=["forecast", "rolling"],
)
def test_html_report_of_an_inline_result(client, live_urls, path, call) -> None:
    from services.client import ApiError

    result = call(client)
    assert result.job_id is None
    op = httpx.get(f"{live_urls['garch']}/openapi.json", timeout=30).json()["paths"][path]["post"]
    has_html = any(p["name"] == "report" for p in op.get("parameters", [])) or any(
        "text/html" in r.get("content", {}) for r in op["responses"].values()
    )
    if has_html:
        page = client.report(result)
        assert "<html" in page.lower() and "AAPL" in page
    else:  # the service has no HTML form of this route: said as such, not returned as if it were HTML
        with pytest.raises(ApiError, match="no HTML report"):
            client.report(result)


@pytest.mark.parametrize(
    ("method", "service", "path", "key"),
    [
        ("sentiment.models", "sentiment", "/v1/sentiment/models", "data"),
        ("sentiment.symbols", "sentiment", "/v1/sentiment/symbols", "data"),
        ("sentiment.rankings", "sentiment", "/v1/sentiment/rankings", "data"),
        ("garch.symbols", "garch", "/v1/volatility/symbols", "datasets"),
        ("intraday.strategies", "intraday", "/v1/intraday/strategies", None),
    ],
)
def test_listings_hold_the_rows_of_the_answer(client, live_urls, method, service, path, key) -> None:
    namespace, name = method.split(".")
    listing = getattr(getattr(client, namespace), name)()
    body = raw(live_urls, service, "GET", path)
    rows = body if key is None else body[key]
    assert len(listing) == len(rows) > 0
    assert listing.to_frame().to_dict("records") == pd.DataFrame(rows).to_dict("records")


def test_probes_and_legacy_routes_answer_the_raw_json(client, live_urls) -> None:
    for name in live_urls:
        assert client.health(name) == {"status": "ok", "service": name}
        assert client.ready(name) == raw(live_urls, name, "GET", "/readyz")
        assert client.status(name)["service"] == name
    assert "# HELP" in client.metrics("garch")
    assert client.legacy.available_tickers() == raw(live_urls, "sentiment", "GET", "/available-tickers")
    texts = ["Great quarter", "Awful guidance"]
    mine = client.legacy.analyze_sentiment(texts)
    theirs = raw(live_urls, "sentiment", "POST", "/analyze-sentiment", json={"texts": texts})
    mine.pop("processing_time"), theirs.pop("processing_time")  # wall time of each call
    assert mine == theirs
    assert client.legacy.select_top_stocks(limit=3) == raw(
        live_urls, "portfolio", "GET", "/select-top-stocks", params={"limit": 3}
    )
