"""Schemathesis hooks for the gate (loaded by the CLI through ``SCHEMATHESIS_HOOKS``).

A fuzzed request may start a long job (202); it is stopped at once so the run does not leave jobs burning
the cluster's CPUs. The 202 response itself is left as it came, for the checks.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import requests
import schemathesis


@schemathesis.hook
def after_call(
    context: schemathesis.HookContext, case: schemathesis.Case, response: schemathesis.Response
) -> None:
    if response.status_code != 202:
        return
    try:
        job_id = json.loads(response.content)["job_id"]
    except (ValueError, KeyError, TypeError):
        return  # not a job answer; the schema checks judge it
    url = urlsplit(response.request.url)
    requests.delete(f"{url.scheme}://{url.netloc}/v1/jobs/{job_id}", timeout=30)
