"""Write a benchmark's results: ``results.json`` (every figure), ``report.md`` (tables), PNG plots.

``results.json`` holds two sections, ``bench`` (the harness) and ``http`` (the load tool); running one
keeps the other's section when the same ``--out`` folder is reused, and ``report.md`` covers both.
``headline.md`` is the short table meant for the README.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = "results.json"


# --- formatting -------------------------------------------------------------------------------------
def fmt_s(seconds: float | None) -> str:
    """Seconds with a unit that keeps 3 significant digits."""
    if seconds is None:
        return "–"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds:.3g} s"


def fmt_x(x: float | None) -> str:
    if x is None:
        return "–"
    return f"{x:.2f}×" if x >= 0.1 else f"{x:.2g}×"


def fmt_rate(x: float | None) -> str:
    if x is None:
        return "–"
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


def check_text(v: dict[str, Any]) -> str:
    if v.get("error"):
        return f"**ERROR**: {v['error']}"
    if v.get("same_result") is True:
        n = v.get("checks")
        if v.get("kind") == "sequential":
            return f"reference (✅ reproduced {n}/{n})" if n else "reference"
        return f"✅ same ({n}/{n})" if n else "✅ same"
    if v.get("same_result") is False:
        return f"❌ **{v.get('check') or 'DIFFERENT RESULT'}**"
    return v.get("check") or "not checked"


def variant_order(label: str, v: dict[str, Any]) -> tuple[int, int, str]:
    return ({"sequential": 0, "ray": 1, "peer": 2}.get(v["kind"], 3), v.get("cpus") or 0, label)


# --- results.json -----------------------------------------------------------------------------------
def load(out: Path) -> dict[str, Any]:
    """The results in ``out`` (empty sections when there are none yet)."""
    path = Path(out) / RESULTS
    if path.exists():
        try:
            data = json.loads(path.read_text())
            if isinstance(data, dict):
                return data
        except json.JSONDecodeError:
            pass
    return {}


def _clean(obj: Any) -> Any:
    """JSON-safe copy: NaN/inf become null, numpy scalars plain numbers."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def merge_bench(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """``new`` plus the workloads of ``old`` it did not run (each keeps its own ``measured`` date, and the
    run's ``earlier_runs`` lists the dates and options merged in)."""
    if not old or not old.get("workloads"):
        return new
    keys = {w["key"] for w in new["workloads"]}
    kept = [
        w | {"measured": w.get("measured") or old.get("created")}
        for w in old["workloads"]
        if w["key"] not in keys
    ]
    if not kept:
        return new
    merged = dict(new)
    merged["workloads"] = [
        w | {"measured": w.get("measured") or new.get("created")} for w in new["workloads"]
    ] + kept
    merged["earlier_runs"] = [
        *old.get("earlier_runs", []),
        {
            "created": old.get("created"),
            "options": old.get("options"),
            "machine": old.get("machine"),
            "workloads": [w["key"] for w in kept],
        },
    ]
    merged["skipped_services"] = {
        k: v for k, v in new.get("skipped_services", {}).items() if not any(w["service"] == k for w in kept)
    }
    merged["ok"] = all(w["status"] == "ok" for w in merged["workloads"])
    return merged


def write(
    out: Path, *, bench: dict[str, Any] | None = None, http: dict[str, Any] | None = None, merge: bool = False
) -> dict[str, Path]:
    """Put the new section(s) into ``out/results.json`` (with ``merge``, the workloads of an earlier bench
    run there that this one did not run are kept), then write ``report.md``, ``headline.md`` and the
    plots. Returns name → path of everything written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data = load(out)
    if bench is not None:
        data["bench"] = merge_bench(data.get("bench"), bench) if merge else bench
    if http is not None:
        data["http"] = http
    data = _clean(data)
    written = {"results": out / RESULTS}
    (out / RESULTS).write_text(json.dumps(data, indent=2) + "\n")
    written |= plots(out, data)
    (out / "report.md").write_text(
        markdown(data, {k: p.name for k, p in written.items() if p.suffix == ".png"})
    )
    written["report"] = out / "report.md"
    if data.get("bench"):
        (out / "headline.md").write_text(headline(data["bench"]))
        written["headline"] = out / "headline.md"
    return written


# --- markdown ---------------------------------------------------------------------------------------
def headline(bench: dict[str, Any]) -> str:
    """One row per workload: sequential median, the best Ray and the peer against it, the checks."""
    m = bench.get("machine", {})
    lines = [
        f"Measured {bench.get('created', '?')} on {m.get('cpu_model', '?')} ({m.get('usable_cpus', '?')} CPUs, "
        f"{m.get('memory_gb', '?')} GB; load average {m.get('load_average_start')}), size "
        f"`{bench.get('options', {}).get('size')}`, {bench.get('options', {}).get('repeat')} timed rounds, medians.",
        "",
        "| workload | sequential | Ray (CPUs) | Ray × seq | peer | peer × seq | Ray × peer "
        "| service throughput (best) | same result |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for w in bench.get("workloads", []):
        vs = w.get("variants", {})
        seq = vs.get("sequential", {})
        rays = [(lbl, v) for lbl, v in vs.items() if v["kind"] == "ray" and v.get("median_s")]
        best_ray: tuple[str | None, dict] = max(
            rays, key=lambda x: x[1].get("ratio_vs_sequential") or 0, default=(None, {})
        )
        ref = w.get("peer_reference")
        peer = (ref, vs[ref]) if ref in vs else (None, {})
        peer_name = f"{ref}{' (other model)' if peer[1].get('same_result') is None else ''}" if ref else ""
        rates = [v.get("per_s") for v in vs.values() if v.get("per_s") and v["kind"] != "peer"]
        best_rate = f"{fmt_rate(max(rates))} {w.get('unit')}/s" if rates else "–"
        checks = "✅" if w.get("status") == "ok" else f"❌ {w.get('status')}"
        ray_cpus = f" ({best_ray[1].get('cpus')})" if best_ray[0] else ""
        lines.append(
            f"| {w['key']} | {fmt_s(seq.get('median_s'))} | {fmt_s(best_ray[1].get('median_s'))}{ray_cpus} | "
            f"{fmt_x(best_ray[1].get('ratio_vs_sequential'))} | "
            f"{(peer_name + ' ' + fmt_s(peer[1].get('median_s'))) if peer[0] else '–'} | "
            f"{fmt_x(peer[1].get('ratio_vs_sequential'))} | {fmt_x(best_ray[1].get('ratio_vs_peer'))} | "
            f"{best_rate} | {checks} |"
        )
    lines.append("")
    for e in bench.get("earlier_runs", []):
        lines.append(f"Rows {', '.join(e['workloads'])} come from an earlier run ({e.get('created')}).")
    lines.append("")
    lines.append(
        "× seq = median time of `sequential` / median time of the variant (> 1: faster than sequential); "
        "Ray × peer = the peer's median / the best Ray median (> 1: Ray faster than the peer library); "
        "`(other model)`: the peer does comparable work with a different model, so its results are not "
        "checked; throughput: the best of the service's own variants."
    )
    return "\n".join(lines) + "\n"


def _ceiling_lines(m: dict[str, Any]) -> list[str]:
    probes = m.get("parallel_ceiling") or []
    if not probes:
        return []
    n = probes[0]["processes"]
    return [
        f"- the machine's own parallel ceiling (a fixed CPU-bound unit alone vs in {n} processes at once, no "
        f"Ray): " + " and ".join(f"{p['ceiling']:.2f}×" for p in probes) + " (start, end of the run); "
        f"Ray's speed-up at {n} CPUs cannot exceed it"
    ]


def _bench_md(bench: dict[str, Any], pngs: dict[str, str]) -> list[str]:
    m, opts = bench.get("machine", {}), bench.get("options", {})
    ver = bench.get("versions", {})
    lines = [
        "## Workloads: sequential vs Ray vs peer",
        "",
        f"- date: {bench.get('created')} (took {bench.get('elapsed_s')} s); commit `{bench.get('git_commit')}`",
        f"- machine: {m.get('cpu_model')}; {m.get('usable_cpus')} usable CPUs ({m.get('logical_cpus')} logical, "
        f"{m.get('physical_cores')} physical); {m.get('memory_gb')} GB; {m.get('os')}; load average "
        f"{m.get('load_average_start')} at start, {m.get('load_average_end')} at end",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in ver.items() if v),
        *_ceiling_lines(m),
        f"- options: size `{opts.get('size')}`, {opts.get('repeat')} timed round(s) after {opts.get('warmup')} "
        f"warm-up call(s) per variant, variants alternated each round; Ray: "
        + "; ".join(
            f"{s['mode']} {s.get('cpus')} CPUs (start {s.get('start_s')} s)"
            for s in bench.get("ray", {}).get("sessions", [])
        ),
        "",
        "Ratio (×) = median time of `sequential` / median time of the variant: above 1 the variant is faster. "
        "Same result: every result of the variant (warm-up and timed calls) checked against the first "
        "sequential result with the workload's `same_result` at the stated tolerance (passed/checked).",
        "",
    ]
    for e in bench.get("earlier_runs", []):
        lines.insert(
            -3,
            f"- merged from an earlier run ({e.get('created')}, size `{(e.get('options') or {}).get('size')}`, "
            f"load average {(e.get('machine') or {}).get('load_average_start')}): {', '.join(e['workloads'])}",
        )
    if not bench.get("ok", False):
        bad = [w["key"] for w in bench.get("workloads", []) if w.get("status") != "ok"]
        lines += [
            f"> **FAILED** — workloads with a different result or an error: {', '.join(bad) or 'none ran'}",
            "",
        ]
    lines += ["### Headline", "", *headline(bench).splitlines(), ""]
    for name, why in bench.get("skipped_services", {}).items():
        lines.append(f"- service `{name}` skipped: {why}")
    if bench.get("skipped_services"):
        lines.append("")
    for w in bench.get("workloads", []):
        lines += [f"### {w['key']} — {w.get('status')}", ""]
        if w.get("description"):
            lines += [w["description"], ""]
        meta = [f"size `{w.get('size')}`"]
        if w.get("units"):
            meta.append(f"{w['units']:,} {w.get('unit')} per run")
        if w.get("tolerance"):
            meta.append(f"tolerance: {w['tolerance']}")
        if w.get("build_s") is not None:
            meta.append(f"inputs built in {fmt_s(w['build_s'])}")
        lines += ["; ".join(meta), ""]
        if w.get("error"):
            lines += [f"**ERROR**: {w['error']}", ""]
        if w.get("variants"):
            lines += [
                f"| variant | n | min | median | max | {w.get('unit')}/s | × vs sequential | × vs peer | same result |",
                "|---|---|---|---|---|---|---|---|---|",
            ]
            for label, v in sorted(w["variants"].items(), key=lambda kv: variant_order(*kv)):
                lines.append(
                    f"| {label} | {v.get('n')} | {fmt_s(v.get('min_s'))} | {fmt_s(v.get('median_s'))} | "
                    f"{fmt_s(v.get('max_s'))} | {fmt_rate(v.get('per_s'))} | {fmt_x(v.get('ratio_vs_sequential'))} | "
                    f"{fmt_x(v.get('ratio_vs_peer'))} | {check_text(v)} |"
                )
            lines.append("")
        for v, c in (w.get("scaling") or {}).items():
            base = c.get("base_cpus")
            pts = ", ".join(f"{k} CPUs {fmt_x(x)}" for k, x in c.items() if k != "base_cpus")
            lines += [f"Ray scaling of `{v}` against {base} CPU(s): {pts}.", ""]
        ceil = w.get("ceiling")
        if ceil and "ceiling" in ceil:
            lines += [
                f"This machine's ceiling for this workload (its sequential variant alone vs in "
                f"{ceil['processes']} plain processes at once, no Ray, {ceil['rounds']} rounds): "
                f"{fmt_x(ceil['ceiling'])}.",
                "",
            ]
        elif ceil:
            lines += [f"Ceiling not measured: {ceil.get('error')}", ""]
        for v, why in (w.get("skipped") or {}).items():
            lines += [f"- `{v}` skipped: {why}"]
        if w.get("skipped"):
            lines.append("")
    for key in ("speedup", "throughput"):
        if key in pngs:
            lines += [f"![{key}]({pngs[key]})", ""]
    return lines


def _bytes(n: float | None) -> str:
    if n is None:
        return "–"
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB" if n >= 1e3 else f"{n:.0f} B"


def _ran_on(counts: dict[str, int] | None) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) if counts else "–"


def _http_md(http: dict[str, Any], pngs: dict[str, str]) -> list[str]:
    m, opts = http.get("machine", {}), http.get("options", {})
    lines = [
        "## HTTP load",
        "",
        f"- date: {http.get('created')}; client on {m.get('cpu_model')} ({m.get('usable_cpus')} CPUs, load "
        f"average {m.get('load_average_start')} at start); client and services share the machine",
        f"- options: concurrency {opts.get('concurrency')}, at most {opts.get('requests')} requests and "
        f"{opts.get('duration_s')} s per level, request timeout {opts.get('timeout_s')} s, "
        f"{opts.get('warmup')} warm-up request(s) per target",
        "- rps = successful requests / wall time of the level; latencies of successful requests; errors = "
        "non-2xx answers, timeouts and connection failures",
        "",
        "- bytes = mean response body; ran on = the service's own count of where the level's computations ran "
        "(`raysvc_computations_total`: `ray` or `in_process`; – when it serves no metrics or computes nothing)",
        "- engine = p50 of the engine time the service reports (`Server-Timing: engine`) where the engine ran "
        "in the service process; overhead = p50 of each request's latency minus its engine time (#19's budget: "
        "≤ 3 ms at concurrency 1)",
        "",
        "| target | request | concurrency | requests | rps | p50 | p95 | p99 | max | engine | overhead | errors "
        "| bytes | ran on | client CPU |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for t in http.get("targets", []):
        req = f"{t['method']} {t['url']}"
        if t.get("skipped"):
            lines.append(
                f"| {t['name']} | {req} | – | – | – | – | – | – | – | – | – | skipped: {t['skipped']} | – | – | – |"
            )
            continue
        for lv in t.get("levels", []):
            errs = lv.get("errors", 0)
            err_txt = (
                f"**{errs}** ({', '.join(f'{k}: {v}' for k, v in lv.get('error_kinds', {}).items())})"
                if errs
                else "0"
            )
            lines.append(
                f"| {t['name']} | {req} | {lv['concurrency']} | {lv['requests']} | {fmt_rate(lv.get('rps'))} | "
                f"{fmt_s(lv.get('p50_s'))} | {fmt_s(lv.get('p95_s'))} | {fmt_s(lv.get('p99_s'))} | "
                f"{fmt_s(lv.get('max_s'))} | {fmt_s(lv.get('engine_p50_s'))} | "
                f"{fmt_s(lv.get('overhead_p50_s'))} | {err_txt} | {_bytes(lv.get('bytes_mean'))} | "
                f"{_ran_on(lv.get('computed_on'))} | {lv.get('client_cpu_pct', 0):.0f} % |"
            )
    lines.append("")
    for name, why in http.get("skipped_services", {}).items():
        lines.append(f"- service `{name}` not measured: {why}")
    lines.append("")
    for key in ("http_latency", "http_throughput"):
        if key in pngs:
            lines += [f"![{key}]({pngs[key]})", ""]
    return lines


def markdown(data: dict[str, Any], pngs: dict[str, str]) -> str:
    lines = ["# Ray Services — benchmark report", ""]
    if data.get("bench"):
        lines += _bench_md(data["bench"], pngs)
    if data.get("http"):
        lines += _http_md(data["http"], pngs)
    lines += [
        "Reproduce: `raysvc bench --size SIZE --repeat N --cpus 1,2 --out DIR` and "
        "`raysvc bench http --out DIR` (see docs/bench.md).",
        "",
    ]
    return "\n".join(lines)


# --- plots ------------------------------------------------------------------------------------------
def _grid(n: int) -> tuple[int, int]:
    cols = min(3, max(1, n))
    return math.ceil(n / cols), cols


def plots(out: Path, data: dict[str, Any]) -> dict[str, Path]:
    """The PNGs for what ``data`` holds: speedup vs CPUs (with the ideal line), throughput per variant,
    HTTP latency percentiles and throughput vs concurrency."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    written: dict[str, Path] = {}
    bench = data.get("bench") or {}
    workloads = [w for w in bench.get("workloads", []) if w.get("variants")]

    # speedup vs CPUs
    scaled = [
        w for w in workloads if any(v["kind"] == "ray" and v.get("median_s") for v in w["variants"].values())
    ]
    if scaled:
        rows, cols = _grid(len(scaled))
        fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.8 * rows), squeeze=False)
        for ax, w in zip(axes.flat, scaled, strict=False):
            vs = w["variants"]
            seq = vs.get("sequential", {}).get("median_s")
            all_cpus = sorted({v["cpus"] for v in vs.values() if v["kind"] == "ray" and v.get("cpus")})
            top = max([*all_cpus, 1])
            ax.plot([1, top], [1, top], "k--", lw=1, label="ideal (linear in CPUs)")
            for name in sorted({v["variant"] for v in vs.values() if v["kind"] == "ray"}):
                pts = sorted(
                    (v["cpus"], v["median_s"])
                    for v in vs.values()
                    if v["variant"] == name and v.get("median_s") and v.get("cpus")
                )
                if pts and seq:
                    ax.plot(
                        [c for c, _ in pts], [seq / m for _, m in pts], "o-", label=f"{name} vs sequential"
                    )
            for lbl, v in vs.items():  # peers doing the same work (not another model's) as a reference line
                if v["kind"] == "peer" and v.get("ratio_vs_sequential") and v.get("same_result") is not None:
                    ax.axhline(
                        v["ratio_vs_sequential"], ls=":", lw=1.2, color="tab:red", label=f"{lbl} (1 process)"
                    )
            ax.set_title(w["key"], fontsize=10)
            ax.set_xlabel("Ray CPUs")
            ax.set_ylabel("speedup (× sequential)")
            ax.set_ylim(bottom=0)
            ax.set_xticks(range(1, top + 1) if top <= 16 else all_cpus)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
        for ax in list(axes.flat)[len(scaled) :]:
            ax.axis("off")
        fig.suptitle(f"Speedup vs CPUs (size {bench.get('options', {}).get('size')}, medians)")
        fig.tight_layout()
        written["speedup"] = out / "speedup.png"
        fig.savefig(written["speedup"], dpi=110)
        plt.close(fig)

    # throughput per variant
    if workloads:
        rows, cols = _grid(len(workloads))
        fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.4 * rows), squeeze=False)
        for ax, w in zip(axes.flat, workloads, strict=False):
            items = sorted(
                ((lbl, v) for lbl, v in w["variants"].items() if v.get("median_s")),
                key=lambda kv: variant_order(*kv),
            )
            if not items:
                ax.axis("off")
                continue
            per_s = [v.get("per_s") or 1.0 / v["median_s"] for _, v in items]
            lo = [(w.get("units") or 1) / v["max_s"] for _, v in items]
            hi = [(w.get("units") or 1) / v["min_s"] for _, v in items]
            err = np.array(
                [
                    [p - a for p, a in zip(per_s, lo, strict=True)],
                    [b - p for p, b in zip(per_s, hi, strict=True)],
                ]
            )
            colors = [
                "tab:gray" if v["kind"] == "sequential" else "tab:blue" if v["kind"] == "ray" else "tab:red"
                for _, v in items
            ]
            ax.barh([lbl for lbl, _ in items], per_s, xerr=np.clip(err, 0, None), color=colors, capsize=3)
            ax.invert_yaxis()
            if max(per_s) > 30 * min(per_s):
                ax.set_xscale("log")
            ax.set_xlabel(f"{w.get('unit') if w.get('units') else 'runs'}/s (median; bars: min-max)")
            ax.set_title(w["key"], fontsize=10)
            ax.grid(axis="x", alpha=0.3)
        for ax in list(axes.flat)[len(workloads) :]:
            ax.axis("off")
        fig.tight_layout()
        written["throughput"] = out / "throughput.png"
        fig.savefig(written["throughput"], dpi=110)
        plt.close(fig)

    # HTTP
    targets = [t for t in (data.get("http") or {}).get("targets", []) if t.get("levels")]
    if targets:
        rows, cols = _grid(len(targets))
        fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.6 * rows), squeeze=False)
        for ax, t in zip(axes.flat, targets, strict=False):
            lv = [x for x in t["levels"] if x.get("p50_s") is not None]
            conc = [x["concurrency"] for x in lv]
            for key, style in (("p50_s", "o-"), ("p95_s", "s-"), ("p99_s", "^-")):
                ax.plot(conc, [x[key] * 1e3 for x in lv], style, label=key[:3])
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xticks(conc, [str(c) for c in conc])
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
            ax.yaxis.set_minor_formatter(FuncFormatter(lambda _v, _pos: ""))
            ax.set_xlabel("concurrency")
            ax.set_ylabel("latency (ms)")
            ax.set_title(t["name"], fontsize=10)
            ax.grid(alpha=0.3, which="both")
            ax.legend(fontsize=7)
        for ax in list(axes.flat)[len(targets) :]:
            ax.axis("off")
        fig.tight_layout()
        written["http_latency"] = out / "http_latency.png"
        fig.savefig(written["http_latency"], dpi=110)
        plt.close(fig)

        fig, ax = plt.subplots(figsize=(6.5, 4))
        for t in targets:
            ax.plot(
                [x["concurrency"] for x in t["levels"]],
                [x.get("rps") or 0 for x in t["levels"]],
                "o-",
                label=t["name"],
            )
        ax.set_xscale("log", base=2)
        levels = sorted({x["concurrency"] for t in targets for x in t["levels"]})
        ax.set_xticks(levels, [str(c) for c in levels])
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
        ax.set_xlabel("concurrency")
        ax.set_ylabel("successful requests/s")
        ax.set_title("HTTP throughput vs concurrency")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        written["http_throughput"] = out / "http_throughput.png"
        fig.savefig(written["http_throughput"], dpi=110)
        plt.close(fig)
    return written
