"""The HTTP API under TestClient (lifespan on, the session's embedded Ray, generated data)."""

from __future__ import annotations

import json
import re
import time

import jsonschema
import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from services.intraday import engine as E
from tests.utils.apps import app_client

from .conftest import random_walk_bars

RANGE = {"symbol": "SIM", "start": "2023-08-01", "end": "2023-08-15"}


client = app_client("services.intraday.app")


@pytest.fixture(scope="module")
def sim_bars(client):
    from services.core.app import get_platform

    frame = get_platform().catalog.frame("intraday")
    return E.prepare_bars(frame[(frame.index >= "2023-08-01") & (frame.index < "2023-08-15")])


def inline(df: pd.DataFrame) -> dict:
    return {
        "datetime": [t.isoformat() for t in df.index],
        **{c: df[c].tolist() for c in ["open", "high", "low", "close", "volume"]},
    }


def test_strategies_listed(client):
    body = client.get("/v1/intraday/strategies").json()
    assert {s["name"] for s in body} == {s.value for s in E.StrategyName}
    assert next(s for s in body if s["name"] == "garch_rsi_bb")["flat_at_session_end"] is True


def test_backtest_equals_engine(client, sim_bars):
    req = {
        **RANGE,
        "strategy": {"name": "sma_cross", "params": {"fast": 12, "slow": 48}},
        "costs": {"commission_bps": 2, "slippage_bps": 1},
        "equity_points": 100,
        "include": ["trades", "equity"],
    }
    r = client.post("/v1/intraday/backtest", json=req)
    assert r.status_code == 200, r.text
    body = r.json()
    direct = E.backtest(sim_bars, E.SmaCross(fast=12, slow=48), E.Costs(2, 1))
    assert body["data"]["n_bars"] == len(sim_bars) == 14 * 288
    for k, v in direct.metrics.items():
        assert_allclose(body["metrics"][k], v, rtol=1e-12)
    assert len(body["trades"]) == len(direct.trades) and "return" in body["trades"][0]
    assert len(body["equity"]["equity"]) <= 101 and body["equity"]["equity"][-1] == pytest.approx(
        direct.equity.iloc[-1]
    )
    # the default is the summary: the same metrics, no long series, a small fraction of the bytes
    summary = client.post("/v1/intraday/backtest", json={**req, "include": []})
    assert summary.json()["metrics"] == body["metrics"]
    assert summary.json()["trades"] is None and summary.json()["equity"] is None
    assert len(summary.content) < 2_000 < len(r.content)
    full = client.post("/v1/intraday/backtest", json={**req, "include": ["equity"], "equity_points": None})
    assert len(full.json()["equity"]["equity"]) == len(direct.equity) and full.json()["trades"] is None


def test_signals(client, sim_bars):
    r = client.post(
        "/v1/intraday/signals",
        json={**RANGE, "strategy": {"name": "rsi_reversion", "params": {"window": 14}}},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["target"]) == len(sim_bars)
    assert_allclose(
        np.array(body["indicators"]["rsi"][14:], float), E.rsi(sim_bars.close, 14)[14:], rtol=1e-12
    )
    assert body["indicators"]["rsi"][0] is None


def test_sweep_best_equals_backtest_endpoint(client):
    req = {
        **RANGE,
        "strategy": "sma_cross",
        "grid": {"fast": [5, 10, 20, 40], "slow": [20, 40, 80]},
        "costs": {"commission_bps": 1, "slippage_bps": 1},
        "rank_by": "sharpe",
        "top": 3,
    }
    r = client.post("/v1/intraday/sweep", json=req)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["n_combinations"] == 12 and body["n_skipped"] == 3 and body["n_evaluated"] == 9
    assert len(body["results"]) == 3
    best = body["results"][0]
    bt = client.post(
        "/v1/intraday/backtest",
        json={
            **RANGE,
            "strategy": {"name": "sma_cross", "params": best["params"]},
            "costs": req["costs"],
        },
    ).json()
    assert bt["metrics"] == best["metrics"]


