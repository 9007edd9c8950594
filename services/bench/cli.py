"""``raysvc bench`` and ``raysvc bench http`` (argument parsing, the progress bar, exit statuses).

Exit status: 0 all ran and agreed; 2 bad arguments or nothing to run; 3 a variant gave a different
result (or failed); 1 the benchmark could not run (no Ray).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from services import SERVICES
from services.bench import SIZES

console = Console(stderr=True)
DEFAULT_OUT = Path(".raysvc/bench")


def _ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def _names(text: str) -> list[str]:
    names = [x.strip() for x in text.split(",") if x.strip()]
    bad = [n for n in names if n not in SERVICES]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown service(s) {bad}; one of {', '.join(SERVICES)}")
    return names


def bench_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="raysvc bench",
        description="Side-by-side benchmarks of each service's workloads: sequential vs Ray (at each CPU "
        "count) vs the peer library, alternated, with same-result checks. `raysvc bench http --help` for "
        "the HTTP load test, `raysvc bench sentiment-models --help` for the sentiment models side by side.",
    )
    p.add_argument("--service", type=_names, default=None, help="service(s), comma-separated (default: all)")
    p.add_argument(
        "--workload", default=None, help="only workloads whose name contains this (comma-separated)"
    )
    p.add_argument("--size", choices=SIZES, default="small", help="input size (default: small)")
    p.add_argument("--repeat", type=int, default=3, help="timed rounds per variant (default: 3)")
    p.add_argument(
        "--cycles",
        type=int,
        default=1,
        help="run the local Ray sessions this many times in turn (1,2,1,2…), --repeat rounds each, "
        "so machine drift hits every CPU count alike (default: 1)",
    )
    p.add_argument(
        "--ceiling",
        action="store_true",
        help="also measure each workload's parallel ceiling on this machine: its sequential variant "
        "alone vs in N plain processes at once (no Ray), N = the largest CPU count",
    )
    p.add_argument(
        "--cpus",
        type=_ints,
        default=None,
        help="CPU counts of the local Ray, e.g. 1,2 (default: 1 and all); ignored with RAY_ADDRESS",
    )
    p.add_argument(
        "--variants",
        default="sequential,ray,peer",
        help="variant kinds to run (default: sequential,ray,peer; sequential is always run)",
    )
    p.add_argument(
        "--warmup", type=int, default=1, help="untimed calls per variant before timing (default: 1)"
    )
    p.add_argument(
        "--budget",
        type=float,
        default=None,
        help="seconds per workload and Ray session after which no further round starts",
    )
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"report folder (default: {DEFAULT_OUT})")
    p.add_argument(
        "--merge",
        action="store_true",
        help="keep the workloads of an earlier run in --out that this run does not run",
    )
    p.add_argument("--list", action="store_true", help="list the workloads each service offers and exit")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def http_parser() -> argparse.ArgumentParser:
    from services.bench.httpload import PATH_SETS

    p = argparse.ArgumentParser(
        prog="raysvc bench http",
        description="HTTP load against running services (`raysvc up`, or port-forwarded): requests/s, "
        "p50/p95/p99 latency and errors per concurrency level for a representative request of each "
        "service. Loopback URLs only, unless given with --url-<service>.",
    )
    p.add_argument("--concurrency", type=_ints, default=(1, 8, 64), help="levels (default: 1,8,64)")
    p.add_argument(
        "--requests", type=int, default=2000, help="at most this many requests per level (default: 2000)"
    )
    p.add_argument(
        "--duration", type=float, default=10.0, help="at most this many seconds per level (default: 10)"
    )
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per request (default: 30)")
    p.add_argument("--warmup", type=int, default=5, help="untimed requests per level (default: 5)")
    p.add_argument("--service", type=_names, default=None, help="service(s) to load (default: all)")
    for name in SERVICES:
        p.add_argument(
            f"--url-{name}",
            default=None,
            metavar="URL",
            help=f"{name} base URL (default: http://127.0.0.1:<{name} port>)",
        )
    p.add_argument(
        "--api-key",
        default=os.environ.get("RAYSVC_API_KEY"),
        help="API key for services started with keys (raysvc up --auth; default: $RAYSVC_API_KEY)",
    )
    p.add_argument(
        "--sentiment-model", default="ml:fast", help="model of the scoring request (default: ml:fast)"
    )
    p.add_argument(
        "--paths",
        choices=PATH_SETS,
        default="v1",
        help="v1: a representative /v1 request per service; legacy: the original project's paths with its "
        "request bodies; all: both (default: v1)",
    )
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"report folder (default: {DEFAULT_OUT})")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


@contextmanager
def progress_bar(total: int, quiet: bool) -> Iterator[Callable[[int, str], None]]:
    """A rich progress bar driven by ``update(advance, description)``."""
    if quiet:
        yield lambda _n, _d: None
        return
    with Progress(
        TextColumn("[bold]{task.description:<60.60}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task("starting", total=total)

        def update(advance: int, description: str) -> None:
            bar.update(task, advance=advance, description=description)

        yield update
        bar.update(task, completed=total, description="done")


def _print_written(written: dict[str, Path]) -> None:
    for name, path in written.items():
        console.print(f"  {name:<16} {path}")


def _headline_table(results: dict) -> Table:
    """Every variant of every workload: median, min-max, throughput, ratio, check."""
    from services.bench.report import check_text, fmt_rate, fmt_s, fmt_x, variant_order

    table = Table(
        title=f"raysvc bench — size {results['options']['size']}, medians of "
        f"{results['options']['repeat']} round(s)",
        title_justify="left",
    )
    for col in ("workload", "variant", "median", "min – max", "throughput", "× seq", "× peer", "result"):
        table.add_column(
            col, justify="right" if col in ("median", "throughput", "× seq", "× peer") else "left"
        )
    for w in results["workloads"]:
        first = True
        if w.get("error"):
            table.add_row(w["key"], "–", "", "", "", "", "", f"[red]{w['error']}[/red]")
        for label, v in sorted(w["variants"].items(), key=lambda kv: variant_order(*kv)):
            check = check_text(v).replace("**", "")
            style = "red" if (v.get("same_result") is False or v.get("error")) else ""
            table.add_row(
                w["key"] if first else "",
                label,
                fmt_s(v.get("median_s")),
                f"{fmt_s(v.get('min_s'))} – {fmt_s(v.get('max_s'))}",
                f"{fmt_rate(v.get('per_s'))} {w['unit']}/s" if v.get("per_s") else "–",
                fmt_x(v.get("ratio_vs_sequential")),
                fmt_x(v.get("ratio_vs_peer")),
                f"[{style}]{check}[/{style}]" if style else check,
            )
            first = False
        for v, why in (w.get("skipped") or {}).items():
            table.add_row(
                w["key"] if first else "", v, "", "", "", "", "", f"[yellow]skipped: {why}[/yellow]"
            )
            first = False
        table.add_section()
    return table


def run_bench(argv: Sequence[str]) -> int:
    import ray

    from services.bench import protocol, report
    from services.bench.harness import BenchError, Harness, Options, plan_sessions

    args = bench_parser().parse_args(argv)
    workloads, skipped = protocol.discover(args.service)
    if args.workload:
        wanted = [w.strip() for w in args.workload.split(",") if w.strip()]
        workloads = [w for w in workloads if any(x in w.key for x in wanted)]
    for name, why in skipped.items():
        console.print(f"[yellow]skipping {name}[/yellow]: {why}")
    if args.list:
        for w in workloads:
            console.print(f"{w.key:<32} variants {', '.join(w.variants)}  {w.description}")
        return 0
    if not workloads:
        console.print("[red]no workloads to run[/red] (see the reasons above)")
        return 2
    try:
        opts = Options(
            size=args.size,
            repeat=args.repeat,
            cpus=args.cpus,
            address=os.environ.get("RAY_ADDRESS") or None,
            kinds=tuple(k.strip() for k in args.variants.split(",") if k.strip()),
            warmup=args.warmup,
            budget_s=args.budget,
            cycles=args.cycles,
            ceiling=args.ceiling,
        )
    except BenchError as exc:
        console.print(f"[red]{exc}[/red]")
        return 2
    if opts.address and args.cpus:
        console.print(
            f"[yellow]RAY_ADDRESS={opts.address}: --cpus ignored, the cluster's CPUs are used[/yellow]"
        )
    harness = Harness(workloads, opts, skipped_services=skipped)
    total = harness.total_steps(plan_sessions(opts, attached=ray.is_initialized()))
    logging.getLogger("services.bench").setLevel(logging.WARNING)
    try:
        with progress_bar(total, args.quiet) as update:
            harness.progress = update
            results = harness.run()
    except BenchError as exc:
        console.print(f"[red]benchmark could not run: {exc}[/red]")
        return 1
    written = report.write(args.out, bench=results, merge=args.merge)
    wide = console if console.is_terminal else Console(stderr=True, width=160)  # logs and CI: no wrapping
    wide.print(_headline_table(results))
    _print_written(written)
    if not results["ok"]:
        bad = [w for w in results["workloads"] if w["status"] != "ok"]
        console.rule("[bold red]BENCHMARK FAILED[/bold red]")
        for w in bad:
            detail = w.get("error") or "; ".join(
                f"{lbl}: {w['variants'][lbl]['error'] or w['variants'][lbl]['check']}"
                for lbl in w["mismatched"] + w["failed"]
            )
            console.print(f"[bold red]{w['key']}: {w['status']}[/bold red] — {detail}")
        console.rule(style="red")
        return 3
    return 0


def run_http(argv: Sequence[str]) -> int:
    from services.bench import httpload, report

    args = http_parser().parse_args(argv)
    defaults = httpload.default_urls()
    names = args.service or list(SERVICES)
    urls = {}
    for name in names:
        given = getattr(args, f"url_{name}")
        url = (given or defaults[name]).rstrip("/")
        if not given and not httpload.is_loopback(url):
            console.print(
                f"[red]{name}: {url} is not a loopback URL; pass it with --url-{name} to load it[/red]"
            )
            return 2
        urls[name] = url
    try:
        opts = httpload.LoadOptions(
            concurrency=args.concurrency,
            requests=args.requests,
            duration_s=args.duration,
            timeout_s=args.timeout,
            warmup=args.warmup,
            api_key=args.api_key,
        )
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        return 2
    target_list = [t for t in httpload.targets(args.sentiment_model, args.paths) if t.service in ("*", *urls)]
    total = len(target_list) * len(opts.concurrency)
    with progress_bar(total, args.quiet) as update:
        results = asyncio.run(httpload.run_load(urls, opts, target_list=target_list, progress=update))
    for name, why in results["skipped_services"].items():
        console.print(f"[yellow]{name} not measured[/yellow]: {why}")
    for t in results["targets"]:
        if t.get("skipped") and t["service"] not in results["skipped_services"]:
            console.print(f"[yellow]{t['name']} skipped[/yellow]: {t['skipped']}")
    written = report.write(args.out, http=results)
    _print_written(written)
    s = results["summary"]
    console.print(
        f"measured {s['measured']} target(s); zero errors at max concurrency: "
        f"{s['zero_errors_at_max_concurrency']}; light endpoints ≥ 1,000 rps at 8: {s['light_rps_at_8_ge_1000']}"
    )
    return 0 if s["measured"] else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``raysvc bench`` (``services.cli`` dispatches here)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        if argv and argv[0] == "http":
            return run_http(argv[1:])
        if argv and argv[0] == "sentiment-models":
            from services.sentiment.bench import run_model_comparison

            return run_model_comparison(argv[1:])
        return run_bench(argv)
    except SystemExit as exc:  # argparse --help / errors
        return int(exc.code or 0)


if __name__ == "__main__":
    raise SystemExit(main())
