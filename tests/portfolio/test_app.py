"""The HTTP API under TestClient (lifespan on, the session's embedded Ray, generated data), and the
sentiment strategy end to end over real HTTP: with the sentiment service up, and with it down (503)."""

from __future__ import annotations

import socket
import threading
import time
import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from skfolio.moments import LedoitWolf
from skfolio.optimization import MeanRisk, ObjectiveFunction
from skfolio.prior import EmpiricalPrior

from services.portfolio.engine import (
    BacktestSpec,
    OptimizationSpec,
    conditional_value_at_risk,
    max_drawdown,
    sharpe_ratio,
    walk_forward,
)
from tests.portfolio.reference import TIGHT, TIGHT_WEIGHT_ATOL
from tests.utils.apps import app_client, problem

SIX = ["AAPL", "JNJ", "JPM", "KO", "MSFT", "XOM"]


client = app_client("services.portfolio.app")


@pytest.fixture(scope="module")
def sp500(sp500_returns) -> pd.DataFrame:
    return sp500_returns


# --- optimize -------------------------------------------------------------------------------------
def test_optimize_max_sharpe_equals_skfolio(client, sp500):
    body = {"symbols": SIX, "objective": "max_sharpe", "start": "2018-01-01", "end": "2022-12-28"}
    r = client.post("/v1/portfolio/optimize", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["dataset"] == "sp500" and out["status"] == "optimal"
    assert abs(sum(out["weights"].values()) - 1) <= 1e-9
    window = sp500.loc["2018-01-01":"2022-12-28", SIX]
    ref = MeanRisk(objective_function=ObjectiveFunction.MAXIMIZE_RATIO, solver_params=TIGHT).fit(window)
    assert_allclose([out["weights"][s] for s in SIX], ref.weights_, atol=TIGHT_WEIGHT_ATOL)
    assert out["n_observations"] == len(window)


def test_optimize_default_window_and_prices_dataset(client):
    r = client.post("/v1/portfolio/optimize", json={"symbols": ["AAPL", "TSLA", "NVDA"], "objective": "hrp"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["dataset"] == "prices"  # TSLA and NVDA are not among skfolio's 20 stocks
    assert out["n_observations"] == 756 and out["status"] == "closed_form"


def test_optimize_inline_returns(client, sp500):
    w = sp500.loc["2021", ["KO", "PG", "XOM"]]
    panel = {
        "dates": [str(d.date()) for d in w.index],
        "columns": list(w.columns),
        "values": w.to_numpy().tolist(),
    }
    r = client.post("/v1/portfolio/optimize", json={"returns": panel, "objective": "min_variance"})
    assert r.status_code == 200, r.text
    ref = MeanRisk(solver_params=TIGHT).fit(w).weights_
    assert_allclose([r.json()["weights"][s] for s in w.columns], ref, atol=TIGHT_WEIGHT_ATOL)
    assert r.json()["dataset"] == "inline"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"symbols": SIX, "constraints": {"max_weight": 0.1}}, "body.constraints.max_weight"),
        ({"symbols": SIX, "objective": "max_return", "target_volatility": 0.01}, "body.target_volatility"),
        (
            {
                "symbols": SIX,
                "objective": "hrp",
                "constraints": {"max_turnover": 0.1, "current_weights": {"AAPL": 1}},
            },
            "body.constraints.max_turnover",
        ),
        ({"symbols": SIX, "objective": "max_return"}, "body.target_volatility"),
        ({"symbols": SIX, "objective": "nope"}, "body.objective"),
        (
            {
                "symbols": SIX,
                "returns": {
                    "dates": ["2020-01-01", "2020-01-02"],
                    "columns": ["A"],
                    "values": [[0.1], [0.2]],
                },
            },
            None,
        ),
    ],
    ids=[
        "infeasible_max_weight",
        "infeasible_target_vol",
        "unsupported_turnover",
        "missing_target",
        "bad_objective",
        "two_sources",
    ],
)
def test_optimize_errors_name_the_field(client, body, field):
    problem(client.post("/v1/portfolio/optimize", json=body), 422, field)