def test_walk_forward(client):
    req = {
        **RANGE,
        "strategy": "breakout",
        "grid": {"lookback": [12, 48, 96]},
        "train_days": 4,
        "test_days": 3,
        "include": ["equity"],
        "equity_points": 50,
    }
    r = client.post("/v1/intraday/walk-forward", json=req)
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["folds"]) == 4
    assert all(f["best_params"]["lookback"] in (12, 48, 96) for f in body["folds"])
    assert body["metrics"]["total_return"] == pytest.approx(body["equity"]["equity"][-1] - 1)
    summary = client.post("/v1/intraday/walk-forward", json={k: v for k, v in req.items() if k != "include"})
    assert summary.json()["equity"] is None  # the default: folds and metrics, no curve
    assert summary.json()["folds"] == body["folds"] and summary.json()["metrics"] == body["metrics"]


def _idle_and_busy(client, path: str, req: dict) -> tuple[dict, dict]:
    """``req`` answered by an idle service, then by one serving three other requests."""
    from services.core.metrics import REQUEST_STATS

    idle = client.post(path, json=req)
    assert idle.status_code == 200, idle.text
    REQUEST_STATS.in_flight["intraday"] += 3
    try:
        busy = client.post(path, json=req)
    finally:
        REQUEST_STATS.in_flight["intraday"] -= 3
    assert busy.status_code == 200, busy.text
    return idle.json(), busy.json()


def test_small_sweep_runs_in_process_when_idle_and_on_ray_when_busy_with_the_same_results(client):
    """services.core.routing: ~5 ms of estimated work stays in the service when it is idle and goes to Ray
    when other requests are in flight; the ranking and every metric are identical either way."""
    req = {**RANGE, "strategy": "bollinger_reversion", "grid": {"window": list(range(10, 200, 5))}}
    idle, busy = _idle_and_busy(client, "/v1/intraday/sweep", req)
    assert (idle["computed_on"], busy["computed_on"]) == ("in_process", "ray")
    assert 5 <= idle["estimated_work_ms"] == busy["estimated_work_ms"] < 50
    assert idle["n_chunks"] is None and busy["n_chunks"] >= 1
    assert idle["results"] == busy["results"]


def test_walk_forward_routes_by_work_and_load_with_the_same_results(client):
    req = {**RANGE, "strategy": "breakout", "grid": {"lookback": [12, 48]}, "train_days": 4, "test_days": 3}
    req["include"] = ["equity"]
    idle, busy = _idle_and_busy(client, "/v1/intraday/walk-forward", req)
    assert (idle["computed_on"], busy["computed_on"]) == ("in_process", "ray")
    assert idle["folds"] == busy["folds"] and idle["equity"] == busy["equity"]


def test_inline_bars_and_bad_bars(client):
    df = random_walk_bars(600, seed=4)
    req = {"bars": inline(df), "strategy": {"name": "momentum", "params": {"lookback": 12}}}
    r = client.post("/v1/intraday/backtest", json=req)
    assert r.status_code == 200, r.text
    direct = E.backtest(E.prepare_bars(df), E.Momentum(lookback=12), E.Costs(1, 1))
    assert r.json()["metrics"]["n_trades"] == direct.metrics["n_trades"]
    bad = inline(df)
    bad["high"][17] = bad["low"][17] - 1
    r = client.post("/v1/intraday/backtest", json={**req, "bars": bad})
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert "17" in r.text


@pytest.mark.parametrize(
    "patch,field",
    [
        ({"strategy": {"name": "sma_cross", "params": {"fast": 50, "slow": 10}}}, "strategy.params.fast"),
        ({"strategy": {"name": "sma_cross", "params": {"speed": 3}}}, "strategy.params.speed"),
        ({"symbol": "NOPE"}, None),
    ],
    ids=["fast>=slow", "unknown-param", "unknown-symbol"],
)
def test_bad_requests_are_problems(client, patch, field):
    r = client.post("/v1/intraday/backtest", json={**RANGE, "strategy": {"name": "sma_cross"}, **patch})
    assert r.status_code in (404, 422) and r.headers["content-type"].startswith("application/problem+json")
    if field:
        assert r.json()["errors"][0]["field"].endswith(field)


