"""Diagnostic batch job of the platform itself: ``python -m services.core.job cluster-info``.

Runs chunked Ray tasks across the cluster and reports which nodes and processes ran them — a cheap way
to check that a cluster (and the Jobs API path to it) works end to end.
"""

from __future__ import annotations

import argparse
import os
import socket
from typing import Any

import ray

from services.core.jobrun import JobCommand, JobContext, job_main
from services.core.parallel import map_chunks


@ray.remote
def _where(chunk: list[int]) -> list[dict[str, Any]]:
    node = ray.get_runtime_context().get_node_id()
    return [
        {"item": i, "square": i * i, "node": node, "host": socket.gethostname(), "pid": os.getpid()}
        for i in chunk
    ]


def cluster_info(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    n = int(params.get("items", 64))
    rows = map_chunks(_where, list(range(n)), progress=ctx.counter(n, "probing"))
    return {
        "items": n,
        "sum_of_squares": sum(r["square"] for r in rows),
        "nodes": sorted({r["node"] for r in rows}),
        "hosts": sorted({r["host"] for r in rows}),
        "processes": len({(r["host"], r["pid"]) for r in rows}),
        "cluster_cpus": ray.cluster_resources().get("CPU", 0.0),
    }


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--items", type=int, default=64, help="number of items spread over the cluster")


COMMANDS = [JobCommand("cluster-info", "where chunked Ray tasks run (a cluster check)", cluster_info, _args)]


def main(argv: list[str] | None = None) -> int:
    return job_main("core", COMMANDS, argv)


if __name__ == "__main__":
    raise SystemExit(main())
