"""The core against a real two-node local Ray cluster, reached through RAY_ADDRESS both ways
(as a driver with host:port, and through Ray Client with ray://), plus the Jobs API and reconnects.

Each client runs in a subprocess: this test process already owns the session's embedded Ray.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest

from tests.utils.cluster import LocalCluster

pytestmark = pytest.mark.slow

PROBE = textwrap.dedent(
    """
    import json, sys, time
    from services.core.settings import Settings
    from services.core.ray_conn import RayConnection
    from services.core.job import cluster_info
    from services.core.jobrun import JobContext

    conn = RayConnection(Settings(), dashboard=False)
    ok = conn.connect_with_retry(90)
    out = {"connected": ok, "state": conn.state.as_dict()}
    if ok:
        out["result"] = cluster_info({"items": 64}, JobContext(None, show_bar=False))
    if "--job" in sys.argv:
        from services.core.jobs import JobManager
        jobs = JobManager(Settings(), conn, "core")
        acc = jobs.submit("cluster-info", {"items": 16})
        for _ in range(240):
            info = jobs.info(acc.job_id)
            if info.status.value in ("SUCCEEDED", "FAILED", "STOPPED"):
                break
            time.sleep(0.5)
        out["job"] = info.model_dump(mode="json")
    print("RESULT " + json.dumps(out))
    conn.close()
    """
)


def _run_probe(cluster: LocalCluster, address: str, *extra: str) -> dict:
    env = cluster.env | {
        "RAY_ADDRESS": address,
        "RAYSVC_JOBS_ADDRESS": cluster.jobs_address,
        "RAYSVC_LOG_JSON": "false",
    }
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *extra], env=env, capture_output=True, text=True, timeout=400
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert lines, f"probe failed (rc={proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return json.loads(lines[-1][len("RESULT ") :])


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[LocalCluster]:
    c = LocalCluster()
    c.env["RAYSVC_RESULTS_DIR"] = str(tmp_path_factory.mktemp("results"))
    try:
        yield c.start(workers=1, cpus_per_node=1)
    finally:
        c.stop()


def test_driver_mode_sees_both_nodes(cluster: LocalCluster) -> None:
    out = _run_probe(cluster, cluster.driver_address)
    assert out["connected"], out
    assert out["state"]["mode"] == "driver"
    assert out["state"]["nodes"] == 2 and out["state"]["cpus"] == 2.0
    assert out["result"]["sum_of_squares"] == sum(i * i for i in range(64))


def test_client_mode_and_jobs_api(cluster: LocalCluster) -> None:
    out = _run_probe(cluster, cluster.client_address, "--job")
    assert out["connected"], out
    assert out["state"]["mode"] == "client" and out["state"]["nodes"] == 2
    assert out["result"]["sum_of_squares"] == sum(i * i for i in range(64))
    job = out["job"]
    assert job["status"] == "SUCCEEDED", job
    assert job["result"]["cluster_cpus"] == 2.0 and job["result"]["sum_of_squares"] == sum(
        i * i for i in range(16)
    )


RECONNECT = textwrap.dedent(
    """
    import json, os, sys, time
    from services.core.settings import Settings
    from services.core.ray_conn import RayConnection
    conn = RayConnection(Settings(), dashboard=False)
    first = conn.connect_with_retry(90)
    print("READY", flush=True)
    sys.stdin.readline()          # the test kills the cluster
    lost = conn.connect()
    err = conn.state.error
    print("LOST " + json.dumps({"lost": not lost, "error": err}), flush=True)
    sys.stdin.readline()          # the test starts a new cluster on the same ports
    back = conn.connect_with_retry(120)
    result = {"first": first, "back": back, "connects": conn.state.connects, "nodes": conn.state.nodes}
    print("RESULT " + json.dumps(result), flush=True)
    conn.close()
    """
)


def test_reconnects_when_the_cluster_comes_back(tmp_path) -> None:
    first = LocalCluster()
    first.start(workers=0, cpus_per_node=1)
    env = first.env | {"RAY_ADDRESS": first.client_address, "RAYSVC_LOG_JSON": "false"}
    proc = subprocess.Popen(
        [sys.executable, "-c", RECONNECT], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    second = None
    try:
        assert proc.stdout.readline().strip() == "READY"
        first.stop()
        proc.stdin.write("\n")
        proc.stdin.flush()
        lost = json.loads(proc.stdout.readline().split(" ", 1)[1])
        assert lost["lost"] and lost["error"]
        second = LocalCluster(
            gcs_port=first.gcs_port, client_port=first.client_port, dashboard_port=first.dashboard_port
        )
        second.start(workers=0, cpus_per_node=1)
        proc.stdin.write("\n")
        proc.stdin.flush()
        result = json.loads(proc.stdout.readline().split(" ", 1)[1])
        assert result == {"first": True, "back": True, "connects": 2, "nodes": 1}
    finally:
        proc.kill()
        proc.wait()
        first.stop()
        if second is not None:
            second.stop()


def test_a_half_open_client_connection_is_dropped() -> None:
    """A Ray Client connect whose server-side initialisation fails leaves a context registered, and Ray then
    refuses every later ``ray.init("ray://...")`` ("already connected ... allow_multiple"): seen on Kubernetes
    when the head was replaced while a service connected. The connection drops it so the next try is real."""
    script = textwrap.dedent(
        """
        import ray
        from ray.util import client as ray_client
        from services.core.ray_conn import drop_half_open_client

        with ray_client._lock:  # the state a failed initialisation leaves behind
            ray_client._all_contexts.add(ray_client._ClientContext())
        try:
            ray.client("127.0.0.1:1").connect()
        except ValueError as exc:
            assert "allow_multiple" in str(exc), exc
        else:
            raise AssertionError("Ray accepted a connect it refuses on a cluster")
        drop_half_open_client()
        assert ray_client.num_connected_contexts() == 0 and not ray_client.ray.is_connected()
        print("ok")
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), proc.stdout + proc.stderr
