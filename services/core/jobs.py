"""The async job model shared by the services.

A request that would run long returns ``202`` with a job id. The work is submitted to the cluster through
the Ray Jobs API (``JobSubmissionClient``) as ``python -m services.<service>.job <command> --params-file …
--job-dir …`` — the same entrypoint as ``raysvc job …`` — so the driver lives on the cluster and survives a
restart of the service. The entrypoint writes ``progress.json`` and finally ``result.json`` (or
``error.json``, a problem body) under ``RAYSVC_RESULTS_DIR/<job_id>/``, a directory shared with the
services (the PVC in Kubernetes, a local folder on the embedded default); a finished job's result is
served from there even after the cluster forgot the job.

With GCS fault tolerance, ``RAYSVC_JOB_DRIVER_SELECTOR`` puts the drivers on workers, where they outlive a
restart of the head too; while the Jobs API does not answer, a job reads ``RUNNING`` with its last progress.

``GET /v1/jobs/{job_id}`` reports status ``PENDING|RUNNING|SUCCEEDED|FAILED|STOPPED``, progress in
[0, 1], and the result or a problem body; ``DELETE /v1/jobs/{job_id}`` stops it. Each service lists, reads
and stops only the jobs it submitted (another service's job is 404 there); a malformed job id is 422.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from services.core import reports
from services.core.auth import require_scope
from services.core.errors import PROBLEM_JSON, ProblemError, Responses
from services.core.metrics import JOB_DURATION, JOBS_FINISHED, JOBS_SUBMITTED
from services.core.ray_conn import RayConnection
from services.core.settings import Settings

log = logging.getLogger("services.jobs")

# Ray's Jobs SDK sets no timeout: a head pod that vanished leaves a connection hanging for minutes. Its calls
# for a job's status run here, bounded; a Jobs API found down is not asked again for that long.
JOBS_API_TIMEOUT_S = 5.0
#: Seconds between looks at the jobs this process submitted and has not yet seen end (for the metrics).
JOB_WATCH_S = 5.0
_JOBS_API_CALLS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="jobs-api")

#: The shape of the ids :meth:`JobManager.submit` generates: ``raysvc-<service>-<command>-<12 hex digits>``.
JOB_ID_PATTERN = r"^raysvc-[a-z0-9][a-z0-9-]*-[0-9a-f]{12}$"
JOB_ID_MAX_LENGTH = 100
JobId = Annotated[
    str,
    PathParam(
        pattern=JOB_ID_PATTERN,
        max_length=JOB_ID_MAX_LENGTH,
        description="as returned by the request that started it",
    ),
]

SPEC_FILE, PROGRESS_FILE, RESULT_FILE, ERROR_FILE = "spec.json", "progress.json", "result.json", "error.json"
JOB_GCS_ADDRESS_ENV = "RAYSVC_JOB_GCS_ADDRESS"
"""The GCS of the cluster a service submits jobs to, for the job's driver: the connected cluster's when embedded
or joined as a driver; set for the service by ``raysvc up`` (whose services use Ray Client). Ray tells the driver
``RAY_ADDRESS=auto``-resolved from the head's ``/tmp/ray/ray_current_cluster``, which the latest Ray started on
that machine owns: with a second Ray there (tests beside ``raysvc up``, CI), drivers joined the wrong cluster."""


def _connected_gcs_address() -> str | None:
    """The GCS address of the cluster this process is connected to (None when unknown, e.g. not connected)."""
    try:
        import ray

        return str(ray.get_runtime_context().gcs_address) if ray.is_initialized() else None
    except Exception:  # noqa: BLE001 - e.g. not available through Ray Client: Ray's own resolution stays
        return None


class JobStatus(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    STOPPED = "STOPPED"


FINAL = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.STOPPED})


class JobAccepted(BaseModel):
    """Answer of a request that started a job (HTTP 202)."""

    job_id: str
    status: JobStatus = JobStatus.PENDING
    status_url: str = Field(description="poll this for status, progress and the result")
    submitted_at: float


class JobInfo(BaseModel):
    """Status, progress and outcome of a job."""

    job_id: str
    service: str
    command: str
    status: JobStatus
    progress: float = Field(ge=0.0, le=1.0)
    message: str | None = None
    submitted_at: float | None = None
    started_at: float | None = None
    ended_at: float | None = None
    result: Any | None = None
    problem: dict[str, Any] | None = None


class JobList(BaseModel):
    data: list[JobInfo]
    count: int


def write_json(path: Path, obj: Any) -> None:
    """Write JSON atomically (readers never see half a file)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj, default=str, allow_nan=False))
    os.replace(tmp, path)


def read_json(path: Path) -> Any | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