def test_grid_over_limit_is_413(client):
    big = {"fast": list(range(1, 200)), "slow": list(range(2, 202))}
    r = client.post("/v1/intraday/sweep", json={**RANGE, "strategy": "sma_cross", "grid": big})
    assert r.status_code == 413 and "raysvc job intraday" in r.json()["detail"]


def test_csv_upload_in_seed_format(client, tmp_path):
    from services.core.datagen import write_5min_csv

    df = random_walk_bars(800, seed=9).round(6)
    path = tmp_path / "bars.csv"
    write_5min_csv(df, path)
    assert path.read_text().splitlines()[0] == "datetime,open,low,high,close,volume,"
    req = '{"strategy": {"name": "sma_cross", "params": {"fast": 5, "slow": 20}}}'
    r = client.post(
        "/v1/intraday/backtest/csv", files={"file": ("bars.csv", path.read_bytes())}, data={"request": req}
    )
    assert r.status_code == 200, r.text
    direct = E.backtest(
        E.prepare_bars(df.assign(volume=df["volume"].astype("int64").astype(float))),
        E.SmaCross(fast=5, slow=20),
        E.Costs(1, 1),
    )
    assert_allclose(r.json()["metrics"]["total_return"], direct.metrics["total_return"], rtol=1e-9)
    r = client.post(
        "/v1/intraday/sweep/csv",
        files={"file": ("bars.csv", path.read_bytes())},
        data={"request": '{"strategy": "sma_cross", "grid": {"fast": [5, 8], "slow": [20, 30]}}'},
    )
    assert r.status_code == 200 and r.json()["n_evaluated"] == 4


def test_csv_upload_too_large_is_413(client):
    from services.core.app import get_platform

    settings = get_platform().settings
    old = settings.max_body_bytes
    object.__setattr__(settings, "max_body_bytes", 1000)
    try:
        data = inline(random_walk_bars(100))
        csv = pd.DataFrame(data).to_csv(index=False).encode()
        r = client.post(
            "/v1/intraday/backtest/csv",
            files={"file": ("b.csv", csv)},
            data={"request": '{"strategy": {"name": "breakout"}}'},
        )
    finally:
        object.__setattr__(settings, "max_body_bytes", old)
    assert r.status_code == 413


def test_garch_rsi_bb_with_inline_daily_signal(client, sim_bars):
    days = pd.date_range("2023-08-01", "2023-08-14")
    signal = [1, -1] * 7
    req = {
        **RANGE,
        "strategy": {"name": "garch_rsi_bb"},
        "daily_signal": {"dates": [d.isoformat() for d in days], "signal": signal},
        "include": ["trades"],
    }
    r = client.post("/v1/intraday/backtest", json=req)
    assert r.status_code == 200, r.text
    trades = r.json()["trades"]
    assert trades and all(t["exit_reason"] in ("session_end", "signal") for t in trades)
    direct = E.backtest(sim_bars, E.GarchRsiBb(daily_signal=pd.Series(signal, index=days)), E.Costs(1, 1))
    assert r.json()["metrics"]["n_trades"] == direct.metrics["n_trades"]


def test_seed_compatible_paths(client):
    r = client.post("/calculate-intraday-signals", json={"daily_signal": -1})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["signals"]["daily_signal"] == -1 and 0 <= body["indicators"]["rsi"] <= 100
    r = client.post(
        "/execute-strategies", json={"strategies": ["momentum", "breakout"], "symbols": ["SIM", "AAPL"]}
    )
    assert r.status_code == 200, r.text
    assert r.json()["execution_summary"]["total_combinations"] == 4
    r = client.post(
        "/backtest-strategy",
        json={
            "strategy_name": "mean_reversion",
            "symbol": "SIM",
            "start_date": "2023-08-01",
            "end_date": "2023-08-08",
        },
    )
    assert r.status_code == 200 and r.json()["backtest_result"]["data_points"] == 7 * 288
    r = client.post("/generate-signals", json={"symbols": ["SIM"], "strategy_type": "breakout"})
    assert r.status_code == 200 and r.json()["signal_summary"]["total_symbols"] == 1
    r = client.post("/execute-strategies", json={"strategies": ["astrology"]})
    assert r.status_code == 422
    status = client.get("/status").json()
    assert "garch_rsi_bb" in status["details"]["available_strategies"]