def _panel_with_cash(sp500) -> dict:
    """2021 returns of KO, PG and XOM plus CASH, a constant price (zero returns: no variance)."""
    w = sp500.loc["2021", ["KO", "PG", "XOM"]]
    values = np.column_stack([w.to_numpy(), np.zeros(len(w))])
    return {
        "dates": [str(d.date()) for d in w.index],
        "columns": [*w.columns, "CASH"],
        "values": values.tolist(),
    }


@pytest.mark.parametrize("objective", ["min_variance", "max_sharpe", "hrp", "equal_weight"])
def test_optimize_zero_variance_asset_is_422_naming_it(client, sp500, objective):
    body = problem(
        client.post(
            "/v1/portfolio/optimize", json={"returns": _panel_with_cash(sp500), "objective": objective}
        ),
        422,
        "body.returns",
    )
    assert "CASH" in body["errors"][0]["message"] and "ledoit_wolf" in body["detail"]


def test_optimize_zero_variance_asset_with_shrinkage_is_solved(client, sp500):
    """Ledoit-Wolf shrinkage keeps the covariance invertible: skfolio solves it, and so do we."""
    panel = _panel_with_cash(sp500)
    r = client.post(
        "/v1/portfolio/optimize",
        json={"returns": panel, "objective": "min_variance", "covariance": "ledoit_wolf"},
    )
    assert r.status_code == 200, r.text
    frame = pd.DataFrame(panel["values"], index=pd.DatetimeIndex(panel["dates"]), columns=panel["columns"])
    ref = MeanRisk(prior_estimator=EmpiricalPrior(covariance_estimator=LedoitWolf()), solver_params=TIGHT)
    with warnings.catch_warnings():  # skfolio: "Solution may be inaccurate" at tolerances this tight
        warnings.simplefilter("ignore", UserWarning)
        ref.fit(frame)
    assert_allclose([r.json()["weights"][c] for c in panel["columns"]], ref.weights_, atol=TIGHT_WEIGHT_ATOL)
    assert r.json()["weights"]["CASH"] > 0.9  # the riskless asset carries the minimum-variance portfolio


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {
                "returns": {
                    "dates": ["2020-01-01", "2020-01-02"],
                    "columns": ["A", "B"],
                    "values": [[0.01, 1e308], [0.0, 0.01]],
                }
            },
            "body.returns.values",
        ),
        ({"symbols": SIX, "risk_free_rate": False}, "body.risk_free_rate"),
        ({"symbols": SIX, "periods_per_year": True}, "body.periods_per_year"),
        ({"symbols": SIX, "constraints": {"max_weight": True}}, "body.constraints.max_weight"),
        ({"symbols": SIX, "end": "2999-01-01"}, "body.end"),
    ],
    ids=["return-1e308", "rf-false", "ppy-true", "max-weight-true", "end-2999"],
)
def test_optimize_out_of_range_numbers_and_dates_are_422(client, body, field):
    problem(client.post("/v1/portfolio/optimize", json=body), 422, field)


def test_unknown_symbol_is_404(client):
    body = problem(client.post("/v1/portfolio/optimize", json={"symbols": ["AAPL", "NOPE"]}), 404)
    assert "NOPE" in body["detail"]


