"""The app factory: health, problem+json errors, body limit, request ids, the job API — on a real embedded Ray."""

from __future__ import annotations

import time
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
import ray
from fastapi import APIRouter, UploadFile
from fastapi.testclient import TestClient
from pydantic import BaseModel

from services.core.app import create_app, get_platform
from services.core.errors import DomainError
from services.core.shapes import BarsIn, PanelIn, SeriesIn
from tests.utils.apps import wait_for_job

router = APIRouter(prefix="/v1/demo", tags=["demo"])


class EchoIn(BaseModel):
    series: SeriesIn | None = None
    panel: PanelIn | None = None
    bars: BarsIn | None = None


@router.post("/echo")
async def echo(body: EchoIn) -> dict[str, int]:
    """Row counts of what was sent."""
    return {k: len(v.dates if hasattr(v, "dates") else v.datetime) for k, v in body if v is not None}


@router.get("/domain")
async def domain() -> None:
    raise DomainError("window must be shorter than the series", field="window")


@router.get("/boom")
async def boom() -> None:
    raise RuntimeError("unexpected")


@router.post("/upload")
async def upload(file: UploadFile) -> dict[str, int]:
    """Size of an uploaded file."""
    return {"bytes": len(await file.read())}


#: what a route's Ray call raises once the head is gone (Ray Client; a driver's raylet or node; a timed-out get)
CLUSTER_GONE = {
    "client": ConnectionError(
        "Failed during this or a previous request. Exception that broke the connection: x"
    ),
    "system": ray.exceptions.RaySystemError("raylet died"),
    "raylet": ray.exceptions.LocalRayletDiedError(),
    "node": ray.exceptions.NodeDiedError("node 1 died"),
    "rpc": ray.exceptions.RpcError("GCS unavailable"),
    "get-timeout": ray.exceptions.GetTimeoutError("Get timed out"),
}


@router.get("/cluster-gone/{kind}")
async def cluster_gone(kind: str) -> None:
    raise CLUSTER_GONE[kind]


@pytest.fixture(scope="module")
def bare() -> TestClient:
    """The demo app without its lifespan (no Ray, no platform) and a 1,000-byte body limit."""
    from services.core.settings import get_settings

    app = create_app(
        "demo", routers=[router], settings=get_settings().model_copy(update={"max_body_bytes": 1000})
    )
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture(scope="module")
def client(ray_local, data_dir) -> Iterator[TestClient]:
    app = create_app("demo", routers=[router], datasets=["daily"])
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_health_ready_status(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "service": "demo"}
    assert client.get("/readyz").status_code == 200
    status = client.get("/status").json()
    assert status["ray"]["connected"] and status["ray"]["mode"] == "embedded"
    assert status["ray"]["cpus"] >= 1 and status["ray"]["nodes"] == 1
    assert status["datasets"][0]["name"] == "daily" and status["datasets"][0]["rows"] == 3289


def test_validation_errors_are_problem_json_naming_fields(client: TestClient) -> None:
    r = client.post(
        "/v1/demo/echo",
        json={"series": {"dates": ["2024-01-01", "2024-01-03", "2024-01-02"], "prices": [1, 2]}},
    )
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert {"type", "title", "status", "detail", "errors"} <= body.keys() and body["status"] == 422
    fields = {e["field"]: e["message"] for e in body["errors"]}
    assert (
        "body.series.dates" in fields and "not strictly increasing at rows [2]" in fields["body.series.dates"]
    )


