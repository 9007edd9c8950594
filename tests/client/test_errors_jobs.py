"""Problem answers become typed exceptions naming the field and rows; a 202 is followed to the job's result;
the jobs API through the client."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from services.client import (
    AsyncClient,
    Client,
    JobFailed,
    JobTimeout,
    NotFound,
    PayloadTooLarge,
    RollingResult,
    ValidationProblem,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client(live_urls) -> Client:
    with Client(live_urls, progress=False, job_timeout=480) as c:
        yield c


def test_a_bad_field_is_a_validation_problem_naming_it_before_and_after_sending(live_urls) -> None:
    with Client(live_urls, validate=False) as unchecked, pytest.raises(ValidationProblem) as server:
        unchecked.garch.forecast("AAPL", dataset="prices", horizon=0)
    assert server.value.status == 422 and server.value.field == "body.horizon"
    assert server.value.problem is not None and server.value.problem.type.endswith("validation-error")
    with Client(live_urls) as checked, pytest.raises(ValidationProblem) as local:
        checked.garch.forecast("AAPL", dataset="prices", horizon=0)
    assert local.value.status is None and local.value.field == "body.horizon"


def test_a_data_problem_carries_its_rows(client, data_dir: Path) -> None:
    prices = pd.read_csv(data_dir / "prices.csv", index_col=0, parse_dates=True)["AAPL"].iloc[-300:]
    returns = prices.pct_change().dropna()
    returns.iloc[[100, 200]] = 150.0  # +15,000 %: beyond any return the service accepts; it names the rows
    with pytest.raises(ValidationProblem) as exc:
        client.garch.forecast(series=returns, kind="returns")
    assert exc.value.status == 422
    assert exc.value.field == "body.series.returns"
    assert exc.value.rows == [100, 200]


def test_unknown_symbol_is_not_found(client) -> None:
    with pytest.raises(NotFound) as exc:
        client.garch.forecast("NOPE", dataset="prices")
    assert exc.value.status == 404 and "NOPE" in str(exc.value)


def test_too_many_texts_is_payload_too_large_with_the_batch_command(client) -> None:
    with pytest.raises(PayloadTooLarge) as exc:
        client.sentiment.score(["fine"] * 10_001, model="lexicon")
    assert exc.value.status == 413
    assert exc.value.batch_command and "raysvc job sentiment" in exc.value.batch_command


def test_a_202_is_followed_to_the_jobs_result(client, live_urls) -> None:
    options = {"window": 250, "refit_every": 50, "start": "2022-01-01", "dataset": "prices"}
    result = client.garch.rolling("AAPL", mode="job", **options)
    assert isinstance(result, RollingResult) and result.job_id is not None
    info = httpx.get(f"{live_urls['garch']}/v1/jobs/{result.job_id}", timeout=30).json()
    assert info["status"] == "SUCCEEDED"
    body = info["result"]
    frame = result.to_frame()
    assert len(frame) == len(body["forecasts"]) > 0
    np.testing.assert_array_equal(
        frame["vol_annualized"].to_numpy(), [p["vol_annualized"][0] for p in body["forecasts"]]
    )
    # the same request answered inline holds the same numbers
    inline = client.garch.rolling("AAPL", mode="inline", **options)
    assert inline.job_id is None
    pd.testing.assert_frame_equal(inline.to_frame(), frame)
    ax = result.plot()
    assert [len(line.get_xdata()) for line in ax.get_lines()] == [len(frame)] * 2

    # the jobs API
    assert result.job_id in [j.job_id for j in client.jobs.list("garch")]
    assert client.jobs.get(result.job_id).progress == 1.0
    assert client.jobs.stop(result.job_id).status == "SUCCEEDED"  # stopping a finished job leaves it
    with pytest.raises(NotFound):
        client.jobs.get(result.job_id.replace("raysvc-garch", "raysvc-intraday"))
    routes = httpx.get(f"{live_urls['garch']}/openapi.json", timeout=30).json()["paths"]
    if "/v1/jobs/{job_id}/report" in routes:
        assert "<html" in client.jobs.report(result.job_id).lower()
        assert "<html" in client.report(result).lower()
    else:  # the report route is not there yet: the client says so with the typed error
        with pytest.raises(NotFound):
            client.jobs.report(result.job_id)


def test_async_client_follows_a_job_too(live_urls) -> None:
    grid = {"fast": [6, 12], "slow": [48]}

    async def run():
        async with AsyncClient(live_urls, progress=True, job_timeout=480) as ac:  # the rich bar too
            job = await ac.intraday.sweep(
                "sma_cross", grid, symbol="SIM", start="2023-06-01", end="2023-06-15", mode="job"
            )
            inline = await ac.intraday.sweep(
                "sma_cross", grid, symbol="SIM", start="2023-06-01", end="2023-06-15"
            )
            return job, inline

    job, inline = asyncio.run(run())
    assert job.job_id is not None and inline.job_id is None
    pd.testing.assert_frame_equal(job.to_frame(), inline.to_frame())


def test_a_job_outliving_the_timeout_then_stopped(client, live_urls) -> None:
    body = {"symbol": "AAPL", "dataset": "prices", "window": 250, "refit_every": 5, "mode": "job"}
    r = httpx.post(f"{live_urls['garch']}/v1/volatility/rolling", json=body, timeout=60)
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]
    with pytest.raises(JobTimeout) as late:
        client.jobs.wait(job_id, timeout=0)
    assert late.value.job.status in ("PENDING", "RUNNING")
    assert client.jobs.stop(job_id).status == "STOPPED"
    with pytest.raises(JobFailed) as stopped:
        client.jobs.wait(job_id)
    assert stopped.value.job.status == "STOPPED"
