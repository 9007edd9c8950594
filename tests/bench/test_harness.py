"""The harness on small fake workloads: alternation, statistics, ratios, same-result failures, skips.

The Ray variant of these workloads really runs on Ray (the session's embedded Ray, attached)."""

from __future__ import annotations

import numpy as np
import pytest

from services.bench.harness import BenchError, Harness, Options, plan_sessions, ratio, summarize
from services.bench.protocol import Workload


class PeerUnavailable(RuntimeError):
    pass


def _fake(name: str, calls: list[str], *, ray_result_offset: float = 0.0, peer: str = "ok") -> Workload:
    """Sum of squares of 0..n-1, three ways; ``calls`` records the order variants ran in."""

    def build(size: str) -> np.ndarray:
        return np.arange({"tiny": 100, "small": 1000}[size], dtype=float)

    def sequential(x):
        calls.append("sequential")
        return float(np.sum(x**2))

    def on_ray(x):
        import ray

        calls.append("ray")
        square_sum = ray.remote(lambda chunk: float(np.sum(chunk**2)))
        return sum(ray.get([square_sum.remote(c) for c in np.array_split(x, 4)])) + ray_result_offset

    def peer_fn(x):
        calls.append("peer")
        if peer == "missing":
            raise PeerUnavailable("peerlib is not installed")
        if peer == "crash":
            raise ZeroDivisionError("boom")
        return float(sum(v * v for v in x))

    return Workload(
        service="intraday",
        name=name,
        build=build,
        variants={"sequential": sequential, "ray": on_ray, "peer": peer_fn},
        same_result=lambda a, b: bool(np.isclose(a, b, rtol=1e-12)),
        tolerance="rtol=1e-12",
        units=len,
        unit="squares",
        peer_error=PeerUnavailable,
    )


@pytest.fixture(scope="module")
def agreeing(ray_local):
    calls: list[str] = []
    results = Harness([_fake("agree", calls)], Options(size="tiny", repeat=3)).run()
    return results, calls


@pytest.mark.slow
def test_variants_alternate_after_one_warm_up_each(agreeing):
    _, calls = agreeing
    assert calls == ["sequential", "ray", "peer"] * 4  # warm-ups, then 3 rounds A B C A B C …


def test_structure_statistics_and_ratios(agreeing):
    results, _ = agreeing
    assert results["schema"] == "raysvc-bench/1" and results["ok"] is True
    assert results["ray"]["mode"] == "attached" and results["ray"]["sessions"][0]["cpus"] >= 1
    for key in ("cpu_model", "usable_cpus", "memory_gb", "load_average_start"):
        assert key in results["machine"]
    assert results["versions"]["ray"] and results["versions"]["numpy"]
    (w,) = results["workloads"]
    assert w["status"] == "ok" and w["units"] == 100 and w["unit"] == "squares"
    cpus = results["ray"]["sessions"][0]["cpus"]
    assert set(w["variants"]) == {"sequential", f"ray@{cpus}", "peer"}
    seq = w["variants"]["sequential"]
    for _label, v in w["variants"].items():
        assert v["n"] == 3 and len(v["times_s"]) == 3
        assert v["min_s"] <= v["median_s"] <= v["max_s"]
        assert v["median_s"] == sorted(v["times_s"])[1]
        assert v["ratio_vs_sequential"] == pytest.approx(seq["median_s"] / v["median_s"])
        assert v["ratio_vs_peer"] == pytest.approx(w["variants"]["peer"]["median_s"] / v["median_s"])
        assert v["per_s"] == pytest.approx(100 / v["median_s"])
        assert v["same_result"] is True and v["error"] is None and v["differing"] == 0
    assert seq["check"] == "reference, reproduced by 3 of 3 later calls" and seq["checks"] == 3
    assert all(v["checks"] == 4 for k, v in w["variants"].items() if k != "sequential")  # warm-up + 3 timed


def test_a_different_result_fails_the_run(ray_local):
    results = Harness([_fake("differs", [], ray_result_offset=1.0)], Options(size="tiny", repeat=1)).run()
    (w,) = results["workloads"]
    assert results["ok"] is False and w["status"] == "mismatch"
    (label,) = w["mismatched"]
    assert label.startswith("ray@") and w["variants"][label]["check"] == "DIFFERENT RESULT in 2 of 2 calls"
    assert w["variants"]["peer"]["same_result"] is True


