"""The benchmark runs: Ray sessions per CPU count, alternated variants, statistics, same-result checks.

Design notes (what makes the ratios worth believing):

* every variant does the same work on the same inputs, built once per workload, untimed;
* one untimed warm-up call per variant (numba compiles, imports in Ray workers, caches fill); the first
  sequential result is the reference, and every later result of every variant — warm-up and timed, the
  sequential ones too — is checked against it with the workload's ``same_result`` (outside the timing);
* variants alternate within each round (A B C A B C …), so drift in machine load hits all of them alike;
* the statistic compared is the median, reported with min and max; ratios are ratios of medians;
* the Ray path runs on a local Ray started with exactly the CPUs asked for (``ray.init(num_cpus=c)``
  through core's :class:`~services.core.ray_conn.RayConnection`, shut down between counts), or on the
  cluster that ``RAY_ADDRESS`` names, or on the Ray this process is already connected to (tests).
"""

from __future__ import annotations

import gc
import logging
import statistics
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from services.bench import SIZES
from services.bench.machine import (
    git_commit,
    load_average,
    machine,
    now,
    parallel_ceiling,
    usable_cpus,
    versions,
)
from services.bench.protocol import Workload, is_peer_unavailable

log = logging.getLogger("services.bench")

SCHEMA = "raysvc-bench/1"
Progress = Callable[[int, str], None]
"""``progress(steps_done_now, description)``: called before each step (advance 0) and after it (advance 1)."""


class BenchError(RuntimeError):
    """The benchmark cannot run (no Ray, bad options); the message says why."""


@dataclass(frozen=True)
class Options:
    """What to run: ``size`` of the inputs, ``repeat`` timed rounds, Ray ``cpus`` counts (local Ray),
    ``address`` (a cluster instead of a local Ray), ``kinds`` (variant kinds to run), ``warmup`` untimed
    calls per variant, ``budget_s`` (stop adding rounds to a workload after this many seconds, per Ray
    session; at least one round always runs), ``cycles`` (run the local Ray sessions this many times in
    turn, 1, 2, 1, 2 …, each with ``repeat`` rounds: on a noisy machine drift then hits every CPU count
    alike instead of whichever session ran during it), ``ceiling`` (also measure each workload's own
    parallel ceiling on this machine, :func:`workload_ceiling`, at the largest CPU count)."""

    size: str = "small"
    repeat: int = 3
    cpus: tuple[int, ...] | None = None
    address: str | None = None
    kinds: tuple[str, ...] = ("sequential", "ray", "peer")
    warmup: int = 1
    budget_s: float | None = None
    cycles: int = 1
    ceiling: bool = False

    def __post_init__(self) -> None:
        if self.cycles < 1:
            raise BenchError(f"cycles must be >= 1, got {self.cycles}")
        if self.size not in SIZES:
            raise BenchError(f"size must be one of {', '.join(SIZES)}, got {self.size!r}")
        if self.repeat < 1:
            raise BenchError(f"repeat must be >= 1, got {self.repeat}")
        if self.cpus is not None and (not self.cpus or any(c < 1 for c in self.cpus)):
            raise BenchError(f"cpus must be positive integers, got {self.cpus}")
        if "sequential" not in self.kinds:
            raise BenchError("the sequential variant is the reference and cannot be left out")
        if self.warmup < 1:
            raise BenchError("warmup must be >= 1: the first sequential warm-up result is the reference")


@dataclass(frozen=True)
class Session:
    """One Ray session: ``mode`` is ``local`` (start one with ``cpus``), ``address`` or ``attached``."""

    mode: str
    cpus: int | None = None
    address: str | None = None

    def describe(self) -> str:
        return {
            "local": f"starting a local Ray with {self.cpus} CPU(s)",
            "address": f"connecting to the Ray cluster at {self.address}",
            "attached": "using the Ray this process is connected to",
        }.get(self.mode, "no Ray variant asked for")


def plan_sessions(opts: Options, *, attached: bool) -> list[Session]:
    """The Ray sessions to run: the attached Ray, the cluster at ``address``, or one local Ray per CPU count."""
    if "ray" not in opts.kinds:
        return [Session("none")]
    if attached:
        return [Session("attached")]
    if opts.address:
        return [Session("address", address=opts.address)]
    counts = opts.cpus or tuple(sorted({1, usable_cpus()}))
    return [Session("local", cpus=c) for c in dict.fromkeys(counts)] * opts.cycles


