"""HTML reports of the portfolio results (pure functions of the response models; page assembly in
:mod:`services.core.reports`): the efficient frontier with the chosen portfolio marked and its weights; a
backtest's equity against its benchmark, drawdown, metrics and the weights held after each rebalance."""

from __future__ import annotations

from typing import Any

from services.core.reports import (
    Report,
    Section,
    Table,
    drawdown,
    figure,
    fmt,
    metrics_table,
    pct,
    register_job_report,
    with_full_detail,
)
from services.portfolio import schemas as S

#: Rebalances listed in a backtest report's table (the latest ones).
TABLE_ROWS = 24
METRIC_PERCENT = ("annualised_return", "annualised_volatility")


def backtest_request(req: S.BacktestRequest) -> S.BacktestRequest:
    """The request a backtest report computes: every ``include`` option on (if the model has them)."""
    out = with_full_detail(req)
    assert isinstance(out, S.BacktestRequest)
    return out


def chosen_index(body: dict[str, Any]) -> int | None:
    """The frontier point a report marks as chosen: the highest Sharpe ratio (the tangency portfolio)."""
    best = [(p["sharpe"], i) for i, p in enumerate(body["data"]) if p["sharpe"] is not None]
    return max(best)[1] if best else None


def min_variance_index(body: dict[str, Any]) -> int | None:
    vols = [(p["volatility"], i) for i, p in enumerate(body["data"]) if p["volatility"] is not None]
    return min(vols)[1] if vols else None


def frontier_report(resp: S.FrontierResponse) -> Report:
    """The frontier (volatility → return, coloured by Sharpe), the chosen (max-Sharpe) and the
    minimum-variance portfolios marked, their weights, and the weights along the frontier."""
    import plotly.graph_objects as go

    body = resp.model_dump(mode="json")
    points = body["data"]
    best, low = chosen_index(body), min_variance_index(body)
    traces: list[Any] = [
        go.Scatter(
            x=[p["volatility"] for p in points],
            y=[p["expected_return"] for p in points],
            mode="lines+markers",
            name="efficient frontier",
            marker={
                "color": [p["sharpe"] for p in points],
                "colorscale": "Viridis",
                "size": 7,
                "showscale": True,
            },
            customdata=[p["sharpe"] for p in points],
            hovertemplate="vol %{x:.2%}<br>return %{y:.2%}<br>Sharpe %{customdata:.3f}<extra></extra>",
        )
    ]
    for idx, name, symbol in ((best, "chosen: max Sharpe", "star"), (low, "min variance", "diamond")):
        if idx is not None:
            traces.append(
                go.Scatter(
                    x=[points[idx]["volatility"]],
                    y=[points[idx]["expected_return"]],
                    mode="markers",
                    name=name,
                    marker={"symbol": symbol, "size": 16, "line": {"width": 1, "color": "#1f2933"}},
                )
            )
    frontier = figure(
        *traces,
        title="Efficient frontier (annualised)",
        x="volatility",
        y="expected return",
        height=440,
        xaxis_tickformat=".1%",
        yaxis_tickformat=".1%",
    )
    symbols = sorted({s for p in points for s in p["weights"]})
    weights = figure(
        *[
            go.Scatter(
                x=[p["volatility"] for p in points],
                y=[p["weights"].get(s, 0.0) for p in points],
                mode="lines",
                stackgroup="w",
                name=s,
            )
            for s in symbols
        ],
        title="Weights along the frontier",
        x="volatility",
        y="weight",
        height=360,
        xaxis_tickformat=".1%",
    )
    columns = [("chosen (max Sharpe)", best), ("min variance", low)]
    shown = [(label, points[i]) for label, i in columns if i is not None]
    table = Table(
        ("symbol", *(label for label, _ in shown)),
        [
            (s, *(pct(p["weights"].get(s, 0.0)) for _, p in shown))
            for s in sorted(
                symbols, key=lambda s: -points[best]["weights"].get(s, 0.0) if best is not None else 0
            )
        ]
        + [
            ("expected return", *(pct(p["expected_return"]) for _, p in shown)),
            ("volatility", *(pct(p["volatility"]) for _, p in shown)),
            ("Sharpe", *(fmt(p["sharpe"]) for _, p in shown)),
        ],
    )
    return Report(
        "Efficient frontier",
        {
            "dataset": body["dataset"],
            "from": body["start"],
            "to": body["end"],
            "observations": body["n_observations"],
            "covariance": body["covariance"],
            "points": body["count"],
        },
        [Section("Frontier", [frontier]), Section("Weights", [table, weights])],
    )


def backtest_report(resp: S.BacktestResponse) -> Report:
    """Equity (and the benchmark's), drawdown, metrics, and the weights after the latest rebalances."""
    import plotly.graph_objects as go

    body = resp.model_dump(mode="json")
    sections: list[Section] = []
    equity, bench = body.get("equity"), body.get("benchmark_equity")
    if equity:
        traces = [go.Scatter(x=equity["dates"], y=equity["values"], mode="lines", name=body["strategy"])]
        if bench:
            traces.append(
                go.Scatter(
                    x=bench["dates"],
                    y=bench["values"],
                    mode="lines",
                    name="benchmark",
                    line={"dash": "dot", "color": "#7b8794"},
                )
            )
        dd = figure(
            go.Scatter(
                x=equity["dates"],
                y=drawdown(equity["values"]),
                mode="lines",
                name="drawdown",
                fill="tozeroy",
                line={"width": 1, "color": "#c0392b"},
            ),
            title="Drawdown from the running peak",
            y="fall",
            height=240,
            yaxis_tickformat=".1%",
        )
        eq = figure(*traces, title="Equity, net of costs (1 = first rebalance close)", y="wealth")
        sections.append(Section("Equity and drawdown", [eq, dd]))
    metrics = body["metrics"]
    mdd = metrics.get("max_drawdown") or {}
    extra = {
        "max drawdown": pct(mdd.get("value")),
        "drawdown peak": mdd.get("peak"),
        "drawdown trough": mdd.get("trough"),
        "recovery": mdd.get("recovery"),
    }
    tail = [
        (f"{t['measure']} {t['method']} {t['confidence']:.0%}", pct(t["value"]))
        for t in metrics.get("var_cvar", [])
    ]
    table = metrics_table(metrics, percent=METRIC_PERCENT)
    table = Table(table.columns, [*table.rows, *extra.items(), *tail])
    sections.append(Section("Metrics", [table]))
    rebalances = body.get("rebalances") or []
    if rebalances:
        latest = rebalances[-TABLE_ROWS:]
        held = sorted({s for r in latest for s, w in r["weights"].items() if abs(w) > 1e-9})
        sections.append(
            Section(
                "Rebalances",
                [
                    Table(
                        ("date", "turnover", "cost", *held),
                        [
                            (
                                r["date"],
                                pct(r["turnover"]),
                                pct(r["cost"]),
                                *(pct(r["weights"].get(s)) for s in held),
                            )
                            for r in latest
                        ],
                        caption=f"weights after the latest {len(latest)} of {len(rebalances)} rebalances",
                    )
                ],
            )
        )
    return Report(
        f"Portfolio backtest: {body['strategy']}",
        {
            "dataset": body["dataset"],
            "rebalance": body["rebalance"],
            "lookback": body["lookback"],
            "costs": f"{fmt(body['costs_bps'])} bps",
            "universe": len(body["universe"]),
            "total turnover": body["total_turnover"],
        },
        sections,
    )


register_job_report("portfolio", "frontier", S.FrontierResponse, frontier_report)
register_job_report("portfolio", "backtest", S.BacktestResponse, backtest_report)
