"""``raysvc``: run the platform locally, one service, data generation, batch jobs and benchmarks."""

from __future__ import annotations

import importlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from services import SERVICES

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Ray Services: quant analytics on Ray.")
data_app = typer.Typer(no_args_is_help=True, help="The project's datasets.")
app.add_typer(data_app, name="data")
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
) -> None:
    """Run one service (on the Ray that RAY_ADDRESS names; embedded local Ray when unset)."""
    import uvicorn

    _check_service(name)
    uvicorn.run(
        f"services.{name}.app:app",
        host=host,
        port=port or SERVICES[name],
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )


@data_app.command("generate")
def data_generate(
    out: Annotated[Path | None, typer.Option(help="target folder (default: RAYSVC_DATA_DIR or ./data)")] = None,
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
def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _agent_port(default: int = 52365) -> int:
    """Ray's dashboard agent port: its default, or a free one when another Ray on this host holds it."""
    if _port_free("127.0.0.1", default):
        return default
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(url: str, timeout_s: float, proc: subprocess.Popen[bytes] | None = None) -> bool:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            if httpx.get(url, timeout=2.0).status_code < 500:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    return False


def _kill_tree(procs: list[subprocess.Popen[bytes]], marker: str | None, grace_s: float = 10.0) -> None:
    """SIGTERM every process we started and their descendants; SIGKILL what is left after ``grace_s``.

    Ray's GCS and raylet may ignore SIGTERM for a while, and Ray workers can be re-parented when the
    raylet dies first, so descendants are collected before any signal, and a final sweep kills whatever
    still carries this run's private temp dir (``marker``) on its command line.
    """
    import psutil

    victims: dict[int, psutil.Process] = {}
    for p in procs:
        try:
            root = psutil.Process(p.pid)
            victims[root.pid] = root
            for child in root.children(recursive=True):
                victims[child.pid] = child
        except psutil.NoSuchProcess:
            pass
    if marker:
        for proc in psutil.process_iter(["cmdline"]):
            if any(marker in part for part in (proc.info.get("cmdline") or [])):
                victims[proc.pid] = proc
    for proc in victims.values():
        try:
            proc.send_signal(signal.SIGTERM)
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(list(victims.values()), timeout=grace_s)
    for proc in alive:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=5)
    for p in procs:
        try:
            p.wait(timeout=1)
        except subprocess.TimeoutExpired:
            pass


