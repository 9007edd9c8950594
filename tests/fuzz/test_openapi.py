"""The fuzzing gate: schemathesis with all its checks against each service's OpenAPI document, served by a
live ``raysvc up``. Passes only with no failing case (no 5xx, no response outside its schema, no status or
content type the document does not declare, no invalid input accepted or valid input rejected…), no
error and every operation tested within the time cap. A failure lists each case with a ``curl`` reproducer.

``RAYSVC_FUZZ_MAX_TIME`` (seconds, every service) changes the time caps, e.g. for a deeper local search.
"""

from __future__ import annotations

import os

import httpx
import pytest

from services import SERVICES
from tests.fuzz.gate import fuzz

pytestmark = pytest.mark.slow

#: Time cap per service (seconds): examples and coverage cases first, then fuzzing and stateful testing until
#: it is spent. garch gets more: its inline fits are the slowest requests.
MAX_TIME_S = {"sentiment": 45, "garch": 90, "portfolio": 45, "intraday": 60}
UNFINISHED = {"PENDING", "RUNNING"}


def _stop_jobs(url: str) -> None:
    """Stop any job the run started that the hooks did not (each 202 is stopped as it arrives)."""
    jobs = httpx.get(f"{url}/v1/jobs", params={"limit": 100}, timeout=30)
    if jobs.status_code != 200:
        return
    for job in jobs.json()["data"]:
        if job.get("status") in UNFINISHED:
            httpx.delete(f"{url}/v1/jobs/{job['job_id']}", timeout=30)


@pytest.mark.parametrize("service", list(SERVICES))
def test_openapi_fuzz(service: str, live_stack: dict[str, str], tmp_path) -> None:
    url = live_stack[service]
    try:
        max_time_s = int(os.environ.get("RAYSVC_FUZZ_MAX_TIME", MAX_TIME_S[service]))
        result = fuzz(service, url, tmp_path, max_time_s=max_time_s)
    finally:
        _stop_jobs(url)
    if not result.passed:
        pytest.fail(result.message(tmp_path), pytrace=False)
    print(result.message(tmp_path))  # the reported-only findings, with their reproducers