@contextmanager
def ray_session(session: Session) -> Iterator[int | None]:
    """Connect Ray for ``session`` and yield its CPU count; a Ray started here is shut down on exit."""
    if session.mode == "none":
        yield None
        return
    from services.core import ray_conn
    from services.core.settings import get_settings

    if session.mode == "attached":
        ray_conn.forget_cluster_size()
        yield int(ray_conn.cluster_cpus())
        return
    settings = get_settings().model_copy(
        update={"ray_address": session.address, "ray_num_cpus": session.cpus, "ray_connect_timeout_s": 120.0}
    )
    conn = ray_conn.RayConnection(settings, dashboard=False)
    if not conn.connect_with_retry():
        raise BenchError(
            f"cannot start or reach Ray ({settings.ray_mode}, {session.address or 'local'}): {conn.state.error}"
        )
    ray_conn.forget_cluster_size()
    try:
        yield int(conn.state.cpus)
    finally:
        conn.close(shutdown=True)
        ray_conn.forget_cluster_size()


def summarize(times: Sequence[float]) -> dict[str, float | int | None]:
    """n, min, median, max and mean of a list of seconds (None when empty)."""
    if not times:
        return {"n": 0, "min_s": None, "median_s": None, "max_s": None, "mean_s": None}
    return {
        "n": len(times),
        "min_s": min(times),
        "median_s": statistics.median(times),
        "max_s": max(times),
        "mean_s": statistics.fmean(times),
    }


def ratio(reference: float | None, other: float | None) -> float | None:
    """``reference / other`` (how many times faster ``other`` is), None when either is missing or zero."""
    if not reference or not other:
        return None
    return reference / other


def kind_of(variant: str) -> str:
    return variant.split(":", 1)[0]


def _error_text(exc: BaseException) -> str:
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" (at {tb[-1].filename.split('/services/')[-1]}:{tb[-1].lineno})" if tb else ""
    return f"{type(exc).__name__}: {exc}{where}"[:1000]


@dataclass
class _VariantRun:
    label: str
    variant: str
    cpus: int | None
    times: list[float] = field(default_factory=list)
    error: str | None = None
    checks: int = 0  # results compared with the reference (warm-up and timed calls)
    differing: int = 0  # of which differed
    check_error: str | None = None
    not_comparable: str | None = None

    @property
    def same(self) -> bool | None:
        if self.not_comparable is not None or self.checks == 0:
            return None
        return self.differing == 0

    @property
    def check(self) -> str:
        if self.not_comparable is not None:
            return f"not comparable: {self.not_comparable}"
        if self.variant == "sequential":
            return f"reference, reproduced by {self.checks - self.differing} of {self.checks} later calls"
        if self.check_error:
            return f"same_result raised {self.check_error}"
        if self.differing:
            return f"DIFFERENT RESULT in {self.differing} of {self.checks} calls"
        return f"same result ({self.checks} calls)" if self.checks else "not checked"


@dataclass
class _State:
    """Everything known about one workload while the sessions run."""

    workload: Workload
    inputs: Any = None
    units: int | None = None
    build_s: float | None = None
    reference: Any = None
    error: str | None = None  # the workload cannot run at all
    runs: dict[str, _VariantRun] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    rounds: list[int] = field(default_factory=list)  # timed rounds per session
    ceiling: dict[str, Any] | None = None  # workload_ceiling(), with --ceiling