def test_a_result_that_changes_between_calls_is_caught():
    """Every timed call is checked too, not only the warm-up (a variant that drifts on its 3rd call)."""
    base = _fake("drift", [])
    calls = {"n": 0}

    def drifting_peer(x):
        calls["n"] += 1
        return float(np.sum(x**2)) * (1.001 if calls["n"] == 3 else 1.0)

    w = Workload(
        "intraday",
        "drift",
        base.build,
        {"sequential": base.variants["sequential"], "peer": drifting_peer},
        base.same_result,
    )
    results = Harness([w], Options(size="tiny", repeat=3, kinds=("sequential", "peer"))).run()
    peer = results["workloads"][0]["variants"]["peer"]
    assert results["workloads"][0]["status"] == "mismatch"
    assert (peer["checks"], peer["differing"]) == (4, 1) and peer["same_result"] is False


def test_missing_peer_is_skipped_and_crashing_peer_is_an_error():
    opts = Options(size="tiny", repeat=2, kinds=("sequential", "peer"))
    results = Harness([_fake("nopeer", [], peer="missing"), _fake("crash", [], peer="crash")], opts).run()
    missing, crash = results["workloads"]
    assert results["ray"]["mode"] == "none"
    assert missing["status"] == "ok" and "peer" not in missing["variants"]
    assert "peerlib is not installed" in missing["skipped"]["peer"]
    assert crash["status"] == "error" and "ZeroDivisionError" in crash["variants"]["peer"]["error"]
    assert crash["variants"]["sequential"]["n"] == 2  # the others still ran
    assert results["ok"] is False


def test_a_failing_build_is_reported_and_others_run():
    calls: list[str] = []
    good = _fake("good", calls)
    bad = Workload(
        "intraday", "bad", build=lambda s: 1 / 0, variants=good.variants, same_result=good.same_result
    )
    results = Harness([bad, good], Options(size="tiny", repeat=1, kinds=("sequential",))).run()
    assert results["workloads"][0]["status"] == "error"
    assert "build failed: ZeroDivisionError" in results["workloads"][0]["error"]
    assert results["workloads"][1]["status"] == "ok" and calls == ["sequential", "sequential"]


def test_budget_stops_adding_rounds():
    results = Harness(
        [_fake("budget", [])], Options(size="tiny", repeat=50, kinds=("sequential",), budget_s=0.0)
    ).run()
    assert results["workloads"][0]["rounds"] == [1]
    assert results["workloads"][0]["variants"]["sequential"]["n"] == 1


@pytest.mark.parametrize(
    ("opts", "message"),
    [
        (dict(size="huge"), "size must be one of"),
        (dict(repeat=0), "repeat must be"),
        (dict(cpus=(0,)), "cpus must be positive"),
        (dict(kinds=("ray",)), "sequential variant is the reference"),
    ],
    ids=["size", "repeat", "cpus", "no-sequential"],
)
def test_options_validated(opts, message):
    with pytest.raises(BenchError, match=message):
        Options(**opts)


def test_sessions_planned_per_cpu_count_or_cluster():
    assert [s.cpus for s in plan_sessions(Options(cpus=(1, 2, 2)), attached=False)] == [1, 2]
    assert [s.cpus for s in plan_sessions(Options(cpus=(1, 2), cycles=2), attached=False)] == [1, 2, 1, 2]
    with pytest.raises(BenchError, match="cycles"):
        Options(cycles=0)
    assert [s.mode for s in plan_sessions(Options(address="ray://h:10001", cpus=(1, 2)), attached=False)] == [
        "address"
    ]
    assert [s.mode for s in plan_sessions(Options(cpus=(1, 2)), attached=True)] == ["attached"]
    assert [s.mode for s in plan_sessions(Options(kinds=("sequential", "peer")), attached=False)] == ["none"]
    default = plan_sessions(Options(), attached=False)
    assert default[0].cpus == 1 and all(s.mode == "local" for s in default)


def test_summary_helpers():
    assert summarize([3.0, 1.0, 2.0]) == {"n": 3, "min_s": 1.0, "median_s": 2.0, "max_s": 3.0, "mean_s": 2.0}
    assert summarize([])["median_s"] is None
    assert ratio(2.0, 0.5) == 4.0 and ratio(None, 1.0) is None and ratio(1.0, 0.0) is None


def test_ratios_against_the_comparable_peer_and_other_models_not_checked():
    base = _fake("peers", [])
    w = Workload(
        "sentiment",
        "peers",
        base.build,
        {
            "sequential": base.variants["sequential"],
            "peer:a": lambda x: -1.0,
            "peer:b": base.variants["peer"],
        },
        base.same_result,
        not_comparable={"peer:a": "another model"},
    )
    (res,) = Harness([w], Options(size="tiny", repeat=2, kinds=("sequential", "peer"))).run()["workloads"]
    assert res["status"] == "ok" and res["peer_reference"] == "peer:b"
    assert res["variants"]["peer:a"]["same_result"] is None
    assert res["variants"]["peer:a"]["check"] == "not comparable: another model"
    assert res["variants"]["peer:b"]["checks"] == 3
