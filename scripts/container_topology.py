"""Run the Helm chart's pods as Docker containers on a private network, and check the platform end to end.

Called by ``scripts/container_test.sh`` (which starts the engine and builds the image)::

    python scripts/container_topology.py run --run-id ID --image IMAGE --chart helm/ray-services
    python scripts/container_topology.py teardown --run-id ID

Everything a container gets is read from the chart rendered by the Helm SDK: the Deployments' commands,
environment (Secrets resolved), ports, probes, resources, security contexts and volumes; the RayCluster's
head and worker containers, rayStartParams, resources and auth options; the data loader Job. Kubernetes
Services become network aliases (so ``<cluster>-head-svc`` and ``<release>-<service>`` resolve as in the
cluster), claims become named volumes, emptyDirs tmpfs mounts. What KubeRay adds at run time is emulated
in :func:`kuberay_ray_start` and :func:`kuberay_env` (the generated ``ray start`` line, the injected
variables and probes), after kuberay ray-operator/controllers/ray/common/pod.go.

Ports are published on 127.0.0.1 only, as ``kubectl port-forward`` would; nothing else leaves the network.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DOCKER = os.environ.get("DOCKER_BIN", "docker")
RELEASE = NAMESPACE = "ray-services"
LABEL = "raysvc-ct"
T0 = time.monotonic()

#: KubeRay's default probe commands of Ray containers (utils.BaseWgetHealthCommand and the paths of
#: RayAgentRayletHealthPath / RayDashboardGCSHealthPath): they need bash and wget in the image.
RAYLET_PROBE = "wget -T 2 -q -O- http://localhost:52365/api/local_raylet_healthz | grep success"
GCS_PROBE = "wget -T 2 -q -O- http://localhost:8265/api/gcs_healthz | grep success"


def log(msg: str) -> None:
    print(f"[topology {time.monotonic() - T0:6.1f}s] {msg}", flush=True)


def docker(*args: str, check: bool = True, timeout: float | None = 120) -> str:
    proc = subprocess.run([DOCKER, *args], capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise RuntimeError(
            f"docker {' '.join(args[:3])}… failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}"
        )
    return proc.stdout.strip()


# --- quantities -------------------------------------------------------------------------------------------
_SUFFIX = {
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "m": 1e-3,
}


def quantity(value: str | int | float) -> float:
    """A Kubernetes quantity (``"1536Mi"``, ``"500m"``, ``2``) as a number."""
    m = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(value))
    if not m:
        raise ValueError(f"not a quantity: {value!r}")
    return float(m.group(1)) * _SUFFIX.get(m.group(2), 1)


# --- the rendered chart -------------------------------------------------------------------------------------
def render(chart_dir: str, image: str) -> list[dict[str, Any]]:
    import helm_python

    chart = helm_python.Chart.load(chart_dir)
    files = chart.render({"image": {"ref": image, "pullPolicy": "Never"}}, name=RELEASE, namespace=NAMESPACE)
    objects = []
    for path, text in sorted(files.items()):
        if not path.endswith("NOTES.txt"):
            objects.extend(d for d in yaml.safe_load_all(text) if d)
    return objects


@dataclass
class Pod:
    """One container to run: its name, network aliases, pod spec and container spec, and KubeRay additions."""

    name: str
    spec: dict[str, Any]
    container: dict[str, Any]
    aliases: list[str] = field(default_factory=list)
    command: list[str] | None = None  # replaces the container's command and args (KubeRay's ray start)
    extra_env: dict[str, str] = field(default_factory=dict)
    publish: list[int] = field(default_factory=list)


class Topology:
    """The rendered objects and how they map onto Docker."""

    def __init__(self, objects: list[dict[str, Any]], run_id: str, image: str) -> None:
        self.objects, self.run_id, self.image = objects, run_id, image
        self.network = run_id
        self.secrets = {
            s["metadata"]["name"]: {k: base64.b64decode(v).decode() for k, v in s.get("data", {}).items()}
            for s in self.of_kind("Secret")
        }
        (self.cluster,) = self.of_kind("RayCluster")
        self.cluster_name = self.cluster["metadata"]["name"]
        self.head_svc = f"{self.cluster_name}-head-svc"
        auth = self.cluster["spec"].get("authOptions", {})
        self.token = self.secrets[auth["secretName"]]["auth_token"] if auth.get("mode") == "token" else None
        self.services = {s["metadata"]["name"]: s for s in self.of_kind("Service")}

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    # --- KubeRay emulation ---------------------------------------------------------------------------------
    def kuberay_ray_start(self, group: dict[str, Any], container: dict[str, Any], head: bool) -> list[str]:
        """The command KubeRay generates from rayStartParams and the container's limits."""
        limits = container["resources"]["limits"]
        params = {
            "dashboard-agent-listen-port": "52365",
            "metrics-export-port": "8080",
            "memory": str(int(quantity(limits["memory"]))),
            "num-cpus": str(max(0, math.floor(quantity(limits["cpu"])))),
        }
        if head:
            params["dashboard-host"] = "0.0.0.0"
        params |= group.get("rayStartParams") or {}
        start = "ray start --head" if head else f"ray start --address={self.head_svc}:6379"
        flags = " ".join(f"--{k}={v}" for k, v in sorted(params.items()))
        return ["/bin/bash", "-lc", "--", f"ulimit -n 65536; {start} {flags} --block"]

    def kuberay_env(self, group_name: str, head: bool) -> dict[str, str]:
        """Variables KubeRay injects into Ray containers (the auth pair from spec.authOptions)."""
        env = {
            "RAY_CLUSTER_NAME": self.cluster_name,
            "RAY_USAGE_STATS_KUBERAY_IN_USE": "1",
            "RAY_NODE_TYPE_NAME": group_name,
        }
        if head:
            env["RAY_ADDRESS"] = "127.0.0.1:6379"
        else:
            env["RAY_IP"] = env["FQ_RAY_IP"] = self.head_svc
        if self.token is not None:
            env |= {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": self.token}
        return env

    # --- pods ------------------------------------------------------------------------------------------------
    def loader(self) -> Pod | None:
        jobs = self.of_kind("Job")
        if not jobs:
            return None
        spec = jobs[0]["spec"]["template"]["spec"]
        return Pod(f"{self.run_id}-loader", spec, spec["containers"][0])

    def head(self) -> Pod:
        group = self.cluster["spec"]["headGroupSpec"]
        spec = group["template"]["spec"]
        c = spec["containers"][0]
        return Pod(
            f"{self.run_id}-head",
            spec,
            c,
            aliases=[self.head_svc],
            command=self.kuberay_ray_start(group, c, head=True),
            extra_env=self.kuberay_env("headgroup", head=True),
            publish=[8265],
        )

    def workers(self) -> list[Pod]:
        pods = []
        for group in self.cluster["spec"]["workerGroupSpecs"]:
            spec = group["template"]["spec"]
            c = spec["containers"][0]
            # one worker per group, whatever its replicas: two cores hold no more
            pods.append(
                Pod(
                    f"{self.run_id}-worker-{group['groupName']}",
                    spec,
                    c,
                    command=self.kuberay_ray_start(group, c, head=False),
                    extra_env=self.kuberay_env(group["groupName"], head=False),
                )
            )
        return pods

    def deployments(self) -> dict[str, Pod]:
        pods = {}
        for dep in self.of_kind("Deployment"):
            spec = dep["spec"]["template"]["spec"]
            c = spec["containers"][0]
            labels = dep["spec"]["template"]["metadata"]["labels"]
            aliases = [n for n, s in self.services.items() if s["spec"]["selector"].items() <= labels.items()]
            pods[c["name"]] = Pod(
                f"{self.run_id}-{c['name']}",
                spec,
                c,
                aliases=aliases,
                publish=[p["containerPort"] for p in c["ports"]],
            )
        return pods

    # --- docker run ------------------------------------------------------------------------------------------
    def env_value(self, item: dict[str, Any]) -> str:
        if "value" in item:
            return str(item["value"])
        ref = item["valueFrom"]["secretKeyRef"]
        return self.secrets[ref["name"]][ref["key"]]

    def run_args(self, pod: Pod, detach: bool = True) -> list[str]:
        c, spec = pod.container, pod.spec
        psc, csc = spec.get("securityContext", {}), c.get("securityContext", {})
        args = [
            "run",
            "--name",
            pod.name,
            "--hostname",
            pod.name[-63:],
            "--network",
            self.network,
            "--label",
            f"{LABEL}={self.run_id}",
            "--pull",
            "never",
        ]
        args += ["-d"] if detach else ["--rm"]
        for alias in pod.aliases:
            args += ["--network-alias", alias]
        if "runAsUser" in psc:
            args += ["--user", f"{psc['runAsUser']}:{psc.get('runAsGroup', psc['runAsUser'])}"]
        if "fsGroup" in psc:
            args += ["--group-add", str(psc["fsGroup"])]
        if csc.get("readOnlyRootFilesystem"):
            args.append("--read-only")
        if csc.get("allowPrivilegeEscalation") is False:
            args += ["--security-opt", "no-new-privileges"]
        for cap in csc.get("capabilities", {}).get("drop", []):
            args += ["--cap-drop", cap]
        limits = c.get("resources", {}).get("limits", {})
        if "cpu" in limits:
            args += ["--cpus", f"{quantity(limits['cpu']):g}"]
        if "memory" in limits:
            args += ["--memory", str(int(quantity(limits["memory"])))]
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for m in c.get("volumeMounts", []):
            v = volumes[m["name"]]
            ro = ",readonly" if m.get("readOnly") else ""
            if "persistentVolumeClaim" in v:
                args += [
                    "--mount",
                    f"type=volume,src={self.run_id}-{v['persistentVolumeClaim']['claimName']},dst={m['mountPath']}{ro}",
                ]
            elif "emptyDir" in v and v["emptyDir"].get("medium") == "Memory" and m["mountPath"] == "/dev/shm":
                args += ["--shm-size", str(int(quantity(v["emptyDir"].get("sizeLimit", "64Mi"))))]
            elif "emptyDir" in v:
                size = int(quantity(v["emptyDir"].get("sizeLimit", "1Gi")))
                args += ["--tmpfs", f"{m['mountPath']}:rw,exec,nosuid,size={size},mode=1777"]
            else:
                raise NotImplementedError(f"volume {v} of {pod.name}")
        env = {e["name"]: self.env_value(e) for e in c.get("env", [])}
        env = pod.extra_env | env  # the container's own env wins, as KubeRay does not override it
        for k, v in env.items():
            args += ["-e", f"{k}={v}"]
        for port in pod.publish:
            args += ["-p", f"127.0.0.1::{port}"]
        command = pod.command or [*c.get("command", []), *c.get("args", [])]
        if pod.command or c.get("command"):
            args += ["--entrypoint", command[0], self.image, *command[1:]]
        else:
            args += [self.image, *command]
        return args

    def start(self, pod: Pod) -> None:
        docker(*self.run_args(pod))

    def host_port(self, pod: Pod, port: int) -> int:
        return int(docker("port", pod.name, f"{port}/tcp").splitlines()[0].rsplit(":", 1)[1])


# --- waiting and checks -------------------------------------------------------------------------------------
def http(
    url: str, *, method: str = "GET", body: Any = None, token: str | None = None, timeout: float = 60
) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        raw, status = e.read(), e.code
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def wait_until(
    what: str, check: Callable[[], bool], timeout: float, pods: list[Pod] = (), interval: float = 2.0
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pod in pods:
            if docker("inspect", "-f", "{{.State.Running}}", pod.name) != "true":
                raise RuntimeError(f"{pod.name} exited while waiting for {what}:\n{logs(pod)}")
        try:
            if check():
                log(f"{what}: ok")
                return
        except (OSError, urllib.error.URLError, ConnectionError):
            pass
        time.sleep(interval)
    detail = "\n".join(logs(p) for p in pods)
    raise TimeoutError(f"{what}: not within {timeout:.0f}s\n{detail}")


def logs(pod: Pod, lines: int = 40) -> str:
    proc = subprocess.run([DOCKER, "logs", "--tail", str(lines), pod.name], capture_output=True, text=True)
    return f"--- {pod.name} ---\n{proc.stdout}{proc.stderr}"


def probe(pod: Pod, command: str) -> bool:
    return (
        subprocess.run([DOCKER, "exec", pod.name, "bash", "-c", command], capture_output=True).returncode == 0
    )


def http_probe(url: str) -> bool:
    return http(url, timeout=5)[0] == 200


# --- one real request per service ---------------------------------------------------------------------------
def post_ok(url: str, body: dict[str, Any], timeout: float = 300) -> Any:
    status, answer = http(url, method="POST", body=body, timeout=timeout)
    assert status == 200, f"POST {url} -> {status}: {str(answer)[:600]}"
    return answer


def get_ok(url: str) -> Any:
    status, answer = http(url)
    assert status == 200, f"GET {url} -> {status}: {str(answer)[:600]}"
    return answer


def finite(xs: list[Any]) -> bool:
    return all(isinstance(x, (int, float)) and math.isfinite(x) for x in xs)


def smoke_garch(base: str) -> str:
    """Fit GARCH(1,1)-t to two symbols (one Ray task each) and forecast 5 steps."""
    listing = get_ok(f"{base}/v1/volatility/symbols")["datasets"]
    symbols = [s for ds in listing for s in ds["symbols"]][:2]
    res = post_ok(
        f"{base}/v1/volatility/forecast", {"symbols": symbols, "model": {"dist": "t"}, "horizon": 5}
    )["results"]
    assert [r["symbol"] for r in res] == symbols, res
    for r in res:
        assert r["converged"], r["message"]
        var, vol = r["forecast_variance"], r["forecast_vol_annualized"]
        assert len(var) == 5 and finite(var) and min(var) > 0, var
        assert all(abs(v - math.sqrt(s * r["annualization"])) <= 1e-9 * v for s, v in zip(var, vol, strict=True)), (
            var,
            vol,
        )
    return f"forecast {symbols}: 5-step annualised vol {[round(r['forecast_vol_annualized'][0], 4) for r in res]}"


def smoke_intraday(base: str) -> str:
    """A parameter sweep of backtests over the Ray workers, and one garch_rsi_bb backtest whose daily
    signal the intraday service fetches from the GARCH service (RAYSVC_GARCH_URL)."""
    sweep = post_ok(
        f"{base}/v1/intraday/sweep",
        {
            "symbol": "SIM",
            "strategy": "sma_cross",
            "grid": {"fast": [6, 12], "slow": [24, 48]},
            "mode": "sync",
            "top": 4,
        },
    )
    assert sweep["n_evaluated"] == 4 and len(sweep["results"]) == 4, sweep
    sharpes = [row["metrics"]["sharpe"] for row in sweep["results"]]
    assert finite(sharpes) and sharpes == sorted(sharpes, reverse=True), sharpes
    bt = post_ok(
        f"{base}/v1/intraday/backtest",
        {"symbol": "SIM", "strategy": {"name": "garch_rsi_bb"}, "include_trades": False},
    )
    assert bt["data"]["n_bars"] > 0 and "total_return" in bt["metrics"], bt
    return (
        f"sweep of 4 sma_cross backtests on {sweep['data']['n_bars']} bars (best sharpe {sharpes[0]:.3f}); "
        f"garch_rsi_bb backtest with the GARCH service's signal: {bt['metrics']['n_trades']} trades"
    )


def smoke_portfolio(base: str) -> str:
    """An optimisation, a 200-point efficient frontier (blocks of points as Ray tasks), and a sentiment
    top-N backtest with HRP among the picks (blocks of rebalance dates as Ray tasks; rankings from the
    sentiment service over RAYSVC_SENTIMENT_URL). Both are sized above the service's in-process
    threshold (~50 ms of estimated work), so they must run on the Ray head."""
    symbols = ["AAPL", "JNJ", "JPM", "KO", "MSFT", "XOM"]
    opt = post_ok(
        f"{base}/v1/portfolio/optimize",
        {"symbols": symbols, "objective": "min_variance", "constraints": {"max_weight": 0.4}},
    )
    w = opt["weights"]
    assert set(w) == set(symbols) and abs(sum(w.values()) - 1) < 1e-6 and max(w.values()) <= 0.4 + 1e-6, w
    assert opt["volatility"] > 0, opt
    front = post_ok(f"{base}/v1/portfolio/frontier", {"symbols": symbols, "n_points": 200})
    rets = [p["expected_return"] for p in front["data"]]
    assert front["count"] == 200 and front["computed_on"] == "ray", {
        k: front[k] for k in ("count", "computed_on")
    }
    assert all(b >= a - 1e-9 for a, b in zip(rets, rets[1:], strict=False)), rets
    bt = post_ok(
        f"{base}/v1/portfolio/backtest",
        # monthly over the sentiment data's 14 months, an HRP fit (~20 ms) per date: work for Ray
        {"strategy": "sentiment_top_n", "top_n": 5, "optimize_picks": True, "objective": "hrp",
         "dataset": "prices", "rebalance": "M"},
    )
    assert bt["computed_on"] == "ray" and bt["rebalances"], {
        k: bt[k] for k in ("computed_on", "sentiment_source")
    }
    assert RELEASE in (bt["sentiment_source"] or ""), bt["sentiment_source"]
    return (
        f"min-variance vol {opt['volatility']:.4f}; frontier of {front['count']} on Ray; sentiment top-5 backtest "
        f"({len(bt['rebalances'])} rebalances, rankings from {bt['sentiment_source']})"
    )


def smoke_sentiment(base: str) -> str:
    """Score a batch of texts with the default `ml` model (large enough to be split into chunks scored on the
    Ray workers) and read the monthly engagement rankings the portfolio strategy trades on."""
    texts = [
        "$AAPL beats estimates and raises full-year guidance",
        "Bank cut to sell at Goldman after weak quarter",
        "Company schedules its annual shareholder meeting",
    ] * 100
    body = post_ok(f"{base}/v1/sentiment/score", {"texts": texts, "model": "ml"})
    res = body["results"]
    assert body["count"] == len(texts) == len(res), body["count"]
    labels = [r["label"] for r in res[:3]]
    assert labels == ["positive", "negative", "neutral"], labels
    assert all(r == res[i % 3] for i, r in enumerate(res)), "order or determinism broken across chunks"
    assert all(abs(r["score"] - (r["probabilities"]["positive"] - r["probabilities"]["negative"])) <= 2e-6 for r in res[:3]), "score != P(pos) - P(neg) (results are rounded to 6 digits)"
    ranks = get_ok(f"{base}/v1/sentiment/rankings?top=5")
    assert ranks["data"], ranks
    return f"scored {len(texts)} texts ({labels}); {len(ranks['data'])} ranking rows"


#: Each takes the service's base URL and returns a one-line summary, raising AssertionError when the answer
#: is wrong. A service without an entry fails the run.
SMOKE: dict[str, Callable[[str], str]] = {
    "sentiment": smoke_sentiment,
    "garch": smoke_garch,
    "intraday": smoke_intraday,
    "portfolio": smoke_portfolio,
}


class RayState:
    """Finished tasks per node from the head's state API (through the published dashboard port)."""

    def __init__(self, dashboard: str, token: str | None) -> None:
        self.dashboard, self.token = dashboard, token

    def nodes(self) -> list[dict[str, Any]]:
        status, body = http(f"{self.dashboard}/api/v0/nodes?limit=100&detail=1", token=self.token)
        assert status == 200, (status, body)
        return body["data"]["result"]["result"]

    def finished_tasks(self, node_ids: set[str]) -> int:
        url = f"{self.dashboard}/api/v0/tasks?limit=10000&filter_keys=state&filter_predicates=%3D&filter_values=FINISHED&detail=1"
        status, body = http(url, token=self.token)
        assert status == 200, (status, body)
        return sum(1 for t in body["data"]["result"]["result"] if t.get("node_id") in node_ids)


# --- run -----------------------------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> int:
    topo = Topology(render(args.chart, args.image), args.run_id, args.image)
    docker("network", "create", "--label", f"{LABEL}={args.run_id}", topo.network)
    claims = [o["metadata"]["name"] for o in topo.of_kind("PersistentVolumeClaim")]
    for claim in claims:
        docker("volume", "create", "--label", f"{LABEL}={args.run_id}", f"{args.run_id}-{claim}")
    log(
        f"network {topo.network}, volumes for {claims}, RayCluster {topo.cluster_name}, auth {'token' if topo.token else 'off'}"
    )

    loader = topo.loader()
    if loader is not None:
        log("data loader Job: " + " ".join(loader.container["command"] + loader.container["args"]))
        proc = subprocess.run(
            [DOCKER, *topo.run_args(loader, detach=False)],
            capture_output=True,
            text=True,
            timeout=args.loader_timeout,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"the data loader failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
        out = [
            line
            for line in (proc.stdout + proc.stderr).splitlines()
            if line.strip() and "IPv4 forwarding" not in line
        ]
        log("data loader wrote:\n" + "\n".join(out))

    head = topo.head()
    log("Ray head: " + head.command[-1])
    topo.start(head)
    wait_until(
        "Ray head (KubeRay's raylet and GCS probes)",
        lambda: probe(head, f"{RAYLET_PROBE} && {GCS_PROBE}"),
        240,
        [head],
    )
    workers = topo.workers()
    for w in workers:
        # KubeRay's wait-gcs-ready init container: the worker's image, env, mounts and security context
        init = Pod(
            f"{w.name}-init",
            w.spec,
            w.container,
            extra_env=w.extra_env,
            command=["/bin/bash", "-lc", "--", f"ray health-check --address {topo.head_svc}:6379"],
        )
        docker(*topo.run_args(init, detach=False), timeout=120)
        log(f"{w.name} init container (ray health-check of the GCS through the head Service): ok")
        log(f"Ray worker: {w.command[-1]}")
        topo.start(w)
    for w in workers:
        wait_until(f"{w.name} (KubeRay's raylet probe)", lambda w=w: probe(w, RAYLET_PROBE), 240, [w])

    dashboard = f"http://127.0.0.1:{topo.host_port(head, 8265)}"
    state = RayState(dashboard, topo.token)
    if topo.token:
        status, _ = http(f"{dashboard}/api/jobs/", token=None)
        assert status in (401, 403), f"the Jobs API answered {status} without a token"
        log(f"Jobs API without a token: {status} (token auth is on)")
    wait_until(
        f"{1 + len(workers)} Ray nodes alive",
        lambda: sum(n["state"] == "ALIVE" for n in state.nodes()) == 1 + len(workers),
        120,
        [head],
    )
    worker_ids = {n["node_id"] for n in state.nodes() if not n["is_head_node"] and n["state"] == "ALIVE"}

    pods = {n: p for n, p in topo.deployments().items() if not args.services or n in args.services.split(",")}
    for name, pod in pods.items():
        log(f"service {name}: {' '.join(pod.container['command'])} (aliases {pod.aliases})")
        topo.start(pod)
    urls = {}
    for name, pod in pods.items():
        time.sleep(1)
        if docker("inspect", "-f", "{{.State.Running}}", pod.name) != "true":
            raise RuntimeError(f"{pod.name} exited at start:\n{logs(pod)}")
        urls[name] = f"http://127.0.0.1:{topo.host_port(pod, pod.publish[0])}"
        c = pod.container
        wait_until(
            f"{name} startup probe {c['startupProbe']['httpGet']['path']}",
            lambda u=urls[name] + c["startupProbe"]["httpGet"]["path"]: http_probe(u),
            240,
            [pod],
        )
    for name, pod in pods.items():
        path = pod.container["readinessProbe"]["httpGet"]["path"]
        wait_until(
            f"{name} readiness probe {path}",
            lambda u=urls[name] + path: http_probe(u),
            300,
            [pod],
            interval=3,
        )

    failures = []
    for name, url in urls.items():
        if name not in SMOKE:
            failures.append(f"{name}: no request defined in SMOKE")
            continue
        before = state.finished_tasks(worker_ids)
        try:
            summary = SMOKE[name](url)
        except AssertionError as e:
            failures.append(f"{name}: {e}")
            continue
        # task events reach the GCS asynchronously (flushed about every second): poll for them
        deadline = time.monotonic() + 30
        while (ran := state.finished_tasks(worker_ids) - before) <= 0 and time.monotonic() < deadline:
            time.sleep(1)
        log(f"{name}: {summary}; {ran} task(s) finished on the worker")
        if ran <= 0:
            failures.append(f"{name}: the request ran no task on the Ray worker")

    failures += submit_job(args, topo, dashboard, pods, urls)
    for f in failures:
        log(f"FAILED {f}")
    if failures:
        for pod in [head, *workers, *pods.values()]:
            print(logs(pod, 25), file=sys.stderr)
    return 1 if failures else 0


def garch_rolling_job(urls: dict[str, str], results_dir: str) -> tuple[list[str], str]:
    """``services.garch.job rolling`` over the last ~40 days of SIM: the entrypoint and its output file."""
    listing = get_ok(f"{urls['garch']}/v1/volatility/symbols")["datasets"]
    (ds,) = [d for d in listing if "SIM" in d["symbols"]][:1]
    start = time.strftime(
        "%Y-%m-%d", time.gmtime(time.mktime(time.strptime(ds["end"][:10], "%Y-%m-%d")) - 40 * 86400)
    )
    out = f"{results_dir}/container-test-garch-rolling.csv"
    entrypoint = [
        "python",
        "-m",
        "services.garch.job",
        "rolling",
        "--symbols",
        "SIM",
        "--dataset",
        ds["dataset"],
        "--window",
        "250",
        "--start",
        start,
        "--out",
        out,
    ]
    return entrypoint, out


def submit_job(
    args: argparse.Namespace, topo: Topology, dashboard: str, pods: dict[str, Pod], urls: dict[str, str]
) -> list[str]:
    """``ray job submit`` from this machine through the published dashboard port (as after a port-forward);
    the driver runs on the head and writes to the results claim, which a service container then reads."""
    reader = pods["garch"]
    results_dir = [m["mountPath"] for m in reader.container["volumeMounts"] if m["name"] == "results"][0]
    entrypoint, out = garch_rolling_job(urls, results_dir)
    ray_cli = str(Path(sys.executable).with_name("ray"))
    env = os.environ | (
        {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": topo.token}
        if topo.token
        else {"RAY_AUTH_MODE": "disabled"}
    )
    sub_id = f"container-test-{int(time.time())}"
    cmd = [ray_cli, "job", "submit", "--address", dashboard, "--submission-id", sub_id, "--", *entrypoint]
    log("ray job submit --address " + dashboard + " -- " + " ".join(entrypoint))
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=args.job_timeout)
    tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-12:])
    _, body = http(f"{dashboard}/api/jobs/{sub_id}", token=topo.token)
    job_status = body.get("status") if isinstance(body, dict) else body
    log(f"job {sub_id}: exit {proc.returncode}, status {job_status}\n{tail}")
    if proc.returncode != 0 or job_status != "SUCCEEDED":
        return [f"ray job submit {sub_id}: exit {proc.returncode}, status {job_status}"]
    rows = subprocess.run(
        [
            DOCKER,
            "exec",
            reader.name,
            "python",
            "-c",
            f"import pandas as pd; print(len(pd.read_csv({out!r})))",
        ],
        capture_output=True,
        text=True,
    )
    if rows.returncode != 0 or int(rows.stdout.strip() or 0) <= 0:
        return [f"the job's output {out} is not readable from {reader.name}: {rows.stderr.strip()[-400:]}"]
    log(f"{reader.name} reads {out} written by the job driver on the head: {rows.stdout.strip()} rows")
    return []


def teardown(run_id: str) -> None:
    ids = docker("ps", "-aq", "--filter", f"label={LABEL}={run_id}", check=False).split()
    if ids:
        docker("rm", "-f", "-v", *ids, check=False, timeout=180)
    for net in docker("network", "ls", "-q", "--filter", f"label={LABEL}={run_id}", check=False).split():
        docker("network", "rm", net, check=False)
    vols = docker("volume", "ls", "-q", "--filter", f"label={LABEL}={run_id}", check=False).split()
    if vols:
        docker("volume", "rm", "-f", *vols, check=False)
    log(f"removed {len(ids)} container(s), the network and {len(vols)} volume(s)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--run-id", required=True)
    r.add_argument("--image", required=True)
    r.add_argument("--chart", required=True)
    r.add_argument("--loader-timeout", type=float, default=300)
    r.add_argument("--job-timeout", type=float, default=300)
    r.add_argument("--services", default="", help="comma-separated subset of the services (default: all)")
    t = sub.add_parser("teardown")
    t.add_argument("--run-id", required=True)
    args = parser.parse_args(argv)
    if args.cmd == "teardown":
        teardown(args.run_id)
        return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally below on timeout
    try:
        return run(args)
    finally:
        teardown(args.run_id)


if __name__ == "__main__":
    sys.exit(main())
