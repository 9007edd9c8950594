"""Bearer API keys: the key store, its rotation without restart, 401/403 problems, open probes, `raysvc keys`."""

from __future__ import annotations

import asyncio
import json
import stat
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi import APIRouter, Request, Response
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from services.core.app import create_app, get_platform
from services.core.auth import create_key, forwarded_headers, keys_app, list_keys, revoke_key
from services.core.jobs import JobAccepted, JobManager, accepted
from services.core.settings import get_settings
from tests.utils.apps import problem

router = APIRouter(prefix="/v1/demo", tags=["demo"])


@router.get("/hello")
async def hello() -> dict[str, str]:
    return {"hello": "world"}


@router.get("/forwarded")
async def forwarded() -> dict[str, str]:
    """The headers a call to another service would carry (after a hop to a worker thread)."""
    return await asyncio.to_thread(forwarded_headers)


@router.post("/work", status_code=200)
async def work(request: Request, response: Response, as_job: bool = False) -> JobAccepted | dict[str, int]:
    """Answers inline, or (``as_job``) submits a job — as an ``auto`` request that turns out large does."""
    if not as_job:
        return {"answer": 42}
    return accepted(response, request, await asyncio.to_thread(get_platform().jobs.submit, "probe", {}))


class FakeJobsApi:
    """The Ray Jobs API as far as submitting and stopping go."""

    def __init__(self) -> None:
        self.submitted: list[str] = []
        self.stopped: list[str] = []

    def submit_job(self, *, submission_id: str, **_: object) -> str:
        self.submitted.append(submission_id)
        return submission_id

    def get_job_info(self, job_id: str) -> object:
        status = "STOPPED" if job_id in self.stopped else "RUNNING"
        return SimpleNamespace(status=status, start_time=None, end_time=None, message="")

    def stop_job(self, job_id: str) -> bool:
        self.stopped.append(job_id)
        return True


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "keys" / "api-keys.json"


@pytest.fixture
def keys(store: Path) -> dict[str, str]:
    return {
        "reader": create_key(store, "reader", ["read"]),
        "admin": create_key(store, "admin", ["read", "jobs"]),
    }


@pytest.fixture
def api(
    store: Path, keys: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    """The demo app with authentication on, over a fake Jobs API (no Ray)."""
    settings = get_settings().model_copy(update={"api_keys_file": store, "results_dir": tmp_path / "results"})
    manager = JobManager(settings, SimpleNamespace(jobs_address=lambda: "http://fake"), "demo")  # type: ignore[arg-type]
    fake = FakeJobsApi()
    monkeypatch.setattr(manager, "_jobs_client", lambda: fake)
    platform = SimpleNamespace(jobs=manager, readiness=lambda: [])
    monkeypatch.setattr("services.core.app._platform", platform)
    yield TestClient(create_app("demo", routers=[router], settings=settings), raise_server_exceptions=False)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize(
    "path",
    [
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/docs",
        "/redoc",
        "/docs-assets/swagger-ui-bundle.js",
        "/docs-assets/redoc.js",
    ],
)
def test_probes_metrics_and_api_docs_are_open(api: TestClient, path: str) -> None:
    assert api.get(path).status_code == 200


def test_only_the_docs_assets_prefix_is_open(api: TestClient) -> None:
    assert api.get("/docs-assetsX/redoc.js").status_code == 401
    assert api.get("/docs-assets/../v1/demo/hello").status_code in (401, 404)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/demo/hello"),
        ("POST", "/v1/demo/work"),
        ("GET", "/v1/jobs"),
        ("GET", "/status"),
        ("GET", "/no/such/route"),
    ],
)
def test_no_key_is_401_with_www_authenticate(api: TestClient, method: str, path: str) -> None:
    r = api.request(method, path)
    assert "Bearer <key>" in problem(r, 401)["detail"]
    assert r.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header", ["Bearer rsk_not-a-key", "Basic YWRtaW46YWRtaW4=", "Bearer ", "rsk_no-scheme"]
)
def test_a_bad_key_is_401(api: TestClient, keys: dict[str, str], header: str) -> None:
    from services.core.metrics import REQUEST_STATS

    key = ("demo", "GET", "<unmatched>", 401)  # refused before routing: no route template yet
    before = REQUEST_STATS.counts.get(key, 0)
    r = api.get("/v1/demo/hello", headers={"Authorization": header})
    problem(r, 401)
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert REQUEST_STATS.counts.get(key, 0) == before + 1  # refused requests show in the metrics


