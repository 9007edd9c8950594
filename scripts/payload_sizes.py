#!/usr/bin/env python
"""The default response of every ``/v1`` endpoint, measured: status, bytes (as sent, and gzipped as a
proxy or client would), latency — for the "default payload size" rows of the service docs (#19).

Runs against services that are up (``raysvc up``). Each operation is read from the service's own OpenAPI
document and called with its first documented request example (POST), or its defaults (GET; path
parameters from ``PATH_VALUES``), so the figures are those of the requests the docs show. Skipped, and
listed as such: training (a job), CSV uploads (a file body) and ``/v1/jobs`` (nothing to show until a job
ran). The median of ``--repeat`` calls is reported; the body is the last one's.

    python scripts/payload_sizes.py                     # a Markdown table per service
    python scripts/payload_sizes.py --write-docs        # and replace the tables in docs/<service>.md
"""

from __future__ import annotations

import argparse
import gzip
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.bench.httpload import default_urls  # noqa: E402

PATH_VALUES = {"symbol": "AAPL"}
EXTRA_BODIES = {  # operations without a documented example
    "/v1/intraday/signals": {
        "symbol": "SIM",
        "strategy": {"name": "rsi_reversion"},
        "start": "2023-09-11",
        "end": "2023-09-12",
    },
}
SKIP = {
    "/v1/sentiment/train": "a training job (202)",
    "/v1/intraday/backtest/csv": "a CSV file upload",
    "/v1/intraday/sweep/csv": "a CSV file upload",
}
START, END = "<!-- payload-sizes:start -->", "<!-- payload-sizes:end -->"


def first_example(spec: dict[str, Any], op: dict[str, Any]) -> Any:
    """The first example of an operation's JSON body (its schema's ``examples``), or None."""
    content = op.get("requestBody", {}).get("content", {}).get("application/json", {})
    ref = content.get("schema", {}).get("$ref", "")
    schema = spec["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {}) if ref else {}
    return (schema.get("examples") or [None])[0]


def measure(client: httpx.Client, method: str, url: str, body: Any, repeat: int) -> dict[str, Any]:
    times, r = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = client.request(method, url, json=body)
        times.append(time.perf_counter() - t0)
    assert r is not None
    is_json = r.headers.get("content-type", "").startswith("application/json")
    parsed = r.json() if is_json else None
    return {
        "status": r.status_code,
        "bytes": len(r.content),
        "gzip": len(gzip.compress(r.content, 6)),
        "ms": 1e3 * statistics.median(times),
        "error": r.text[:300] if r.status_code >= 400 else None,
        "computed_on": parsed.get("computed_on") if isinstance(parsed, dict) else None,
    }


def kb(n: int) -> str:
    return f"{n} B" if n < 1000 else f"{n / 1000:.1f} kB" if n < 1_000_000 else f"{n / 1e6:.2f} MB"


def service_rows(name: str, base: str, repeat: int) -> list[str]:
    with httpx.Client(timeout=120) as client:
        spec = client.get(f"{base}/openapi.json").json()
        rows = []
        for path, ops in spec["paths"].items():
            if not path.startswith("/v1/") or path.startswith("/v1/jobs"):
                continue
            for method, op in ops.items():
                label = f"`{method.upper()} {path}`"
                if path in SKIP:
                    rows.append(f"| {label} | – | not measured: {SKIP[path]} | | | |")
                    continue
                body = first_example(spec, op) if method == "post" else None
                body = body if body is not None else EXTRA_BODIES.get(path)
                url = base + re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], path)
                m = measure(client, method.upper(), url, body, repeat)
                if m["status"] >= 400:  # a documented request must work: stop before any table is written
                    raise SystemExit(f"{method.upper()} {path} answered {m['status']}: {m['error']}")
                what = (
                    ("the documented example" if path not in EXTRA_BODIES else "a day of SIM")
                    if method == "post"
                    else "defaults"
                )
                if "{" in path:
                    what += ", " + ", ".join(f"{k}={v}" for k, v in PATH_VALUES.items() if "{" + k in path)
                rows.append(
                    f"| {label} | {m['status']} | {what} | {kb(m['bytes'])} | {kb(m['gzip'])} | "
                    f"{m['ms']:.1f} ms{' (' + m['computed_on'] + ')' if m['computed_on'] else ''} |"
                )
    head = [
        "| endpoint | status | request | response | gzipped | median latency (where) |",
        "|---|---|---|---|---|---|",
    ]
    return head + rows


def write_docs(service: str, table: list[str], stamp: str) -> None:
    doc = ROOT / "docs" / f"{service}.md"
    text = doc.read_text()
    block = "\n".join(
        [START, f"Measured {stamp} by `python scripts/payload_sizes.py --write-docs`.", "", *table, END]
    )
    if START in text:
        text = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n## Default response sizes\n\n" + block + "\n"
    doc.write_text(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=5, help="calls per endpoint (median latency)")
    ap.add_argument("--write-docs", action="store_true", help="replace the tables in docs/<service>.md")
    args = ap.parse_args()
    stamp = time.strftime("%Y-%m-%d")
    for service, base in default_urls().items():
        table = service_rows(service, base, args.repeat)
        print(f"\n## {service}\n", *table, sep="\n")
        if args.write_docs:
            write_docs(service, table, stamp)


if __name__ == "__main__":
    main()