def test_nan_and_null_name_the_index(client: TestClient) -> None:
    r = client.post(
        "/v1/demo/echo",
        content=b'{"series": {"dates": ["2024-01-01","2024-01-02","2024-01-03"], "returns": [0.1, NaN, null]}}',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422
    fields = [e["field"] for e in r.json()["errors"]]
    assert "body.series.returns[1]" in fields and "body.series.returns[2]" in fields


def test_malformed_json_is_422_not_500(client: TestClient) -> None:
    r = client.post("/v1/demo/echo", content=b'{"series": ', headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["errors"][0]["type"] == "json_invalid"


def test_bars_and_panel_validation(client: TestClient) -> None:
    bars = {
        "datetime": ["2024-01-02T09:30", "2024-01-02T09:35"],
        "open": [10, 10],
        "high": [10.5, 9.0],
        "low": [9.5, 9.5],
        "close": [10, 9.2],
        "volume": [1, 1],
    }
    r = client.post("/v1/demo/echo", json={"bars": bars})
    assert r.status_code == 422 and "high < low at rows [1]" in r.json()["detail"] + str(r.json()["errors"])
    panel = {"dates": ["2024-01-01", "2024-01-02"], "columns": ["A", "B"], "values": [[0.1, 0.2], [0.3]]}
    r = client.post("/v1/demo/echo", json={"panel": panel})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.panel.values"
    ok = client.post("/v1/demo/echo", json={"panel": {**panel, "values": [[0.1, 0.2], [0.3, 0.4]]}})
    assert ok.status_code == 200 and ok.json() == {"panel": 2}


def test_domain_error_unexpected_error_and_404(client: TestClient) -> None:
    r = client.get("/v1/demo/domain")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.window"
    r = client.get("/v1/demo/boom")
    assert r.status_code == 500 and r.headers["content-type"].startswith("application/problem+json")
    assert "RuntimeError" in r.json()["detail"]
    r = client.get("/no/such/route")
    assert r.status_code == 404 and r.json()["status"] == 404


def test_body_limit_and_request_id(client: TestClient) -> None:
    limit = get_platform().settings.max_body_bytes
    r = client.post("/v1/demo/echo", content=b" " * (limit + 1), headers={"content-type": "application/json"})
    assert r.status_code == 413 and "batch job" in r.json()["detail"]
    r = client.get("/healthz", headers={"X-Request-ID": "abc123"})
    assert r.headers["x-request-id"] == "abc123"
    assert len(client.get("/healthz").headers["x-request-id"]) == 16


def _chunks(n: int, size: int = 100) -> Iterator[bytes]:
    for _ in range(n):
        yield b" " * size


@pytest.mark.parametrize("chunks", [11, 500_000], ids=["just-over", "48-MB"])
def test_a_chunked_body_over_the_limit_is_413(bare: TestClient, chunks: int) -> None:
    """Without ``Content-Length`` the body is counted as it arrives; the rest is not read."""
    r = bare.post("/v1/demo/echo", content=_chunks(chunks), headers={"content-type": "application/json"})
    assert "content-length" not in r.request.headers and r.request.headers["transfer-encoding"] == "chunked"
    assert r.status_code == 413 and r.headers["content-type"].startswith("application/problem+json"), r.text
    assert "more than 1,000" in r.json()["detail"] and r.json()["batch_command"]


def test_a_chunked_body_under_the_limit_is_read(bare: TestClient) -> None:
    r = bare.post(
        "/v1/demo/echo",
        content=(c for c in [b'{"series"', b": null}"]),
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 200 and r.json() == {}, r.text


def test_an_upload_over_the_limit_is_413_declared_or_chunked(bare: TestClient) -> None:
    files = {"file": ("big.csv", b"x" * 2000, "text/csv")}
    assert bare.post("/v1/demo/upload", files=files).status_code == 413
    body = (
        b"--b\r\nContent-Disposition: form-data; name=file; filename=big.csv\r\n\r\n"
        + b"x" * 2000
        + b"\r\n--b--\r\n"
    )
    r = bare.post(
        "/v1/demo/upload",
        content=(body[i : i + 100] for i in range(0, len(body), 100)),
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert r.status_code == 413 and r.json()["status"] == 413, r.text
    small = bare.post("/v1/demo/upload", files={"file": ("s.csv", b"x" * 100, "text/csv")})
    assert small.status_code == 200 and small.json() == {"bytes": 100}


@pytest.mark.parametrize("kind", list(CLUSTER_GONE))
def test_a_cluster_gone_mid_request_is_503_with_retry_after(bare: TestClient, kind: str) -> None:
    r = bare.get(f"/v1/demo/cluster-gone/{kind}")
    assert r.status_code == 503 and r.headers["content-type"].startswith("application/problem+json"), r.text
    assert int(r.headers["retry-after"]) > 0
    body = r.json()
    assert body["dependency"] == "Ray" and type(CLUSTER_GONE[kind]).__name__ in body["detail"]


def test_every_503_carries_retry_after(bare: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("services.core.app._platform", None)
    r = bare.get("/status")  # no platform yet: ProblemError.unavailable
    assert r.status_code == 503 and int(r.headers["retry-after"]) > 0
    monkeypatch.setattr(
        "services.core.app._platform", SimpleNamespace(readiness=lambda: ["Ray at x not reachable"])
    )
    r = bare.get("/readyz")
    assert (
        r.status_code == 503
        and int(r.headers["retry-after"]) > 0
        and r.json()["reasons"] == ["Ray at x not reachable"]
    )


def test_openapi_has_operation_ids(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["paths"]["/v1/demo/echo"]["post"]["operationId"] == "demo-echo"
    assert "/v1/jobs/{job_id}" in spec["paths"] and "/readyz" in spec["paths"]


def test_openapi_declares_errors_as_the_problem_json_they_are(bare: TestClient) -> None:
    spec = bare.get("/openapi.json").json()
    assert "HTTPValidationError" not in str(spec) and "Problem" in spec["components"]["schemas"]
    for path, item in spec["paths"].items():
        for method, op in item.items():
            for code, response in op["responses"].items():
                if code >= "400":
                    assert list(response["content"]) == ["application/problem+json"], (path, method, code)
    echo = spec["paths"]["/v1/demo/echo"]["post"]["responses"]
    assert {"400", "404", "413", "422", "503"} <= set(echo) and "401" not in echo  # API keys off
    assert set(spec["paths"]["/healthz"]["get"]["responses"]) == {"200"}  # a probe answers what it declares
    assert (
        bare.post("/v1/demo/echo", content=b"{", headers={"content-type": "application/json"}).headers[
            "content-type"
        ]
        == "application/problem+json"
    )


def test_405_allows_every_method_of_the_path(bare: TestClient) -> None:
    r = bare.request("OPTIONS", "/v1/jobs/raysvc-demo-x-0123456789ab")
    assert r.status_code == 405 and r.headers["content-type"] == "application/problem+json"
    assert r.headers["allow"] == "DELETE, GET"


@pytest.mark.slow
def test_job_runs_on_ray_jobs_api_and_survives_a_new_manager(client: TestClient) -> None:
    from services.core.metrics import REGISTRY

    def count(name: str, **labels: str) -> float:
        return (
            REGISTRY.get_sample_value(name, {"service": "demo", "command": "cluster-info", **labels}) or 0.0
        )

    platform = get_platform()
    submitted, succeeded = (
        count("raysvc_jobs_submitted_total"),
        count("raysvc_jobs_finished_total", status="SUCCEEDED"),
    )
    job = platform.jobs.submit("cluster-info", {"items": 40}, service="core")
    info = wait_for_job(client, job.status_url)
    assert info["status"] == "SUCCEEDED", info
    # the job metrics: one submission, one success, its duration observed once
    assert count("raysvc_jobs_submitted_total") == submitted + 1
    assert count("raysvc_jobs_finished_total", status="SUCCEEDED") == succeeded + 1
    assert count("raysvc_job_duration_seconds_count", status="SUCCEEDED") == succeeded + 1
    assert info["progress"] == 1.0
    assert info["result"]["sum_of_squares"] == sum(i * i for i in range(40))
    # a restarted service (a new manager over the same results directory) still serves the result
    from services.core.jobs import JobManager

    again = JobManager(platform.settings, platform.ray, "demo").info(job.job_id)
    assert again.status.value == "SUCCEEDED" and again.result == info["result"]
    listed = client.get("/v1/jobs").json()
    assert any(j["job_id"] == job.job_id for j in listed["data"])


@pytest.mark.slow
def test_a_job_driver_joins_the_cluster_it_was_submitted_to_when_another_ray_started_later(
    client: TestClient,
) -> None:
    """Ray points a driver at the machine's latest cluster (``/tmp/ray/ray_current_cluster``): with a second Ray
    started after this service's (tests beside ``raysvc up``; a CI run beside a developer's tests), the driver
    waited for a foreign GCS until its job timed out. It now gets the submitting cluster's GCS."""
    import ray

    from tests.utils.cluster import LocalCluster

    other = LocalCluster().start(workers=0, cpus_per_node=1)
    try:
        job = get_platform().jobs.submit("cluster-info", {"items": 8}, service="core")
        info = wait_for_job(client, job.status_url, timeout_s=240)
        assert info["status"] == "SUCCEEDED", info
        assert info["result"]["nodes"] == [ray.get_runtime_context().get_node_id()]
    finally:
        other.stop()


@pytest.mark.slow
def test_job_driver_selector_places_the_driver(client: TestClient) -> None:
    """RAYSVC_JOB_DRIVER_SELECTOR reaches Ray as the driver's label selector: one no node matches leaves the
    job PENDING, one this node matches runs it."""
    import ray

    from services.core.jobs import JobManager

    platform, node = get_platform(), ray.get_runtime_context().get_node_id()

    def manager(selector: str) -> JobManager:
        settings = platform.settings.model_copy(update={"job_driver_selector": {"ray.io/node-id": selector}})
        return JobManager(settings, platform.ray, "demo")

    elsewhere = manager(f"!{node}")
    job = elsewhere.submit("cluster-info", {"items": 8}, service="core")
    time.sleep(5)
    assert elsewhere.info(job.job_id).status.value == "PENDING"
    elsewhere.stop(job.job_id)
    here = manager(node).submit("cluster-info", {"items": 8}, service="core")
    info = wait_for_job(client, here.status_url)
    assert info["status"] == "SUCCEEDED", info


def test_job_status_when_the_jobs_api_is_down_or_has_forgotten_the_job(client: TestClient, tmp_path) -> None:
    """A Jobs API that does not answer (a head being replaced) leaves a job RUNNING with its last progress,
    since its driver may live on; one that answers it has no such job makes it FAILED "Job Lost"."""
    from types import SimpleNamespace

    from services.core.jobs import PROGRESS_FILE, SPEC_FILE, JobManager, write_json

    job_id = "raysvc-demo-probe-0123456789ab"
    (tmp_path / job_id).mkdir()
    write_json(
        tmp_path / job_id / SPEC_FILE,
        {"service": "demo", "command": "probe", "params": {}, "submitted_at": time.time() - 600},
    )
    write_json(tmp_path / job_id / PROGRESS_FILE, {"progress": 0.4, "message": "refit 40 of 100"})
    platform = get_platform()
    settings = platform.settings.model_copy(update={"results_dir": tmp_path})
    closed_port = SimpleNamespace(jobs_address=lambda: "http://127.0.0.1:9")
    down = JobManager(settings, closed_port, "demo").info(job_id)
    assert (down.status.value, down.progress, down.problem) == ("RUNNING", 0.4, None)
    assert "unreachable" in down.message and "refit 40 of 100" in down.message
    lost = JobManager(settings, platform.ray, "demo").info(job_id)
    assert lost.status.value == "FAILED" and lost.problem["title"] == "Job Lost", lost


@pytest.mark.slow
def test_failed_job_reports_a_problem(client: TestClient) -> None:
    job = get_platform().jobs.submit("cluster-info", {"items": "not-a-number"}, service="core")
    info = wait_for_job(client, job.status_url)
    assert info["status"] == "FAILED" and info["problem"]["status"] == 500
    assert "ValueError" in info["problem"]["detail"]


def test_unknown_job_is_404(client: TestClient) -> None:
    assert client.get("/v1/jobs/raysvc-none-x-0123456789ab").status_code == 404
    assert client.delete("/v1/jobs/..").status_code in (404, 405)


def test_run_blocking_on_the_loop_or_in_a_thread():
    """Light work runs in the event loop's own thread; anything else in a worker thread."""
    import asyncio
    import threading

    from services.core.app import run_blocking

    async def threads() -> tuple[int, int, int]:
        here = threading.get_ident()
        return (
            here,
            await run_blocking(threading.get_ident, on_loop=True),
            await run_blocking(threading.get_ident),
        )

    here, light, heavy = asyncio.run(threads())
    assert light == here and heavy != here


def test_readiness_waits_for_data_that_a_loader_writes_later(ray_local, tmp_path, monkeypatch) -> None:
    """On a cluster the services can start before the loader Job has written the (read-only to them) data
    volume: readiness names the missing dataset, and the service turns ready once the file appears, with no
    restart and without writing the data itself."""
    from services.core import datagen
    from services.core.settings import get_settings

    monkeypatch.setattr("services.core.app.STARTUP_RETRY_S", 0.2)
    settings = get_settings().model_copy(
        update={"data_dir": tmp_path, "auto_generate_data": False, "ray_connect_timeout_s": 1.0}
    )
    app = create_app("demo", routers=[router], datasets=["daily"], settings=settings)
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/readyz")
        assert r.status_code == 503 and any("daily" in reason for reason in r.json()["reasons"]), r.json()
        assert not any(tmp_path.iterdir()), "the service wrote data itself"
        datagen.generate(tmp_path, only=["daily"])
        deadline = time.monotonic() + 30
        while (r := c.get("/readyz")).status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert r.status_code == 200, r.json()
        assert c.get("/status").json()["datasets"][0]["rows"] == 3289


def test_a_failed_warm_up_is_retried_until_the_service_is_ready(ray_local, data_dir, monkeypatch) -> None:
    """The warm-up on Ray (``on_ready``) can fail when the cluster goes away in the middle (a head replaced
    during an upgrade): readiness says so, and start-up tries again instead of staying unready for good."""
    monkeypatch.setattr("services.core.app.STARTUP_RETRY_S", 0.2)
    calls = []

    def on_ready(platform) -> None:
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise ConnectionError("Failed to reconnect the data channel")

    app = create_app("demo", routers=[router], datasets=["daily"], on_ready=on_ready)
    with TestClient(app, raise_server_exceptions=False) as c:
        deadline = time.monotonic() + 30
        while (r := c.get("/readyz")).status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert r.status_code == 200, r.json()
    assert len(calls) == 2


def test_a_domain_error_raised_in_a_ray_task_keeps_its_own_message(ray_local) -> None:
    """Ray re-raises it as an error that is also a DomainError, whose text is the remote traceback."""
    import ray

    from services.core.errors import DomainError, ProblemError

    @ray.remote
    def decide() -> None:
        raise DomainError("no asset's expected return exceeds the risk_free_rate 0.0", field="risk_free_rate")

    with pytest.raises(DomainError) as raised:
        ray.get(decide.remote())
    assert "ray::" in str(raised.value)  # what reached the caller before
    body = ProblemError.from_domain(raised.value).body()
    assert body["errors"] == [
        {
            "field": "body.risk_free_rate",
            "message": "no asset's expected return exceeds the risk_free_rate 0.0",
            "type": "value_error",
        }
    ], body
    assert "ray::" not in body["detail"]


def test_a_url_over_8_kib_is_a_414_problem(bare: TestClient) -> None:
    r = bare.get("/v1/jobs", params={"x": "a" * 20_000})  # httpx refuses a query over 64 kB
    assert r.status_code == 414 and r.headers["content-type"] == "application/problem+json", r.text
    assert "20,0" in r.json()["detail"] and "POST body" in r.json()["detail"]
    assert bare.get("/v1/jobs", params={"limit": 5, "x": "a" * 8000}).status_code != 414
    assert "414" in bare.get("/openapi.json").json()["paths"]["/v1/demo/echo"]["post"]["responses"]


def test_domain_errors_keep_field_and_rows_through_pickle() -> None:
    """What Ray does to an error raised in a task: the engines' subclasses need no pickling code of their own."""
    import pickle

    from services.portfolio.engine.exceptions import InfeasibleConstraintError

    err = pickle.loads(
        pickle.dumps(InfeasibleConstraintError("no portfolio", field="constraints.max_weight"))
    )
    assert type(err) is InfeasibleConstraintError and (str(err), err.field, err.rows) == (
        "no portfolio",
        "constraints.max_weight",
        None,
    )
