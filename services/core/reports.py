"""Visual HTML reports of results: the page assembly shared by the four services.

A report is a :class:`Report` — a title, a few facts, and sections of Plotly figures and tables — built by a
pure function of a response model in ``services/<service>/report.py`` and rendered here by :func:`render` into
one HTML page. The page asks nothing of another host: its only script, Plotly's bundle (plotly.js from the
``plotly`` wheel, ~4.8 MB, 1.5 MB gzipped), is served by the service itself at :data:`PLOTLY_JS_PATH`
(versioned, so cached for a year, gzipped on request), or inlined with ``plotly_js=None`` (the page weights
both ways: docs/reports.md). Every text that reaches the page is escaped: figures travel as JSON in a
``<script type="application/json">`` block (``<`` escaped), tables and facts through :func:`html.escape`.

How a report is asked for: ``?report=true`` on the routes that have one (:data:`ReportFlag`), and
``GET /v1/jobs/{job_id}/report`` for a finished job whose service registered a builder for its command
(:func:`register_job_report`). ``tests/reports/`` checks the figures against the JSON answers and opens every
report in Chromium with the network cut.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import html
import math
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from services.core.auth import DOCS_ASSETS

if typing.TYPE_CHECKING:
    import plotly.graph_objects as go

#: Where the service serves Plotly's bundle: under the docs' open assets (no key needed, like the docs'
#: scripts), with plotly's version in the name so a year of caching is safe.
PLOTLY_JS_PATH = f"{DOCS_ASSETS}/plotly-{{version}}.min.js"
#: Cache-Control of the bundle: its URL changes with the version.
ASSET_CACHE = "public, max-age=31536000, immutable"
HTML = "text/html; charset=utf-8"
#: Answers smaller than this are sent as they are even to a client that accepts gzip.
GZIP_MIN_BYTES = 1024

ReportFlag = Annotated[
    bool,
    Query(
        description="answer with a self-contained HTML report (text/html: Plotly figures and tables) "
        "instead of JSON; see docs/reports.md"
    ),
]
"""The ``report`` query parameter of the routes that can answer with a report."""


def html_responses(what: str) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` entry saying that 200 may also be an HTML page (with ``report=true``)."""
    return {
        200: {
            "description": f"the result as JSON, or with `report=true` {what} as an HTML page",
            "content": {"text/html": {"schema": {"type": "string"}}},
        }
    }


# --- the model of a page ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Table:
    """Rows of cells under column labels; cells are formatted with :func:`fmt` unless already strings."""

    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]
    caption: str | None = None


@dataclass(frozen=True)
class Section:
    """A heading with figures and tables, shown in order."""

    title: str
    items: Sequence[go.Figure | Table] = ()
    note: str | None = None


@dataclass(frozen=True)
class Report:
    """One page: a title, facts shown under it (label → value), and sections."""

    title: str
    facts: Mapping[str, Any] = field(default_factory=dict)
    sections: Sequence[Section] = ()

    def figures(self) -> list[go.Figure]:
        """The page's figures, in page order (what the tests compare with the JSON answers)."""
        return [i for s in self.sections for i in s.items if not isinstance(i, Table)]

    def tables(self) -> list[Table]:
        return [i for s in self.sections for i in s.items if isinstance(i, Table)]


# --- formatting -------------------------------------------------------------------------------------------
def fmt(value: Any, *, digits: int = 4) -> str:
    """A cell: ``—`` for None/NaN, integers as they are, floats to ``digits`` significant digits,
    mappings as ``k=v`` pairs, sequences joined with commas."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}g}" if value != 0 else "0"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={fmt(v, digits=digits)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(fmt(v, digits=digits) for v in value)
    return str(getattr(value, "value", value))


def pct(value: float | None) -> str:
    """A fraction as a percentage with two decimals (``—`` for None)."""
    return "—" if value is None or math.isnan(value) else f"{value * 100:.2f} %"


def drawdown(values: Sequence[float]) -> list[float]:
    """Fall from the running peak of a wealth curve, as a non-positive fraction per point."""
    out, peak = [], -math.inf
    for v in values:
        peak = max(peak, v)
        out.append(v / peak - 1 if peak > 0 else 0.0)
    return out


def metrics_table(metrics: BaseModel | Mapping[str, Any], *, percent: Sequence[str] = ()) -> Table:
    """A two-column table of a metrics model (or mapping); fields named in ``percent`` shown as %."""
    items = metrics.model_dump() if isinstance(metrics, BaseModel) else dict(metrics)
    rows = [
        (name.replace("_", " "), pct(v) if name in percent and isinstance(v, int | float) else v)
        for name, v in items.items()
        if not isinstance(v, dict | list)
    ]
    return Table(("measure", "value"), rows)


# --- figures ----------------------------------------------------------------------------------------------
def figure(*traces: Any, title: str, x: str = "", y: str = "", height: int = 380, **layout: Any) -> go.Figure:
    """A figure in the reports' style (white, compact margins, legend on top)."""
    import plotly.graph_objects as go

    fig = go.Figure(data=list(traces))
    fig.update_layout(
        title={"text": title, "x": 0.01, "font": {"size": 15}},
        template="plotly_white",
        height=height,
        margin={"l": 60, "r": 20, "t": 50, "b": 45},
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 1, "xanchor": "right"},
        xaxis_title=x,
        yaxis_title=y,
        **layout,
    )
    return fig