class Harness:
    """Run workloads under :class:`Options`; :meth:`run` returns the results dict (``results.json``)."""

    def __init__(
        self,
        workloads: Sequence[Workload],
        opts: Options,
        *,
        progress: Progress | None = None,
        skipped_services: dict[str, str] | None = None,
    ) -> None:
        self.workloads = list(workloads)
        self.opts = opts
        self.progress = progress or (lambda _n, _d: None)
        self.skipped_services = dict(skipped_services or {})
        self.states = {w.key: _State(w) for w in self.workloads}

    # -- planning --------------------------------------------------------------------------------
    def variants_of(self, w: Workload) -> list[str]:
        return [v for v in w.variants if kind_of(v) in self.opts.kinds]

    def total_steps(self, sessions: Sequence[Session]) -> int:
        """Progress steps of the whole run (builds, warm-ups and timed calls)."""
        total = 0
        for i, _s in enumerate(sessions):
            for w in self.workloads:
                vs = self.variants_of(w)
                rays = [v for v in vs if kind_of(v) == "ray"]
                warm = len(vs) if i == 0 else len(rays)
                total += (1 if i == 0 else 0) + warm * self.opts.warmup + self.opts.repeat * len(vs)
        return total

    # -- running ---------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        import ray

        attached = ray.is_initialized()
        sessions = plan_sessions(self.opts, attached=attached)
        started = now()
        t0 = time.perf_counter()
        load_start = load_average()
        top = max((s.cpus or 0) for s in sessions)
        ceiling_start = parallel_ceiling(top) if top > 1 and "local" in {s.mode for s in sessions} else None
        session_info: list[dict[str, Any]] = []
        for i, session in enumerate(sessions):
            self.progress(0, session.describe())
            s0 = time.perf_counter()
            with ray_session(session) as cpus:
                session_info.append(
                    {
                        "mode": session.mode,
                        "requested_cpus": session.cpus,
                        "address": session.address,
                        "cpus": cpus,
                        "start_s": round(time.perf_counter() - s0, 2),
                    }
                )
                for w in self.workloads:
                    self._run_workload(self.states[w.key], cpus, first=(i == 0))
        ceiling = [c for c in (ceiling_start, parallel_ceiling(top) if ceiling_start else None) if c]
        if self.opts.ceiling and top > 1:
            for w in self.workloads:
                st = self.states[w.key]
                if st.error is None:
                    self.progress(
                        0, f"{w.key}: its parallel ceiling on this machine ({top} processes, no Ray)"
                    )
                    try:
                        st.ceiling = workload_ceiling(w.key, self.opts.size, top)
                    except Exception as exc:  # noqa: BLE001 - a ceiling that fails is reported, the run goes on
                        st.ceiling = {"error": _error_text(exc)}
        return self._results(started, time.perf_counter() - t0, sessions, session_info, load_start, ceiling)

    def _label(self, variant: str, cpus: int | None) -> str:
        return f"{variant}@{cpus}" if kind_of(variant) == "ray" else variant

    def _call(self, fn: Callable[[Any], Any], inputs: Any) -> tuple[float, Any]:
        gc.collect()
        start = time.perf_counter()
        result = fn(inputs)
        return time.perf_counter() - start, result

    def _run_workload(self, st: _State, cpus: int | None, *, first: bool) -> None:
        w = st.workload
        if first:
            self.progress(0, f"{w.key}: building {self.opts.size} inputs")
            try:
                b0 = time.perf_counter()
                st.inputs = w.build(self.opts.size)
                st.build_s = time.perf_counter() - b0
                st.units = int(w.units(st.inputs)) if w.units is not None else None
            except Exception as exc:  # noqa: BLE001 - a build that fails is reported, the run goes on with the others
                st.error = f"build failed: {_error_text(exc)}"
                log.error("%s: %s", w.key, st.error)
            self.progress(1, f"{w.key}: built")
        if st.error:
            return
        variants = self.variants_of(w)
        active: list[tuple[str, str]] = []  # (variant, label) timed in this session
        for v in variants:
            if kind_of(v) != "ray" and not first:
                if self._label(v, cpus) in st.runs and st.runs[v].error is None:
                    active.append((v, v))
                continue
            label = self._label(v, cpus)
            if v in st.skipped:
                continue
            run = st.runs.setdefault(label, _VariantRun(label, v, cpus if kind_of(v) == "ray" else None))
            if w.warm_up is not None and kind_of(v) == "ray" and cpus is not None:
                try:
                    w.warm_up()
                except Exception as exc:  # noqa: BLE001 - reported, not fatal
                    log.warning("%s: warm_up() failed: %s", w.key, exc)
            ok = self._warm_and_check(st, v, run)
            if v == "sequential" and not ok:
                st.error = f"sequential variant failed: {run.error}"
                return
            if ok:
                active.append((v, label))
        if not active:
            return
        rounds = 0
        t_start = time.perf_counter()
        for r in range(self.opts.repeat):
            for v, label in active:
                run = st.runs[label]
                if run.error:  # failed in an earlier round: reported once, not called again
                    continue
                self.progress(0, f"{w.key}: {label} run {r + 1}/{self.opts.repeat}")
                try:
                    seconds, result = self._call(w.variants[v], st.inputs)
                    run.times.append(seconds)
                except Exception as exc:  # noqa: BLE001 - a variant that fails is reported, the run goes on
                    run.error = f"timed run failed: {_error_text(exc)}"
                    log.error("%s/%s: %s", w.key, label, run.error)
                else:
                    self._check(st, run, result)
                    del result
                self.progress(1, f"{w.key}: {label} run {r + 1}/{self.opts.repeat}")
            rounds += 1
            if self.opts.budget_s is not None and time.perf_counter() - t_start > self.opts.budget_s:
                skipped_steps = (self.opts.repeat - rounds) * len(active)
                if skipped_steps:
                    self.progress(skipped_steps, f"{w.key}: time budget reached after {rounds} round(s)")
                break
        st.rounds.append(rounds)

    def _warm_and_check(self, st: _State, v: str, run: _VariantRun) -> bool:
        """Warm ``v`` up (untimed) and check its result against the reference; False if it cannot be timed."""
        w = st.workload
        result = None
        for k in range(self.opts.warmup):
            self.progress(0, f"{w.key}: {run.label} warm-up")
            try:
                _, result = self._call(w.variants[v], st.inputs)
            except Exception as exc:  # noqa: BLE001 - a warm-up failure is a skipped peer or a reported error
                if kind_of(v) == "peer" and is_peer_unavailable(exc, w):
                    st.skipped[v] = f"peer not available: {exc}"
                    st.runs.pop(run.label, None)
                    self.progress(1 + (self.opts.warmup - k - 1) + self.opts.repeat, f"{w.key}: {v} skipped")
                    return False
                run.error = f"warm-up failed: {_error_text(exc)}"
                log.error("%s/%s: %s", w.key, run.label, run.error)
                self.progress(
                    1 + (self.opts.warmup - k - 1) + self.opts.repeat, f"{w.key}: {run.label} failed"
                )
                return False
            self.progress(1, f"{w.key}: {run.label} warm-up")
        if v == "sequential" and st.reference is None:
            st.reference = result
        if v in w.not_comparable:
            run.not_comparable = w.not_comparable[v]
        self._check(st, run, result)
        return True

    def _check(self, st: _State, run: _VariantRun, result: Any) -> None:
        """Compare one call's result with the sequential warm-up result (the reference)."""
        if run.not_comparable is not None or result is st.reference:
            return
        run.checks += 1
        try:
            same = bool(st.workload.same_result(st.reference, result))
        except Exception as exc:  # noqa: BLE001 - a check that crashes is a failed check
            same, run.check_error = False, _error_text(exc)
        if not same:
            run.differing += 1
            log.error(
                "%s/%s: result differs from the sequential reference (%s)",
                st.workload.key,
                run.label,
                run.check,
            )

    # -- results ---------------------------------------------------------------------------------
    def _workload_result(self, st: _State) -> dict[str, Any]:
        w = st.workload
        out: dict[str, Any] = {
            "key": w.key,
            "service": w.service,
            "workload": w.name,
            "description": w.description,
            "size": self.opts.size,
            "tolerance": w.tolerance,
            "unit": w.unit,
            "units": st.units,
            "build_s": st.build_s,
            "rounds": st.rounds,
            "variants": {},
            "skipped": dict(st.skipped),
            "not_comparable": dict(w.not_comparable),
            "error": st.error,
        }
        seq = st.runs.get("sequential")
        seq_median = summarize(seq.times)["median_s"] if seq else None
        # the peer that ratios are taken against: the first comparable one (same work, checked), else the first
        peers = sorted(
            (r.not_comparable is not None, lbl)
            for lbl, r in st.runs.items()
            if kind_of(r.variant) == "peer" and r.times
        )
        peer_label = peers[0][1] if peers else None
        peer_median = summarize(st.runs[peer_label].times)["median_s"] if peer_label else None
        out["peer_reference"] = peer_label
        for label, run in st.runs.items():
            stats = summarize(run.times)
            med = stats["median_s"]
            out["variants"][label] = {
                "variant": run.variant,
                "kind": kind_of(run.variant),
                "cpus": run.cpus,
                "times_s": run.times,
                **stats,
                "per_s": (st.units / med) if (st.units and med) else None,
                "ratio_vs_sequential": ratio(seq_median, med),
                "ratio_vs_peer": ratio(peer_median, med),
                "same_result": run.same,
                "check": run.check,
                "checks": run.checks,
                "differing": run.differing,
                "error": run.error,
            }
        # Ray scaling: each CPU count against the smallest one measured, per ray variant
        scaling: dict[str, dict[str, float | None]] = {}
        for v in w.variants:
            if kind_of(v) != "ray":
                continue
            points = sorted(
                (r.cpus, summarize(r.times)["median_s"])
                for r in st.runs.values()
                if r.variant == v and r.cpus and r.times
            )
            if len(points) > 1:
                base_cpus, base = points[0]
                scaling[v] = {str(c): ratio(base, m) for c, m in points}
                scaling[v]["base_cpus"] = base_cpus
        out["scaling"] = scaling
        out["ceiling"] = st.ceiling
        mismatched = [lbl for lbl, r in st.runs.items() if r.same is False]
        failed = [lbl for lbl, r in st.runs.items() if r.error]
        if st.error or failed:
            out["status"] = "error"
        elif mismatched:
            out["status"] = "mismatch"
        else:
            out["status"] = "ok"
        out["mismatched"] = mismatched
        out["failed"] = failed
        return out

    def _results(
        self,
        started: str,
        elapsed: float,
        sessions: list[Session],
        info: list[dict[str, Any]],
        load_start: list[float] | None,
        ceiling: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        workloads = [self._workload_result(self.states[w.key]) for w in self.workloads]
        m = machine()
        m["load_average_start"] = load_start
        m["parallel_ceiling"] = ceiling or None  # measured at the start and at the end of the run
        m["load_average_end"] = m.pop("load_average")
        return {
            "schema": SCHEMA,
            "created": started,
            "elapsed_s": round(elapsed, 2),
            "machine": m,
            "versions": versions(),
            "git_commit": git_commit(),
            "options": {
                "size": self.opts.size,
                "repeat": self.opts.repeat,
                "cpus": list(self.opts.cpus or []) or None,
                "kinds": list(self.opts.kinds),
                "warmup": self.opts.warmup,
                "budget_s": self.opts.budget_s,
                "cycles": self.opts.cycles,
                "ceiling": self.opts.ceiling,
            },
            "ray": {"mode": sessions[0].mode, "address": self.opts.address, "sessions": info},
            "skipped_services": self.skipped_services,
            "workloads": workloads,
            "ok": bool(workloads) and all(w["status"] == "ok" for w in workloads),
        }


# --- the machine's ceiling for one workload ----------------------------------------------------------
_CEILING_INPUTS: dict[str, Any] = {}


def _ceiling_init(key: str, size: str, barrier: Any) -> None:
    # an initializer that raises makes multiprocessing respawn workers forever: keep the error for the call
    try:
        from threadpoolctl import threadpool_limits

        from services.bench.protocol import discover

        # one BLAS/OpenMP thread per process, as in a Ray worker: N processes then use N cores
        _CEILING_INPUTS["limits"] = threadpool_limits(1)
        service = key.split("/", 1)[0]
        (w,) = [w for w in discover([service])[0] if w.key == key]
        _CEILING_INPUTS.update(fn=w.variants["sequential"], inputs=w.build(size), barrier=barrier)
        _CEILING_INPUTS["fn"](_CEILING_INPUTS["inputs"])  # warm: imports, numba, caches
    except Exception as exc:  # noqa: BLE001 - re-raised by the first call
        _CEILING_INPUTS["error"] = exc


def _ceiling_call(together: bool) -> float:
    if "error" in _CEILING_INPUTS:
        raise RuntimeError(
            f"the workload could not be built in the probe process: {_CEILING_INPUTS['error']}"
        )
    if together:  # every process waits here, so the N copies really run at once, one per process
        _CEILING_INPUTS["barrier"].wait()
    start = time.perf_counter()
    _CEILING_INPUTS["fn"](_CEILING_INPUTS["inputs"])
    return time.perf_counter() - start


def workload_ceiling(key: str, size: str, processes: int, rounds: int = 2) -> dict[str, Any]:
    """The machine's parallel ceiling for one workload: its ``sequential`` variant alone in one process,
    then in ``processes`` processes at once (plain processes, no Ray), alternated ``rounds`` times.
    ``ceiling`` = processes x median time alone / median time of the slowest copy when all run at once
    (one BLAS thread per process, as in Ray workers): the most any parallel runtime could gain on this
    machine for this work. Unlike a pure-Python probe it includes what the work itself contends for
    when several copies run (caches, memory, a busy neighbour's core)."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    alone, together = [], []
    with ctx.Pool(processes, initializer=_ceiling_init, initargs=(key, size, ctx.Barrier(processes))) as pool:
        for _ in range(rounds):
            alone.append(pool.apply(_ceiling_call, (False,)))
            together.append(max(pool.map(_ceiling_call, [True] * processes, chunksize=1)))
    t1, tn = statistics.median(alone), statistics.median(together)
    return {
        "processes": processes,
        "rounds": rounds,
        "alone_s": alone,
        "together_s": together,
        "ceiling": round(processes * t1 / tn, 3),
    }
