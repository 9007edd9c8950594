"""``raysvc``: run the platform locally, one service, data generation, batch jobs and benchmarks."""

from __future__ import annotations

import importlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from services import SERVICES
from services.core.auth import keys_app

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Ray Services: quant analytics on Ray.")
data_app = typer.Typer(no_args_is_help=True, help="The project's datasets.")
app.add_typer(data_app, name="data")
app.add_typer(keys_app, name="keys")
console = Console(stderr=True)
PASSTHROUGH = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


def _check_service(name: str) -> str:
    if name not in SERVICES:
        raise typer.BadParameter(f"unknown service {name!r}; one of {', '.join(SERVICES)}")
    return name


@app.command()
def serve(
    name: Annotated[str, typer.Argument(help="sentiment | garch | portfolio | intraday")],
    port: Annotated[int | None, typer.Option(help="default: the service's port (8005-8008)")] = None,
    host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
    drain_timeout: Annotated[float, typer.Option(help="seconds in-flight requests get on SIGTERM")] = 10.0,
) -> None:
    """Run one service (on the Ray that RAY_ADDRESS names; embedded local Ray when unset)."""
    import uvicorn

    _check_service(name)
    service_app = importlib.import_module(f"services.{name}.app").app
    uvicorn.run(
        _answer_503_when_cancelled(service_app),
        host=host,
        port=port or SERVICES[name],
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(drain_timeout),
    )


def _answer_503_when_cancelled(asgi_app: Any) -> Any:
    """Answer 503 (with ``Retry-After``) to a request that uvicorn cancels because its graceful shutdown ran
    out of time; uvicorn itself would answer 500 to a stopping service's in-flight request."""
    import asyncio

    from services.core.errors import ProblemError

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        started = False

        async def send_tracked(message: dict[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await asgi_app(scope, receive, send_tracked)
        except asyncio.CancelledError:
            if scope["type"] != "http" or started:
                raise
            problem = ProblemError.unavailable("the service", "it is shutting down; retry")
            body = json.dumps(problem.body()).encode()
            headers = [(b"content-type", b"application/problem+json"), (b"connection", b"close")]
            headers += [(k.lower().encode(), v.encode()) for k, v in problem.headers.items()]
            await send({"type": "http.response.start", "status": 503, "headers": headers})
            await send({"type": "http.response.body", "body": body})

    return app


@data_app.command("generate")
def data_generate(
    out: Annotated[
        Path | None, typer.Option(help="target folder (default: RAYSVC_DATA_DIR or ./data)")
    ] = None,
    force: Annotated[bool, typer.Option(help="rewrite files that exist")] = False,
) -> None:
    """Simulate the project's datasets (deterministic) in the seed's file formats."""
    from services.core import datagen
    from services.core.settings import get_settings

    target = out or get_settings().data_dir
    with console.status(f"generating datasets into {target}"):
        written = datagen.generate(target, force=force)
    for name, path in sorted(written.items()):
        console.print(f"  {name:<10} {path} ({path.stat().st_size / 1e6:.1f} MB)")


@app.command(context_settings=PASSTHROUGH)
def job(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="sentiment | garch | portfolio | intraday | core")],
) -> None:
    """Run a service's batch entrypoint (same as `python -m services.NAME.job ...`; `--help` after NAME)."""
    if name != "core":
        _check_service(name)
    module = importlib.import_module(f"services.{name}.job")
    raise typer.Exit(module.main(list(ctx.args)))


@app.command(context_settings=PASSTHROUGH)
def bench(ctx: typer.Context) -> None:
    """Side-by-side benchmarks (`raysvc bench --help`)."""
    module = importlib.import_module("services.bench.cli")
    raise typer.Exit(module.main(list(ctx.args)))


# --- raysvc up -------------------------------------------------------------------------------------------
LOOPBACK = "127.0.0.1"
API_KEYS_FILE = "api-keys.json"
DRAIN_S = 4.0  # uvicorn's graceful shutdown of a service on SIGTERM: in-flight requests are answered


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _agent_port(default: int = 52365) -> int:
    """A Ray port (the dashboard agent's by default): its default, or a free one when another Ray on this
    host holds it."""
    if _port_free(LOOPBACK, default):
        return default
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def _http_ok(url: str) -> bool:
    import httpx

    try:
        return httpx.get(url, timeout=2.0).status_code < 500
    except httpx.HTTPError:
        return False


