"""HTML report of rolling GARCH forecasts (a pure function of the response model; page assembly in
:mod:`services.core.reports`): the one-step forecast volatility against the realised one, the forecast
evaluation per step, and the parameters behind the last forecast."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from services.core.reports import Report, Section, Table, figure, register_job_report
from services.garch import schemas as S

#: Periods of the trailing root-mean-square that smooths the realised volatility line.
SMOOTHING = 21


def realised_vol(realized_squared: Sequence[float | None], annualization: int) -> list[float | None]:
    """Annualised realised volatility of each target period: ``sqrt(r² · annualization)`` (None past the data)."""
    return [None if r2 is None else math.sqrt(r2 * annualization) for r2 in realized_squared]


def trailing_rms(values: Sequence[float | None], n: int) -> list[float | None]:
    """Root mean square of the last ``n`` known values (None until ``n`` are known)."""
    out: list[float | None] = []
    window: list[float] = []
    for v in values:
        if v is not None:
            window = [*window[-(n - 1) :], v] if n > 1 else [v]
        out.append(math.sqrt(sum(w * w for w in window) / n) if len(window) == n else None)
    return out


def rolling_report(resp: S.RollingResponse) -> Report:
    """One-step forecast vs realised annualised volatility by forecast origin, longer horizons' last
    forecast, the evaluation table and the last parameters."""
    import plotly.graph_objects as go

    body = resp.model_dump(mode="json")
    points = body["forecasts"]
    dates = [p["date"] for p in points]
    forecast = [p["vol_annualized"][0] for p in points]
    realised = realised_vol([p["realized_squared"][0] for p in points], body["annualization"])
    vol = figure(
        go.Scatter(
            x=dates,
            y=realised,
            mode="markers",
            name="realised |r|·√A",
            marker={"size": 3, "color": "#9aa5b1"},
        ),
        go.Scatter(
            x=dates,
            y=trailing_rms(realised, SMOOTHING),
            mode="lines",
            name=f"realised, trailing {SMOOTHING}-period RMS",
            line={"color": "#2c7a7b", "width": 1.5},
        ),
        go.Scatter(x=dates, y=forecast, mode="lines", name="forecast (1 step)", line={"color": "#c0392b"}),
        title=f"{body['symbol']}: one-step volatility forecast vs realised (annualised, A = {body['annualization']})",
        x="forecast origin",
        y="volatility",
        height=440,
        yaxis_tickformat=".0%",
    )
    items: list[Any] = [vol]
    if body["horizon"] > 1 and points:
        last = points[-1]
        items.append(
            figure(
                go.Scatter(
                    x=list(range(1, body["horizon"] + 1)),
                    y=last["vol_annualized"],
                    mode="lines+markers",
                    name="forecast",
                ),
                title=f"Term structure of the last forecast (origin {last['date']})",
                x="steps ahead",
                y="volatility",
                height=300,
                yaxis_tickformat=".2%",
                xaxis_dtick=1,
            )
        )
    evaluation = Table(
        ("step", "n", "MSE", "QLIKE", "MZ alpha", "MZ beta", "MZ R²"),
        [
            (
                e["step"],
                e["n"],
                e["mse"],
                e["qlike"],
                e["mincer_zarnowitz"]["alpha"],
                e["mincer_zarnowitz"]["beta"],
                e["mincer_zarnowitz"]["r2"],
            )
            for e in body["evaluation"]
        ],
        caption="forecast variance against realised r² (lower MSE and QLIKE are better; MZ: r² = α + β·h)",
    )
    params = Table(
        ("parameter", "value"), list(body["last_params"].items()), caption="behind the last forecast"
    )
    sections = [
        Section("Forecast vs realised volatility", items),
        Section("Evaluation", [evaluation, params]),
    ]
    if body["failures"]:
        sections.append(
            Section(
                "Failed refits",
                [Table(("date", "message"), [(f["date"], f["message"]) for f in body["failures"][:50]])],
            )
        )
    return Report(
        f"Rolling GARCH forecasts: {body['symbol']}",
        {
            "model": body["model"]["label"],
            "dataset": body["dataset"] or "inline",
            "window": body["window"],
            "refit every": body["refit_every"],
            "horizon": body["horizon"],
            "origins": body["n_origins"],
            "refits": body["n_refits"],
            "failed": body["n_failed"],
            "from": dates[0] if dates else None,
            "to": dates[-1] if dates else None,
        },
        sections,
    )


register_job_report("garch", "rolling", S.RollingResponse, rolling_report)
