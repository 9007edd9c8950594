"""The job side of the job model: one ``main`` for every service's batch entrypoint.

A service's ``job.py`` declares its commands and calls :func:`job_main`::

    COMMANDS = [JobCommand("rolling", "rolling refits", run_rolling, add_arguments=_rolling_args)]

    def main(argv=None):
        return job_main("garch", COMMANDS, argv)

Each command runs either from a person's flags (``raysvc job garch rolling --symbol SIM …``, with a progress
bar on a terminal) or from an HTTP-submitted spec (``--params-file spec.json --job-dir DIR``, writing
``progress.json`` and ``result.json``/``error.json`` into DIR for the service to serve).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.core.errors import DomainError, ProblemError
from services.core.jobs import ERROR_FILE, JOB_GCS_ADDRESS_ENV, PROGRESS_FILE, RESULT_FILE, write_json
from services.core.logs import setup_logging
from services.core.settings import get_settings

log = logging.getLogger("services.job")


class JobContext:
    """Progress reporting and result writing for one job run."""

    def __init__(
        self, job_dir: Path | None, *, show_bar: bool | None = None, min_interval_s: float = 0.5
    ) -> None:
        self.job_dir = job_dir
        self.min_interval_s = min_interval_s
        self._last_write = 0.0
        self._last_logged = -1
        self._bar: Any = None
        self._task: Any = None
        if show_bar is None:
            show_bar = job_dir is None and sys.stderr.isatty()
        if show_bar:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.percentage:>5.1f}%"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
            )
            self._bar.start()
            self._task = self._bar.add_task("working", total=1.0)

    def progress(self, fraction: float, message: str = "") -> None:
        """Report progress in [0, 1] (rate-limited file writes; a bar on a terminal; a log line per 10 %)."""
        fraction = float(min(max(fraction, 0.0), 1.0))
        if self._bar is not None:
            self._bar.update(self._task, completed=fraction, description=message or "working")
        decile = int(fraction * 10)
        if self._bar is None and decile != self._last_logged:
            self._last_logged = decile
            log.info("progress %.0f%% %s", fraction * 100, message)
        now = time.monotonic()
        if self.job_dir is not None and (now - self._last_write >= self.min_interval_s or fraction >= 1.0):
            self._last_write = now
            write_json(
                self.job_dir / PROGRESS_FILE, {"progress": fraction, "message": message, "at": time.time()}
            )

    def counter(self, total: int, message: str = "") -> Callable[[int, int], None]:
        """A ``progress(done, total)`` callback for :func:`services.core.parallel.map_chunks`."""
        return lambda done, n: self.progress(done / max(n or total, 1), message)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


CLUSTER_LOST_EXIT_CODE = 3


class ClusterWatchdog:
    """Stop a driver that lost its Ray cluster, instead of leaving it orphaned and stuck.

    After a head crash Ray leaves the driver running (re-parented to PID 1, waiting on tasks that will never
    finish). Every ``interval_s`` a thread opens a TCP connection to the cluster's address (the GCS, or the
    Ray Client server); when none succeeds for ``lost_after_s`` it writes the cause where the job's outcome
    goes (``error.json``, ``progress.json``) and ends the process with exit code 3.
    """

    def __init__(
        self, address: str, job_dir: Path | None, *, lost_after_s: float = 120.0, interval_s: float = 2.0
    ) -> None:
        host, _, port = address.removeprefix("ray://").rpartition(":")
        self.host, self.port = host.strip("[]"), int(port)
        self.job_dir, self.lost_after_s, self.interval_s = job_dir, lost_after_s, interval_s
        self.lost_since: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="cluster-watchdog", daemon=True)

    def start(self) -> ClusterWatchdog:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def reachable(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=min(self.interval_s, 5.0)):
                return True
        except OSError:
            return False

    def _watch(self) -> None:
        while not self._stop.wait(self.interval_s):
            if self.reachable():
                self.lost_since = None
                continue
            self.lost_since = self.lost_since or time.time()
            if time.time() - self.lost_since >= self.lost_after_s and not self._stop.is_set():
                self._give_up()

    def lost_problem(self) -> ProblemError | None:
        """The failure to record if the cluster is unreachable now (None while it answers)."""
        if self.reachable():
            return None
        since = self.lost_since or time.time()
        at = datetime.fromtimestamp(since, UTC).isoformat(timespec="seconds")
        return ProblemError.unavailable(
            "Ray",
            f"the Ray cluster went away at {at} ({self.host}:{self.port} unreachable for "
            f"{time.time() - since:.0f}s); the job's driver stopped",
        )

    def _give_up(self) -> None:
        problem = self.lost_problem()
        if problem is None:  # it came back during the last probe
            return
        log.error("%s", problem.detail)
        if self.job_dir is not None:
            write_json(self.job_dir / ERROR_FILE, problem.body())
            write_json(
                self.job_dir / PROGRESS_FILE, {"progress": 0.0, "message": problem.detail, "at": time.time()}
            )
        print(f"error: {problem.detail}", file=sys.stderr, flush=True)
        os._exit(CLUSTER_LOST_EXIT_CODE)  # the main thread may be blocked in ray.get for ever


def _cluster_address(settings: Any) -> str | None:
    """The address a driver's cluster answers on, for the watchdog (None for an embedded cluster)."""
    if settings.ray_mode == "client":
        return str(settings.ray_address)
    if settings.ray_mode == "driver":
        import ray

        return str(ray.get_runtime_context().gcs_address)
    return None


