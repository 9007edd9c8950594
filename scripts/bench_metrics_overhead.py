#!/usr/bin/env python
"""What the Prometheus metrics cost the light endpoints: ``raysvc bench http``'s load, side by side, against
the same services with metrics on and off, in one run.

Starts ``raysvc up --only sentiment,portfolio`` (metrics on, the default) on its own ports, and beside it the
same two services with ``RAYSVC_METRICS=false`` joined to the same Ray head. The metrics side is scraped every
5 s while it is loaded (as Prometheus would). Then, alternating the order each round, the light targets
(health, scoring 5 texts with ``ml:fast``, portfolio metrics) are loaded at concurrency 8 on each side.
Reports the median requests/s and p50 of each side and their ratio; writes JSON to ``--out``.

    python scripts/bench_metrics_overhead.py --rounds 3 --duration 8
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.bench import httpload  # noqa: E402 - after the path set-up, as scripts/bench.py does

SERVICES = ("sentiment", "portfolio")


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def wait_ready(urls: list[str], timeout_s: float = 300.0) -> None:
    deadline = time.monotonic() + timeout_s
    for url in urls:
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"{url} not ready within {timeout_s:.0f} s")
            time.sleep(1.0)


async def scrape_every(urls: list[str], period_s: float, stop: asyncio.Event) -> int:
    """GET /metrics of each url every ``period_s`` until ``stop``; the number of scrapes."""
    n = 0
    async with httpx.AsyncClient(timeout=5) as client:
        while not stop.is_set():
            for url in urls:
                (await client.get(f"{url}/metrics")).raise_for_status()
                n += 1
            try:
                await asyncio.wait_for(stop.wait(), period_s)
            except TimeoutError:
                pass
    return n


async def load(urls: dict[str, str], opts: httpload.LoadOptions, scrape: bool) -> dict:
    targets = [t for t in httpload.targets("ml:fast") if t.light]
    stop = asyncio.Event()
    scraper = asyncio.create_task(scrape_every(list(urls.values()), 5.0, stop)) if scrape else None
    try:
        return await httpload.run_load(urls, opts, target_list=targets)
    finally:
        stop.set()
        if scraper is not None:
            await scraper


def asgi_cost_us(n: int = 20_000, rounds: int = 5) -> dict[str, float]:
    """CPU microseconds per request of a trivial route called as ASGI (no network, no other process), with
    and without the metrics middleware, alternated; medians. The difference is what the middleware costs a
    request, independent of the machine's noise."""
    from fastapi import FastAPI

    from services.core.metrics import RequestMetrics

    def make(metrics: bool) -> FastAPI:
        app = FastAPI()

        @app.get("/v1/x/{item}")
        async def item(item: str) -> dict[str, str]:
            return {"item": item}

        if metrics:
            app.add_middleware(RequestMetrics, service="bench")
        return app

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/v1/x/a",
        "raw_path": b"/v1/x/a",
        "query_string": b"",
        "headers": [],
        "http_version": "1.1",
        "scheme": "http",
        "server": ("bench", 80),
        "root_path": "",
    }

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_message: dict) -> None:
        return None

    async def drive(app: FastAPI) -> float:
        for _ in range(200):  # warm-up
            await app(dict(scope), receive, send)
        t0 = time.process_time()
        for _ in range(n):
            await app(dict(scope), receive, send)
        return (time.process_time() - t0) / n * 1e6

    apps = {"on": make(True), "off": make(False)}
    cost: dict[str, list[float]] = {"on": [], "off": []}
    for r in range(rounds):
        for side in ("on", "off") if r % 2 == 0 else ("off", "on"):
            cost[side].append(asyncio.run(drive(apps[side])))
    return {side: statistics.median(v) for side, v in cost.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=8.0, help="seconds per target, side and round")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--out", type=Path, default=ROOT / "bench-results" / "metrics-overhead.json")
    args = ap.parse_args()
    asgi = asgi_cost_us()
    print(
        f"ASGI, one process: {asgi['on']:.1f} µs CPU per request with metrics, {asgi['off']:.1f} µs without: "
        f"+{asgi['on'] - asgi['off']:.1f} µs per request"
    )

    gcs, client, dash, s_on, p_on, s_off, p_off = free_ports(7)
    on = {"sentiment": f"http://127.0.0.1:{s_on}", "portfolio": f"http://127.0.0.1:{p_on}"}
    off = {"sentiment": f"http://127.0.0.1:{s_off}", "portfolio": f"http://127.0.0.1:{p_off}"}
    state = Path(tempfile.mkdtemp(prefix="raysvc-metrics-bench-"))
    env = os.environ | {"RAYSVC_LOG_LEVEL": "WARNING"}
    raysvc = str(Path(sys.executable).parent / "raysvc")
    up = subprocess.Popen(
        [
            *(raysvc, "up", "--only", ",".join(SERVICES), "--no-ray-auth", f"--state-dir={state}"),
            *(f"--gcs-port={gcs}", f"--client-port={client}", f"--dashboard-port={dash}"),
            *(f"--sentiment-port={s_on}", f"--portfolio-port={p_on}"),
        ],
        env=env,
        stdout=(state / "up.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    plain: list[subprocess.Popen[bytes]] = []
    try:
        wait_ready(list(on.values()))
        off_env = env | {
            "RAYSVC_METRICS": "false",
            "RAY_ADDRESS": f"ray://127.0.0.1:{client}",
            "RAYSVC_JOBS_ADDRESS": f"http://127.0.0.1:{dash}",
            "RAYSVC_RESULTS_DIR": str(state / "results"),
        }
        for name, port in (("sentiment", s_off), ("portfolio", p_off)):
            cmd = [raysvc, "serve", name, f"--port={port}"]
            plain.append(
                subprocess.Popen(
                    cmd, env=off_env, stdout=(state / f"{name}-off.log").open("wb"), stderr=subprocess.STDOUT
                )
            )
        wait_ready(list(off.values()))
        assert httpx.get(f"{off['portfolio']}/metrics").status_code == 404  # really off there
        opts = httpload.LoadOptions(
            concurrency=(args.concurrency,), requests=1_000_000, duration_s=args.duration, warmup=20
        )
        runs: dict[str, list[dict]] = {"on": [], "off": []}
        for r in range(args.rounds):
            for side in ("on", "off") if r % 2 == 0 else ("off", "on"):
                res = asyncio.run(load(on if side == "on" else off, opts, scrape=side == "on"))
                runs[side].append(res)
                rps = {t["name"]: t["levels"][0]["rps"] for t in res["targets"] if t.get("levels")}
                print(
                    f"round {r + 1} metrics {side:>3}: " + ", ".join(f"{k} {v:.0f}/s" for k, v in rps.items())
                )
    finally:
        for p in plain:
            p.send_signal(signal.SIGTERM)
        up.send_signal(signal.SIGTERM)
        for p in [*plain, up]:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()

    def per_target(side: str, key: str) -> dict[str, float]:
        values: dict[str, list[float]] = {}
        for res in runs[side]:
            for t in res["targets"]:
                if t.get("levels"):
                    name = t["name"].replace(f" ({t['service']})", "")  # health names its service
                    values.setdefault(name, []).append(t["levels"][0][key])
        return {k: statistics.median(v) for k, v in values.items()}

    rps_on, rps_off = per_target("on", "rps"), per_target("off", "rps")
    p50_on, p50_off = per_target("on", "p50_s"), per_target("off", "p50_s")
    rows = [
        {
            "target": name,
            "rps_metrics_on": round(rps_on[name], 1),
            "rps_metrics_off": round(rps_off[name], 1),
            "ratio_on_off": round(rps_on[name] / rps_off[name], 3),
            "p50_ms_on": round(p50_on[name] * 1e3, 2),
            "p50_ms_off": round(p50_off[name] * 1e3, 2),
        }
        for name in rps_on
        if name in rps_off
    ]
    print(
        f"\nmedian of {args.rounds} alternated rounds, concurrency {args.concurrency}, {args.duration:.0f} s each"
    )
    print(f"{'target':<44} {'on req/s':>9} {'off req/s':>10} {'on/off':>7} {'p50 on':>8} {'p50 off':>8}")
    for row in rows:
        print(
            f"{row['target']:<44} {row['rps_metrics_on']:>9.0f} {row['rps_metrics_off']:>10.0f} "
            f"{row['ratio_on_off']:>7.3f} {row['p50_ms_on']:>6.2f}ms {row['p50_ms_off']:>6.2f}ms"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "schema": "raysvc-bench-metrics-overhead/1",
                "asgi_cpu_us_per_request": asgi,
                "rows": rows,
                "runs": runs,
                "rounds": args.rounds,
            },
            indent=1,
        )
    )
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
