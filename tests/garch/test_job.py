"""The batch job: a universe to Parquet/CSV, and an HTTP-submitted request returning the HTTP body."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from numpy.testing import assert_allclose

from services.garch.job import main


def test_universe_to_parquet_equals_engine(ray_local, data_dir, tmp_path):
    out = tmp_path / "rolling.parquet"
    res_json = tmp_path / "result.json"
    argv = [
        "rolling",
        "--symbols",
        "SIM,AAPL",
        "--start",
        "2022-06-01",
        "--end",
        "2022-06-20",
        "--horizon",
        "2",
        "--out",
        str(out),
        "--result-json",
        str(res_json),
    ]
    assert main(argv) == 0
    table = pd.read_parquet(out)
    result = json.loads(res_json.read_text())
    assert result["symbols"] == 2 and result["rows"] == len(table)
    assert set(table["symbol"]) == {"SIM", "AAPL"} and set(table["step"]) == {1, 2}

    from services.core.catalog import Catalog
    from services.core.settings import get_settings
    from services.garch import service as svc
    from services.garch.engine import ModelSpec, plan_rolling, run_rolling

    r = svc.dataset_returns(Catalog(get_settings()), "prices", "log")["AAPL"]
    first = int(r.index.searchsorted(pd.Timestamp("2022-06-01")))
    last = int(r.index.searchsorted(pd.Timestamp("2022-06-20"), side="right")) - 1
    plan = plan_rolling(len(r), ModelSpec(dist="t"), window=180, horizon=2, first=first, last=last)
    direct = run_rolling(r.to_numpy(), ModelSpec(dist="t"), plan)
    got = table[table["symbol"] == "AAPL"].sort_values(["date", "step"])["variance"].to_numpy()
    assert_allclose(got, direct.variance.ravel(), rtol=0)
    assert table["converged"].all()


@pytest.mark.slow
def test_http_style_request_returns_the_http_body(ray_local, data_dir, tmp_path):
    spec = tmp_path / "spec.json"
    request = {
        "symbol": "SIM",
        "model": {"dist": "t"},
        "window": 180,
        "start": "2023-01-01",
        "end": "2023-01-10",
    }
    spec.write_text(json.dumps({"service": "garch", "command": "rolling", "params": {"request": request}}))
    job_dir = tmp_path / "job"
    assert main(["rolling", "--params-file", str(spec), "--job-dir", str(job_dir)]) == 0
    body = json.loads((job_dir / "result.json").read_text())
    assert body["symbol"] == "SIM" and body["n_origins"] == 10 and len(body["forecasts"]) == 10
    assert json.loads((job_dir / "progress.json").read_text())["progress"] == 1.0


@pytest.mark.slow
def test_bad_params_write_a_problem(ray_local, data_dir, tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"params": {"request": {"symbol": "SIM", "window": 30}}}))
    job_dir = tmp_path / "job"
    assert main(["rolling", "--params-file", str(spec), "--job-dir", str(job_dir)]) != 0
    problem = json.loads((job_dir / "error.json").read_text())
    assert problem["status"] == 422


def test_cli_takes_model_names_as_the_api_does():
    import argparse

    from services.garch.job import _rolling_args

    parser = argparse.ArgumentParser()
    _rolling_args(parser)
    args = parser.parse_args(["--vol", "GJR-GARCH", "--dist", "StudentsT", "--mean", "Constant"])
    assert (args.vol, args.dist, args.mean) == ("gjr", "t", "constant")
    with pytest.raises(SystemExit):
        parser.parse_args(["--vol", "figarch"])


@pytest.mark.slow
def test_forecast_from_flags(ray_local, data_dir, tmp_path):
    job_dir = tmp_path / "job"
    assert (
        main(["forecast", "--symbols", "SIM", "--vol", "GARCH", "--horizon", "2", "--job-dir", str(job_dir)])
        == 0
    )
    (fit,) = json.loads((job_dir / "result.json").read_text())["results"]
    assert fit["symbol"] == "SIM" and fit["model"]["vol"] == "garch" and len(fit["forecast_variance"]) == 2
    assert main(["forecast", "--all", "--job-dir", str(tmp_path / "bad")]) != 0  # --all needs --dataset
    assert json.loads((tmp_path / "bad" / "error.json").read_text())["status"] == 422