def test_a_read_key_reads_and_computes_inline(api: TestClient, keys: dict[str, str]) -> None:
    assert api.get("/v1/demo/hello", headers=bearer(keys["reader"])).json() == {"hello": "world"}
    assert api.post("/v1/demo/work", headers=bearer(keys["reader"])).json() == {"answer": 42}
    assert api.get("/v1/jobs", headers=bearer(keys["reader"])).status_code == 200


def test_a_read_key_cannot_submit_or_stop_a_job(api: TestClient, keys: dict[str, str]) -> None:
    r = api.post("/v1/demo/work?as_job=true", headers=bearer(keys["reader"]))
    assert problem(r, 403)["scope"] == "jobs"
    assert not list((get_platform().jobs.results_dir).iterdir()), "a refused submission left a job folder"
    job = api.post("/v1/demo/work?as_job=true", headers=bearer(keys["admin"])).json()
    r = api.delete(f"/v1/jobs/{job['job_id']}", headers=bearer(keys["reader"]))
    assert problem(r, 403)["scope"] == "jobs" and "'jobs'" in r.json()["detail"]


def test_a_jobs_key_submits_and_stops_a_job(api: TestClient, keys: dict[str, str]) -> None:
    r = api.post("/v1/demo/work?as_job=true", headers=bearer(keys["admin"]))
    assert r.status_code == 202 and r.headers["location"] == r.json()["status_url"], r.text
    url = r.json()["status_url"]
    assert api.get(url, headers=bearer(keys["reader"])).json()["status"] == "RUNNING"
    stopped = api.delete(url, headers=bearer(keys["admin"]))
    assert stopped.status_code == 200 and stopped.json()["status"] == "STOPPED", stopped.text


def test_calls_to_other_services_carry_the_callers_key(api: TestClient, keys: dict[str, str]) -> None:
    r = api.get("/v1/demo/forwarded", headers=bearer(keys["reader"]))
    assert r.json() == {"Authorization": f"Bearer {keys['reader']}"}
    assert forwarded_headers() == {}


def test_keys_rotate_without_restart(api: TestClient, store: Path, keys: dict[str, str]) -> None:
    assert api.get("/v1/demo/hello", headers=bearer(keys["reader"])).status_code == 200
    revoke_key(store, "reader")
    problem(api.get("/v1/demo/hello", headers=bearer(keys["reader"])), 401)
    new = create_key(store, "reader-2", ["read"])
    assert api.get("/v1/demo/hello", headers=bearer(new)).status_code == 200
    assert api.get("/v1/demo/hello", headers=bearer(keys["admin"])).status_code == 200


def test_an_unreadable_store_refuses_every_key(api: TestClient, store: Path, keys: dict[str, str]) -> None:
    """Fail closed: a broken store is a 503, never the keys read before (one of them may be revoked)."""
    store.write_text("{not json")
    r = api.get("/v1/demo/hello", headers=bearer(keys["admin"]))
    assert problem(r, 503)["dependency"] == "API key store"
    assert api.get("/healthz").status_code == 200


def test_the_store_holds_only_hashes_and_is_private(store: Path, keys: dict[str, str]) -> None:
    text = store.read_text()
    assert all(key.startswith("rsk_") and len(key) > 40 and key not in text for key in keys.values())
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    entries = json.loads(text)["keys"]
    assert [(k["name"], k["scopes"]) for k in entries] == [("reader", ["read"]), ("admin", ["jobs", "read"])]
    assert all(len(k["sha256"]) == 64 and k["created"] for k in entries)
    assert [k["name"] for k in list_keys(store)] == ["reader", "admin"] and "sha256" not in list_keys(store)[
        0
    ]


def test_create_key_refuses_unknown_scopes_and_duplicate_names(store: Path, keys: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="scopes"):
        create_key(store, "x", ["admin"])
    with pytest.raises(ValueError, match="exists"):
        create_key(store, "reader", ["read"])
    with pytest.raises(KeyError):
        revoke_key(store, "nobody")


def test_keys_cli_creates_lists_and_revokes(store: Path) -> None:
    runner = CliRunner()
    created = runner.invoke(
        keys_app, ["create", "ci", "--scope", "read", "--scope", "jobs", "--file", str(store)]
    )
    assert created.exit_code == 0 and created.output.strip().startswith("rsk_"), created.output
    listed = runner.invoke(keys_app, ["list", "--file", str(store)])
    assert listed.exit_code == 0 and listed.output.startswith("ci\tjobs,read\t")
    assert created.output.strip() not in store.read_text()
    assert runner.invoke(keys_app, ["revoke", "ci", "--file", str(store)]).exit_code == 0
    assert list_keys(store) == []
    assert runner.invoke(keys_app, ["revoke", "ci", "--file", str(store)]).exit_code != 0