# --- frontier -------------------------------------------------------------------------------------
def test_frontier_on_ray(client, sp500):
    body = {"symbols": SIX, "n_points": 200, "start": "2018-01-01", "end": "2022-12-28"}
    r = client.post("/v1/portfolio/frontier", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["computed_on"] == "ray" and out["count"] == 200  # ~54 ms of QPs: worth Ray's fixed cost
    vols = [p["volatility"] for p in out["data"]]
    assert np.all(np.diff(vols) > 0)
    window = sp500.loc["2018-01-01":"2022-12-28", SIX]
    targets = np.array([p["target_return"] for p in out["data"]]) / 252
    ref = MeanRisk(min_return=targets).fit(window).weights_
    got = np.array([[p["weights"][s] for s in SIX] for p in out["data"]])
    assert_allclose(got, ref, atol=2e-3)


def test_frontier_too_large_points_to_the_job(client):
    body = problem(client.post("/v1/portfolio/frontier", json={"symbols": SIX, "n_points": 5000}), 413)
    assert "raysvc job portfolio frontier" in body["detail"]


# --- metrics --------------------------------------------------------------------------------------
def test_metrics_of_weights_against_formulas(client, sp500):
    weights = {"AAPL": 0.5, "KO": 0.3, "XOM": 0.2}
    r = client.post(
        "/v1/portfolio/metrics",
        json={"weights": weights, "benchmark": "JNJ", "start": "2020-01-01", "end": "2022-12-28"},
    )
    assert r.status_code == 200, r.text
    out = r.json()
    window = sp500.loc["2020-01-01":"2022-12-28"]
    port = window[list(weights)].to_numpy() @ np.array(list(weights.values()))
    assert out["source"] == "sp500" and out["n_observations"] == len(port)
    assert_allclose(out["sharpe"], port.mean() / port.std(ddof=1) * np.sqrt(252), rtol=1e-9)
    assert_allclose(out["max_drawdown"]["value"], max_drawdown(port).max_drawdown, rtol=1e-12)
    cvar = {(t["measure"], t["method"], t["confidence"]): t["value"] for t in out["var_cvar"]}
    assert len(cvar) == 12
    assert_allclose(cvar[("cvar", "historical", 0.99)], conditional_value_at_risk(port, 0.99), rtol=1e-12)
    b = window["JNJ"].to_numpy()
    assert_allclose(out["benchmark"]["beta"], np.cov(port, b)[0, 1] / b.var(ddof=1), rtol=1e-9)
    assert out["max_drawdown"]["trough"] is not None
    dd = max_drawdown(pd.Series(port, index=window.index))  # the dates, from a dated pandas reference
    assert [out["max_drawdown"][k] for k in ("peak", "trough", "recovery")] == [
        None if d is None else str(d.date()) for d in (dd.peak, dd.trough, dd.recovery)
    ]
    assert (out["start"], out["end"]) == (str(window.index[0].date()), str(window.index[-1].date()))


def test_metrics_benchmark_on_the_shared_dates_only(client):
    """A dated benchmark covering part of the returns' dates: the measures use the dates both have."""
    rng = np.random.default_rng(5)
    dates = pd.bdate_range("2023-01-02", periods=300)  # weekdays → 252 periods a year
    x, b = rng.normal(0.0004, 0.01, 300), rng.normal(0.0003, 0.008, 300)
    body = {
        "returns": {"dates": [str(d.date()) for d in dates], "returns": x.tolist()},
        "benchmark": {"dates": [str(d.date()) for d in dates[100:]], "returns": b[100:].tolist()},
    }
    r = client.post("/v1/portfolio/metrics", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["periods_per_year"] == 252 and out["n_observations"] == 200
    assert out["start"] == str(dates[100].date())
    # dates sent with a UTC offset give the same answer
    body["returns"]["dates"] = [f"{d.date()}T00:00:00+00:00" for d in dates]
    r2 = client.post("/v1/portfolio/metrics", json={**body, "start": "2023-01-01"})
    assert r2.status_code == 200, r2.text
    assert r2.json()["n_observations"] == 200 and r2.json()["sharpe"] == out["sharpe"]
    assert_allclose(out["benchmark"]["beta"], np.cov(x[100:], b[100:])[0, 1] / b[100:].var(ddof=1), rtol=1e-9)


def test_metrics_of_an_inline_list_and_series(client):
    rng = np.random.default_rng(3)
    x = rng.normal(0.0005, 0.01, 500)
    r = client.post("/v1/portfolio/metrics", json={"returns": x.tolist()})
    assert r.status_code == 200, r.text
    assert_allclose(r.json()["sharpe"], sharpe_ratio(x), rtol=1e-12)
    dates = pd.date_range("2022-01-01", periods=500, freq="D")  # calendar days → 365 periods a year
    r = client.post(
        "/v1/portfolio/metrics",
        json={"returns": {"dates": [str(d.date()) for d in dates], "returns": x.tolist()}},
    )
    assert r.json()["periods_per_year"] == 365
    assert_allclose(r.json()["sharpe"], sharpe_ratio(x, periods_per_year=365), rtol=1e-12)


def test_metrics_errors(client):
    problem(client.post("/v1/portfolio/metrics", json={"returns": [0.1, -1.5, 0.2]}), 422, "body.returns")
    problem(
        client.post("/v1/portfolio/metrics", json={"returns": [0.1, 0.2], "benchmark": [0.1]}),
        422,
        "body.benchmark",
    )
    problem(client.post("/v1/portfolio/metrics", json={}), 422)
    # weights priced on sp500; TSLA is only in the generated prices
    problem(client.post("/v1/portfolio/metrics", json={"weights": {"AAPL": 1.0}, "benchmark": "TSLA"}), 404)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"returns": [0.01, 1e308, -0.02]}, "body.returns"),
        ({"returns": [0.01, 0.02, -0.01], "benchmark": [0.0, 1e308, 0.01]}, "body.benchmark"),
        (
            {
                "returns": {
                    "dates": ["2024-01-02", "2024-01-03", "2024-01-04"],
                    "prices": [1e-300, 1e300, 1e300],
                }
            },
            "body.returns",
        ),
        ({"returns": [0.01, 0.02, -0.01], "risk_free_rate": False}, "body.risk_free_rate"),
        ({"returns": [0.01, 0.02, -0.01], "periods_per_year": True}, "body.periods_per_year"),
        ({"weights": {"AAPL": True}}, "body.weights.AAPL"),
        ({"returns": [0.01, True, -0.01]}, "body.returns"),
        ({"weights": {"AAPL": 1.0}, "start": "2999-01-01"}, "body.start"),
    ],
    ids=[
        "return-1e308",
        "benchmark-1e308",
        "prices-overflow",
        "rf-false",
        "ppy-true",
        "weight-true",
        "return-true",
        "start-2999",
    ],
)
def test_metrics_out_of_range_numbers_and_dates_are_422(client, body, field):
    problem(client.post("/v1/portfolio/metrics", json=body), 422, field)