def _wait_until(
    ready: Any, timeout_s: float, proc: subprocess.Popen[bytes] | None = None, stop: Any = None
) -> bool:
    """Wait until ``ready()``; give up when ``proc`` exits or ``stop()`` turns true."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not (stop and stop()):
        if proc is not None and proc.poll() is not None:
            return False
        if ready():
            return True
        time.sleep(0.5)
    return False


def _family(procs: list[subprocess.Popen[bytes]], marker: str | None) -> dict[int, Any]:
    """``procs``, their descendants, and every process with ``marker`` on its command line, by pid."""
    import psutil

    family: dict[int, psutil.Process] = {}
    for p in procs:
        try:
            root = psutil.Process(p.pid)
            family[root.pid] = root
            for child in root.children(recursive=True):
                family[child.pid] = child
        except psutil.NoSuchProcess:
            pass
    if marker:
        for proc in psutil.process_iter(["cmdline"]):
            if any(marker in part for part in (proc.info.get("cmdline") or [])):
                family[proc.pid] = proc
    return family


def _stop_platform(
    services: list[subprocess.Popen[bytes]], head: subprocess.Popen[bytes] | None, ray_tmp: str
) -> None:
    """Services first: SIGTERM, uvicorn answers what is in flight (``DRAIN_S``), SIGKILL after. Then the Ray
    cluster, which is thrown away: SIGKILL at once (its daemons' graceful exit takes 10-20 s), including
    job drivers and workers started while the services drained."""
    ray_family = _family([head] if head else [], ray_tmp)  # the slow scan, before Ray is needed no more
    _kill_tree(services, None, grace_s=DRAIN_S + 1)
    ray_family |= _family([head] if head else [], None)
    _kill_now(list(ray_family.values()))


def _kill_now(procs: list[Any]) -> None:
    """SIGKILL ``procs`` (psutil processes, some perhaps gone already) and reap them (5 s at most)."""
    import psutil

    for proc in procs:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(procs, timeout=5)


def _kill_tree(procs: list[subprocess.Popen[bytes]], marker: str | None, grace_s: float = 10.0) -> None:
    """SIGTERM every process we started and their descendants; SIGKILL what is left after ``grace_s``.

    Ray's GCS and raylet may ignore SIGTERM for a while, and Ray workers can be re-parented when the
    raylet dies first, so descendants are collected before any signal, and a final sweep kills whatever
    still carries this run's private temp dir (``marker``) on its command line.
    """
    import psutil

    victims = _family(procs, marker)
    for proc in victims.values():
        try:
            proc.send_signal(signal.SIGTERM)
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(list(victims.values()), timeout=grace_s)
    _kill_now(alive)
    for p in procs:
        try:
            p.wait(timeout=1)
        except subprocess.TimeoutExpired:
            pass


class Supervised:
    """One service process under ``raysvc up``, restarted with exponential backoff when it dies.

    The delay doubles with each crash in a row (``backoff_s`` up to ``max_backoff_s``); a run that lasted
    ``stable_s`` starts the count again. After ``give_up_after`` crashes in a row the service stays down
    (a crash loop: the log says why) while the Ray head, the other services and the jobs keep running.
    The restart count reaches the service in ``RAYSVC_RESTARTS``.
    """

    def __init__(
        self,
        name: str,
        cmd: list[str],
        env: dict[str, str],
        log_path: Path,
        *,
        backoff_s: float = 1.0,
        max_backoff_s: float = 30.0,
        stable_s: float = 60.0,
        give_up_after: int = 5,
    ) -> None:
        self.name, self.cmd, self.env, self.log_path = name, cmd, env, log_path
        self.backoff_s, self.max_backoff_s, self.stable_s, self.give_up_after = (
            backoff_s,
            max_backoff_s,
            stable_s,
            give_up_after,
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self.crashes_in_a_row = 0
        self.started_at = 0.0
        self.restart_at: float | None = None
        self.gave_up = False

    def start(self) -> None:
        with open(
            self.log_path, "ab"
        ) as log_file:  # appended: the crash that caused a restart stays readable
            self.proc = subprocess.Popen(
                self.cmd,
                env=self.env | {"RAYSVC_RESTARTS": str(self.restarts)},
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started_at = time.monotonic()

    def check(self) -> str | None:
        """Notice a dead process and restart it once its backoff has passed; a line to log when something happened."""
        if self.gave_up or self.proc is None or self.proc.poll() is None:
            return None
        now = time.monotonic()
        if self.restart_at is None:
            ran_s = now - self.started_at
            self.crashes_in_a_row = 1 if ran_s >= self.stable_s else self.crashes_in_a_row + 1
            if self.crashes_in_a_row > self.give_up_after:
                self.gave_up = True
                return (
                    f"[red]{self.name} crashed {self.crashes_in_a_row} times in a row, each within "
                    f"{self.stable_s:.0f}s of its start; not restarting it (see {self.log_path})[/red]"
                )
            delay = min(self.backoff_s * 2 ** (self.crashes_in_a_row - 1), self.max_backoff_s)
            self.restart_at = now + delay
            return (
                f"[yellow]{self.name} exited with code {self.proc.returncode} after {ran_s:.1f}s; "
                f"restarting in {delay:.1f}s[/yellow]"
            )
        if now < self.restart_at:
            return None
        self.restart_at = None
        self.restarts += 1
        self.start()
        return f"{self.name} restarted (restart {self.restarts})"


class RayHead:
    """The local Ray head (``ray start --head --block``) under ``raysvc up``, started again when it dies.

    As KubeRay replaces a failed head pod: the services stay up and reconnect on their own. The jobs of the
    dead head cannot survive it (no GCS fault tolerance locally), so before the new head starts, each job
    driver left running is stopped and its cause written where the job's outcome goes. After
    ``give_up_after`` deaths in a row, each within ``stable_s`` of its start, the platform stops.
    """

    def __init__(
        self,
        cmd: list[str],
        env: dict[str, str],
        log_path: Path,
        ray_tmp: str,
        results_dir: Path,
        ports: list[int],
        *,
        stable_s: float = 60.0,
        give_up_after: int = 3,
    ) -> None:
        self.cmd, self.env, self.log_path, self.ray_tmp, self.results_dir = (
            cmd,
            env,
            log_path,
            ray_tmp,
            results_dir,
        )
        self.ports, self.stable_s, self.give_up_after = ports, stable_s, give_up_after
        self.proc: subprocess.Popen[bytes] | None = None
        self.restarts = self.deaths_in_a_row = 0
        self.started_at = 0.0
        log_path.write_bytes(b"")

    def start(self, dashboard_port: int, stop: Any) -> bool:
        """Start the head and wait until its raylet has registered and its dashboard answers.

        The dashboard answers before the raylet has registered; services started then slow that registration,
        which `ray start` gives only 30 s (it failed so on a loaded machine).
        """
        seen = self.log_path.read_bytes().count(b"Ray runtime started")
        with open(self.log_path, "ab") as head_log:  # appended: a crash stays readable after a restart
            self.proc = subprocess.Popen(
                self.cmd, env=self.env, stdout=head_log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.started_at = time.monotonic()

        def _up() -> bool:
            started = self.log_path.read_bytes().count(b"Ray runtime started") > seen
            return started and _http_ok(f"http://127.0.0.1:{dashboard_port}/api/version")

        return _wait_until(_up, 150, self.proc, stop)

    def recover(self, dashboard_port: int, stop: Any) -> bool:
        """After the head exited: stop its orphaned job drivers (recording why), clear what is left of it,
        wait for its ports and start a new head. False when it keeps dying or does not come back."""
        assert self.proc is not None
        code, t0 = self.proc.returncode, time.monotonic()
        self.deaths_in_a_row = (
            1 if time.monotonic() - self.started_at >= self.stable_s else self.deaths_in_a_row + 1
        )
        if self.deaths_in_a_row > self.give_up_after:
            console.print(
                f"[red]the Ray head died {self.deaths_in_a_row} times in a row; stopping; see {self.log_path}[/red]"
            )
            return False
        console.print(
            f"[red]the Ray head exited (code {code}); starting a new one; see {self.log_path}[/red]"
        )
        stopped = _stop_orphaned_drivers(self.results_dir, f"the local Ray head exited (code {code})")
        if stopped:
            console.print(
                f"[yellow]stopped the driver(s) of {len(stopped)} job(s) of the dead head, marked FAILED with "
                f"the cause: {', '.join(stopped)}[/yellow]",
                soft_wrap=True,
            )
        _kill_tree([self.proc], self.ray_tmp, grace_s=0)
        if not _wait_until(lambda: all(_port_free(LOOPBACK, p) for p in self.ports), 60, None, stop):
            console.print(f"[red]the dead Ray head's ports {self.ports} are still taken; stopping[/red]")
            return False
        self.restarts += 1
        if not self.start(dashboard_port, stop):
            if not stop():
                console.print(f"[red]the new Ray head did not come up; see {self.log_path}[/red]")
            return False
        console.print(
            f"Ray head restarted in {time.monotonic() - t0:.1f}s (restart {self.restarts}); "
            "the services reconnect on their own"
        )
        return True


def _stop_orphaned_drivers(results_dir: Path, cause: str) -> list[str]:
    """Stop every job driver writing under ``results_dir`` (found by its ``--job-dir``) and record ``cause``
    in its job folder, unless the job already has an outcome; the ids of the jobs whose outcome this wrote."""
    import re

    import psutil

    from services.core.errors import ProblemError
    from services.core.jobs import ERROR_FILE, PROGRESS_FILE, RESULT_FILE, write_json

    job_dir_arg = re.compile(rf"--job-dir[ =]({re.escape(str(results_dir))}/[^\s/]+)")
    at = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    failed: list[str] = []
    drivers = []
    for proc in psutil.process_iter(["cmdline"]):
        match = job_dir_arg.search(" ".join(proc.info.get("cmdline") or []))
        if match is None:
            continue
        drivers.append(proc)
        job_dir = Path(match.group(1))
        if (job_dir / RESULT_FILE).exists() or (
            job_dir / ERROR_FILE
        ).exists():  # an outcome already, or just written
            continue
        problem = ProblemError.unavailable(
            "Ray", f"{cause} at {at}; the job's driver was stopped; submit the job again"
        )
        write_json(job_dir / ERROR_FILE, problem.body())
        write_json(job_dir / PROGRESS_FILE, {"progress": 0.0, "message": problem.detail, "at": time.time()})
        failed.append(job_dir.name)
    _kill_now(drivers)
    return failed


def _admin_key_store(path: Path) -> Path:
    """The services' API key store; made with an ``admin`` key (scopes read, jobs), shown once, if absent."""
    from services.core.auth import create_key

    if path.exists():
        console.print(
            f"API keys: {path} (more: raysvc keys create NAME --scope read --file {path})", soft_wrap=True
        )
    else:
        key = create_key(path, "admin", ["read", "jobs"])
        console.print(
            f"API key [bold]admin[/bold] (scopes read, jobs), shown only now: {key}", soft_wrap=True
        )
        console.print(f"  use: curl -H 'Authorization: Bearer {key}' …; store: {path}", soft_wrap=True)
    return path


def _ray_head_env(env: dict[str, str], host: str) -> dict[str, str]:
    """The head's environment: on loopback Ray treats the machine as a single-node cluster, so every Ray
    port (GCS, raylet, object manager, workers, agents, Ray Client) binds 127.0.0.1. ``ray start`` rewrites
    ``--node-ip-address 127.0.0.1`` to the external address; this switch is what Ray uses on macOS."""
    if host == LOOPBACK:
        return env | {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    return env


@app.command()
def up(
    host: Annotated[
        str, typer.Option(help="interface the services and Ray bind; 0.0.0.0 exposes them")
    ] = LOOPBACK,
    sentiment_port: int = SERVICES["sentiment"],
    garch_port: int = SERVICES["garch"],
    portfolio_port: int = SERVICES["portfolio"],
    intraday_port: int = SERVICES["intraday"],
    dashboard_port: Annotated[int, typer.Option(help="Ray dashboard and Jobs API")] = 8265,
    gcs_port: Annotated[int, typer.Option(help="Ray head GCS port")] = 6379,
    client_port: Annotated[int, typer.Option(help="Ray Client server port (services connect here)")] = 10001,
    num_cpus: Annotated[int | None, typer.Option(help="CPUs of the Ray head (default: all)")] = None,
    only: Annotated[str | None, typer.Option(help="comma-separated subset of services")] = None,
    state_dir: Annotated[Path, typer.Option(help="results, logs and the auth token")] = Path(".raysvc"),
    ray_auth: Annotated[bool, typer.Option(help="Ray token authentication (as on Kubernetes)")] = True,
    auth: Annotated[
        bool, typer.Option(help=f"API keys for the services (store: STATE_DIR/{API_KEYS_FILE})")
    ] = False,
    ready_timeout: Annotated[float, typer.Option(help="seconds to wait for every /readyz")] = 120.0,
    monitor: Annotated[
        bool, typer.Option(help="a local Prometheus scraping the services and Ray, with the alert rules")
    ] = False,
    prometheus_port: Annotated[int, typer.Option(help="Prometheus' port (with --monitor)")] = 9090,
) -> None:
    """Start a local Ray head and the four services connected to it through RAY_ADDRESS (like Kubernetes).

    A service that dies is restarted (with backoff); SIGTERM or Ctrl-C stops everything within ~10 s.
    With --monitor, a Prometheus (docs/observability.md) runs beside them and stops with them.
    """
    from services import monitor as mon
    from services.core import datagen
    from services.core.settings import get_settings

    settings = get_settings()
    names = [_check_service(n.strip()) for n in only.split(",")] if only else list(SERVICES)
    ports = {
        "sentiment": sentiment_port,
        "garch": garch_port,
        "portfolio": portfolio_port,
        "intraday": intraday_port,
    }
    wanted = {f"--{n}-port": ports[n] for n in names} | {
        "--dashboard-port": dashboard_port,
        "--gcs-port": gcs_port,
        "--client-port": client_port,
    }
    if monitor:
        wanted["--prometheus-port"] = prometheus_port
    taken = [f"{port} ({opt})" for opt, port in wanted.items() if not _port_free(LOOPBACK, port)]
    if taken:
        console.print(
            f"[red]port(s) already in use: {', '.join(taken)}[/red]; choose others with those options"
        )
        raise typer.Exit(2)
    try:
        prometheus_bin, rules = (mon.prometheus_binary(), mon.rules_file()) if monitor else ("", None)
    except mon.MonitorError as e:
        console.print(f"[red]{e}[/red]", soft_wrap=True)
        raise typer.Exit(2) from e

    state_dir = state_dir.resolve()
    results_dir = (
        (state_dir / "results")
        if settings.results_dir == Path(".raysvc/results")
        else settings.results_dir.resolve()
    )
    logs_dir = state_dir / "logs"
    for d in (results_dir, logs_dir):
        d.mkdir(parents=True, exist_ok=True)
    data_dir = settings.data_dir.resolve()
    with console.status(f"checking datasets in {data_dir}"):
        datagen.generate(data_dir)

    # a short private temp dir: Ray's unix socket paths must stay under ~107 characters
    ray_tmp = tempfile.mkdtemp(prefix="raysvc-")
    env = dict(os.environ)
    env["PATH"] = (
        f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # job drivers find our python
    )
    env.pop("RAY_ADDRESS", None)
    if ray_auth:
        token_file = state_dir / "auth_token"
        if not token_file.exists():
            token_file.write_text(secrets.token_hex(32))
            token_file.chmod(0o600)
        env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token_file))
    else:
        env["RAY_AUTH_MODE"] = "disabled"
    env.update(
        RAYSVC_DATA_DIR=str(data_dir),
        RAYSVC_RESULTS_DIR=str(results_dir),
        RAYSVC_SENTIMENT_URL=f"http://127.0.0.1:{sentiment_port}",
        RAYSVC_GARCH_URL=f"http://127.0.0.1:{garch_port}",
        RAY_USAGE_STATS_ENABLED="0",
    )
    head: RayHead | None = None
    services: dict[str, Supervised] = {}
    prometheus: Supervised | None = None
    prometheus_tsdb = ""
    targets_file = state_dir / "prometheus-targets.json"
    scraped: dict[str, int] = {}

    def _scrape(name: str) -> None:  # from a service's first readiness on (see monitor.write_targets)
        if prometheus is not None and name not in scraped:
            scraped[name] = ports[name]
            mon.write_targets(targets_file, scraped)

    stopping = False
    exit_code = 0

    def _stop(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    start = time.monotonic()
    try:
        ray_bin = shutil.which("ray", path=env["PATH"]) or "ray"
        agent_port, metrics_port = _agent_port(), _agent_port(8080)
        # the head's autoscaler and dashboard metrics: Ray's fixed defaults unless another Ray holds them
        head_env_ports = {
            "AUTOSCALER_METRIC_PORT": _agent_port(44217),
            "DASHBOARD_METRIC_PORT": _agent_port(44227),
        }
        head_env = _ray_head_env(env, host) | {k: str(v) for k, v in head_env_ports.items()}
        if rules is not None:
            mon.write_targets(targets_file, {})
            config = mon.write_config(state_dir / "prometheus.yml", targets_file, ray_tmp, rules)
            prometheus_tsdb = tempfile.mkdtemp(prefix="raysvc-prom-")
            prom_cmd = mon.command(prometheus_bin, config, prometheus_tsdb, host, prometheus_port)
            (logs_dir / "prometheus.log").write_bytes(b"")
            prometheus = Supervised("prometheus", prom_cmd, env, logs_dir / "prometheus.log")
            prometheus.start()
            prom_ready = f"http://127.0.0.1:{prometheus_port}/-/ready"
            if not _wait_until(lambda: _http_ok(prom_ready), 60, prometheus.proc, lambda: stopping):
                if stopping:
                    raise typer.Exit(0)
                console.print(f"[red]Prometheus did not start; see {logs_dir / 'prometheus.log'}[/red]")
                raise typer.Exit(1)
            head_env["RAY_PROMETHEUS_HOST"] = f"http://127.0.0.1:{prometheus_port}"  # the dashboard's metrics
        head_cmd = [
            ray_bin,
            "start",
            "--head",
            "--block",
            f"--port={gcs_port}",
            f"--dashboard-host={host}",
            f"--dashboard-port={dashboard_port}",
            f"--ray-client-server-port={client_port}",
            f"--temp-dir={ray_tmp}",
            "--disable-usage-stats",
            "--include-dashboard=true",
            f"--dashboard-agent-listen-port={agent_port}",
            f"--metrics-export-port={metrics_port}",
        ] + ([f"--num-cpus={num_cpus}"] if num_cpus else [])
        console.print(
            f"starting Ray head (GCS :{gcs_port}, client :{client_port}, dashboard :{dashboard_port})"
        )
        head = RayHead(
            head_cmd,
            head_env,
            logs_dir / "ray-head.log",
            ray_tmp,
            results_dir,
            [gcs_port, client_port, dashboard_port, agent_port, metrics_port, *head_env_ports.values()],
        )
        if not head.start(dashboard_port, lambda: stopping):
            if not stopping:
                console.print(f"[red]the Ray head did not come up; see {logs_dir / 'ray-head.log'}[/red]")
                raise typer.Exit(1)
            raise typer.Exit(0)
        svc_env = env | {
            "RAY_ADDRESS": f"ray://127.0.0.1:{client_port}",
            "RAYSVC_JOBS_ADDRESS": f"http://127.0.0.1:{dashboard_port}",
            "RAYSVC_JOB_GCS_ADDRESS": f"127.0.0.1:{gcs_port}",  # drivers join this head, not another Ray here
        }
        if auth:
            svc_env["RAYSVC_API_KEYS_FILE"] = str(_admin_key_store(state_dir / API_KEYS_FILE))
        for n in names:
            cmd = [
                sys.executable,
                "-m",
                "services.cli",
                "serve",
                n,
                "--host",
                host,
                "--port",
                str(ports[n]),
                f"--drain-timeout={DRAIN_S}",
            ]
            (logs_dir / f"{n}.log").write_bytes(b"")
            services[n] = Supervised(n, cmd, svc_env, logs_dir / f"{n}.log")
            services[n].start()
        table = Table(title="Ray Services (local)")
        table.add_column("component")
        table.add_column("URL")
        table.add_row("Ray dashboard / Jobs API", f"http://127.0.0.1:{dashboard_port}")
        table.add_row("Ray Client (RAY_ADDRESS)", f"ray://127.0.0.1:{client_port}")
        table.add_row("Ray metrics (head node)", f"http://127.0.0.1:{metrics_port}/metrics")
        if prometheus is not None:
            table.add_row("Prometheus (alerts: /alerts)", f"http://{host}:{prometheus_port}")
        for n in names:
            table.add_row(n, f"http://{host}:{ports[n]}  (docs: /docs)")
        console.print(table)
        exit_code = _supervise(
            head,
            dashboard_port,
            services,
            ports,
            ready_timeout,
            start,
            lambda: stopping,
            (prometheus,) if prometheus else (),
            _scrape,
        )
    finally:
        console.print("stopping services and the Ray head…")
        t0 = time.monotonic()
        children = [*services.values(), *([prometheus] if prometheus else [])]
        _stop_platform([s.proc for s in children if s.proc is not None], head.proc if head else None, ray_tmp)
        shutil.rmtree(ray_tmp, ignore_errors=True)
        if prometheus_tsdb:
            shutil.rmtree(prometheus_tsdb, ignore_errors=True)
        console.print(f"stopped in {time.monotonic() - t0:.1f}s")
    raise typer.Exit(exit_code)


def _supervise(
    head: RayHead,
    dashboard_port: int,
    services: dict[str, Supervised],
    ports: dict[str, int],
    ready_timeout: float,
    start: float,
    stop: Any,
    others: tuple[Supervised, ...] = (),
    on_ready: Callable[[str], None] = lambda name: None,
) -> int:
    """Report readiness, restart a crashed service, other child (Prometheus) or Ray head, until ``stop()``; 1 if
    the head cannot be brought back. ``others`` are restarted too, with no readiness to report; ``on_ready(n)``
    runs each time service ``n`` is ready, and for those still pending when ``ready_timeout`` ends."""
    import httpx

    pending = set(services)
    ready_by = time.monotonic() + ready_timeout
    while not stop():
        if head.proc is not None and head.proc.poll() is not None and not stop():
            if not head.recover(dashboard_port, stop):
                return 0 if stop() else 1
            pending |= {n for n, s in services.items() if not s.gave_up}  # report when each has reconnected
            continue
        for n, s in services.items():
            restarts = s.restarts
            if line := s.check():
                console.print(line)
            if s.restarts != restarts:
                pending.add(n)  # report when it is ready again
        for other in others:
            if line := other.check():
                console.print(line)
        for n in sorted(pending):
            try:
                if httpx.get(f"http://127.0.0.1:{ports[n]}/readyz", timeout=2).status_code == 200:
                    pending.discard(n)
                    on_ready(n)
                    console.print(f"  {n} ready after {time.monotonic() - start:.1f}s")
                    if not pending:
                        console.print(
                            f"[green]all services ready in {time.monotonic() - start:.1f}s[/green]"
                            " — Ctrl-C stops everything"
                        )
            except httpx.HTTPError:
                pass
        if pending and time.monotonic() > ready_by:
            console.print(
                f"[yellow]not ready yet: {sorted(pending)}; logs in {head.log_path.parent}[/yellow]"
            )
            ready_by = float("inf")
            for n in pending:  # scraped from now on: a service that never gets ready is down
                on_ready(n)
        time.sleep(0.5)
    return 0


def main() -> None:
    app()


if __name__ == "__main__":
    main()
