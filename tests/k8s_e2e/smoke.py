"""One real request per service, checked, and the Ray state API: what the end-to-end test on the local
Kubernetes asks of a deployed platform (tests/k8s_e2e/test_local_cluster.py).

Every request to a service carries ``key``, the services' API key (the chart's admin key, sent as
``Authorization: Bearer``); the Ray dashboard takes the Ray token the same way."""

from __future__ import annotations

import itertools
import json
import math
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

#: The Helm release the end-to-end test installs; the services' URLs of each other carry it.
RELEASE = "ray-services"


def http(
    url: str, *, method: str = "GET", body: Any = None, token: str | None = None, timeout: float = 60
) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        raw, status = e.read(), e.code
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


# --- one real request per service ---------------------------------------------------------------------------
def post_ok(url: str, body: dict[str, Any], key: str | None, timeout: float = 300) -> Any:
    status, answer = http(url, method="POST", body=body, token=key, timeout=timeout)
    assert status == 200, f"POST {url} -> {status}: {str(answer)[:600]}"
    return answer


def get_ok(url: str, key: str | None) -> Any:
    status, answer = http(url, token=key)
    assert status == 200, f"GET {url} -> {status}: {str(answer)[:600]}"
    return answer


def finite(xs: list[Any]) -> bool:
    return all(isinstance(x, (int, float)) and math.isfinite(x) for x in xs)


def smoke_garch(base: str, key: str | None) -> str:
    """Fit GARCH(1,1)-t to four symbols and forecast 5 steps: ~90 ms of estimated work, so Ray tasks on the
    cluster (a single fit would run in the service process)."""
    listing = get_ok(f"{base}/v1/volatility/symbols", key)["datasets"]
    symbols = [s for ds in listing for s in ds["symbols"]][:4]
    body = post_ok(
        f"{base}/v1/volatility/forecast", {"symbols": symbols, "model": {"dist": "t"}, "horizon": 5}, key
    )
    res = body["results"]
    assert body["computed_on"] == "ray", {k: body[k] for k in ("computed_on", "estimated_work_ms")}
    assert [r["symbol"] for r in res] == symbols, res
    for r in res:
        assert r["converged"], r["message"]
        var, vol = r["forecast_variance"], r["forecast_vol_annualized"]
        assert len(var) == 5 and finite(var) and min(var) > 0, var
        assert all(
            abs(v - math.sqrt(s * r["annualization"])) <= 1e-9 * v for s, v in zip(var, vol, strict=True)
        ), (
            var,
            vol,
        )
    vols = [round(r["forecast_vol_annualized"][0], 4) for r in res]
    return f"forecast {symbols} on Ray: 5-step annualised vol {vols}"


def smoke_intraday(base: str, key: str | None) -> str:
    """A parameter sweep of backtests over the Ray workers, and one garch_rsi_bb backtest whose daily
    signal the intraday service fetches from the GARCH service (RAYSVC_GARCH_URL)."""
    sweep = post_ok(
        f"{base}/v1/intraday/sweep",
        {
            "symbol": "SIM",
            "strategy": "sma_cross",
            "grid": {"fast": [6, 12], "slow": [24, 48]},
            "mode": "sync",
            "top": 4,
        },
        key,
    )
    assert sweep["n_evaluated"] == 4 and len(sweep["results"]) == 4, sweep
    sharpes = [row["metrics"]["sharpe"] for row in sweep["results"]]
    assert finite(sharpes) and sharpes == sorted(sharpes, reverse=True), sharpes
    bt = post_ok(
        f"{base}/v1/intraday/backtest",
        {"symbol": "SIM", "strategy": {"name": "garch_rsi_bb"}},
        key,
    )
    assert bt["data"]["n_bars"] > 0 and "total_return" in bt["metrics"], bt
    return (
        f"sweep of 4 sma_cross backtests on {sweep['data']['n_bars']} bars (best sharpe {sharpes[0]:.3f}); "
        f"garch_rsi_bb backtest with the GARCH service's signal: {bt['metrics']['n_trades']} trades"
    )