class JobManager:
    """Submit, query and stop jobs on the Ray Jobs API; results come from the shared results directory."""

    def __init__(self, settings: Settings, connection: RayConnection, service: str) -> None:
        self.settings = settings
        self.connection = connection
        self.service = service
        self._client: Any = None
        self._client_address: str | None = None
        self._down_until, self._down_reason = 0.0, ""
        # submitted here and not yet seen to end: job id → (command, submitted_at), for the job metrics
        self._unfinished: dict[str, tuple[str, float]] = {}
        self._watcher: threading.Thread | None = None

    @property
    def results_dir(self) -> Path:
        path = Path(self.settings.results_dir).expanduser().resolve()
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _jobs_client(self) -> Any:
        from ray.job_submission import JobSubmissionClient

        address = self.connection.jobs_address()
        if not address:
            raise ProblemError.unavailable("Ray Jobs API", "no jobs address known (set RAYSVC_JOBS_ADDRESS)")
        if self._client is None or self._client_address != address:
            # Ray's SDK lets RAY_ADDRESS override the address it is given (and would open a second Ray
            # Client connection for a ray:// one); RAY_API_SERVER_ADDRESS takes precedence over both.
            os.environ["RAY_API_SERVER_ADDRESS"] = address
            try:
                self._client = JobSubmissionClient(address)
            except Exception as exc:
                raise ProblemError.unavailable("Ray Jobs API", f"{address}: {exc}") from exc
            self._client_address = address
        return self._client

    def _python(self) -> str:
        # the embedded cluster runs on this machine with this interpreter; a real cluster runs the same
        # image, where `python` is the image's interpreter
        return sys.executable if self.settings.ray_mode == "embedded" else "python"

    # -- submit ------------------------------------------------------------------------------------
    def submit(self, command: str, params: dict[str, Any], *, service: str | None = None) -> JobAccepted:
        """Submit ``python -m services.<service>.job <command>`` with ``params``; return the 202 body.
        403 problem when the request's API key lacks the ``jobs`` scope."""
        require_scope("jobs")
        service = service or self.service
        job_id = f"raysvc-{service}-{command}-{uuid.uuid4().hex[:12]}"
        job_dir = self.results_dir / job_id
        job_dir.mkdir(parents=True)
        submitted = time.time()
        spec = {
            "service": service,
            "owner": self.service,
            "command": command,
            "params": params,
            "submitted_at": submitted,
        }
        write_json(job_dir / SPEC_FILE, spec)
        entrypoint = (
            f"{self._python()} -m services.{service}.job {command} "
            f"--params-file {job_dir / SPEC_FILE} --job-dir {job_dir}"
        )
        env = {
            "RAYSVC_DATA_DIR": str(Path(self.settings.data_dir).expanduser().resolve()),
            "RAYSVC_RESULTS_DIR": str(self.results_dir),
            "RAYSVC_SENTIMENT_URL": self.settings.sentiment_url,
            "RAYSVC_GARCH_URL": self.settings.garch_url,
            "RAYSVC_LOG_JSON": "false",
        }
        if self.settings.models_dir:
            env["RAYSVC_MODELS_DIR"] = str(self.settings.models_dir)
        # Through Ray Client (Kubernetes) Ray's own resolution stays: a driver on a worker then reaches the head
        # by its Service name, which outlives a head pod's address under GCS fault tolerance
        gcs = os.environ.get(JOB_GCS_ADDRESS_ENV) or (
            None if self.settings.ray_mode == "client" else _connected_gcs_address()
        )
        if gcs:
            env[JOB_GCS_ADDRESS_ENV] = gcs
        deadline = time.monotonic() + self.settings.ray_connect_timeout_s
        while True:
            try:
                self._jobs_client().submit_job(
                    entrypoint=entrypoint,
                    submission_id=job_id,
                    runtime_env={"env_vars": env},
                    metadata={"service": service, "command": command},
                    entrypoint_label_selector=self.settings.job_driver_selector or None,
                )
                break
            except Exception as exc:
                # a cluster that just started has no job agent yet ("please try again later")
                transient = "try again" in str(exc).lower() or isinstance(
                    exc, (ConnectionError, ProblemError)
                )
                if transient and time.monotonic() < deadline:
                    log.info("Jobs API not ready for %s (%s); retrying", job_id, exc)
                    self._client = None
                    time.sleep(1.0)
                    continue
                problem = (
                    exc
                    if isinstance(exc, ProblemError)
                    else ProblemError.unavailable("Ray Jobs API", f"submission failed: {exc}")
                )
                write_json(job_dir / ERROR_FILE, problem.body())
                raise problem from exc
        log.info("submitted job %s: %s", job_id, entrypoint)
        JOBS_SUBMITTED.labels(self.service, command).inc()
        self._unfinished[job_id] = (command, submitted)
        self._watch()
        return JobAccepted(job_id=job_id, status_url=f"/v1/jobs/{job_id}", submitted_at=submitted)

    # -- query -------------------------------------------------------------------------------------
    def _spec(self, job_id: str) -> dict[str, Any] | None:
        """The spec of ``job_id`` if it is a job of this service, else None."""
        if len(job_id) > JOB_ID_MAX_LENGTH or not re.fullmatch(JOB_ID_PATTERN, job_id):
            return None
        spec = read_json(self.results_dir / job_id / SPEC_FILE)
        if not isinstance(spec, dict) or spec.get("owner", spec.get("service")) != self.service:
            return None
        return spec

    def info(self, job_id: str) -> JobInfo:
        """Status, progress, and result or problem of ``job_id`` (404 unless it is a job of this service)."""
        job_dir = self.results_dir / job_id
        spec = self._spec(job_id)
        if spec is None:
            raise ProblemError.not_found("job", job_id)
        progress = read_json(job_dir / PROGRESS_FILE) or {}
        result = read_json(job_dir / RESULT_FILE)
        error = read_json(job_dir / ERROR_FILE)
        ray_info, unreachable = self._ray_job_info(job_id)
        info = JobInfo(
            job_id=job_id,
            service=spec["service"],
            command=spec["command"],
            status=JobStatus.PENDING,
            progress=float(min(max(progress.get("progress", 0.0), 0.0), 1.0)),
            message=progress.get("message"),
            submitted_at=spec.get("submitted_at"),
        )
        if ray_info is not None:
            info.status = JobStatus(str(getattr(ray_info.status, "value", ray_info.status)))
            info.started_at = (ray_info.start_time or 0) / 1000 or None
            info.ended_at = (ray_info.end_time or 0) / 1000 or None
            if info.status == JobStatus.FAILED and error is None:
                error = ProblemError(500, f"job failed: {ray_info.message}", title="Job Failed").body()
        if result is not None:
            info.status, info.progress, info.result = JobStatus.SUCCEEDED, 1.0, result
        elif error is not None and info.status != JobStatus.STOPPED:
            info.status, info.problem = JobStatus.FAILED, error
        elif (job_dir / "stopped").exists() and (
            ray_info is None or info.status in (JobStatus.PENDING, JobStatus.RUNNING)
        ):
            info.status = JobStatus.STOPPED  # stopped on request (Ray may take a moment to report it)
        elif unreachable is not None:
            # e.g. a head being replaced: a driver on a worker (GCS fault tolerance) may well still be running
            info.status = JobStatus.RUNNING if progress else JobStatus.PENDING
            info.message = (
                f"Ray Jobs API unreachable ({unreachable}); last progress: {progress.get('message')}"
            )
        elif ray_info is None and time.time() - (info.submitted_at or 0) > 60:
            info.status = JobStatus.FAILED
            info.problem = ProblemError(
                500,
                "the cluster no longer knows this job and it left no result (was the cluster restarted?)",
                title="Job Lost",
            ).body()
        elif info.status == JobStatus.SUCCEEDED:
            info.status = JobStatus.FAILED
            info.problem = ProblemError(
                500, "the job ended without writing a result", title="Job Failed"
            ).body()
        if info.status in FINAL and (seen := self._unfinished.pop(job_id, None)) is not None:
            command, submitted = seen
            ended = info.ended_at or time.time()
            JOBS_FINISHED.labels(self.service, command, info.status.value).inc()
            JOB_DURATION.labels(self.service, command, info.status.value).observe(max(0.0, ended - submitted))
        return info

    def _watch(self) -> None:
        """Look at the unfinished jobs every :data:`JOB_WATCH_S` until none is left, so the job metrics count
        a job's end whether or not anybody asks for its status."""
        if self._watcher is not None and self._watcher.is_alive():
            return

        def _loop() -> None:
            while self._unfinished:
                time.sleep(JOB_WATCH_S)
                for job_id in list(self._unfinished):
                    try:
                        self.info(job_id)
                    except ProblemError as exc:
                        if exc.status == 404:  # its folder is gone: nothing will ever say how it ended
                            self._unfinished.pop(job_id, None)
                    except Exception:  # a look for the metrics; the next one tries again
                        log.debug("job %s: status not readable now", job_id, exc_info=True)

        self._watcher = threading.Thread(target=_loop, name="job-metrics", daemon=True)
        self._watcher.start()

    def _ray_job_info(self, job_id: str) -> tuple[Any, str | None]:
        """Ray's record of ``job_id`` (None if the cluster has forgotten it), or why the Jobs API did not
        answer: then the job may well be running still, e.g. its driver on a worker while the head is replaced."""
        if time.monotonic() < self._down_until:
            return None, self._down_reason
        try:
            call = _JOBS_API_CALLS.submit(lambda: self._jobs_client().get_job_info(job_id))
            return call.result(timeout=JOBS_API_TIMEOUT_S), None
        except FuturesTimeout:
            reason = f"no answer within {JOBS_API_TIMEOUT_S:.0f}s"
        except Exception as exc:  # noqa: BLE001 - the SDK raises RuntimeError for HTTP errors, OSError etc.
            if "status code 404" in str(exc):
                return None, None
            reason = str(exc).splitlines()[0][:200]
        log.debug("Ray Jobs API has no answer for %s: %s", job_id, reason)
        self._client, self._down_until, self._down_reason = (
            None,
            time.monotonic() + JOBS_API_TIMEOUT_S,
            reason,
        )
        return None, reason

    def stop(self, job_id: str) -> JobInfo:
        """Stop ``job_id`` if it is pending or running; a finished job is left as it is. Its status after."""
        require_scope("jobs")
        current = self.info(job_id)
        if current.status in (JobStatus.PENDING, JobStatus.RUNNING):
            try:
                self._jobs_client().stop_job(job_id)
            except Exception as exc:
                # a job Ray has no record of is not running anywhere: stopped is the truth
                if "does not exist" not in str(exc) and "status code 404" not in str(exc):
                    raise ProblemError.unavailable("Ray Jobs API", f"cannot stop {job_id}: {exc}") from exc
            (self.results_dir / job_id / "stopped").touch()
        return self.info(job_id)

    def list(self, limit: int = 100) -> list[JobInfo]:
        """The newest ``limit`` jobs of this service."""
        dirs = sorted(
            (d for d in self.results_dir.iterdir() if (d / SPEC_FILE).exists()),
            key=lambda d: d.stat().st_mtime,
            reverse=True,
        )
        out: list[JobInfo] = []
        for d in dirs:
            if len(out) >= limit:
                break
            if self._spec(d.name) is not None:
                out.append(self.info(d.name))
        return out


