"""The layering rules, read off the import statements: an engine is pure (numpy/pandas/scientific libraries
and core's two pure modules, never Ray, HTTP or settings), and a service's ``tasks.py`` holds Ray code only
(no HTTP problems, no routes)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from services import SERVICES
from services.core.readers import SENTIMENT_COLUMNS
from services.sentiment.engine import SOCIAL_COLUMNS

ROOT = Path(__file__).resolve().parents[2] / "services"
#: What an engine may import from the project: its own package and core's pure modules.
PURE_CORE = {"services.core.exceptions", "services.core.checks"}
#: Never in an engine.
NOT_IN_ENGINES = ("ray", "fastapi", "starlette", "pydantic", "httpx", "uvicorn")
#: Never in tasks.py: HTTP belongs in the routes and the service layer.
NOT_IN_TASKS = ("fastapi", "starlette", "httpx", "services.core.errors", "services.core.app")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def _under(name: str, roots: tuple[str, ...] | set[str]) -> bool:
    return any(name == r or name.startswith(r + ".") for r in roots)


@pytest.mark.parametrize("service", list(SERVICES))
def test_engines_are_pure(service: str) -> None:
    own = f"services.{service}.engine"
    bad = {
        f"{path.name}: {name}"
        for path in sorted((ROOT / service / "engine").glob("*.py"))
        for name in _imports(path)
        if _under(name, NOT_IN_ENGINES)
        or (name.startswith("services.") and not _under(name, {own, *PURE_CORE}))
    }
    assert not bad, sorted(bad)


@pytest.mark.parametrize("service", list(SERVICES))
def test_tasks_hold_ray_code_only(service: str) -> None:
    bad = sorted(n for n in _imports(ROOT / service / "tasks.py") if _under(n, NOT_IN_TASKS))
    assert not bad, bad


def test_the_engine_reads_the_columns_the_reader_writes() -> None:
    assert list(SOCIAL_COLUMNS) == SENTIMENT_COLUMNS


def test_no_module_reads_another_modules_private_names() -> None:
    """``svc._x``, ``catalog._x``… outside their own module: a public function or count instead. (Other
    libraries' internals are guarded by tests/core/test_private_internals.py.)"""
    receivers = "svc|service|tasks|catalog|platform|plat|jobs|conn|S|E|engine|routes|app"
    pattern = re.compile(rf"(?<![\w.])(?:self\.)?(?:{receivers})\._[a-z][a-z0-9_]*")
    found = [
        f"{path.relative_to(ROOT.parent)}:{n}: {m.group(0)}"
        for path in sorted([*ROOT.rglob("*.py"), *(ROOT.parent / "tests").rglob("*.py")])
        if path.name != "test_layers.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        for m in pattern.finditer(line.split("#", 1)[0])
    ]
    assert not found, found
