"""What every result records: the machine (CPU model, cores, memory, load), library versions, the date."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

PACKAGES = (
    "ray",
    "numpy",
    "pandas",
    "scipy",
    "numba",
    "arch",
    "scikit-learn",
    "skfolio",
    "cvxpy",
    "vaderSentiment",
    "textblob",
    "pyportfolioopt",
    "vectorbt",
    "fastapi",
    "uvicorn",
    "aiohttp",
    "matplotlib",
)
REPO = Path(__file__).resolve().parents[2]


def cpu_model() -> str:
    """The CPU model name (Linux ``/proc/cpuinfo``; ``platform.processor()`` elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def usable_cpus() -> int:
    """CPUs this process may run on (cgroup/affinity aware where the OS says)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def versions() -> dict[str, str | None]:
    """Installed versions of the libraries the benchmarks touch (None: not installed)."""
    import services

    out: dict[str, str | None] = {"python": platform.python_version(), "ray-services": services.__version__}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def git_commit() -> str | None:
    """The source tree's commit (with ``+dirty`` when it has changes), if it is a git checkout."""
    try:
        sha = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{sha}+dirty" if sha and dirty else (sha or None)


def load_average() -> list[float] | None:
    """1, 5 and 15-minute load averages (a busy machine makes every timing noisier)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover
        return None


def machine() -> dict[str, Any]:
    """The machine a result was measured on."""
    import psutil

    return {
        "hostname": platform.node(),
        "os": f"{platform.system()} {platform.release()}",
        "cpu_model": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "usable_cpus": usable_cpus(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average": load_average(),
    }


def now() -> str:
    """The date and time, UTC, ISO 8601."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def _spin(n: int) -> float:
    """A fixed CPU-bound unit (pure Python arithmetic, no I/O, no shared memory); its duration in s."""
    import time

    start = time.perf_counter()
    x = 0
    for i in range(n):
        x += i * i % 7
    return time.perf_counter() - start


def parallel_ceiling(processes: int, work: int = 4_000_000, rounds: int = 3) -> dict[str, Any] | None:
    """How far the machine itself scales: the same fixed unit in one process, then in ``processes``
    processes at once (no Ray), ``rounds`` times each, alternated. ``ceiling`` = processes x median time
    alone / median wall time of all at once: the speed-up an ideal parallel runtime could reach here right
    now. On a shared VM it falls well below ``processes`` when a neighbour takes a core."""
    import multiprocessing as mp
    import statistics
    import time

    if processes < 2:
        return None
    alone, together = [], []
    with mp.get_context("spawn").Pool(processes) as pool:
        pool.map(_spin, [work // 10] * processes)  # start the workers
        for _ in range(rounds):
            alone.append(pool.apply(_spin, (work,)))
            start = time.perf_counter()
            pool.map(_spin, [work] * processes, chunksize=1)
            together.append(time.perf_counter() - start)
    t1, tn = statistics.median(alone), statistics.median(together)
    return {
        "processes": processes,
        "alone_s": round(t1, 4),
        "together_s": round(tn, 4),
        "ceiling": round(processes * t1 / tn, 3),
    }
