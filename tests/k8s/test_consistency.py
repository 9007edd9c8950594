"""What the schemas cannot see: the chart against the code it runs.

Service selectors pick their pods; the probe paths are routes the FastAPI apps serve; the container
commands parse with the real ``raysvc`` CLI and its port defaults; the settings, fed the rendered
environment, read the paths the volumes are mounted at. And the lock files the image, CI and ``make install``
install from against the ranges of pyproject.toml.
"""

from __future__ import annotations

import importlib
import importlib.util
import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from .chartlib import RELEASE, REPO, env_of, loader_jobs, of_kind, one, pod_specs

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
    data_mount = next(m for m in c["volumeMounts"] if m["name"] == "data")
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


# --- the lock files against pyproject.toml ----------------------------------------------------------------
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
# The one target the locks are resolved for (`make lock`): the image's Python on linux x86_64.
TARGET = {"python_version": "3.11", "python_full_version": "3.11.0", "sys_platform": "linux"}
TARGET |= {"platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix"}


def lock_pins(name: str) -> dict[str, Version]:
    """The ``name==version`` lines of a lock file (``make lock`` writes exact pins only), by canonical name."""
    text = (REPO / name).read_text()
    assert "make lock" in "\n".join(text.splitlines()[:3]), f"{name}: its header says how to regenerate it"
    pins: dict[str, Version] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        req = Requirement(line)
        (spec,) = req.specifier
        assert spec.operator == "==" and not req.extras and not req.marker, (
            f"{name}: not an exact pin: {line}"
        )
        pins[canonicalize_name(req.name)] = Version(spec.version)
    return pins


def declared(extras: list[str]) -> list[Requirement]:
    """pyproject.toml's dependencies plus those of ``extras``, as they apply to the lock's target."""
    out: list[Requirement] = []
    groups = {"": PROJECT["dependencies"]} | {e: PROJECT["optional-dependencies"][e] for e in extras}
    for group, deps in groups.items():
        for dep in map(Requirement, deps):
            if dep.marker is None or dep.marker.evaluate(TARGET | {"extra": group}):
                out.append(dep)
    return out


@pytest.mark.parametrize(
    ("lock", "extras"),
    [("requirements.lock", []), ("requirements-dev.lock", sorted(PROJECT["optional-dependencies"]))],
)
def test_lock_pins_every_dependency_within_its_range(lock: str, extras: list[str]) -> None:
    """A pyproject.toml change the lock does not follow (a new dependency, a raised floor, a new extra) fails
    here: run `make lock`. The runtime lock holds the dependencies, the dev lock those and every extra."""
    pins = lock_pins(lock)
    stale: list[str] = []
    for dep in declared(extras):
        pin = pins.get(canonicalize_name(dep.name))
        if pin is None or not dep.specifier.contains(pin, prereleases=True):
            stale.append(f"{dep}: {pin or 'not locked'}")
    assert not stale, f"{lock} is stale (run `make lock`): {stale}"


def test_runtime_lock_is_the_dev_lock_restricted_to_the_runtime() -> None:
    """The image runs what the tests ran: every runtime pin is the dev lock's pin of the same package."""
    runtime, dev = lock_pins("requirements.lock"), lock_pins("requirements-dev.lock")
    assert {name: dev.get(name) for name in runtime} == runtime


def test_locked_ray_is_the_ray_pin() -> None:
    """Ray is pinned once, in pyproject.toml (the chart's rayVersion follows it: test_chart.py); the locks
    hold exactly that version."""
    (pin,) = [d for d in map(Requirement, PROJECT["dependencies"]) if d.name == "ray"]
    (spec,) = pin.specifier
    assert spec.operator == "==" and "default" in pin.extras
    for lock in ("requirements.lock", "requirements-dev.lock"):
        assert lock_pins(lock)["ray"] == Version(spec.version), lock


def test_image_wheelhouse_and_make_install_from_the_lock() -> None:
    """The image's dependency layer, the offline wheelhouse and `make install` take the lock as constraints."""
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "COPY --from=context /ctx/pyproject.toml /ctx/requirements.lock /src/" in dockerfile
    assert "pip install -c /src/requirements.lock /src" in dockerfile
    assert "!requirements.lock" in (REPO / ".dockerignore").read_text().splitlines()
    engine = (REPO / "scripts" / "engine.sh").read_text()
    assert '-c "$ENGINE_ROOT/requirements.lock"' in engine
    assert '"$ENGINE_ROOT/pyproject.toml" "$ENGINE_ROOT/requirements.lock" | sha256sum' in engine
    makefile = (REPO / "Makefile").read_text()
    assert "$(VENV)/.installed: pyproject.toml requirements-dev.lock\n" in makefile
    assert '-m pip install --quiet -c requirements-dev.lock -e ".[dev,bench]"' in makefile


def test_the_charts_ray_dashboard_is_what_the_pinned_ray_generates() -> None:
    """``files/dashboards/ray/ray-default.json`` is Ray's default Grafana dashboard as the installed (pinned) Ray
    generates it; after a Ray upgrade `python scripts/ray_dashboards.py` regenerates it."""
    import importlib.util
    import json

    spec = importlib.util.spec_from_file_location("ray_dashboards", REPO / "scripts" / "ray_dashboards.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    shipped = json.loads((module.OUT / "ray-default.json").read_text())
    generated = module.default_dashboard()
    assert shipped == generated, "stale: run `python scripts/ray_dashboards.py`"
    import ray

    assert f"rayVersion:{ray.__version__}" in shipped["tags"]