@app.command()
def up(
    host: Annotated[str, typer.Option(help="interface the services bind")] = "127.0.0.1",
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
    auth: Annotated[bool, typer.Option(help="Ray token authentication (as on Kubernetes)")] = True,
    ready_timeout: Annotated[float, typer.Option(help="seconds to wait for every /readyz")] = 120.0,
) -> None:
    """Start a local Ray head and the four services connected to it through RAY_ADDRESS (like Kubernetes)."""
    from services.core import datagen
    from services.core.settings import get_settings

    settings = get_settings()
    names = [_check_service(n.strip()) for n in only.split(",")] if only else list(SERVICES)
    ports = {"sentiment": sentiment_port, "garch": garch_port, "portfolio": portfolio_port, "intraday": intraday_port}
    wanted = {f"--{n}-port": ports[n] for n in names} | {
        "--dashboard-port": dashboard_port,
        "--gcs-port": gcs_port,
        "--client-port": client_port,
    }
    taken = [f"{port} ({opt})" for opt, port in wanted.items() if not _port_free("127.0.0.1", port)]
    if taken:
        console.print(f"[red]port(s) already in use: {', '.join(taken)}[/red]; choose others with those options")
        raise typer.Exit(2)

    state_dir = state_dir.resolve()
    results_dir = (state_dir / "results") if settings.results_dir == Path(".raysvc/results") else settings.results_dir.resolve()
    logs_dir = state_dir / "logs"
    for d in (results_dir, logs_dir):
        d.mkdir(parents=True, exist_ok=True)
    data_dir = settings.data_dir.resolve()
    with console.status(f"checking datasets in {data_dir}"):
        datagen.generate(data_dir)

    # a short private temp dir: Ray's unix socket paths must stay under ~107 characters
    ray_tmp = tempfile.mkdtemp(prefix="raysvc-")
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # job drivers find our python
    env.pop("RAY_ADDRESS", None)
    if auth:
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
    procs: list[subprocess.Popen[bytes]] = []
    stopping = False

    def _stop(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    start = time.monotonic()
    try:
        ray_bin = shutil.which("ray", path=env["PATH"]) or "ray"
        head_cmd = [
            ray_bin, "start", "--head", "--block", f"--port={gcs_port}",
            "--dashboard-host=127.0.0.1", f"--dashboard-port={dashboard_port}",
            f"--ray-client-server-port={client_port}", f"--temp-dir={ray_tmp}", "--disable-usage-stats",
            "--include-dashboard=true", f"--dashboard-agent-listen-port={_agent_port()}",
        ] + ([f"--num-cpus={num_cpus}"] if num_cpus else [])
        console.print(f"starting Ray head (GCS :{gcs_port}, client :{client_port}, dashboard :{dashboard_port})")
        head_log = open(logs_dir / "ray-head.log", "wb")  # noqa: SIM115 - lives as long as the head
        procs.append(subprocess.Popen(head_cmd, env=env, stdout=head_log, stderr=subprocess.STDOUT, start_new_session=True))
        if not _wait_http(f"http://127.0.0.1:{dashboard_port}/api/version", 90, procs[0]):
            console.print(f"[red]the Ray head did not come up; see {logs_dir / 'ray-head.log'}[/red]")
            raise typer.Exit(1)
        svc_env = env | {
            "RAY_ADDRESS": f"ray://127.0.0.1:{client_port}",
            "RAYSVC_JOBS_ADDRESS": f"http://127.0.0.1:{dashboard_port}",
        }
        for n in names:
            log_file = open(logs_dir / f"{n}.log", "wb")  # noqa: SIM115
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "services.cli", "serve", n, "--host", host, "--port", str(ports[n])],
                    env=svc_env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
                )
            )
        table = Table(title="Ray Services (local)")
        table.add_column("component")
        table.add_column("URL")
        table.add_row("Ray dashboard / Jobs API", f"http://127.0.0.1:{dashboard_port}")
        table.add_row("Ray Client (RAY_ADDRESS)", f"ray://127.0.0.1:{client_port}")
        for n in names:
            table.add_row(n, f"http://{host}:{ports[n]}  (docs: /docs)")
        console.print(table)
        pending = set(names)
        deadline = time.monotonic() + ready_timeout
        while pending and not stopping and time.monotonic() < deadline:
            for n in sorted(pending):
                try:
                    import httpx

                    if httpx.get(f"http://127.0.0.1:{ports[n]}/readyz", timeout=2).status_code == 200:
                        pending.discard(n)
                        console.print(f"  {n} ready after {time.monotonic() - start:.1f}s")
                except Exception:  # noqa: BLE001 - not up yet
                    pass
            if any(p.poll() is not None for p in procs):
                break
            time.sleep(0.5)
        if pending and not stopping:
            console.print(f"[yellow]not ready yet: {sorted(pending)}; logs in {logs_dir}[/yellow]")
        else:
            console.print(f"[green]all services ready in {time.monotonic() - start:.1f}s[/green] — Ctrl-C stops everything")
        while not stopping:
            dead = [p for p in procs if p.poll() is not None]
            if dead:
                console.print(f"[red]a process exited ({dead[0].args[:4]}); stopping; logs in {logs_dir}[/red]")
                break
            time.sleep(0.5)
    finally:
        console.print("stopping services and the Ray head…")
        _kill_tree(procs[1:][::-1], None)
        _kill_tree(procs[:1], ray_tmp)
        shutil.rmtree(ray_tmp, ignore_errors=True)
        console.print("stopped")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