def jobs_router(get_manager: Any) -> APIRouter:
    """``/v1/jobs`` routes over the manager returned by ``get_manager()``."""
    router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

    unknown: Responses = {404: {"description": "no job of this service has that id"}}

    @router.get("", response_model=JobList)
    async def list_jobs(limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> JobList:
        """This service's jobs, newest first."""
        data = await asyncio.to_thread(get_manager().list, limit)
        return JobList(data=data, count=len(data))

    @router.get("/{job_id}", response_model=JobInfo, responses=unknown)
    async def get_job(job_id: JobId) -> JobInfo:
        """Status, progress in [0, 1], and the result (or a problem body) of a job."""
        return await asyncio.to_thread(get_manager().info, job_id)

    @router.get(
        "/{job_id}/report",
        response_class=HTMLResponse,
        responses={
            200: {"description": "the finished job's report", "content": {"text/html": {}}},
            202: {
                "description": "still pending or running: a page that reloads itself",
                "content": {"text/html": {}},
            },
            **unknown,
            409: {
                "description": "the job failed or was stopped, or its command has no report",
                "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
            },
        },
    )
    async def job_report(job_id: JobId, request: Request) -> Response:
        """The result of a finished job as a self-contained HTML report (Plotly figures and tables; see
        docs/reports.md): intraday sweep and walk-forward, portfolio frontier and backtest, GARCH rolling."""
        info = await asyncio.to_thread(get_manager().info, job_id)
        if info.status in (JobStatus.PENDING, JobStatus.RUNNING):
            page = reports.job_status_page(job_id, info.status.value, info.progress, info.message)
            return reports.html_response(request, page, status_code=202)
        if info.status is not JobStatus.SUCCEEDED:
            raise ProblemError(409, f"job {job_id} is {info.status.value}: it has no result to report")
        report = await asyncio.to_thread(reports.job_report, info.service, info.command, info.result)
        if report is None:
            raise ProblemError(409, f"no report for the result of {info.service} {info.command} jobs")
        return await asyncio.to_thread(reports.report_response, request, report)

    @router.delete(
        "/{job_id}",
        response_model=JobInfo,
        responses={**unknown, 503: {"description": "the Ray Jobs API could not stop the job; try again"}},
    )
    async def stop_job(job_id: JobId) -> JobInfo:
        """Stop a job. A pending or running job is stopped and answered with status `STOPPED`; a finished job
        (`SUCCEEDED`, `FAILED`, `STOPPED`) is left as it is and answered with its status: stopping is idempotent.
        The job's record stays: `GET` keeps answering its status, progress and any result."""
        return await asyncio.to_thread(get_manager().stop, job_id)

    return router


def accepted(response: Response, request: Request, job: JobAccepted) -> JobAccepted:
    """Set 202 + ``Location`` on ``response`` for a submitted job (use in service routes)."""
    response.status_code = 202
    response.headers["Location"] = job.status_url
    return job
