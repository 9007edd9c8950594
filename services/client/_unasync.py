"""Generate ``_sync.py`` (the blocking :class:`Client`) from ``_async.py`` (unasync's rules: drop ``async`` and
``await``, ``AsyncX`` → ``X``, ``asyncio.sleep`` → ``time.sleep``), then ruff-format it.

``python -m services.client._unasync`` rewrites ``_sync.py``; ``--check`` exits 1 when it is stale.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
SOURCE, TARGET = HERE / "_async.py", HERE / "_sync.py"
HEADER = '"""The blocking client, GENERATED from ``_async.py`` (``python -m services.client._unasync``)."""\n'
RULES: list[tuple[str, str]] = [
    (r"\basync def ", "def "),
    (r"\basync with ", "with "),
    (r"\bawait ", ""),
    (r"\basyncio\.sleep\b", "time.sleep"),
    (r"^import asyncio\n", ""),
    (r"\bAsyncBaseTransport\b", "BaseTransport"),
    (r"\bAsync(?=[A-Z])", ""),
    (r"__aenter__", "__enter__"),
    (r"__aexit__", "__exit__"),
    (r"\baclose\b", "close"),
]


def _ruff() -> str:
    """The ruff of this environment (the version ``make lint`` pins), else the one on PATH."""
    beside = Path(sys.executable).parent / "ruff"
    return str(beside) if beside.exists() else shutil.which("ruff") or "ruff"


def generate(source: str | None = None) -> str:
    """The formatted text of ``_sync.py`` for ``source`` (``_async.py``'s text by default)."""
    text = SOURCE.read_text() if source is None else source
    text = HEADER + text.split('"""', 2)[2].lstrip("\n")
    for pattern, repl in RULES:
        text = re.sub(pattern, repl, text, flags=re.MULTILINE)
    done = subprocess.run(
        [_ruff(), "format", "--stdin-filename", str(TARGET), "-"],
        input=text,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = generate()
    if "--check" in args:
        stale = not TARGET.exists() or TARGET.read_text() != text
        if stale:
            print(f"{TARGET} is stale: run python -m services.client._unasync", file=sys.stderr)
        return int(stale)
    TARGET.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
