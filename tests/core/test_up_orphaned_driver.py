"""A job driver whose Ray cluster goes away stops itself and says why, instead of running on orphaned (real
Ray: a local head on free ports, the real `python -m services.garch.job` driver, the GCS SIGKILLed mid-job)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.utils.cluster import LocalCluster

pytestmark = pytest.mark.slow

LOST_AFTER_S = 5.0
SLACK_S = 20.0  # probe interval, a loaded machine


@pytest.fixture
def cluster():
    c = LocalCluster().start(workers=0, cpus_per_node=2)
    yield c
    c.stop()


def test_driver_stops_and_records_the_cause_when_its_cluster_dies(
    cluster: LocalCluster, tmp_path: Path, data_dir: Path
) -> None:
    job_dir = tmp_path / "job"
    env = cluster.env | {
        "RAY_ADDRESS": cluster.driver_address,
        "RAYSVC_JOB_CLUSTER_LOST_AFTER_S": str(LOST_AFTER_S),
        "RAYSVC_DATA_DIR": str(data_dir),
        "RAYSVC_LOG_JSON": "false",
    }
    cmd = [
        sys.executable,
        "-m",
        "services.garch.job",
        "rolling",
        "--symbols=SIM",
        "--window=250",
        "--start=2015-01-01",
        f"--job-dir={job_dir}",
        f"--out={tmp_path / 'out.csv'}",
    ]
    with open(tmp_path / "driver.log", "wb") as log:
        driver = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and driver.poll() is None:
            progress = (
                json.loads((job_dir / "progress.json").read_text())
                if (job_dir / "progress.json").exists()
                else {}
            )
            if progress.get("progress", 0) > 0:
                break
            time.sleep(0.5)
        assert driver.poll() is None and progress.get("progress", 0) > 0, (
            tmp_path / "driver.log"
        ).read_text()[-3000:]
        # the head's GCS crashes (SIGKILL); the node's raylet lives on, as a worker node's does when the head goes
        gcs = [
            p
            for p in psutil.process_iter(["name", "cmdline"])
            if p.info["name"] == "gcs_server" and any(cluster.temp_dir in a for a in p.info["cmdline"] or [])
        ]
        assert len(gcs) == 1
        killed = time.monotonic()
        gcs[0].kill()
        try:
            code = driver.wait(timeout=LOST_AFTER_S + SLACK_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the driver still runs {LOST_AFTER_S + SLACK_S:.0f}s after its cluster died")
        took = time.monotonic() - killed
        print(f"driver exited {code} {took:.1f}s after the GCS was killed (bound {LOST_AFTER_S:.0f}s)")
        assert code == 3 and took >= LOST_AFTER_S
        problem = json.loads((job_dir / "error.json").read_text())
        assert "the Ray cluster went away at" in problem["detail"] and problem["status"] == 503
        assert "went away" in json.loads((job_dir / "progress.json").read_text())["message"]
        assert not (job_dir / "result.json").exists()
    finally:
        if driver.poll() is None:
            driver.kill()
