"""What the schemas cannot see: the chart against the code it runs.

Service selectors pick their pods; the probe paths are routes the FastAPI apps serve; the container
commands parse with the real ``raysvc`` CLI and its port defaults; the settings, fed the rendered
environment, read the paths the volumes are mounted at.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Any

import pytest

from .chartlib import RELEASE, env_of, loader_jobs, of_kind, one, pod_specs

services = pytest.importorskip("services", reason="the project package is not installed")
SERVICE_NAMES = list(services.SERVICES)


@pytest.fixture(scope="module")
def objects(render: Any) -> list[dict[str, Any]]:
    return render({})


def container_of(objects: list[dict[str, Any]], name: str) -> dict[str, Any]:
    (c,) = one(objects, "Deployment", f"{RELEASE}-{name}")["spec"]["template"]["spec"]["containers"]
    return c


def cli_params(argv: list[str]) -> tuple[str, dict[str, Any]]:
    """Parse ``argv`` (without the program name) with the real ``raysvc`` click command, running nothing.

    Returns the sub-command path (``"data generate"``) and its parsed parameters.
    """
    import typer

    from services.cli import app

    cmd: Any = typer.main.get_command(app)
    args, path = list(argv), []
    while hasattr(cmd, "commands"):  # a group: the next word names the sub-command (no group options)
        path.append(args.pop(0))
        cmd = cmd.commands[path[-1]]
    ctx = cmd.make_context(" ".join(path), args)
    return " ".join(path), ctx.params


def test_service_selectors_match_exactly_their_pods(objects: list[dict[str, Any]]) -> None:
    deployments = of_kind(objects, "Deployment")
    for svc in of_kind(objects, "Service"):
        selector = svc["spec"]["selector"]
        matching = [
            d for d in deployments if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert [d["metadata"]["name"] for d in matching] == [svc["metadata"]["name"]]
        (dep,) = matching
        assert dep["spec"]["selector"]["matchLabels"] == selector
        ports = {
            p["name"]: p["containerPort"] for p in dep["spec"]["template"]["spec"]["containers"][0]["ports"]
        }
        for port in svc["spec"]["ports"]:
            assert ports[port["targetPort"]] == port["port"]


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_ports_and_command_match_the_cli(
    name: str, objects: list[dict[str, Any]], defaults: dict[str, Any]
) -> None:
    c = container_of(objects, name)
    port = services.SERVICES[name]
    assert defaults["services"][name]["port"] == port
    assert c["ports"] == [{"name": "http", "containerPort": port}]
    command, params = cli_params(c["command"][1:])
    assert c["command"][0] == "raysvc"
    assert command == "serve"
    # the options the chart sets (others, e.g. the drain timeout, keep the CLI's defaults)
    assert {k: params[k] for k in ("name", "host", "port")} == {"name": name, "host": "0.0.0.0", "port": port}
    # the CLI's own default is the same port
    _, bare = cli_params(["serve", name])
    assert (bare["port"] or services.SERVICES[name]) == port


def test_loader_job_command_parses_and_writes_to_the_data_mount(objects: list[dict[str, Any]]) -> None:
    (job,) = loader_jobs(objects)
    c = job["spec"]["template"]["spec"]["containers"][0]
    command, params = cli_params(c["args"])
    assert command == "data generate"
    data_mount = [m for m in c["volumeMounts"] if m["name"] == "data"][0]
    assert params["out"] == Path(data_mount["mountPath"]) and not data_mount["readOnly"]


@pytest.mark.parametrize("pod", ["Deployment", "RayCluster"])
def test_settings_read_the_mounted_paths(
    pod: str, objects: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Feed each container's rendered environment to the real Settings; the paths must be the mount paths."""
    import os

    from services.core.settings import Settings

    specs = {k: v for k, v in pod_specs(objects).items() if k.startswith(pod + "/")}
    assert specs
    for key, spec in specs.items():
        c = spec["containers"][0]
        for var in list(os.environ):
            if var.startswith(("RAYSVC_", "RAY_")):
                monkeypatch.delenv(var)
        for var, value in env_of(c).items():
            if isinstance(value, str):
                monkeypatch.setenv(var, value)
        settings = Settings(_env_file=None)
        mounts = {m["name"]: Path(m["mountPath"]) for m in c["volumeMounts"]}
        assert settings.data_dir == mounts["data"], key
        assert settings.results_dir == mounts["results"], key
        if "models" in mounts:
            assert settings.models_dir == mounts["models"], key
        if pod == "Deployment":
            assert settings.ray_mode == "client", key
            assert settings.jobs_address == env_of(c)["RAYSVC_JOBS_ADDRESS"]
            for other in SERVICE_NAMES:
                if f"RAYSVC_{other.upper()}_URL" in env_of(c):
                    assert (
                        getattr(settings, f"{other}_url")
                        == f"http://{RELEASE}-{other}:{services.SERVICES[other]}"
                    )


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_probe_paths_are_routes_of_the_app(name: str, objects: list[dict[str, Any]]) -> None:
    """GET each probe path on the real app, without its lifespan (so without Ray): a route answers, a
    missing one is a 404. Liveness must not need Ray; readiness says 503 until the platform is up."""
    from fastapi.testclient import TestClient

    module = f"services.{name}.app"
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} does not exist yet")
    app = importlib.import_module(module).app
    c = container_of(objects, name)
    paths = {p: c[p]["httpGet"]["path"] for p in ("startupProbe", "livenessProbe", "readinessProbe")}
    client = TestClient(app)  # no `with`: the lifespan (Ray, data) does not run
    status = {p: client.get(path).status_code for p, path in paths.items()}
    assert status["livenessProbe"] == status["startupProbe"] == 200, status
    assert status["readinessProbe"] == 503, status
    assert client.get("/no-such-route").status_code == 404