# --- rendering --------------------------------------------------------------------------------------------
_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#1f2933;background:#f5f7fa}
main{max-width:1180px;margin:0 auto;padding:18px 24px 40px}
h1{font-size:22px;margin:4px 0 6px}
h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid #d9e2ec;padding-bottom:4px}
.facts{display:flex;flex-wrap:wrap;gap:4px 18px;color:#52606d;margin-bottom:6px}.facts b{color:#1f2933;font-weight:600}
.fig{background:#fff;border:1px solid #e4e7eb;border-radius:6px;margin:10px 0;min-height:120px}
.note{color:#52606d;margin:4px 0}
table{border-collapse:collapse;background:#fff;margin:10px 0;font-variant-numeric:tabular-nums}
caption{text-align:left;color:#52606d;padding:4px 0}
th,td{border:1px solid #e4e7eb;padding:3px 9px;text-align:right}th{background:#f0f4f8}
td:first-child,th:first-child{text-align:left}
.scroll{max-height:460px;overflow:auto;display:inline-block;max-width:100%}
footer{color:#9aa5b1;font-size:12px;margin-top:30px}
"""

_BOOT = """
(function(){
  var specs=document.querySelectorAll('script[type="application/json"][data-fig]');
  specs.forEach(function(s){
    var spec=JSON.parse(s.textContent);
    var div=document.getElementById(s.getAttribute('data-fig'));
    Plotly.newPlot(div,spec.data,spec.layout,{responsive:true,displaylogo:false});
  });
})();
"""


def _json_for_script(obj_json: str) -> str:
    """JSON that cannot end its ``<script>`` block (``<``, ``>`` and ``&`` as ``\\u`` escapes)."""
    return obj_json.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _table_html(t: Table) -> str:
    def cell(v: Any) -> str:
        return html.escape(v if isinstance(v, str) else fmt(v))

    head = "".join(f"<th>{html.escape(c)}</th>" for c in t.columns)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in t.rows)
    caption = f"<caption>{html.escape(t.caption)}</caption>" if t.caption else ""
    return f'<div class="scroll"><table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


@functools.cache
def plotly_bundle() -> tuple[str, bytes, bytes]:
    """Plotly's version, its ``plotly.min.js`` and that gzipped (read once)."""
    import plotly

    js = (files("plotly") / "package_data" / "plotly.min.js").read_bytes()
    return plotly.__version__, js, gzip.compress(js, compresslevel=9, mtime=0)


def plotly_js_path() -> str:
    """The path the bundle is served at (with plotly's version in it)."""
    return PLOTLY_JS_PATH.format(version=plotly_bundle()[0])


def render(report: Report, *, plotly_js: str | None) -> str:
    """The page of ``report``: Plotly loaded from the URL ``plotly_js``, or inlined when it is None."""
    if plotly_js is None:
        script = (
            "<script>" + plotly_bundle()[1].decode("utf-8").replace("</script", "<\\/script") + "</script>"
        )
    else:
        script = f'<script src="{html.escape(plotly_js)}"></script>'
    parts: list[str] = []
    n = 0
    for section in report.sections:
        parts.append(f"<h2>{html.escape(section.title)}</h2>")
        if section.note:
            parts.append(f'<p class="note">{html.escape(section.note)}</p>')
        for item in section.items:
            if isinstance(item, Table):
                parts.append(_table_html(item))
                continue
            fig_id = f"fig-{n}"
            n += 1
            spec = _json_for_script(item.to_json(validate=False))
            parts.append(f'<div class="fig" id="{fig_id}"></div>')
            parts.append(f'<script type="application/json" data-fig="{fig_id}">{spec}</script>')
    facts = "".join(
        f"<span>{html.escape(str(k))}: <b>{html.escape(v if isinstance(v, str) else fmt(v))}</b></span>"
        for k, v in report.facts.items()
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(report.title)}</title><style>{_STYLE}</style>{script}</head>"
        f'<body><main><h1>{html.escape(report.title)}</h1><div class="facts">{facts}</div>'
        f"{''.join(parts)}<footer>Ray Services report</footer></main>"
        f"<script>{_BOOT}</script></body></html>"
    )


def _gzip_ok(request: Request) -> bool:
    return "gzip" in request.headers.get("accept-encoding", "").lower()


def html_response(request: Request, page: str, *, status_code: int = 200) -> Response:
    """``page`` as ``text/html``, gzipped when the client accepts it and it is not tiny."""
    body = page.encode("utf-8")
    headers = {"Vary": "Accept-Encoding", "Cache-Control": "no-store"}
    if _gzip_ok(request) and len(body) >= GZIP_MIN_BYTES:
        body = gzip.compress(body, compresslevel=6)
        headers["Content-Encoding"] = "gzip"
    return Response(body, status_code=status_code, media_type=HTML, headers=headers)


def report_response(request: Request, report: Report) -> Response:
    """The HTML answer of ``report`` for ``request``: Plotly's bundle from this service, by absolute URL (a
    page saved to disk still finds it while the service runs)."""
    base = str(request.base_url).rstrip("/")
    return html_response(request, render(report, plotly_js=f"{base}{plotly_js_path()}"))


async def report_answer(request: Request, build: Callable[[Any], Report], resp: Any) -> Response:
    """:func:`report_response` of ``build(resp)``, off the event loop (figures of thousands of points)."""
    return await asyncio.to_thread(lambda: report_response(request, build(resp)))


def install_report_assets(app: FastAPI) -> None:
    """Serve Plotly's bundle at :func:`plotly_js_path` (gzipped on request, cached for a year)."""

    @app.get(plotly_js_path(), include_in_schema=False)
    async def plotly_js(request: Request) -> Response:
        _, raw, packed = plotly_bundle()
        headers = {"Cache-Control": ASSET_CACHE, "Vary": "Accept-Encoding"}
        if _gzip_ok(request):
            return Response(
                packed, media_type="text/javascript", headers={**headers, "Content-Encoding": "gzip"}
            )
        return Response(raw, media_type="text/javascript", headers=headers)


# --- full detail for a report -----------------------------------------------------------------------------
def with_full_detail(req: BaseModel, **extra: Any) -> BaseModel:
    """``req`` with every ``include`` option on (when its model has an ``include`` list of literals), plus
    ``extra`` updates: a report draws the long series that the JSON default leaves out."""
    update = dict(extra)
    if choices := include_choices(type(req)):
        update["include"] = choices
    return req.model_copy(update=update)


def include_choices(model: type[BaseModel]) -> list[str]:
    """The options of ``model``'s ``include`` list of literals (none if it has no such field)."""
    info = model.model_fields.get("include")
    if info is None:
        return []
    choices = [a for arg in typing.get_args(info.annotation) for a in typing.get_args(arg)]
    return choices if choices and all(isinstance(c, str) for c in choices) else []


# --- job reports ------------------------------------------------------------------------------------------
JobReportBuilder = Callable[[Any], Report]
_JOB_REPORTS: dict[tuple[str, str], tuple[type[BaseModel], Callable[[Any], Report]]] = {}


def register_job_report(service: str, command: str, model: type[BaseModel], build: JobReportBuilder) -> None:
    """Let ``GET /v1/jobs/{id}/report`` draw a job of ``service``/``command``: its result is validated as
    ``model`` (the body the HTTP route answers) and drawn by ``build``."""
    _JOB_REPORTS[(service, command)] = (model, build)


def job_report(service: str, command: str, result: Any) -> Report | None:
    """The report of a finished job's ``result``, or None when no report is known for its command or the
    result is not the HTTP body (e.g. a CLI sweep over many symbols)."""
    entry = _JOB_REPORTS.get((service, command))
    if entry is None:
        return None
    model, build = entry
    try:
        return build(model.model_validate(result))
    except ValueError:  # pydantic's ValidationError: another shape than the route's body
        return None


def job_status_page(job_id: str, status: str, progress: float, message: str | None) -> str:
    """A small page for a job that has not finished: it reloads itself every 5 s."""
    text = html.escape(f"{status} ({progress:.0%})" + (f": {message}" if message else ""))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">'
        f"<title>{html.escape(job_id)}</title><style>{_STYLE}</style></head><body><main>"
        f'<h1>Job {html.escape(job_id)}</h1><p>{text}</p><p class="note">The report appears here when the '
        "job has finished; this page reloads every 5 s.</p></main></body></html>"
    )