def smoke_portfolio(base: str, key: str | None) -> str:
    """An optimisation, a 200-point efficient frontier (blocks of points as Ray tasks), and a sentiment
    top-N backtest with HRP among the picks (blocks of rebalance dates as Ray tasks; rankings from the
    sentiment service over RAYSVC_SENTIMENT_URL). Both are sized above the service's in-process
    threshold (~50 ms of estimated work), so they must run on the Ray head."""
    symbols = ["AAPL", "JNJ", "JPM", "KO", "MSFT", "XOM"]
    opt = post_ok(
        f"{base}/v1/portfolio/optimize",
        {"symbols": symbols, "objective": "min_variance", "constraints": {"max_weight": 0.4}},
        key,
    )
    w = opt["weights"]
    assert set(w) == set(symbols) and abs(sum(w.values()) - 1) < 1e-6 and max(w.values()) <= 0.4 + 1e-6, w
    assert opt["volatility"] > 0, opt
    front = post_ok(f"{base}/v1/portfolio/frontier", {"symbols": symbols, "n_points": 200}, key)
    rets = [p["expected_return"] for p in front["data"]]
    assert front["count"] == 200 and front["computed_on"] == "ray", {
        k: front[k] for k in ("count", "computed_on")
    }
    assert all(b >= a - 1e-9 for a, b in itertools.pairwise(rets)), rets
    bt = post_ok(
        f"{base}/v1/portfolio/backtest",
        # monthly over the sentiment data's 14 months, an HRP fit (~20 ms) per date: work for Ray
        {
            "strategy": "sentiment_top_n",
            "top_n": 5,
            "optimize_picks": True,
            "objective": "hrp",
            "dataset": "prices",
            "rebalance": "M",
            "include": ["rebalances"],
        },
        key,
    )
    assert bt["computed_on"] == "ray" and bt["rebalances"], {
        k: bt[k] for k in ("computed_on", "sentiment_source")
    }
    assert RELEASE in (bt["sentiment_source"] or ""), bt["sentiment_source"]
    return (
        f"min-variance vol {opt['volatility']:.4f}; frontier of {front['count']} on Ray; sentiment top-5 backtest "
        f"({len(bt['rebalances'])} rebalances, rankings from {bt['sentiment_source']})"
    )


def smoke_sentiment(base: str, key: str | None) -> str:
    """Score a batch of texts with the default `ml` model (large enough to be split into chunks scored on the
    Ray workers) and read the monthly engagement rankings the portfolio strategy trades on."""
    texts = [
        "$AAPL beats estimates and raises full-year guidance",
        "Bank cut to sell at Goldman after weak quarter",
        "Company schedules its annual shareholder meeting",
    ] * 500  # 1,500 texts: over ml's in-process limit (256), two chunks of 1,000 on the Ray workers
    body = post_ok(f"{base}/v1/sentiment/score", {"texts": texts, "model": "ml"}, key)
    res = body["results"]
    assert body["count"] == len(texts) == len(res), body["count"]
    labels = [r["label"] for r in res[:3]]
    assert labels == ["positive", "negative", "neutral"], labels
    assert all(r == res[i % 3] for i, r in enumerate(res)), "order or determinism broken across chunks"
    assert all(
        abs(r["score"] - (r["probabilities"]["positive"] - r["probabilities"]["negative"])) <= 2e-6
        for r in res[:3]
    ), "score != P(pos) - P(neg) (results are rounded to 6 digits)"
    ranks = get_ok(f"{base}/v1/sentiment/rankings?top=5", key)
    assert ranks["data"], ranks
    return f"scored {len(texts)} texts ({labels}); {len(ranks['data'])} ranking rows"


#: Each takes the service's base URL and API key and returns a one-line summary, raising AssertionError when
#: the answer is wrong. A service without an entry fails the run.
SMOKE: dict[str, Callable[[str, str | None], str]] = {
    "sentiment": smoke_sentiment,
    "garch": smoke_garch,
    "intraday": smoke_intraday,
    "portfolio": smoke_portfolio,
}


class RayState:
    """Finished tasks per node from the head's state API (through the published dashboard port)."""

    def __init__(self, dashboard: str, token: str | None) -> None:
        self.dashboard, self.token = dashboard, token

    def nodes(self) -> list[dict[str, Any]]:
        status, body = http(f"{self.dashboard}/api/v0/nodes?limit=100&detail=1", token=self.token)
        assert status == 200, (status, body)
        return body["data"]["result"]["result"]

    def finished_tasks(self, node_ids: set[str]) -> int:
        query = "limit=10000&filter_keys=state&filter_predicates=%3D&filter_values=FINISHED&detail=1"
        url = f"{self.dashboard}/api/v0/tasks?{query}"
        status, body = http(url, token=self.token)
        assert status == 200, (status, body)
        return sum(1 for t in body["data"]["result"]["result"] if t.get("node_id") in node_ids)