@pytest.mark.slow
def test_sweep_as_job_matches_sync(client):
    req = {**RANGE, "strategy": "sma_cross", "grid": {"fast": [5, 10], "slow": [20, 40]}, "top": 4}
    sync = client.post("/v1/intraday/sweep", json=req).json()
    for _ in range(3):  # the embedded cluster's job agent may still be starting ("No available agent")
        r = client.post("/v1/intraday/sweep", json={**req, "mode": "job"})
        if r.status_code != 503 or "No available agent" not in r.text:
            break
        time.sleep(2.0)
    if r.status_code == 503 and "No available agent" in r.text:
        pytest.skip("the embedded Ray's Jobs API has no agent here; the job itself is tested in test_job.py")
    assert r.status_code == 202, r.text
    url = r.headers["Location"]
    deadline = time.monotonic() + 300  # a driver start and 4 tasks; minutes only on a loaded 2-CPU CI machine
    while (info := client.get(url).json())["status"] not in (
        "SUCCEEDED",
        "FAILED",
    ) and time.monotonic() < deadline:
        time.sleep(0.5)
    if info["status"] == "FAILED" and "agent" in json.dumps(info.get("problem")):
        pytest.skip("the embedded Ray's Jobs API lost its agent; the job itself is tested in test_job.py")
    assert info["status"] == "SUCCEEDED", {
        k: info[k] for k in ("status", "progress", "message", "started_at", "problem")
    }
    assert [row["metrics"] for row in info["result"]["results"]] == [
        row["metrics"] for row in sync["results"]
    ]


# --- faults: every bad input a 4xx naming the field, legitimate input a result -----------------------
def problem_field(r) -> str:
    assert r.headers["content-type"].startswith("application/problem+json"), r.text
    return r.json()["errors"][0]["field"]


def test_session_calendar_on_sim_across_both_dst_changes(client):
    # 2022-11-06 repeats 01:00–01:59 and 2023-03-12 skips 02:00–02:59 in New York (was a 500)
    req = {
        "symbol": "SIM",
        "start": "2022-11-01",
        "end": "2023-03-20",
        "calendar": "session",
        "strategy": {"name": "sma_cross", "params": {"fast": 6, "slow": 24}},
    }
    r = client.post("/v1/intraday/backtest", json=req)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    days = (pd.Timestamp("2023-03-20") - pd.Timestamp("2022-11-01")).days
    assert data["n_bars"] == days * 78  # SIM trades every day: 09:30–15:55 each day, DST or not
    assert data["start"] == "2022-11-01T09:30:00-04:00" and data["end"] == "2023-03-19T15:55:00-04:00"
    assert data["periods_per_year"] == 252 * 78
    from services.core.app import get_platform

    frame = get_platform().catalog.frame("intraday")
    direct = E.backtest(
        E.prepare_bars(frame.loc["2022-11-01":"2023-03-19"], E.Calendar.session),
        E.SmaCross(fast=6, slow=24),
        E.Costs(1, 1),
    )
    assert r.json()["metrics"]["total_return"] == pytest.approx(direct.metrics["total_return"], rel=1e-12)


@pytest.mark.parametrize(
    "patch,field",
    [
        ({"session_close": "16:00:00Z"}, "body.session_close"),
        ({"session_open": "09:30+02:00"}, "body.session_open"),
        ({"timezone": "Mars/Olympus"}, "body.timezone"),
        ({"timezone": "dateutil//etc/passwd"}, "body.timezone"),
        ({"start": "2023-08-02T00:00:00Z", "end": "2023-08-01"}, "body.end"),
        ({"bars": inline(random_walk_bars(10))}, "body.bars"),
    ],
    ids=["close-Z", "open-offset", "unknown-tz", "tz-path", "aware-start-naive-end", "symbol-and-bars"],
)
def test_bad_times_timezones_and_sources_are_422(client, patch, field):
    req = {**RANGE, "calendar": "session", "strategy": {"name": "breakout"}, **patch}
    r = client.post("/v1/intraday/backtest", json=req)
    assert r.status_code == 422 and problem_field(r) == field


