"""Every report in a real browser with the network cut: Debian's Chromium, driven headless by Playwright,
asks the running service for the report (a POST with the JSON body for the POST routes) with every request
to another host blocked and recorded. Each page must draw all its Plotly figures, log no console error, ask
for nothing outside the service (Plotly's bundle comes from the service), and its screenshot must be a
full-size, non-blank picture. The job report is opened for a finished job's folder as a job leaves it.

With ``RAYSVC_REPORT_SHOTS=DIR`` the screenshots (1280×900) are also written to DIR (docs/reports/ holds
them; see docs/reports.md).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from services.core import reports
from tests.reports.cases import CASES, Case, fake_job
from tests.utils.browser import assert_a_real_picture, launch, open_offline

RENDERED = ".js-plotly-plot .main-svg"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with launch() as b:
        yield b


def _check_page(page, seen: dict, url: str, n_figures: int, name: str | None) -> None:
    own = urlsplit(url).netloc
    assert seen["status"] == 200, seen
    assert seen["blocked"] == [] and seen["console_errors"] == [] and seen["page_errors"] == [], seen
    assert seen["failed"] == [], seen["failed"]
    assert all(urlsplit(u).netloc == own for u in seen["urls"]), seen["urls"]
    assert any(u.endswith(reports.plotly_js_path()) for u in seen["urls"]), seen["urls"]
    # every figure drawn: a plot div with Plotly's SVG inside, as many as the page carries
    page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot').length === {n_figures}")
    assert page.locator(".fig").count() == n_figures
    assert page.locator(RENDERED).count() >= n_figures
    assert_a_real_picture(seen["screenshot"])
    if name is not None and (out := os.environ.get("RAYSVC_REPORT_SHOTS")):
        from PIL import Image

        Path(out).mkdir(parents=True, exist_ok=True)
        # a 256-colour palette: the same picture at about half the bytes (the docs keep them)
        Image.open(seen["screenshot"]).convert("RGB").quantize(256).save(
            Path(out) / f"{name}.png", optimize=True
        )


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_report_renders_offline(browser, services, case: Case, tmp_path: Path) -> None:
    base = services.url(case.service)
    query = "&".join(f"{k}={v}" for k, v in {**case.params, "report": "true"}.items())
    url = f"{base}{case.path}?{query}"
    page, seen = open_offline(browser, url, RENDERED, tmp_path, post_json=case.body, name=case.name)
    _check_page(page, seen, url, case.n_figures, case.name)


@pytest.mark.slow
def test_job_report_renders_offline(browser, services, tmp_path: Path) -> None:
    from services.core.settings import get_settings

    case = next(c for c in CASES if c.name == "intraday-walk-forward")
    base = services.url(case.service)
    with httpx.Client(base_url=base, timeout=300) as http:
        result = http.request(**case.json_request()).json()
    job_id = fake_job(
        Path(get_settings().results_dir).expanduser().resolve(), "intraday", "walk-forward", result=result
    )
    url = f"{base}/v1/jobs/{job_id}/report"
    page, seen = open_offline(browser, url, RENDERED, tmp_path, name="job-walk-forward")
    _check_page(page, seen, url, case.n_figures, None)  # the same picture as the route's
