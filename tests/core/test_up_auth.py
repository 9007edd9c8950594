"""`raysvc up --auth`: an `admin` key made once and shown once, the services started with the key store, so
a request without a key is 401 and one with it is served; probes stay open."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.utils.cluster import free_port, wait_ready

pytestmark = pytest.mark.slow


def test_up_auth_makes_an_admin_key_and_the_services_require_it(tmp_path: Path, data_dir: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = [
        sys.executable,
        "-m",
        "services.cli",
        "up",
        "--auth",
        "--only=garch",
        f"--garch-port={port}",
        f"--dashboard-port={free_port()}",
        f"--gcs-port={free_port()}",
        f"--client-port={free_port()}",
        f"--state-dir={tmp_path / 'state'}",
        "--num-cpus=1",
    ]
    env = dict(os.environ, RAYSVC_DATA_DIR=str(data_dir), RAYSVC_RESULTS_DIR=str(tmp_path / "results"))
    env.pop("RAYSVC_API_KEYS_FILE", None)
    log = tmp_path / "up.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_ready(url, proc, lambda: log.read_text()[-3000:])
        keys = re.findall(r"shown only now: (\S+)", log.read_text())
        assert len(keys) == 1, log.read_text()[-3000:]
        store = tmp_path / "state" / "api-keys.json"
        assert keys[0] not in store.read_text() and oct(store.stat().st_mode & 0o777) == "0o600"
        assert [k["name"] for k in json.loads(store.read_text())["keys"]] == ["admin"]
        assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
        assert httpx.get(f"{url}/v1/jobs", timeout=10).status_code == 401
        assert (
            httpx.get(f"{url}/v1/jobs", headers={"Authorization": "Bearer rsk_wrong"}, timeout=10).status_code
            == 401
        )
        assert (
            httpx.get(
                f"{url}/v1/jobs", headers={"Authorization": f"Bearer {keys[0]}"}, timeout=10
            ).status_code
            == 200
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    assert proc.returncode == 0
