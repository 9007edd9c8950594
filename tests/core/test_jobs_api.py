"""The job routes every service serves: job ids, ownership, ``limit`` and stopping — over a results directory
and a Jobs API that does not answer (no Ray needed)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

from services.core.app import create_app
from services.core.jobs import SPEC_FILE, JobManager, write_json
from services.core.settings import get_settings

GARCH_JOB = "raysvc-garch-rolling-0123456789ab"
SENTIMENT_JOB = "raysvc-sentiment-train-0123456789ab"
OLD_SPEC_JOB = "raysvc-garch-rolling-ba9876543210"  # written before specs named their owner


def _job(results: Path, job_id: str, service: str, *, owner: bool = True, **files: dict) -> None:
    (results / job_id).mkdir()
    spec = {"service": service, "command": job_id.split("-")[2], "params": {}, "submitted_at": time.time()}
    write_json(results / job_id / SPEC_FILE, spec | ({"owner": service} if owner else {}))
    for name, body in files.items():
        write_json(results / job_id / f"{name}.json", body)


@pytest.fixture
def garch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The garch app's job routes over ``tmp_path``, with the Ray Jobs API on a closed port."""
    _job(tmp_path, GARCH_JOB, "garch", result={"ok": True})
    _job(tmp_path, SENTIMENT_JOB, "sentiment", result={"ok": True})
    _job(tmp_path, OLD_SPEC_JOB, "garch", owner=False, result={"ok": True})
    settings = get_settings().model_copy(update={"results_dir": tmp_path})
    closed_port = SimpleNamespace(jobs_address=lambda: "http://127.0.0.1:9")
    platform = SimpleNamespace(jobs=JobManager(settings, closed_port, "garch"))  # type: ignore[arg-type]
    monkeypatch.setattr("services.core.app._platform", platform)
    yield TestClient(create_app("garch", settings=settings), raise_server_exceptions=False)


@pytest.mark.parametrize("method", ["GET", "DELETE"])
@pytest.mark.parametrize(
    "job_id",
    ["a" * 300, "a%00b", "raysvc-none-x-1", "raysvc-garch-rolling-0123456789AB"],
    ids=["300-chars", "nul", "no-hex-suffix", "upper-case"],
)
def test_a_malformed_job_id_is_422_naming_it(garch: TestClient, method: str, job_id: str) -> None:
    r = garch.request(method, f"/v1/jobs/{job_id}")
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in r.json()["errors"]] == ["path.job_id"]


def test_a_well_formed_unknown_job_is_404(garch: TestClient) -> None:
    for method in ("GET", "DELETE"):
        r = garch.request(method, "/v1/jobs/raysvc-garch-rolling-ffffffffffff")
        assert r.status_code == 404 and r.json()["type"].endswith("/not-found"), r.text


def test_each_service_reads_lists_and_stops_only_its_own_jobs(garch: TestClient) -> None:
    assert garch.get(f"/v1/jobs/{GARCH_JOB}").json()["status"] == "SUCCEEDED"
    assert garch.get(f"/v1/jobs/{OLD_SPEC_JOB}").status_code == 200
    assert garch.get(f"/v1/jobs/{SENTIMENT_JOB}").status_code == 404
    assert garch.delete(f"/v1/jobs/{SENTIMENT_JOB}").status_code == 404
    listed = garch.get("/v1/jobs").json()
    assert (
        sorted(j["job_id"] for j in listed["data"]) == sorted([GARCH_JOB, OLD_SPEC_JOB])
        and listed["count"] == 2
    )


@pytest.mark.parametrize("limit", ["0", "-1", "1001", "many"])
def test_list_limit_out_of_range_is_422(garch: TestClient, limit: str) -> None:
    r = garch.get(f"/v1/jobs?limit={limit}")
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["query.limit"], r.text


def test_list_limit_is_the_number_of_jobs_listed(garch: TestClient) -> None:
    assert garch.get("/v1/jobs?limit=1").json()["count"] == 1


def test_stopping_a_finished_job_leaves_it_and_answers_its_status(garch: TestClient) -> None:
    r = garch.delete(f"/v1/jobs/{GARCH_JOB}")
    assert r.status_code == 200 and r.json()["status"] == "SUCCEEDED" and r.json()["result"] == {"ok": True}


def test_stopping_a_running_job_the_jobs_api_cannot_reach_is_503(garch: TestClient, tmp_path: Path) -> None:
    running = "raysvc-garch-rolling-aaaaaaaaaaaa"
    _job(tmp_path, running, "garch", progress={"progress": 0.5, "message": "half"})
    r = garch.delete(f"/v1/jobs/{running}")
    assert r.status_code == 503 and r.headers["retry-after"].isdigit(), r.text
    assert r.json()["dependency"] == "Ray Jobs API"


def test_the_openapi_document_states_the_job_routes_contract(garch: TestClient) -> None:
    paths = garch.get("/openapi.json").json()["paths"]
    stop = paths["/v1/jobs/{job_id}"]["delete"]
    assert {"200", "404", "422", "503"} <= stop["responses"].keys()
    assert "idempotent" in stop["description"]
    (job_id,) = stop["parameters"]
    assert job_id["schema"]["maxLength"] == 100 and job_id["schema"]["pattern"].startswith("^raysvc-")
    (limit,) = paths["/v1/jobs"]["get"]["parameters"]
    assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, 1000)


def test_stopping_a_running_job_answers_stopped_at_once(
    garch: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ray reports a stopped job RUNNING for a moment: the answer to DELETE says STOPPED all the same."""
    from services.core.app import get_platform

    running = "raysvc-garch-rolling-bbbbbbbbbbbb"
    _job(tmp_path, running, "garch", progress={"progress": 0.5, "message": "half"})
    stopped: list[str] = []
    ray_jobs = SimpleNamespace(
        get_job_info=lambda job_id: SimpleNamespace(
            status="RUNNING", start_time=None, end_time=None, message=""
        ),
        stop_job=stopped.append,
    )
    monkeypatch.setattr(get_platform().jobs, "_jobs_client", lambda: ray_jobs)
    assert garch.get(f"/v1/jobs/{running}").json()["status"] == "RUNNING"
    r = garch.delete(f"/v1/jobs/{running}")
    assert r.status_code == 200 and r.json()["status"] == "STOPPED" and stopped == [running], r.text
    assert garch.get(f"/v1/jobs/{running}").json()["status"] == "STOPPED"


def test_stopping_a_pending_job_ray_has_no_record_of_answers_stopped(
    garch: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ray's "does not exist" (its 404) to a stop means the job runs nowhere: 200 STOPPED, not a 503."""
    from services.core.app import get_platform

    pending = "raysvc-garch-rolling-cccccccccccc"
    _job(tmp_path, pending, "garch")

    def stop_job(job_id: str) -> None:
        raise RuntimeError(f"Request failed with status code 404: Job {job_id} does not exist.")

    ray_jobs = SimpleNamespace(
        get_job_info=lambda job_id: (_ for _ in ()).throw(
            RuntimeError("Request failed with status code 404")
        ),
        stop_job=stop_job,
    )
    monkeypatch.setattr(get_platform().jobs, "_jobs_client", lambda: ray_jobs)
    assert garch.get(f"/v1/jobs/{pending}").json()["status"] == "PENDING"
    r = garch.delete(f"/v1/jobs/{pending}")
    assert r.status_code == 200 and r.json()["status"] == "STOPPED", r.text
