"""HTML reports of the intraday results (pure functions of the response models; page assembly in
:mod:`services.core.reports`): a backtest's equity, drawdown, metrics and latest trades; a sweep's Sharpe
heat map and ranking; a walk-forward's out-of-sample equity per fold and the parameters each fold chose."""

from __future__ import annotations

from collections.abc import Sequence
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
from services.intraday import schemas as S

#: The equity curve of a report is downsampled to about this many points unless the request says otherwise
#: (a full 5-minute SIM curve has ~100,000: 3,000 draw the same picture at a fraction of the page weight).
REPORT_EQUITY_POINTS = 3000
#: A sweep report asks for up to this many ranked rows (all of them, for the heat map; the schema's limit).
REPORT_SWEEP_ROWS = 10_000
#: Rows of the tables of trades and of sweep results shown.
TABLE_ROWS = 25
PERCENT = ("total_return", "annual_return", "volatility", "max_drawdown", "win_rate", "avg_trade", "exposure")


def backtest_request(req: S.BacktestRequest) -> S.BacktestRequest:
    """The request a backtest report computes: ``req`` with the equity curve and the trades included."""
    return req.model_copy(
        update={
            "include": ["equity", "trades"],
            "equity_points": req.equity_points or REPORT_EQUITY_POINTS,
        }
    )


def sweep_request(req: S.SweepRequest) -> S.SweepRequest:
    """The request a sweep report computes: every ranked combination (for the heat map)."""
    return req.model_copy(update={"top": REPORT_SWEEP_ROWS})


def walk_forward_request(req: S.WalkForwardRequest) -> S.WalkForwardRequest:
    """The request a walk-forward report computes: every ``include`` option on (if the model has them), the
    curve downsampled for plotting."""
    out = with_full_detail(req, equity_points=req.equity_points or REPORT_EQUITY_POINTS)
    assert isinstance(out, S.WalkForwardRequest)
    return out


def _data_facts(data: dict[str, Any]) -> dict[str, Any]:
    return {"data": data["source"], "bars": data["n_bars"], "from": data["start"], "to": data["end"]}


