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
    [["--size", "huge"], ["--cpus", "0"], ["--service", "nope"], ["http", "--concurrency", "x"],
     ["--variants", "ray,peer"]],
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

    monkeypatch.setattr(httpload, "default_urls", lambda: {n: "http://10.1.2.3:80" for n in
                                                            ("sentiment", "garch", "portfolio", "intraday")})
    assert main(["http", "--service", "garch"]) == 2


@pytest.mark.slow
def test_cli_run_starts_and_stops_its_own_ray(tmp_path):
    workloads, _ = protocol.discover()
    if not workloads:
        pytest.skip("no service offers a bench.py yet")
    w = workloads[0]
    out = tmp_path / "bench"
    proc = subprocess.run(
        [sys.executable, "-m", "services.cli", "bench", "--service", w.service, "--workload", w.name,
         "--size", "tiny", "--repeat", "2", "--cpus", "1", "--out", str(out), "--quiet"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads((out / "results.json").read_text())["bench"]
    assert data["ray"]["mode"] == "local"
    assert [s["cpus"] for s in data["ray"]["sessions"]] == [1]
    (res,) = [r for r in data["workloads"] if r["key"] == w.key]
    assert res["status"] == "ok" and "ray@1" in res["variants"] and res["variants"]["sequential"]["n"] == 2
    for name in ("report.md", "headline.md", "speedup.png", "throughput.png"):
        assert (out / name).stat().st_size > 0, name
