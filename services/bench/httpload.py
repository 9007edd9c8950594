"""``raysvc bench http``: closed-loop HTTP load against running services, bounded in requests and time.

For each target request and each concurrency level ``c``: ``c`` workers share one keep-alive connection
pool of ``c`` connections and send the request back to back until ``requests`` were sent or
``duration_s`` passed. Reported per level: successful requests per second of wall time, latency
percentiles of the successful requests (p50, p95, p99, max), errors by kind (an HTTP status outside
2xx, a timeout, a connection failure), and the client's own CPU use (client and services share the
machine, so a busy client caps what it can measure).

Only loopback URLs are used unless a URL is given explicitly (``--url-<service>``). Before a target is
loaded it is sent once: a non-2xx answer skips the target with the status and body in the report,
rather than hammering a request the service rejects.

aiohttp is the client (it comes with ``ray[default]``): its per-request overhead is a fraction of
httpx's, which matters when the client shares two cores with the services it measures.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import resource
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from services import SERVICES

TEXTS = [
    "Apple beats earnings expectations as iPhone sales climb 8%",
    "$TSLA recalls 2 million vehicles over autopilot safety concerns",
    "Fed holds rates steady; markets await guidance on cuts",
    "JPMorgan shares slip after trading revenue falls short",
    "Oil prices edge higher as OPEC+ extends supply cuts",
]


@dataclass(frozen=True)
class Target:
    """One representative request of a service."""

    name: str
    service: str
    method: str
    path: str
    body: dict[str, Any] | None = None
    light: bool = False  # a light endpoint (the ≥ 1,000 requests/s target applies)


#: Which targets ``raysvc bench http --paths`` loads: the ``/v1`` representatives, the original project's
#: paths with its own request bodies (#19's comparison), or both.
PATH_SETS = ("v1", "legacy", "all")


def targets(sentiment_model: str = "ml:fast", paths: str = "v1") -> list[Target]:
    """The requests of ``paths`` (:data:`PATH_SETS`)."""
    if paths not in PATH_SETS:
        raise ValueError(f"paths must be one of {PATH_SETS}, got {paths!r}")
    chosen = [] if paths == "legacy" else v1_targets(sentiment_model)
    return chosen + ([] if paths == "v1" else legacy_targets())


def legacy_targets() -> list[Target]:
    """The original project's paths, with the bodies of its side-by-side comparison (issue #19): five
    headlines, a 180-day window, four assets, three strategies on two symbols, a 4-asset portfolio."""
    get = [
        ("sentiment", "/available-tickers"),
        ("garch", "/load-market-data"),
        ("garch", "/calculate-rolling-variance"),
        ("portfolio", "/select-top-stocks"),
        ("portfolio", "/portfolio-performance"),
    ]
    post: list[tuple[str, str, dict[str, Any]]] = [
        ("sentiment", "/analyze-sentiment", {"texts": TEXTS}),
        ("sentiment", "/analyze-tickers", {"tickers": ["AAPL", "MSFT", "TSLA"]}),
        ("garch", "/predict-volatility", {"window_size": 180}),
        ("portfolio", "/optimize-portfolio", {"assets": ["AAPL", "MSFT", "KO", "XOM"]}),
        (
            "portfolio",
            "/calculate-portfolio-metrics",
            {"tickers": ["AAPL", "MSFT", "KO", "XOM"], "weights": [0.25, 0.25, 0.25, 0.25]},
        ),
        ("intraday", "/calculate-intraday-signals", {"daily_signal": 1}),
        (
            "intraday",
            "/execute-strategies",
            {"strategies": ["momentum", "mean_reversion", "breakout"], "symbols": ["AAPL", "MSFT"]},
        ),
        ("intraday", "/generate-signals", {"symbols": ["AAPL", "MSFT"], "strategy_type": "momentum"}),
        ("intraday", "/backtest-strategy", {"strategy_name": "momentum", "symbol": "SIM"}),
    ]
    return [Target(f"legacy GET {path}", svc, "GET", path) for svc, path in get] + [
        Target(f"legacy POST {path}", svc, "POST", path, body) for svc, path, body in post
    ]


def v1_targets(sentiment_model: str = "ml:fast") -> list[Target]:
    """The representative requests: health, scoring a handful of texts, metrics of a given portfolio, a
    4-asset optimisation, a small GARCH forecast, a small intraday backtest, a day of intraday signals:
    every single-item path with an engine, for the overhead budget at concurrency 1 (#19)."""
    return [
        Target("health", "*", "GET", "/healthz", light=True),
        Target(
            f"sentiment score (5 texts, {sentiment_model})",
            "sentiment",
            "POST",
            "/v1/sentiment/score",
            {"texts": TEXTS, "model": sentiment_model},
            light=True,
        ),
        Target(
            "sentiment of one symbol (daily and monthly aggregates)",
            "sentiment",
            "GET",
            "/v1/sentiment/symbols/AAPL",
        ),
        Target(
            "portfolio metrics (4 assets, 3 y)",
            "portfolio",
            "POST",
            "/v1/portfolio/metrics",
            {
                "weights": {"AAPL": 0.3, "MSFT": 0.3, "JNJ": 0.2, "XOM": 0.2},
                "dataset": "sp500",
                "start": "2020-01-01",
                "end": "2022-12-28",
            },
            light=True,
        ),
        Target(
            "portfolio optimize (max Sharpe, 4 assets, 3 y)",
            "portfolio",
            "POST",
            "/v1/portfolio/optimize",
            {"symbols": ["AAPL", "MSFT", "KO", "XOM"], "objective": "max_sharpe", "start": "2020-01-01"},
        ),
        Target(
            "garch forecast (GARCH(1,1)-t, 1 y, h=5)",
            "garch",
            "POST",
            "/v1/volatility/forecast",
            {
                "symbols": ["SIM"],
                "model": {"vol": "garch", "p": 1, "q": 1, "dist": "t"},
                "horizon": 5,
                "start": "2022-09-18",
            },
        ),
        Target(
            "intraday backtest (sma_cross, 1 week of 5-min)",
            "intraday",
            "POST",
            "/v1/intraday/backtest",
            {
                "symbol": "SIM",
                "strategy": {"name": "sma_cross", "params": {"fast": 10, "slow": 50}},
                "start": "2023-09-11",
                "end": "2023-09-18",
                "include": ["equity"],
                "equity_points": 50,
            },
        ),
        Target(
            "intraday signals (rsi_reversion, 1 day of 5-min)",
            "intraday",
            "POST",
            "/v1/intraday/signals",
            {
                "symbol": "SIM",
                "strategy": {"name": "rsi_reversion"},
                "start": "2023-09-11",
                "end": "2023-09-12",
            },
        ),
    ]


@dataclass(frozen=True)
class LoadOptions:
    """Bounds of a load run: ``concurrency`` levels, at most ``requests`` and ``duration_s`` per level."""

    concurrency: tuple[int, ...] = (1, 8, 64)
    requests: int = 2000
    duration_s: float = 10.0
    timeout_s: float = 30.0
    warmup: int = 5
    api_key: str | None = None  # sent as `Authorization: Bearer` (services started with API keys)

    def __post_init__(self) -> None:
        if not self.concurrency or any(c < 1 or c > 1024 for c in self.concurrency):
            raise ValueError(f"concurrency levels must be in 1..1024, got {self.concurrency}")
        if not 1 <= self.requests <= 1_000_000:
            raise ValueError(f"requests must be in 1..1,000,000, got {self.requests}")
        if not 0 < self.duration_s <= 600:
            raise ValueError(f"duration must be in (0, 600] seconds, got {self.duration_s}")


@dataclass
class Level:
    concurrency: int
    requests: int = 0  # sent
    ok: int = 0
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    wall_s: float = 0.0
    rps: float | None = None
    p50_s: float | None = None
    p95_s: float | None = None
    p99_s: float | None = None
    max_s: float | None = None
    mean_s: float | None = None
    client_cpu_pct: float = 0.0
    stopped_by: str = ""
    bytes_mean: float | None = None  # response body bytes, mean over the successful requests
    # where the service ran the level's computations (raysvc_computations_total of the route, before/after)
    computed_on: dict[str, int] = field(default_factory=dict)
    # from the responses' Server-Timing (requests whose engine ran in the service process): the engine's
    # time, and the latency seen here minus it per request (the platform's overhead: #19's budget), p50
    engine_p50_s: float | None = None
    overhead_p50_s: float | None = None


#: The per-request overhead budget at concurrency 1 (#19): latency within the engine's time + 3 ms, p50.
OVERHEAD_BUDGET_S = 0.003


def engine_seconds(server_timing: str | None) -> float | None:
    """The ``engine`` metric of a ``Server-Timing`` header, in seconds (None when absent)."""
    for part in (server_timing or "").split(","):
        name, _, params = part.strip().partition(";")
        if name == "engine":
            for p in params.split(";"):
                key, _, value = p.strip().partition("=")
                if key == "dur":
                    return float(value) / 1e3
    return None


def is_loopback(url: str) -> bool:
    """Whether ``url``'s host is a loopback address (or ``localhost``)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def default_urls() -> dict[str, str]:
    """Each service's loopback URL on its configured port."""
    from services.core.settings import get_settings

    s = get_settings()
    return {name: f"http://127.0.0.1:{s.port_of(name)}" for name in SERVICES}


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (linear interpolation, numpy's default), None when empty."""
    return float(np.percentile(values, q)) if len(values) else None


def _cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _auth(opts: LoadOptions) -> dict[str, str]:
    return {"Authorization": f"Bearer {opts.api_key}"} if opts.api_key else {}


async def run_level(
    session: Any, method: str, url: str, body: bytes | None, concurrency: int, opts: LoadOptions
) -> Level:
    """One concurrency level of closed-loop load (``session``: an aiohttp ``ClientSession``)."""
    import aiohttp

    level = Level(concurrency)
    latencies: list[float] = []
    engine: list[float] = []  # pairs with `overheads`: only the responses that report engine time
    overheads: list[float] = []
    body_bytes = 0
    kinds: Counter[str] = Counter()
    headers = {"content-type": "application/json"} if body is not None else {}
    sent = 0
    start = time.perf_counter()
    deadline = start + opts.duration_s

    async def worker() -> None:
        nonlocal sent, body_bytes
        while sent < opts.requests and time.perf_counter() < deadline:
            sent += 1
            t0 = time.perf_counter()
            try:
                async with session.request(method, url, data=body, headers=headers) as resp:
                    size = len(await resp.read())
                    status = resp.status
                    engine_s = engine_seconds(resp.headers.get("server-timing"))
            except TimeoutError:
                kinds["timeout"] += 1
                continue
            except aiohttp.ClientError as exc:
                kinds[type(exc).__name__] += 1
                continue
            if 200 <= status < 300:
                latencies.append(time.perf_counter() - t0)
                body_bytes += size
                if engine_s is not None:
                    engine.append(engine_s)
                    overheads.append(latencies[-1] - engine_s)
            else:
                kinds[f"HTTP {status}"] += 1

    cpu0 = _cpu_s()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    level.wall_s = time.perf_counter() - start
    level.client_cpu_pct = 100.0 * (_cpu_s() - cpu0) / level.wall_s if level.wall_s > 0 else 0.0
    level.requests = sent
    level.ok = len(latencies)
    level.errors = sum(kinds.values())
    level.error_kinds = dict(kinds)
    level.stopped_by = "requests" if sent >= opts.requests else "duration"
    if latencies:
        level.rps = level.ok / level.wall_s
        level.p50_s, level.p95_s, level.p99_s = (percentile(latencies, q) for q in (50, 95, 99))
        level.max_s = max(latencies)
        level.mean_s = statistics.fmean(latencies)
        level.bytes_mean = body_bytes / len(latencies)
    if engine:
        level.engine_p50_s, level.overhead_p50_s = percentile(engine, 50), percentile(overheads, 50)
    return level


async def computations(session: Any, base_url: str, route: str) -> dict[str, int] | None:
    """``raysvc_computations_total`` of ``route`` by ``computed_on``, from the service's ``/metrics``
    (None when it serves no metrics)."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        async with session.get(f"{base_url}/metrics") as resp:
            if resp.status != 200:
                return None
            text = (await resp.read()).decode()
    except Exception:  # noqa: BLE001 - no metrics: the report says nothing about where the work ran
        return None
    out: dict[str, int] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "raysvc_computations_total" and sample.labels.get("operation") == route:
                where = sample.labels["computed_on"]
                out[where] = out.get(where, 0) + int(sample.value)
    return out


async def _probe(session: Any, url: str) -> str | None:
    """None when ``url``/healthz answers 200, else why not."""
    try:
        async with session.get(f"{url}/healthz") as resp:
            await resp.read()
            return None if resp.status == 200 else f"GET /healthz answered {resp.status}"
    except Exception as exc:  # noqa: BLE001 - any failure means not reachable
        return f"not reachable at {url}: {type(exc).__name__} {exc}".strip()


async def run_load(
    urls: dict[str, str],
    opts: LoadOptions,
    *,
    target_list: Sequence[Target] | None = None,
    progress: Callable[[int, str], None] | None = None,
) -> dict[str, Any]:
    """Load every target of a reachable service at every concurrency level; the ``http`` results section."""
    import aiohttp

    from services.bench.machine import load_average, machine, now, versions

    progress = progress or (lambda _n, _d: None)
    target_list = list(target_list if target_list is not None else targets())
    created, load_start = now(), load_average()
    out_targets: list[dict[str, Any]] = []
    skipped_services: dict[str, str] = {}
    timeout = aiohttp.ClientTimeout(total=opts.timeout_s)
    async with aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=5), headers=_auth(opts)
    ) as probe_session:
        for name, url in urls.items():
            why = await _probe(probe_session, url)
            if why:
                skipped_services[name] = why
    live = [n for n in urls if n not in skipped_services]
    for t in (t for t in target_list if t.service == "*" or t.service in urls):  # only the services asked for
        service = (live[0] if live else next(iter(urls), "?")) if t.service == "*" else t.service
        url = urls.get(service, "")
        entry: dict[str, Any] = {
            "name": t.name if t.service != "*" else f"{t.name} ({service})",
            "service": service,
            "method": t.method,
            "url": f"{url}{t.path}",
            "body": t.body,
            "light": t.light,
            "levels": [],
        }
        out_targets.append(entry)
        if service in skipped_services:
            entry["skipped"] = skipped_services[service]
        if entry.get("skipped"):
            progress(len(opts.concurrency), f"{entry['name']}: skipped")
            continue
        body = json.dumps(t.body).encode() if t.body is not None else None
        for c in opts.concurrency:
            progress(0, f"{entry['name']}: concurrency {c}")
            connector = aiohttp.TCPConnector(limit=c, force_close=False)
            async with aiohttp.ClientSession(
                connector=connector, timeout=timeout, headers=_auth(opts)
            ) as session:
                if not entry["levels"]:  # preflight once per target: one request must succeed
                    try:
                        async with session.request(
                            t.method, entry["url"], data=body, headers={"content-type": "application/json"}
                        ) as resp:
                            text = (await resp.read()).decode(errors="replace")
                            if not 200 <= resp.status < 300:
                                entry["skipped"] = f"preflight answered HTTP {resp.status}: {text[:300]}"
                    except Exception as exc:  # noqa: BLE001 - a failed preflight skips the target, the run goes on
                        entry["skipped"] = f"preflight failed: {type(exc).__name__} {exc}"
                    if entry.get("skipped"):
                        progress(len(opts.concurrency), f"{entry['name']}: skipped")
                        break
                for _ in range(opts.warmup):  # untimed: fill the pool, warm caches
                    try:
                        async with session.request(
                            t.method, entry["url"], data=body, headers={"content-type": "application/json"}
                        ) as resp:
                            await resp.read()
                    except Exception:  # noqa: BLE001 - counted in the level itself if it persists
                        pass
                hard_limit = opts.duration_s + opts.timeout_s + 10
                before = await computations(session, url, t.path)
                try:
                    level = await asyncio.wait_for(
                        run_level(session, t.method, entry["url"], body, c, opts), hard_limit
                    )
                except TimeoutError:  # cannot happen with per-request timeouts; bounded all the same
                    level = Level(
                        c,
                        stopped_by=f"hard limit of {hard_limit:.0f} s",
                        errors=1,
                        error_kinds={"level aborted": 1},
                    )
                after = await computations(session, url, t.path) if before is not None else None
                if before is not None and after is not None:
                    level.computed_on = {
                        k: v - before.get(k, 0) for k, v in after.items() if v > before.get(k, 0)
                    }
            entry["levels"].append(asdict(level))
            progress(1, f"{entry['name']}: concurrency {c} done")
    m = machine()
    m["load_average_start"] = load_start
    m["load_average_end"] = m.pop("load_average")
    return {
        "schema": "raysvc-bench-http/1",
        "created": created,
        "machine": m,
        "versions": versions(),
        "options": asdict(opts) | {"concurrency": list(opts.concurrency)},
        "urls": urls,
        "skipped_services": skipped_services,
        "targets": out_targets,
        "summary": summary(out_targets, opts),
    }


def summary(out_targets: Sequence[dict[str, Any]], opts: LoadOptions) -> dict[str, Any]:
    """The issue's targets, checked: zero errors at the highest concurrency for every endpoint measured;
    light endpoints ≥ 1,000 requests/s at concurrency 8 (when 8 was measured)."""
    top = max(opts.concurrency)
    measured = [t for t in out_targets if t.get("levels")]
    errors_at_top = {
        t["name"]: next((lv["errors"] for lv in t["levels"] if lv["concurrency"] == top), None)
        for t in measured
    }
    light_rps = {
        t["name"]: next((lv["rps"] for lv in t["levels"] if lv["concurrency"] == 8), None)
        for t in measured
        if t.get("light")
    }
    overhead_at_1 = {
        t["name"]: lv["overhead_p50_s"]
        for t in measured
        for lv in t["levels"]
        if lv["concurrency"] == 1 and lv.get("overhead_p50_s") is not None
    }
    return {
        "measured": len(measured),
        "skipped": [t["name"] for t in out_targets if t.get("skipped")],
        "errors_at_max_concurrency": errors_at_top,
        "zero_errors_at_max_concurrency": all(v == 0 for v in errors_at_top.values()) if measured else None,
        "light_rps_at_8": light_rps,
        "light_rps_at_8_ge_1000": (all((v or 0) >= 1000 for v in light_rps.values()) if light_rps else None),
        "overhead_p50_at_1": overhead_at_1,
        "overhead_within_budget_at_1": (
            all(v <= OVERHEAD_BUDGET_S for v in overhead_at_1.values()) if overhead_at_1 else None
        ),
    }