def test_metrics_of_huge_but_finite_returns(client):
    """+10,000 % for 200 periods compounds past the float range (101^200 > 1e308): the measures that stay finite
    are given, the annual growth rate is null, and the drawdown is still the exact 50 % fall."""
    x = [100.0] * 200 + [-0.5, 0.5]
    r = client.post("/v1/portfolio/metrics", json={"returns": x})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["annualised_return"] is None and out["calmar"] is None
    assert out["max_drawdown"]["value"] == 0.5 and out["max_drawdown"]["trough"] == "200"
    assert_allclose(out["annualised_volatility"], np.std(x, ddof=1) * np.sqrt(252), rtol=1e-12)


# --- backtest -------------------------------------------------------------------------------------
def test_backtest_optimized_matches_engine(client, sp500):
    body = {
        "strategy": "optimized",
        "symbols": SIX,
        "objective": "max_sharpe",
        "rebalance": "M",
        "lookback": 252,
        "costs_bps": 10,
        "start": "2017-01-01",
        "end": "2021-12-31",
        "benchmark": "equal_weight",
        "include": ["equity", "rebalances"],
    }
    r = client.post("/v1/portfolio/backtest", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["dataset"] == "sp500" and "S&P 500" in out["dataset_description"]
    assert out["computed_on"] == "ray" and len(out["rebalances"]) == 59
    spec = BacktestSpec(
        strategy="optimized",
        lookback=252,
        costs_bps=10,
        start=pd.Timestamp("2017-01-01"),
        end=pd.Timestamp("2021-12-31"),
        optimization=OptimizationSpec(objective="max_sharpe"),
    )
    local = walk_forward(sp500[SIX], spec)
    assert_allclose(out["equity"]["values"], local.equity.to_numpy(), rtol=1e-6)
    assert out["metrics"]["benchmark"]["name"] == "equal_weight"
    for a, b in zip(out["rebalances"], local.rebalances, strict=True):
        assert_allclose([a["weights"][s] for s in SIX], [b.weights[s] for s in SIX], atol=1e-6)

    # the default answer is the summary: the same metrics and latest portfolio, without the long series
    summary = client.post("/v1/portfolio/backtest", json={k: v for k, v in body.items() if k != "include"})
    assert summary.status_code == 200, summary.text
    short = summary.json()
    assert short["equity"] is None and short["benchmark_equity"] is None and short["rebalances"] is None
    assert short["metrics"] == out["metrics"] and short["total_turnover"] == out["total_turnover"]
    assert short["n_rebalances"] == 59 and short["latest_rebalance"] == out["rebalances"][-1]
    assert len(summary.content) < len(r.content) / 10, (len(summary.content), len(r.content))
    # equity_points thins both curves for plotting, keeping the first and the last value
    thin = client.post("/v1/portfolio/backtest", json={**body, "include": ["equity"], "equity_points": 50})
    curves = thin.json()
    for key in ("equity", "benchmark_equity"):
        full, cut = out[key], curves[key]
        assert 48 <= len(cut["values"]) <= 51 and cut["dates"][0] == full["dates"][0]
        assert cut["dates"][-1] == full["dates"][-1] and cut["values"][-1] == full["values"][-1]
        assert set(cut["dates"]) <= set(full["dates"])


def test_backtest_too_many_dates_points_to_the_job(client):
    body = problem(
        client.post("/v1/portfolio/backtest", json={"symbols": SIX, "rebalance": "W", "start": "1991-01-01"}),
        413,
    )
    assert "raysvc job portfolio backtest" in body["detail"]


def test_backtest_rejects_turnover_and_bad_rebalance(client):
    problem(
        client.post("/v1/portfolio/backtest", json={"symbols": SIX, "rebalance": "Y"}), 422, "body.rebalance"
    )
    body = {"symbols": SIX, "constraints": {"max_turnover": 0.1, "current_weights": {"AAPL": 1.0}}}
    problem(client.post("/v1/portfolio/backtest", json=body), 422)


# --- sentiment strategy over real HTTP ------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sentiment_app(data_dir):
    """The sentiment service's app when it exists; until then a stand-in serving the sentiment engine's
    own ``monthly_rankings`` (real computation on the generated sentiment data) at the same path."""
    try:
        from services.sentiment.app import app

        return app, "services.sentiment.app"
    except ImportError:
        from fastapi import FastAPI

        from services.sentiment.engine import monthly_rankings, prepare_social

        social = prepare_social(pd.read_csv(data_dir / "sentiment_data.csv"))
        stand_in = FastAPI()

        @stand_in.get("/v1/sentiment/rankings")
        def rankings(
            min_likes: float = 20, min_comments: float = 10, month: str | None = None, top: int | None = None
        ):
            table = monthly_rankings(social, month, top, min_likes, min_comments)
            rows = table[["month", "rank", "symbol", "engagement_ratio"]].to_dict("records")
            return {"data": rows, "count": len(rows)}

        return stand_in, "stand-in over services.sentiment.engine.monthly_rankings"


@pytest.fixture(scope="module")
def sentiment_url(data_dir):
    import uvicorn

    app, _ = _sentiment_app(data_dir)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def point_sentiment_to():
    from services.core.settings import get_settings

    settings = get_settings()
    before = settings.sentiment_url

    def point(url: str) -> None:
        settings.sentiment_url = url

    yield point
    settings.sentiment_url = before


def test_sentiment_strategy_end_to_end(client, sentiment_url, point_sentiment_to, data_dir):
    point_sentiment_to(sentiment_url)
    body = {
        "strategy": "sentiment_top_n",
        "top_n": 5,
        "rebalance": "M",
        "lookback": 20,
        "benchmark": "equal_weight",
        "include": ["rebalances"],
    }
    r = client.post("/v1/portfolio/backtest", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["dataset"] == "prices" and out["sentiment_source"].startswith(sentiment_url)
    from services.sentiment.engine import monthly_rankings, prepare_social

    expected = monthly_rankings(prepare_social(pd.read_csv(data_dir / "sentiment_data.csv")))
    universe = set(out["universe"])
    assert len(universe) == 85 and len(out["rebalances"]) >= 12
    for reb in out["rebalances"]:
        d = pd.Timestamp(reb["date"])
        known = expected[pd.PeriodIndex(expected["month"], freq="M").to_timestamp(how="end").normalize() <= d]
        month = known["month"].max()
        ranked = [s for s in known[known["month"] == month].sort_values("rank")["symbol"] if s in universe]
        assert reb["picks"] == ranked[:5], (reb["date"], month)
        assert reb["weights"] == pytest.approx({s: 0.2 for s in ranked[:5]})
    # (the check above also proves no look-ahead: only months over by the rebalance date are read)

    r = client.get("/select-top-stocks", params={"limit": 3})
    assert r.status_code == 200, r.text
    latest = expected[expected["month"] == expected["month"].max()].sort_values("rank")
    assert [x["ticker"] for x in r.json()["top_stocks"]] == list(latest["symbol"][:3])


def test_sentiment_strategy_with_the_service_down(client, point_sentiment_to):
    point_sentiment_to(f"http://127.0.0.1:{_free_port()}")  # nothing listens there
    r = client.post("/v1/portfolio/backtest", json={"strategy": "sentiment_top_n"})
    body = problem(r, 503)
    assert body["dependency"] == "sentiment service" and "sentiment" in body["detail"]
    assert "rebalances" not in body
    problem(client.get("/select-top-stocks"), 503)
    problem(client.get("/portfolio-performance"), 503)


# --- seed-compatible ------------------------------------------------------------------------------
def test_legacy_metrics_and_lengths(client):
    problem(
        client.post("/calculate-portfolio-metrics", json={"tickers": ["AAPL", "KO"], "weights": [1.0]}), 422
    )
    r = client.post("/calculate-portfolio-metrics", json={"tickers": ["AAPL", "KO"], "weights": [0.6, 0.4]})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["assets_count"] == 2 and out["dataset"] == "sp500" and out["metrics"]["n_observations"] == 756
    assert out["value_at_risk"] > 0


def test_legacy_optimize(client):
    r = client.post(
        "/optimize-portfolio", json={"assets": ["AAPL", "KO", "XOM", "JNJ"], "target_return": 0.15}
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["expected_return"] >= 0.15 - 1e-6 and abs(sum(out["optimized_weights"].values()) - 1) < 1e-9
    problem(
        client.post("/optimize-portfolio", json={"assets": ["AAPL", "KO"], "target_return": 3.0}),
        422,
        "body.target_return",
    )
    r = client.post("/optimize-portfolio", json={"assets": ["AAPL", "KO", "XOM"]})
    assert r.json()["optimization_method"].startswith("max_sharpe")


def test_status_and_openapi(client):
    assert client.get("/status").json()["service"] == "portfolio"
    paths = client.get("/openapi.json").json()["paths"]
    for p in (
        "/v1/portfolio/optimize",
        "/v1/portfolio/frontier",
        "/v1/portfolio/metrics",
        "/v1/portfolio/backtest",
        "/select-top-stocks",
        "/portfolio-performance",
        "/calculate-portfolio-metrics",
        "/optimize-portfolio",
    ):
        assert p in paths