@pytest.mark.parametrize(
    "dates",
    [["0001-01-01", "2023-08-02"], ["2023-08-01", "2023-08-02T00:00:00Z"]],
    ids=["before-1677", "naive-and-aware"],
)
def test_daily_signal_dates_pandas_cannot_hold_are_422(client, dates):
    req = {**RANGE, "strategy": {"name": "garch_rsi_bb"}, "daily_signal": {"dates": dates, "signal": [1, -1]}}
    r = client.post("/v1/intraday/backtest", json=req)
    assert r.status_code == 422 and problem_field(r) == "body.daily_signal.dates"


@pytest.mark.parametrize(
    "path,body,field",
    [
        (
            "/v1/intraday/backtest",
            {**RANGE, "strategy": {"name": "sma_cross"}, "costs": {"commission_bps": False}},
            "body.costs.commission_bps",
        ),
        (
            "/v1/intraday/backtest",
            {**RANGE, "strategy": {"name": "sma_cross", "params": {"fast": True}}},
            "body.strategy.params.fast",
        ),
        (
            "/v1/intraday/sweep",
            {**RANGE, "strategy": "breakout", "grid": {"lookback": [12, True]}},
            "body.grid.lookback[1]",
        ),
        (
            "/v1/intraday/sweep",
            {**RANGE, "strategy": "breakout", "grid": {"lookback": [12]}, "top": True},
            "body.top",
        ),
        (
            "/v1/intraday/walk-forward",
            {**RANGE, "strategy": "breakout", "grid": {"lookback": [12]}, "train_days": True, "test_days": 1},
            "body.train_days",
        ),
        ("/calculate-intraday-signals", {"daily_signal": True}, "body.daily_signal"),
        # nor strings numbers, numbers flags or dates (all accepted by pydantic's lax mode)
        (
            "/v1/intraday/backtest",
            {**RANGE, "strategy": {"name": "sma_cross"}, "costs": {"slippage_bps": "1"}},
            "body.costs.slippage_bps",
        ),
        (
            "/v1/intraday/backtest",
            {**RANGE, "strategy": {"name": "sma_cross"}, "include_trades": 0},
            "body.include_trades",
        ),
        (
            "/v1/intraday/backtest",
            {**RANGE, "strategy": {"name": "sma_cross"}, "include": ["equity", "pnl"]},
            "body.include[1]",
        ),
        (
            "/v1/intraday/backtest",
            {**RANGE, "strategy": {"name": "sma_cross"}, "start": 1690848000},
            "body.start",
        ),
        (
            "/v1/intraday/backtest",
            {**RANGE, "strategy": {"name": "sma_cross"}, "session_close": 57600},
            "body.session_close",
        ),
    ],
    ids=[
        "costs",
        "params",
        "grid",
        "top",
        "train_days",
        "legacy-daily_signal",
        "string-number",
        "number-flag",
        "unknown-include",
        "number-date",
        "number-time",
    ],
)
def test_json_types_are_not_coerced(client, path, body, field):
    r = client.post(path, json=body)
    assert r.status_code == 422 and problem_field(r) == field