@dataclass(frozen=True)
class JobCommand:
    """One batch command of a service.

    ``run(params, ctx)`` does the work and returns a JSON-able result (the same body the HTTP API returns).
    ``add_arguments`` declares the command's flags for people; ``params_from_args`` turns parsed flags into
    the params dict (default: ``vars(args)`` without the common flags).
    """

    name: str
    help: str
    run: Callable[[dict[str, Any], JobContext], Any]
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None
    params_from_args: Callable[[argparse.Namespace], dict[str, Any]] | None = None


_COMMON = {"command", "params_file", "job_dir", "result_json"}


def job_main(service: str, commands: list[JobCommand], argv: list[str] | None = None) -> int:
    """Parse ``argv``, connect to Ray as ``RAY_ADDRESS`` says, run the command, write its outcome."""
    parser = argparse.ArgumentParser(prog=f"raysvc job {service}", description=f"{service} batch jobs on Ray")
    sub = parser.add_subparsers(dest="command", required=True)
    by_name = {c.name: c for c in commands}
    for c in commands:
        p = sub.add_parser(c.name, help=c.help, description=c.help)
        p.add_argument(
            "--params-file", type=Path, help="JSON spec written by the service (HTTP-submitted jobs)"
        )
        p.add_argument("--job-dir", type=Path, help="where progress.json and result.json go")
        p.add_argument("--result-json", type=Path, help="also write the result body to this file")
        if c.add_arguments is not None:
            c.add_arguments(p)
    args = parser.parse_args(argv)
    if gcs := os.environ.get(JOB_GCS_ADDRESS_ENV):  # the cluster the service submitted to, not Ray's guess
        os.environ["RAY_ADDRESS"] = gcs
        get_settings.cache_clear()
    settings = get_settings()
    setup_logging(f"{service}-job", settings.log_level, settings.log_json and not sys.stderr.isatty())
    cmd = by_name[args.command]
    if args.params_file is not None:
        spec = json.loads(args.params_file.read_text())
        params = spec.get("params", spec)
    elif cmd.params_from_args is not None:
        params = cmd.params_from_args(args)
    else:
        params = {k: v for k, v in vars(args).items() if k not in _COMMON}
    job_dir = args.job_dir
    if job_dir is not None:
        job_dir.mkdir(parents=True, exist_ok=True)

    from services.core.ray_conn import RayConnection

    conn = RayConnection(settings, dashboard=False)
    ctx = JobContext(job_dir)
    watchdog: ClusterWatchdog | None = None
    try:
        if not conn.connect_with_retry():
            raise ProblemError.unavailable("Ray", conn.state.error or "not reachable")
        if address := _cluster_address(settings):
            watchdog = ClusterWatchdog(
                address, job_dir, lost_after_s=settings.job_cluster_lost_after_s
            ).start()
        ctx.progress(0.0, "started")
        start = time.perf_counter()
        result = cmd.run(params, ctx)
        ctx.progress(1.0, "done")
        seconds = time.perf_counter() - start
        if job_dir is not None:
            write_json(job_dir / RESULT_FILE, result)
        if args.result_json is not None:
            write_json(args.result_json, result)
        log.info("%s %s finished in %.2fs", service, cmd.name, seconds)
        return 0
    except Exception as exc:  # every failure becomes a problem body the service can serve
        lost = watchdog.lost_problem() if watchdog is not None else None
        if lost is not None:  # Ray's own error (a dead raylet, a lost object) hides the real cause
            log.exception("%s %s failed", service, cmd.name)
            problem = lost
        elif isinstance(exc, DomainError):
            problem = ProblemError.from_domain(exc, prefix="params")
        elif isinstance(exc, ProblemError):
            problem = exc
        else:
            log.exception("%s %s failed", service, cmd.name)
            problem = ProblemError(500, f"{type(exc).__name__}: {exc}", title="Job Failed")
        if job_dir is not None:
            write_json(job_dir / ERROR_FILE, problem.body())
        print(f"error: {problem.detail}", file=sys.stderr)
        return CLUSTER_LOST_EXIT_CODE if lost is not None else 1 if problem.status >= 500 else 2
    finally:
        if watchdog is not None:
            watchdog.stop()
        ctx.close()
        conn.close()
