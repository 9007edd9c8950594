"""The report writer: results.json sections merge, report.md tables, PNG plots."""

from __future__ import annotations

import json

import pytest

from services.bench import report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _variant(kind, cpus, times, same=True, check="same result", units=100):
    med = sorted(times)[len(times) // 2]
    return {
        "variant": kind,
        "kind": kind,
        "cpus": cpus,
        "times_s": times,
        "n": len(times),
        "min_s": min(times),
        "median_s": med,
        "max_s": max(times),
        "mean_s": sum(times) / len(times),
        "per_s": units / med,
        "ratio_vs_sequential": 1.0 / med,
        "ratio_vs_peer": 10.0 / med,
        "same_result": same,
        "check": check,
        "checks": 3,
        "error": None,
    }


@pytest.fixture(scope="module")
def bench_results():
    return {
        "schema": "raysvc-bench/1",
        "created": "2025-01-01T00:00:00+00:00",
        "elapsed_s": 1.0,
        "machine": {
            "cpu_model": "Test CPU",
            "usable_cpus": 2,
            "memory_gb": 8.0,
            "load_average_start": [1, 1, 1],
            "parallel_ceiling": [
                {"processes": 2, "alone_s": 0.3, "together_s": 0.4, "ceiling": 1.5},
                {"processes": 2, "alone_s": 0.3, "together_s": 0.33, "ceiling": 1.82},
            ],
        },
        "versions": {"ray": "2.60.0"},
        "git_commit": "abc",
        "options": {"size": "tiny", "repeat": 3, "warmup": 1},
        "ray": {"mode": "local", "sessions": [{"mode": "local", "cpus": 1}, {"mode": "local", "cpus": 2}]},
        "skipped_services": {"garch": "services/garch/bench.py does not exist yet"},
        "workloads": [
            {
                "key": "intraday/grid",
                "service": "intraday",
                "workload": "grid",
                "description": "d",
                "size": "tiny",
                "tolerance": "rtol=1e-9",
                "unit": "backtests",
                "units": 100,
                "build_s": 0.1,
                "rounds": [3, 3],
                "variants": {
                    "sequential": _variant("sequential", None, [1.0, 1.1, 0.9], check="reference"),
                    "ray@1": _variant("ray", 1, [1.2, 1.3, 1.1]),
                    "ray@2": _variant("ray", 2, [0.6, 0.7, 0.65]),
                    "peer": _variant("peer", None, [9.0, 10.0, 11.0], same=False, check="DIFFERENT RESULT"),
                },
                "skipped": {},
                "not_comparable": {},
                "error": None,
                "peer_reference": "peer",
                "scaling": {"ray": {"1": 1.0, "2": 1.8, "base_cpus": 1}},
                "ceiling": {
                    "processes": 2,
                    "rounds": 2,
                    "alone_s": [1.0, 1.0],
                    "together_s": [1.1, 1.2],
                    "ceiling": 1.739,
                },
                "status": "mismatch",
                "mismatched": ["peer"],
                "failed": [],
            }
        ],
        "ok": False,
    }


@pytest.fixture(scope="module")
def http_results():
    level = {
        "concurrency": 1,
        "requests": 10,
        "ok": 10,
        "errors": 0,
        "error_kinds": {},
        "wall_s": 1.0,
        "rps": 10.0,
        "p50_s": 0.01,
        "p95_s": 0.02,
        "p99_s": 0.03,
        "max_s": 0.04,
        "mean_s": 0.01,
        "client_cpu_pct": 5.0,
    }
    return {
        "created": "2025-01-01",
        "machine": {},
        "options": {"concurrency": [1, 8]},
        "skipped_services": {},
        "targets": [
            {
                "name": "health",
                "service": "intraday",
                "method": "GET",
                "url": "http://127.0.0.1:1/healthz",
                "levels": [level, level | {"concurrency": 8, "errors": 2, "error_kinds": {"HTTP 503": 2}}],
            },
            {
                "name": "score",
                "service": "sentiment",
                "method": "POST",
                "url": "http://127.0.0.1:2/x",
                "levels": [],
                "skipped": "not reachable",
            },
        ],
    }


def test_write_bench_then_http_keeps_both_sections(tmp_path, bench_results, http_results):
    written = report.write(tmp_path, bench=bench_results)
    assert {"results", "report", "headline", "speedup", "throughput"} <= set(written)
    written = report.write(tmp_path, http=http_results)
    data = json.loads((tmp_path / "results.json").read_text())
    assert (
        data["bench"]["workloads"][0]["key"] == "intraday/grid"
        and data["http"]["targets"][0]["name"] == "health"
    )
    assert {"http_latency", "http_throughput", "speedup"} <= set(written)
    for key in ("speedup", "throughput", "http_latency", "http_throughput"):
        assert written[key].read_bytes()[:8] == PNG_MAGIC


def test_report_markdown_shows_tables_failures_and_skips(tmp_path, bench_results, http_results):
    report.write(tmp_path, bench=bench_results, http=http_results)
    md = (tmp_path / "report.md").read_text()
    assert "**FAILED**" in md and "intraday/grid" in md
    assert "| ray@2 | 3 | 600 ms | 650 ms | 700 ms | 154 | 1.54× | 15.38× | ✅ same (3/3) |" in md
    assert (
        "| sequential | 3 | 900 ms | 1 s | 1.1 s | 100 | 1.00× | 10.00× | reference (✅ reproduced 3/3) |"
        in md
    )
    assert "❌ **DIFFERENT RESULT**" in md
    assert "Ray scaling of `ray` against 1 CPU(s): 1 CPUs 1.00×, 2 CPUs 1.80×." in md
    assert "service `garch` skipped" in md
    assert "in 2 processes at once, no Ray): 1.50× and 1.82× (start, end of the run)" in md
    assert (
        "This machine's ceiling for this workload (its sequential variant alone vs in 2 plain processes" in md
    )
    assert "no Ray, 2 rounds): 1.74×." in md
    assert "**2** (HTTP 503: 2)" in md and "skipped: not reachable" in md
    assert "![speedup](speedup.png)" in md
    head = (tmp_path / "headline.md").read_text()
    assert (
        "| intraday/grid | 1 s | 650 ms (2) | 1.54× | peer 10 s | 0.10× | 15.38× | 154 backtests/s | ❌ mismatch |"
        in head
    )  # the peer's 10/s is not the service's


@pytest.mark.slow
def test_workload_ceiling_runs_the_sequential_variant_in_processes():
    """The per-workload ceiling builds the workload in each process and times its sequential variant
    alone and in two processes at once (tiny size; only the shape is checked, the value is the machine's)."""
    from services.bench.harness import workload_ceiling

    c = workload_ceiling("portfolio/walk_forward", "tiny", 2, rounds=1)
    assert c["processes"] == 2 and len(c["alone_s"]) == len(c["together_s"]) == 1
    # the value is the machine's at that moment (a noisy tiny unit can read above 2): check the formula
    assert c["alone_s"][0] > 0 and c["ceiling"] == round(2 * c["alone_s"][0] / c["together_s"][0], 3)


def test_parallel_ceiling_probe():
    """The machine probe really runs the unit alone and in two processes; its ratio is a positive number
    (its value depends on the machine at that moment, so only its shape is checked)."""
    from services.bench.machine import parallel_ceiling

    probe = parallel_ceiling(2, work=200_000, rounds=1)
    assert probe["processes"] == 2 and probe["alone_s"] > 0 and probe["together_s"] > 0
    assert probe["ceiling"] == pytest.approx(2 * probe["alone_s"] / probe["together_s"], rel=1e-2)
    assert parallel_ceiling(1) is None


def test_non_finite_numbers_become_null(tmp_path):
    report.write(tmp_path, http={"targets": [], "x": float("nan"), "y": [float("inf"), 1.0]})
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["http"]["x"] is None and data["http"]["y"] == [None, 1.0]


@pytest.mark.parametrize(
    ("s", "text"),
    [(None, "–"), (5e-6, "5 µs"), (0.0123, "12.3 ms"), (2.345, "2.35 s")],
    ids=["none", "us", "ms", "s"],
)
def test_seconds_formatting(s, text):
    assert report.fmt_s(s) == text


def test_merge_keeps_workloads_the_new_run_did_not_run(tmp_path, bench_results):
    report.write(tmp_path, bench=bench_results)
    other = bench_results["workloads"][0] | {"key": "garch/rolling", "service": "garch", "status": "ok"}
    new = bench_results | {
        "created": "2025-02-02T00:00:00+00:00",
        "workloads": [other],
        "ok": True,
        "skipped_services": {"intraday": "x"},
    }
    report.write(tmp_path, bench=new, merge=True)
    data = json.loads((tmp_path / "results.json").read_text())["bench"]
    assert [w["key"] for w in data["workloads"]] == ["garch/rolling", "intraday/grid"]
    assert data["workloads"][1]["measured"] == "2025-01-01T00:00:00+00:00"
    assert data["earlier_runs"][0]["workloads"] == ["intraday/grid"]
    assert data["ok"] is False and data["skipped_services"] == {}  # the kept mismatch still fails the report
    assert "come from an earlier run (2025-01-01" in (tmp_path / "headline.md").read_text()
    report.write(tmp_path, bench=new)  # without merge the section is replaced
    assert len(json.loads((tmp_path / "results.json").read_text())["bench"]["workloads"]) == 1
