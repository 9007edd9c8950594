"""``raysvc bench`` end to end: argument handling in-process; a real run that starts its own local Ray
(``--cpus 1``) in a subprocess, so the session's Ray in this process is left alone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from services.bench import protocol
from services.bench.cli import main

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "argv",
    [
        ["--size", "huge"],
        ["--cpus", "0"],
        ["--service", "nope"],
        ["http", "--concurrency", "x"],
        ["--variants", "ray,peer"],
    ],
    ids=["size", "cpus", "service", "http-concurrency", "no-sequential"],
)
def test_bad_arguments_exit_2(argv):
    assert main(argv) == 2


def test_help_and_list_exit_0(capsys):
    assert main(["--help"]) == 0
    assert main(["http", "--help"]) == 0
    assert "--concurrency" in capsys.readouterr().out
    assert main(["--list"]) == 0


def test_http_refuses_non_loopback_defaults(monkeypatch):
    from services.bench import httpload

    monkeypatch.setattr(
        httpload,
        "default_urls",
        lambda: {n: "http://10.1.2.3:80" for n in ("sentiment", "garch", "portfolio", "intraday")},
    )
    assert main(["http", "--service", "garch"]) == 2


@pytest.mark.slow
def test_cli_run_starts_and_stops_its_own_ray(tmp_path):
    """Two cycles of a one-CPU session: two local Rays started and stopped in turn; the portfolio
    workload keeps its panel in the object store per session, which must not leak into the next one
    (size small: 36 rebalances, enough to take the Ray path)."""
    workloads, _ = protocol.discover()
    if not any(w.key == "portfolio/walk_forward" for w in workloads):
        pytest.skip("the portfolio workloads are not available")
    out = tmp_path / "bench"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "services.cli",
            "bench",
            "--service",
            "portfolio",
            "--workload",
            "walk_forward",
            "--size",
            "small",
            "--repeat",
            "2",
            "--cycles",
            "2",
            "--cpus",
            "1",
            "--variants",
            "sequential,ray",
            "--out",
            str(out),
            "--quiet",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads((out / "results.json").read_text())["bench"]
    assert data["ray"]["mode"] == "local" and data["options"]["cycles"] == 2
    assert [s["cpus"] for s in data["ray"]["sessions"]] == [1, 1]
    (res,) = [r for r in data["workloads"] if r["key"] == "portfolio/walk_forward"]
    assert res["status"] == "ok", res
    assert res["variants"]["ray@1"]["n"] == 4 and res["variants"]["sequential"]["n"] == 4
    assert data["machine"]["parallel_ceiling"] is None  # one CPU: nothing to compare
    for name in ("report.md", "headline.md", "speedup.png", "throughput.png"):
        assert (out / name).stat().st_size > 0, name
