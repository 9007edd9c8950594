"""`raysvc up`'s restart rule on real processes: a crash loop backs off exponentially and is given up with a
clear line; the restart count reaches the process; a run that lasted resets the backoff."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from services.cli import Supervised


def _run_until_settled(s: Supervised, timeout_s: float) -> list[tuple[float, str]]:
    lines: list[tuple[float, str]] = []
    start = time.monotonic()
    while time.monotonic() - start < timeout_s and not s.gave_up:
        if line := s.check():
            lines.append((time.monotonic() - start, line))
        time.sleep(0.02)
    return lines


def test_crash_loop_backs_off_then_gives_up(tmp_path: Path) -> None:
    seen = tmp_path / "restarts.txt"
    crash = [
        sys.executable,
        "-c",
        f"import os; open({str(seen)!r}, 'a').write(os.environ['RAYSVC_RESTARTS'] + ' '); raise SystemExit(3)",
    ]
    s = Supervised(
        "crashy",
        crash,
        dict(os.environ),
        tmp_path / "crashy.log",
        backoff_s=0.2,
        max_backoff_s=0.8,
        give_up_after=4,
    )
    s.start()
    lines = _run_until_settled(s, 30)
    assert s.gave_up and s.restarts == 4
    assert seen.read_text().split() == ["0", "1", "2", "3", "4"]
    exits = [line for _, line in lines if "exited with code 3" in line]
    assert [e.split("restarting in ")[1].split("s")[0] for e in exits] == ["0.2", "0.4", "0.8", "0.8"]
    assert "crashy crashed 5 times in a row" in lines[-1][1] and "not restarting" in lines[-1][1]
    died = [t for t, line in lines if "exited" in line]
    restarted = [t for t, line in lines if "restarted" in line]
    waits = [b - a for a, b in zip(died, restarted, strict=False)]
    assert all(w >= d for w, d in zip(waits, [0.2, 0.4, 0.8, 0.8], strict=False)), waits
    s.check()
    assert s.proc is not None and s.proc.poll() is not None  # stays down


@pytest.mark.slow
def test_a_run_that_lasted_restarts_quickly_again(tmp_path: Path) -> None:
    s = Supervised(
        "steady",
        [sys.executable, "-c", "import time; time.sleep(0.5)"],
        dict(os.environ),
        tmp_path / "s.log",
        backoff_s=0.1,
        stable_s=0.3,
        give_up_after=1,
    )
    s.start()
    lines = _run_until_settled(s, 6)
    assert not s.gave_up and s.restarts >= 3, lines  # each run outlived stable_s: never a crash loop