@pytest.mark.parametrize(
    "path,body,field",
    [
        (
            "/backtest-strategy",
            {"strategy_name": "breakout", "symbol": "SIM", "start_date": "garbage"},
            "body.start_date",
        ),
        (
            "/backtest-strategy",
            {"strategy_name": "breakout", "symbol": "SIM", "end_date": "13/13/2023"},
            "body.end_date",
        ),
        (
            "/backtest-strategy",
            {
                "strategy_name": "breakout",
                "symbol": "SIM",
                "start_date": "2023-08-08",
                "end_date": "2023-08-01",
            },
            "body.end_date",
        ),
        (
            "/backtest-strategy",
            {"strategy_name": "breakout", "symbol": "SIM", "start_date": "2999-01-01"},
            "body.start_date",
        ),
        ("/backtest-strategy", {"strategy_name": "astrology", "symbol": "SIM"}, "body.strategy_name"),
        ("/generate-signals", {"symbols": ["SIM"], "strategy_type": "astrology"}, "body.strategy_type"),
        ("/execute-strategies", {"strategies": ["momentum", "astrology"]}, "body.strategies[1]"),
    ],
    ids=[
        "garbage-start",
        "garbage-end",
        "end-before-start",
        "start-after-data",
        "strategy_name",
        "strategy_type",
        "strategies",
    ],
)
def test_legacy_bad_dates_and_names_are_422(client, path, body, field):
    r = client.post(path, json=body)
    assert r.status_code == 422 and problem_field(r) == field


@pytest.fixture
def submitted(client, monkeypatch):
    """Jobs the routes submit, recorded instead of sent to Ray (with whether the event loop was free)."""
    import asyncio

    from services.core.app import get_platform
    from services.core.jobs import JobAccepted

    calls: list[dict] = []

    def submit(command, params):
        try:
            asyncio.get_running_loop()
            on_loop = True
        except RuntimeError:
            on_loop = False
        calls.append({"command": command, "params": params, "on_loop": on_loop})
        return JobAccepted(
            job_id="raysvc-intraday-test", status_url="/v1/jobs/raysvc-intraday-test", submitted_at=0.0
        )

    monkeypatch.setattr(get_platform().jobs, "submit", submit)
    return calls


DAILY_FOLDS = {
    "symbol": "SIM",
    "strategy": "breakout",
    "grid": {"lookback": [12, 48]},
    "train_days": 1,
    "test_days": 1,
}


def test_walk_forward_of_many_folds_becomes_a_job(client, submitted):
    # 719 one-day folds, each running 2 breakout combinations on all 207,360 bars (ran inline for 18–48 s)
    t0 = time.perf_counter()
    r = client.post("/v1/intraday/walk-forward", json=DAILY_FOLDS)
    assert r.status_code == 202, r.text
    assert time.perf_counter() - t0 < 5 and r.headers["Location"] == "/v1/jobs/raysvc-intraday-test"
    assert [(c["command"], c["on_loop"]) for c in submitted] == [("walk-forward", False)]
    assert submitted[0]["params"]["train_days"] == 1


def test_forced_inline_walk_forward_or_sweep_over_the_size_is_413(client, submitted):
    r = client.post("/v1/intraday/walk-forward", json={**DAILY_FOLDS, "mode": "sync"})
    assert r.status_code == 413 and "raysvc job intraday walk-forward" in r.json()["batch_command"]
    big = {"fast": list(range(1, 50)), "slow": list(range(50, 100))}  # 2,450 × 207,360 bars
    r = client.post(
        "/v1/intraday/sweep", json={"symbol": "SIM", "strategy": "sma_cross", "grid": big, "mode": "sync"}
    )
    assert r.status_code == 413 and "raysvc job intraday sweep" in r.json()["batch_command"]
    r = client.post("/v1/intraday/sweep", json={"symbol": "SIM", "strategy": "sma_cross", "grid": big})
    assert r.status_code == 202 and submitted[-1]["command"] == "sweep" and not submitted[-1]["on_loop"]


def test_walk_forward_longer_than_the_data_is_422_before_any_job(client, submitted):
    r = client.post(
        "/v1/intraday/walk-forward", json={**RANGE, **DAILY_FOLDS, "train_days": 20, "mode": "job"}
    )
    assert r.status_code == 422 and problem_field(r) == "body.train_days" and not submitted


# --- contract: real responses validate against the app's own OpenAPI document ------------------------
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("date-time")
def _rfc3339(value: object) -> bool:
    # jsonschema checks `date-time` only with an optional package installed: the RFC 3339 rule, here
    return not isinstance(value, str) or RFC3339.fullmatch(value) is not None


