"""HTML report of the monthly engagement rankings (a pure function of the response model; page assembly in
:mod:`services.core.reports`): the latest month's ranking as a bar chart and a table, and with several months
the rank of every symbol month by month."""

from __future__ import annotations

from typing import Any

from services.core.reports import Report, Section, Table, figure
from services.sentiment import schemas as S


def latest_month(body: dict[str, Any]) -> str | None:
    """The month the bar chart shows: the requested one, else the latest in the answer."""
    months = sorted({r["month"] for r in body["data"]})
    return body["month"] or (months[-1] if months else None)


def rankings_report(resp: S.RankingsResponse) -> Report:
    """Bar chart and table of one month's ranking; a rank heat map (symbol × month) when there are several."""
    import plotly.graph_objects as go

    body = resp.model_dump(mode="json")
    month = latest_month(body)
    rows = sorted((r for r in body["data"] if r["month"] == month), key=lambda r: r["rank"])
    bars = figure(
        go.Bar(
            x=[r["symbol"] for r in rows],
            y=[r["engagement_ratio"] for r in rows],
            name="engagement ratio",
            customdata=[[r["rank"], r["days"]] for r in rows],
            hovertemplate="%{x}: %{y:.4f}<br>rank %{customdata[0]}, %{customdata[1]} days<extra></extra>",
        ),
        title=f"Engagement ratio (mean daily comments / likes), {month}",
        x="symbol (by rank)",
        y="comments / likes",
        xaxis_type="category",
    )
    table = Table(
        ("rank", "symbol", "engagement ratio", "days", "mean comments", "mean likes"),
        [
            (r["rank"], r["symbol"], r["engagement_ratio"], r["days"], r["mean_comments"], r["mean_likes"])
            for r in rows
        ],
        caption=f"{month}: {len(rows)} symbols",
    )
    sections = [Section(f"Ranking of {month}", [bars, table])]
    months = sorted({r["month"] for r in body["data"]})
    if len(months) > 1:
        symbols = sorted({r["symbol"] for r in body["data"]})
        rank = {(r["symbol"], r["month"]): r["rank"] for r in body["data"]}
        sections.append(
            Section(
                "Rank by month",
                [
                    figure(
                        go.Heatmap(
                            x=months,
                            y=symbols,
                            z=[[rank.get((s, m)) for m in months] for s in symbols],
                            colorscale="Blues",
                            reversescale=True,
                            colorbar={"title": {"text": "rank"}},
                            hovertemplate="%{y} %{x}: rank %{z}<extra></extra>",
                        ),
                        title="Rank per month (1 = most engaged; blank: filtered out)",
                        height=max(320, 16 * len(symbols) + 120),
                        xaxis_type="category",
                        yaxis_type="category",
                    )
                ],
            )
        )
    return Report(
        "Sentiment engagement rankings",
        {
            "months": len(months),
            "rows": body["count"],
            "likes >": body["min_likes"],
            "comments >": body["min_comments"],
            "top": body["top"] or "all",
        },
        sections,
    )
