"""A batch job run inside a process that already has a Ray session (a test process, a notebook) joins that
session and leaves it as it was: before, the job's exit shut the session down, the next user started a
Ray without a dashboard, and every later job submission answered 503 "no jobs address known"."""

from __future__ import annotations

from pathlib import Path

from services.core.job import main as core_job
from services.core.ray_conn import RayConnection
from services.core.settings import get_settings


def test_a_job_run_in_process_leaves_the_session_ray_and_its_dashboard(ray_local, tmp_path: Path) -> None:
    node = ray_local.get_runtime_context().get_node_id()
    assert core_job(["cluster-info", "--items", "8", "--job-dir", str(tmp_path)]) == 0
    assert (tmp_path / "result.json").is_file()
    assert ray_local.is_initialized() and ray_local.get_runtime_context().get_node_id() == node
    joined = RayConnection(get_settings())
    assert joined.connect()
    assert joined.jobs_address(), "the session's dashboard (the Jobs API) is still known"
    joined.close()
    assert ray_local.is_initialized()  # a connection that only joined does not end the session
