"""Static checks of the Dockerfile and .dockerignore (scripts/container_test.sh builds and runs the image)."""

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
    assert all(stage[0].startswith("FROM ${PYTHON_IMAGE}") for stage in stages())


def test_final_stage_runs_as_non_root_and_copies_only_the_venv() -> None:
    final = stages()[-1]
    (user,) = [line for line in final if line.startswith("USER ")]
    assert user.split()[1].split(":")[0] not in ("0", "root")
    copies = [line for line in final if line.startswith("COPY ")]
    assert copies == ["COPY --from=build /opt/venv /opt/venv"]
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