def _equity_figures(dates: Sequence[str], equity: Sequence[float], *, name: str = "equity") -> list[Any]:
    import plotly.graph_objects as go

    eq = figure(
        go.Scatter(x=list(dates), y=list(equity), mode="lines", name=name, line={"width": 1.5}),
        title="Equity (1 = start)",
        y="wealth",
    )
    dd = figure(
        go.Scatter(
            x=list(dates),
            y=drawdown(equity),
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
    return [eq, dd]


def backtest_report(resp: S.BacktestResponse) -> Report:
    """Equity curve, drawdown, metrics and the latest trades of one backtest."""
    body = resp.model_dump(mode="json", by_alias=True)
    sections = []
    if body["equity"] is not None:
        sections.append(
            Section(
                "Equity and drawdown",
                _equity_figures(body["equity"]["datetime"], body["equity"]["equity"]),
                note=f"{len(body['equity']['equity']):,} points of the curve (downsampled for plotting).",
            )
        )
    sections.append(Section("Metrics", [metrics_table(resp.metrics, percent=PERCENT)]))
    trades = body["trades"]
    if trades:
        latest = trades[-TABLE_ROWS:]
        sections.append(
            Section(
                "Trades",
                [
                    Table(
                        (
                            "entry",
                            "exit",
                            "side",
                            "entry price",
                            "exit price",
                            "return",
                            "bars",
                            "exit reason",
                        ),
                        [
                            (
                                t["entry_time"],
                                t["exit_time"],
                                t["side"],
                                t["entry_price"],
                                t["exit_price"],
                                pct(t["return"]),
                                t["bars_held"],
                                t["exit_reason"],
                            )
                            for t in latest
                        ],
                        caption=f"the latest {len(latest)} of {len(trades):,} trades",
                    )
                ],
            )
        )
    return Report(
        f"Backtest: {body['strategy']} ({fmt(body['params'])})",
        {
            **_data_facts(body["data"]),
            "costs": f"{fmt(body['costs']['commission_bps'])} + {fmt(body['costs']['slippage_bps'])} bps",
            "trades": body["metrics"]["n_trades"],
        },
        sections,
    )


def _ordered(values: set[Any]) -> list[Any]:
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    return sorted(values) if numeric else sorted(values, key=str)


def heatmap_axes(rows: Sequence[dict[str, Any]]) -> tuple[str | None, str | None]:
    """The two parameters a sweep's heat map spans (those with the most distinct values; None if fewer vary)."""
    names: dict[str, set[Any]] = {}
    for row in rows:
        for k, v in row["params"].items():
            names.setdefault(k, set()).add(v if isinstance(v, int | float | str) else str(v))
    varying = sorted((k for k, vs in names.items() if len(vs) > 1), key=lambda k: -len(names[k]))
    return (varying[0] if varying else None, varying[1] if len(varying) > 1 else None)


def sharpe_grid(
    rows: Sequence[dict[str, Any]], x: str, y: str
) -> tuple[list[Any], list[Any], list[list[float | None]]]:
    """Axis values and the Sharpe ratio per (y, x) cell: the best over any other parameters, None where no
    combination was evaluated (skipped, or outside the ranked rows)."""
    xs = _ordered({r["params"][x] for r in rows})
    ys = _ordered({r["params"][y] for r in rows})
    z: list[list[float | None]] = [[None] * len(xs) for _ in ys]
    xi, yi = {v: i for i, v in enumerate(xs)}, {v: i for i, v in enumerate(ys)}
    for r in rows:
        s = r["metrics"]["sharpe"]
        if s is None:
            continue
        i, j = yi[r["params"][y]], xi[r["params"][x]]
        cell = z[i][j]
        z[i][j] = s if cell is None else max(cell, s)
    return xs, ys, z


def sweep_report(resp: S.SweepResponse) -> Report:
    """Sharpe heat map over the two widest parameters of the grid, and the ranked combinations."""
    import plotly.graph_objects as go

    body = resp.model_dump(mode="json")
    rows = body["results"]
    x, y = heatmap_axes(rows)
    figures: list[Any] = []
    note = None
    if x is not None and y is not None:
        xs, ys, z = sharpe_grid(rows, x, y)
        figures.append(
            figure(
                go.Heatmap(
                    x=xs,
                    y=ys,
                    z=z,
                    colorscale="RdYlGn",
                    zmid=0,
                    colorbar={"title": {"text": "Sharpe"}},
                    hovertemplate=f"{x}=%{{x}}<br>{y}=%{{y}}<br>Sharpe=%{{z:.3f}}<extra></extra>",
                ),
                title=f"Sharpe ratio by {x} × {y}",
                x=x,
                y=y,
                height=460,
                xaxis_type="category",
                yaxis_type="category",
            )
        )
        others = sorted({k for r in rows for k in r["params"]} - {x, y})
        if others:
            note = f"Each cell is the best Sharpe over the other parameters ({', '.join(others)})."
    elif x is not None:
        points = sorted(
            ((r["params"][x], r["metrics"]["sharpe"]) for r in rows), key=lambda p: (str(type(p[0])), p[0])
        )
        figures.append(
            figure(
                go.Bar(x=[str(p[0]) for p in points], y=[p[1] for p in points], name="Sharpe"),
                title=f"Sharpe ratio by {x}",
                x=x,
                y="Sharpe",
            )
        )
    top = rows[:TABLE_ROWS]
    table = Table(
        ("rank", "parameters", "Sharpe", "total return", "max drawdown", "trades", "win rate"),
        [
            (
                i,
                fmt(r["params"]),
                r["metrics"]["sharpe"],
                pct(r["metrics"]["total_return"]),
                pct(r["metrics"]["max_drawdown"]),
                r["metrics"]["n_trades"],
                pct(r["metrics"]["win_rate"]),
            )
            for i, r in enumerate(top, 1)
        ],
        caption=f"the best {len(top)} of {len(rows):,} by {body['rank_by']}",
    )
    return Report(
        f"Parameter sweep: {body['strategy']}",
        {
            **_data_facts(body["data"]),
            "combinations": body["n_combinations"],
            "evaluated": body["n_evaluated"],
            "skipped": body["n_skipped"],
            "ranked by": body["rank_by"],
        },
        [Section("Sharpe heat map", figures, note=note), Section("Ranking", [table])],
    )


def fold_segments(body: dict[str, Any]) -> list[tuple[list[str], list[float]]]:
    """Per fold, the points of the stitched out-of-sample curve inside its test window."""
    from datetime import datetime

    def t(s: str) -> datetime:
        return datetime.fromisoformat(s)

    stamps = [t(s) for s in body["equity"]["datetime"]]
    out = []
    for fold in body["folds"]:
        lo, hi = t(fold["test_start"]), t(fold["test_end"])
        idx = [i for i, s in enumerate(stamps) if lo <= s <= hi]
        out.append(([body["equity"]["datetime"][i] for i in idx], [body["equity"]["equity"][i] for i in idx]))
    return out


def walk_forward_report(resp: S.WalkForwardResponse) -> Report:
    """The stitched out-of-sample equity coloured by fold, in- vs out-of-sample Sharpe per fold, and the
    parameters each fold chose."""
    import plotly.graph_objects as go

    body = resp.model_dump(mode="json")
    folds = body["folds"]
    sections: list[Section] = []
    if body.get("equity"):
        traces = [
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines",
                name=f"fold {i}: {fmt(fold['best_params'])}",
                line={"width": 1.5},
            )
            for i, ((xs, ys), fold) in enumerate(zip(fold_segments(body), folds, strict=True), 1)
        ]
        eq = figure(*traces, title="Out-of-sample equity by fold (stitched)", y="wealth", height=420)
        eq.update_layout(legend={"orientation": "v", "y": 1, "yanchor": "top", "x": 1.01, "xanchor": "left"})
        dd = _equity_figures(body["equity"]["datetime"], body["equity"]["equity"])[1]
        sections.append(Section("Out-of-sample equity", [eq, dd]))
    labels = [f"fold {i}" for i in range(1, len(folds) + 1)]
    sharpe = figure(
        go.Bar(x=labels, y=[f["in_sample"]["sharpe"] for f in folds], name="in-sample"),
        go.Bar(x=labels, y=[f["out_of_sample"]["sharpe"] for f in folds], name="out-of-sample"),
        title="Sharpe ratio per fold: in-sample (best of the grid) vs out-of-sample",
        y="Sharpe",
        barmode="group",
        height=320,
    )
    table = Table(
        ("fold", "train", "test", "chosen parameters", "IS Sharpe", "OOS Sharpe", "OOS return", "OOS trades"),
        [
            (
                i,
                f"{f['train_start'][:10]} – {f['train_end'][:10]}",
                f"{f['test_start'][:10]} – {f['test_end'][:10]}",
                fmt(f["best_params"]),
                f["in_sample"]["sharpe"],
                f["out_of_sample"]["sharpe"],
                pct(f["out_of_sample"]["total_return"]),
                f["out_of_sample"]["n_trades"],
            )
            for i, f in enumerate(folds, 1)
        ],
    )
    sections += [
        Section("Folds and chosen parameters", [sharpe, table]),
        Section("Out-of-sample metrics", [metrics_table(resp.metrics, percent=PERCENT)]),
    ]
    return Report(
        f"Walk-forward: {body['strategy']}",
        {
            **_data_facts(body["data"]),
            "folds": len(folds),
            "combinations": body["n_combinations"],
            "ranked by": body["rank_by"],
            "OOS trades": body["n_trades"],
        },
        sections,
    )


register_job_report("intraday", "sweep", S.SweepResponse, sweep_report)
register_job_report("intraday", "walk-forward", S.WalkForwardResponse, walk_forward_report)
