"""Static checks of the Dockerfile and .dockerignore (skaffold builds and runs the image in `make k8s-e2e`)."""

from __future__ import annotations

import re

from .chartlib import REPO

DOCKERFILE = (REPO / "Dockerfile").read_text()
INSTRUCTIONS = [line for line in DOCKERFILE.splitlines() if line and not line.startswith((" ", "#"))]


def stages() -> list[list[str]]:
    out: list[list[str]] = []
    for line in INSTRUCTIONS:
        if line.startswith("FROM "):
            out.append([])
        if out:
            out[-1].append(line)
    return out


def test_no_syntax_directive_that_would_pull_a_frontend() -> None:
    assert not re.search(r"^#\s*syntax\s*=", DOCKERFILE, flags=re.M | re.I)


def test_every_stage_is_python_3_11() -> None:
    (arg,) = [line for line in INSTRUCTIONS if line.startswith("ARG PYTHON_IMAGE=")]
    assert arg == "ARG PYTHON_IMAGE=python:3.11-slim"
    # every stage starts from the one base, or from a stage that does
    bases = {"${PYTHON_IMAGE}"} | {stage[0].split()[-1] for stage in stages() if " AS " in stage[0]}
    assert all(stage[0].split()[1] in bases for stage in stages()), [stage[0] for stage in stages()]


def test_final_stage_runs_as_non_root_and_copies_the_dependencies_and_the_project_apart() -> None:
    """The venv of dependencies and the project are separate layers: a source change ships the small one."""
    final = stages()[-1]
    (user,) = [line for line in final if line.startswith("USER ")]
    assert user.split()[1].split(":")[0] not in ("0", "root")
    copies = [line for line in final if line.startswith("COPY ")]
    assert copies == ["COPY --from=deps /opt/venv /opt/venv", "COPY --from=build /opt/app /opt/app"]
    assert "PYTHONPATH=/opt/app" in DOCKERFILE and "PATH=/opt/app/bin:/opt/venv/bin:$PATH" in DOCKERFILE
    assert not any(re.search(r"\b(gcc|g\+\+|build-essential|make)\b", line) for line in final)


def test_installs_the_project_online_or_from_a_wheelhouse() -> None:
    assert 'ARG WHEELHOUSE=""' in INSTRUCTIONS
    assert "PIP_NO_INDEX=1 PIP_FIND_LINKS=/wheels" in DOCKERFILE
    ignore = [
        line
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert ignore[0] == "*"  # an allow-list: nothing enters the context unless named below
    assert {"!pyproject.toml", "!README.md", "!services/", "!wheelhouse*/"} <= set(ignore)
