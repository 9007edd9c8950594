"""A real multi-node Ray cluster on this machine (``ray start --head`` + ``ray start --address``), on free ports."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx


def stop_process(proc: subprocess.Popen, grace_s: float = 60) -> None:
    """SIGTERM ``proc`` if it still runs (``raysvc up`` stops its family on it), SIGKILL after ``grace_s``."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()


_HANDED_OUT: set[int] = set()


def free_port(avoid: range = range(10002, 20000)) -> int:
    """A free TCP port on loopback outside ``avoid`` (Ray's worker port range by default), never one this
    process was given before: the kernel may offer a port again once its probe socket is closed, and two
    options of one command line given the same port (CI: garch's and Ray Client's) make one of them fail."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in avoid and port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


@dataclass
class LocalCluster:
    gcs_port: int = field(default_factory=free_port)
    client_port: int = field(default_factory=free_port)
    dashboard_port: int = field(default_factory=free_port)
    temp_dir: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="rc", dir="/tmp"))
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.env = dict(os.environ)
        self.env.pop("RAY_ADDRESS", None)
        self.env["RAY_AUTH_MODE"] = "disabled"
        self.env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{self.env.get('PATH', '')}"
        self.ray = shutil.which("ray", path=self.env["PATH"]) or "ray"

    @property
    def driver_address(self) -> str:
        return f"127.0.0.1:{self.gcs_port}"

    @property
    def client_address(self) -> str:
        return f"ray://127.0.0.1:{self.client_port}"

    @property
    def jobs_address(self) -> str:
        return f"http://127.0.0.1:{self.dashboard_port}"

    def _agent_ports(self) -> list[str]:
        return [
            f"--dashboard-agent-listen-port={free_port()}",
            f"--dashboard-agent-grpc-port={free_port()}",
            f"--metrics-export-port={free_port()}",
            f"--runtime-env-agent-port={free_port()}",
        ]

    def start(self, workers: int = 1, cpus_per_node: int = 1) -> LocalCluster:
        head = [
            self.ray,
            "start",
            "--head",
            f"--port={self.gcs_port}",
            f"--num-cpus={cpus_per_node}",
            f"--ray-client-server-port={self.client_port}",
            "--dashboard-host=127.0.0.1",
            f"--dashboard-port={self.dashboard_port}",
            f"--temp-dir={self.temp_dir}",
            "--disable-usage-stats",
            "--include-dashboard=true",
            *self._agent_ports(),
        ]
        subprocess.run(head, env=self.env, check=True, capture_output=True, timeout=180)
        for _ in range(workers):
            node = [
                self.ray,
                "start",
                f"--address={self.driver_address}",
                f"--num-cpus={cpus_per_node}",
                "--disable-usage-stats",
                *self._agent_ports(),
            ]
            subprocess.run(node, env=self.env, check=True, capture_output=True, timeout=180)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.jobs_address}/api/version", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(1)
        raise RuntimeError("the local cluster's dashboard did not come up")

    def stop(self) -> None:
        """Kill every process of this cluster (its temp dir is on their command lines), never `ray stop`."""
        from services.cli import _kill_tree

        _kill_tree([], self.temp_dir, grace_s=5)
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def wait_ready(url: str, proc: subprocess.Popen, tail: Callable[[], str], timeout_s: float = 240) -> None:
    """Until ``url``'s ``/readyz`` answers 200; fails with ``tail()`` (the process's log) if ``proc`` exits
    or the time is up."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, tail()
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise AssertionError(f"{url} not ready in {timeout_s:.0f}s\n{tail()}")


REPO = Path(__file__).resolve().parents[2]


@dataclass
class RaysvcUp:
    """A running ``raysvc up`` (a Ray head plus services, each its own process, as a user runs it)."""

    proc: subprocess.Popen
    ports: dict[str, int]
    state: Path
    env: dict[str, str]
    log: IO[bytes]

    @property
    def urls(self) -> dict[str, str]:
        return {n: f"http://127.0.0.1:{p}" for n, p in self.ports.items()}

    @property
    def client_env(self) -> dict[str, str]:
        """Environment in which a process finds these services through the settings (a notebook's)."""
        return {
            **self.env,
            "RAYSVC_HOST": "127.0.0.1",
            **{f"RAYSVC_{n.upper()}_PORT": str(p) for n, p in self.ports.items()},
        }

    def tail(self, names: Iterable[str] | None = None, n: int = 2000) -> str:
        """The end of ``raysvc up``'s own output and of each service's log (``names``: which; default all)."""
        logs = [self.state / "up.log", *(self.state / "logs" / f"{s}.log" for s in (names or self.ports))]
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-n:]}" for p in logs if p.exists())

    def stop(self, grace_s: float = 90) -> None:
        """SIGTERM (``raysvc up`` stops its family on it); the whole process group killed after ``grace_s``."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def start_raysvc_up(
    state: Path,
    data_dir: Path,
    *,
    only: Sequence[str] | None = None,
    env: Mapping[str, str | None] | None = None,
    ready_timeout_s: float = 300,
) -> RaysvcUp:
    """``raysvc up`` of ``only`` (default: every service) on free ports, with 2 CPUs, its state in ``state``
    and the generated data of ``data_dir``, in this environment updated by ``env`` (None removes a variable);
    returns once every service's ``/readyz`` answers 200 (a cold start on a busy 2-CPU machine takes up to ~2
    minutes), or stops it and fails with the logs' tails."""
    from services import SERVICES

    names = list(only or SERVICES)
    ports = {n: free_port() for n in names}
    cmd = [
        sys.executable,
        "-m",
        "services.cli",
        "up",
        *(["--only", ",".join(names)] if only else []),
        "--num-cpus=2",
        f"--state-dir={state}",
        f"--dashboard-port={free_port()}",
        f"--gcs-port={free_port()}",
        f"--client-port={free_port()}",
        f"--ready-timeout={ready_timeout_s:.0f}",
        *[f"--{n}-port={p}" for n, p in ports.items()],
    ]
    full_env = {**os.environ, "RAYSVC_DATA_DIR": str(data_dir)}
    for key, value in (env or {}).items():
        if value is None:
            full_env.pop(key, None)
        else:
            full_env[key] = value
    log = open(state / "up.log", "wb")  # closed by RaysvcUp.stop
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=full_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    up = RaysvcUp(proc, ports, state, full_env, log)
    deadline = time.monotonic() + ready_timeout_s
    pending = set(names)
    while pending and time.monotonic() < deadline and proc.poll() is None:
        for n in sorted(pending):
            try:
                if httpx.get(f"{up.urls[n]}/readyz", timeout=2).status_code == 200:
                    pending.discard(n)
            except httpx.HTTPError:
                pass
        time.sleep(0.5)
    if pending:
        exit_code = proc.poll()
        tails = up.tail(pending)
        up.stop()
        raise AssertionError(f"raysvc up: not ready {sorted(pending)} (exit {exit_code})\n{tails}")
    return up