def assert_matches_openapi(client, method: str, path: str, r) -> None:
    doc = client.get("/openapi.json").json()
    declared = doc["paths"][path][method]["responses"][str(r.status_code)]
    schema = declared["content"][r.headers["content-type"].split(";")[0]]["schema"]
    validator = jsonschema.Draft202012Validator(
        {**schema, "components": doc["components"]}, format_checker=FORMATS
    )
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(r.json())]
    assert not errors, errors[:5]


SESSION = {**RANGE, "calendar": "session"}
CSV = random_walk_bars(400, seed=5).round(6).reset_index().to_csv(index=False).encode()
CONTRACT = [
    ("get", "/v1/intraday/strategies", {}),
    ("post", "/v1/intraday/signals", {"json": {**RANGE, "strategy": {"name": "momentum"}}}),
    ("post", "/v1/intraday/signals", {"json": {**SESSION, "strategy": {"name": "momentum"}}}),
    (
        "post",
        "/v1/intraday/backtest",
        {"json": {**RANGE, "strategy": {"name": "sma_cross"}, "equity_points": 50}},
    ),
    ("post", "/v1/intraday/backtest", {"json": {**SESSION, "strategy": {"name": "sma_cross"}}}),
    (
        "post",
        "/v1/intraday/sweep",
        {"json": {**RANGE, "strategy": "breakout", "grid": {"lookback": [12, 48]}}},
    ),
    (
        "post",
        "/v1/intraday/sweep",
        {"json": {**RANGE, "strategy": "breakout", "grid": {"lookback": [12]}, "mode": "job"}},
    ),
    (
        "post",
        "/v1/intraday/walk-forward",
        {
            "json": {
                **SESSION,
                "strategy": "breakout",
                "grid": {"lookback": [12, 48]},
                "train_days": 4,
                "test_days": 3,
            }
        },
    ),
    ("post", "/v1/intraday/walk-forward", {"json": DAILY_FOLDS}),
    (
        "post",
        "/v1/intraday/backtest/csv",
        {"files": {"file": ("b.csv", CSV)}, "data": {"request": '{"strategy": {"name": "breakout"}}'}},
    ),
    (
        "post",
        "/v1/intraday/sweep/csv",
        {
            "files": {"file": ("b.csv", CSV)},
            "data": {"request": '{"strategy": "breakout", "grid": {"lookback": [5]}}'},
        },
    ),
    ("post", "/calculate-intraday-signals", {"json": {"daily_signal": 1}}),
    ("post", "/execute-strategies", {"json": {"strategies": ["momentum"]}}),
    ("post", "/generate-signals", {"json": {"symbols": ["SIM"]}}),
    (
        "post",
        "/backtest-strategy",
        {
            "json": {
                "strategy_name": "breakout",
                "symbol": "SIM",
                "start_date": "2023-08-01",
                "end_date": "2023-08-03",
            }
        },
    ),
]


@pytest.mark.parametrize("method,path,kwargs", CONTRACT, ids=[f"{m} {p}" for m, p, _ in CONTRACT])
def test_responses_match_the_openapi_schema(client, submitted, method, path, kwargs):
    r = client.request(method.upper(), path, **kwargs)
    assert r.status_code in (200, 202), r.text
    assert_matches_openapi(client, method, path, r)


def test_execute_strategies_counts_and_names_the_combinations_that_failed(client):
    r = client.post(
        "/execute-strategies", json={"strategies": ["momentum", "breakout"], "symbols": ["SIM", "NOPE"]}
    )
    assert r.status_code == 200, r.text
    summary, failures = r.json()["execution_summary"], r.json()["failures"]
    assert (
        summary["total_combinations"],
        summary["successful_executions"],
        summary["failed_executions"],
    ) == (4, 2, 2)
    assert {(f["strategy"], f["symbol"], f["status"], f["field"]) for f in failures} == {
        ("momentum", "NOPE", 404, "body.symbols[1]"),
        ("breakout", "NOPE", 404, "body.symbols[1]"),
    }
    only_bad = client.post("/execute-strategies", json={"strategies": ["momentum"], "symbols": ["NOPE"]})
    assert only_bad.status_code == 404 and only_bad.headers["content-type"] == "application/problem+json"
