"""The chart's Prometheus monitoring: PodMonitors, ServiceMonitor, PrometheusRule, Grafana dashboard ConfigMaps,
scrape annotations, the Ray dashboard's Grafana/Prometheus env and the NetworkPolicy rule for Prometheus.

The dashboards and the rule file come from the chart's ``files/``; the tests render a copy of the chart that
has them (small stand-ins added where the chart has none yet), and check the real chart's own files as well.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

helm_python = pytest.importorskip("helm_python", reason="helm-python-sdk (the dev extra) renders the chart")

from .chartlib import (  # noqa: E402
    CHART,
    NAMESPACE,
    RELEASE,
    SCENARIOS,
    Objects,
    env_of,
    load_values,
    merge,
    of_kind,
    one,
)

MONITORING_KINDS = {"PodMonitor", "ServiceMonitor", "PrometheusRule"}
RULES = "files/alerts/raysvc-rules.yaml"
DASHBOARDS = "files/dashboards"
RAY_DASHBOARD_ENV = {
    "grafanaHost": "RAY_GRAFANA_HOST",
    "grafanaIframeHost": "RAY_GRAFANA_IFRAME_HOST",
    "prometheusHost": "RAY_PROMETHEUS_HOST",
    "prometheusName": "RAY_PROMETHEUS_NAME",
}

#: Stand-ins written into the chart copy where the chart has no dashboard or rule file yet.
STAND_IN_DASHBOARDS = {
    "raysvc-overview.json": {
        "title": "Ray Services",
        "uid": "raysvc-overview",
        "panels": [
            {
                "type": "timeseries",
                "targets": [{"expr": "sum by (service) (rate(raysvc_http_requests_total[5m]))"}],
            }
        ],
    },
    "raysvc-jobs.json": {"title": "Ray Services jobs", "uid": "raysvc-jobs", "panels": []},
}
STAND_IN_RULES = """\
groups:
  - name: raysvc
    rules:
      - alert: RaysvcServiceDown
        expr: up{job="raysvc"} == 0
        for: 1m
        labels: {severity: critical}
        annotations: {summary: "{{ $labels.service }} is down"}
  - name: raysvc-recorded
    interval: 1m
    rules:
      - record: raysvc:http_requests:rate5m
        expr: sum by (service) (rate(raysvc_http_requests_total[5m]))
"""


def monitoring_values() -> dict[str, Any]:
    return load_values("monitoring")


def chart_copy(dest: Path, *, dashboards: dict[str, str] | None = None, rules: str | None = None) -> Path:
    """A copy of the chart with ``dashboards`` ({file: text}) and ``rules`` written into its files/; without
    them, the stand-ins wherever the chart has no file of its own."""
    copy = dest / "ray-services"
    shutil.copytree(CHART, copy)
    folder = copy / DASHBOARDS
    if dashboards is None and not list(folder.glob("*.json")):
        dashboards = {name: json.dumps(d, indent=2) for name, d in STAND_IN_DASHBOARDS.items()}
    if rules is None and not (copy / RULES).is_file():
        rules = STAND_IN_RULES
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in (dashboards or {}).items():
        (folder / name).write_text(text)
    if rules is not None:
        (copy / RULES).parent.mkdir(parents=True, exist_ok=True)
        (copy / RULES).write_text(rules)
    return copy


def render_chart(path: Path, values: dict[str, Any], namespace: str = NAMESPACE) -> Objects:
    files = helm_python.Chart.load(str(path)).render(values, name=RELEASE, namespace=namespace)
    return [
        doc
        for p, text in sorted(files.items())
        if not p.endswith("NOTES.txt")
        for doc in yaml.safe_load_all(text)
        if doc
    ]


@pytest.fixture(scope="module")
def full_chart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The chart with dashboards and a rule file."""
    return chart_copy(tmp_path_factory.mktemp("chart"))


@pytest.fixture(scope="module")
def monitored(full_chart: Path) -> Objects:
    """The full chart rendered with the ci monitoring values."""
    return render_chart(full_chart, monitoring_values())


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether a label selector (matchLabels, matchExpressions In/NotIn/Exists/DoesNotExist) matches ``labels``."""
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for e in selector.get("matchExpressions", []):
        key, op, values = e["key"], e["operator"], e.get("values", [])
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": labels.get(key) not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[op]
        if not ok:
            return False
    return True


def ray_pods(objects: Objects) -> dict[str, tuple[dict[str, str], dict[str, Any]]]:
    """The Ray pods as KubeRay makes them: ``{head|<group>: (labels, pod spec)}``, the labels being the template's
    plus the ``ray.io/cluster`` and ``ray.io/node-type`` that KubeRay adds."""
    rc = one(objects, "RayCluster")
    cluster = rc["metadata"]["name"]
    groups = [("head", "head", rc["spec"]["headGroupSpec"])] + [
        (g["groupName"], "worker", g) for g in rc["spec"].get("workerGroupSpecs", [])
    ]
    return {
        name: (
            g["template"]["metadata"]["labels"] | {"ray.io/cluster": cluster, "ray.io/node-type": node_type},
            g["template"]["spec"],
        )
        for name, node_type, g in groups
    }


def pod_annotations(objects: Objects) -> dict[str, dict[str, str]]:
    """Annotations of every Deployment's and Ray group's pod template."""
    out = {
        d["metadata"]["name"]: d["spec"]["template"]["metadata"].get("annotations", {})
        for d in of_kind(objects, "Deployment")
    }
    rc = one(objects, "RayCluster")["spec"]
    for g in [rc["headGroupSpec"], *rc.get("workerGroupSpecs", [])]:
        out[g.get("groupName", "head")] = g["template"]["metadata"].get("annotations", {})
    return out


# --- off by default ---------------------------------------------------------------------------------------
def test_defaults_render_no_monitoring(full_chart: Path) -> None:
    """Even with dashboards and rules in the chart: no monitoring object, annotation, env or extra head port."""
    objects = render_chart(full_chart, {})
    assert not [o for o in objects if o["kind"] in MONITORING_KINDS]
    assert not [
        c for c in of_kind(objects, "ConfigMap") if "grafana_dashboard" in c["metadata"].get("labels", {})
    ]
    assert not [k for a in pod_annotations(objects).values() for k in a if k.startswith("prometheus.io/")]
    head = ray_pods(objects)["head"][1]["containers"][0]
    assert not set(env_of(head)) & set(RAY_DASHBOARD_ENV.values())
    assert {p["name"] for p in head["ports"]} == {"gcs-server", "dashboard", "client", "metrics"}


def test_the_monitoring_scenario_is_in_the_chart_matrix() -> None:
    """test_chart.py lints, renders and validates it (its monitors against the CRDs) like every ci/ file."""
    assert SCENARIOS["monitoring"] == CHART / "ci" / "monitoring-values.yaml"


# --- every object, validated ------------------------------------------------------------------------------
def test_ci_values_render_every_monitoring_object_and_each_validates(
    monitored: Objects, full_chart: Path, monitoring_crd_validator: Any, k8s_validate: Any
) -> None:
    kinds = [o["kind"] for o in monitored if o["kind"] in MONITORING_KINDS]
    assert sorted(kinds) == ["PodMonitor", "PodMonitor", "PrometheusRule", "ServiceMonitor"]
    dashboards = [
        c for c in of_kind(monitored, "ConfigMap") if c["metadata"]["labels"].get("grafana_dashboard")
    ]
    assert len(dashboards) == len(list((full_chart / DASHBOARDS).rglob("*.json"))) >= 1
    errors = {}
    for obj in monitored:
        if obj["kind"] in MONITORING_KINDS:
            found = monitoring_crd_validator(obj)
        elif obj in dashboards:
            found = k8s_validate(obj)
        else:
            continue
        if found:
            errors[f"{obj['kind']}/{obj['metadata']['name']}"] = found
    assert not errors, errors
    for obj in [o for o in monitored if o["kind"] in MONITORING_KINDS] + dashboards:
        meta = obj["metadata"]
        assert meta["namespace"] == "monitoring" and len(meta["name"]) <= 63, meta
        assert meta["labels"]["release"] == "kube-prometheus-stack", meta


def test_crd_validation_rejects_a_misspelled_field(monitored: Objects, monitoring_crd_validator: Any) -> None:
    """The closed CRD schemas are strict: a typo in a monitor or a rule is caught."""
    sm = one(monitored, "ServiceMonitor")
    bad = sm | {"spec": sm["spec"] | {"endpoint": sm["spec"]["endpoints"]}}
    assert any("endpoint" in e for e in monitoring_crd_validator(bad))
    rule = one(monitored, "PrometheusRule")
    group = rule["spec"]["groups"][0]
    bad = rule | {"spec": {"groups": [group | {"rules": [group["rules"][0] | {"fro": "5m"}]}]}}
    assert any("fro" in e for e in monitoring_crd_validator(bad))


# --- what the monitors select -----------------------------------------------------------------------------
def test_pod_monitors_scrape_declared_ports_of_this_clusters_ray_pods(monitored: Objects) -> None:
    pods = ray_pods(monitored)
    monitors = of_kind(monitored, "PodMonitor")
    assert len(monitors) == 2
    cluster = one(monitored, "RayCluster")["metadata"]["name"]
    for pm in monitors:
        spec = pm["spec"]
        assert spec["namespaceSelector"] == {"matchNames": [NAMESPACE]}
        picked = [name for name, (labels, _) in pods.items() if selects(spec["selector"], labels)]
        assert picked, pm["metadata"]["name"]
        assert spec["selector"]["matchLabels"]["ray.io/cluster"] == cluster
        ports = [e["port"] for e in spec["podMetricsEndpoints"]]
        for name in picked:
            declared = {p["name"] for c in pods[name][1]["containers"] for p in c.get("ports", [])}
            assert set(ports) <= declared, (name, ports, declared)
        for e in spec["podMetricsEndpoints"]:
            assert e["interval"] == "15s" and e["path"] == "/metrics"
            # the RayCluster's name as `ray_io_cluster` (Ray's dashboards filter on it), job `ray`
            assert e["relabelings"] == [
                {
                    "action": "replace",
                    "sourceLabels": ["__meta_kubernetes_pod_label_ray_io_cluster"],
                    "targetLabel": "ray_io_cluster",
                },
                {"action": "replace", "targetLabel": "job", "replacement": "ray"},
            ]
    by_type = {pm["spec"]["selector"]["matchLabels"]["ray.io/node-type"]: pm["spec"] for pm in monitors}
    assert [e["port"] for e in by_type["head"]["podMetricsEndpoints"]] == [
        "metrics",
        "as-metrics",
        "dash-metrics",
    ]
    assert [e["port"] for e in by_type["worker"]["podMetricsEndpoints"]] == ["metrics"]
    head_ports = {p["name"]: p["containerPort"] for p in pods["head"][1]["containers"][0]["ports"]}
    assert (head_ports["metrics"], head_ports["as-metrics"], head_ports["dash-metrics"]) == (
        8080,
        44217,
        44227,
    )


def test_every_worker_group_declares_the_metrics_port(render: Any) -> None:
    """KubeRay's default metrics port, declared in the chart so that monitors and policies name it."""
    objects = render(load_values("worker-groups"))
    workers = {
        n: spec for n, (labels, spec) in ray_pods(objects).items() if labels["ray.io/node-type"] == "worker"
    }
    assert set(workers) == {"cpu", "highmem"}
    for spec in workers.values():
        assert spec["containers"][0]["ports"] == [{"name": "metrics", "containerPort": 8080}]


@pytest.mark.parametrize("disabled", [None, "intraday"])
def test_service_monitor_selects_exactly_the_services_and_keeps_their_labels(
    full_chart: Path, disabled: str | None
) -> None:
    values = monitoring_values()
    if disabled:
        values = merge(values, {"services": {disabled: {"disabled": True}}})
    objects = render_chart(full_chart, values)
    spec = one(objects, "ServiceMonitor")["spec"]
    assert spec["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    services = of_kind(objects, "Service")
    assert len(services) == (3 if disabled else 4)
    picked = [s for s in services if selects(spec["selector"], s["metadata"]["labels"])]
    assert picked == services
    # nothing else of the release (the Ray head Service KubeRay makes carries other labels; a pod is no Service)
    ray_labels = [labels for labels, _ in ray_pods(objects).values()]
    assert not [labels for labels in ray_labels if selects(spec["selector"], labels)]
    (endpoint,) = spec["endpoints"]
    assert all(endpoint["port"] in {p["name"] for p in s["spec"]["ports"]} for s in services)
    assert (endpoint["path"], endpoint["interval"], endpoint["honorLabels"]) == ("/metrics", "30s", True)
    # targets labelled like `raysvc up --monitor`'s: job `raysvc`, `service` the service's name (the Service's
    # component label, which is that name), so that `up{job="raysvc"}` alerts name the service
    component = "app.kubernetes.io/component"
    assert endpoint["relabelings"] == [
        {
            "action": "replace",
            "sourceLabels": ["__meta_kubernetes_service_label_app_kubernetes_io_component"],
            "targetLabel": "service",
        },
        {"action": "replace", "targetLabel": "job", "replacement": "raysvc"},
    ]
    expected = sorted({"sentiment", "garch", "portfolio", "intraday"} - {disabled})
    assert sorted(s["metadata"]["labels"][component] for s in services) == expected


def test_job_names_can_be_left_to_the_operator(full_chart: Path) -> None:
    values = merge(
        monitoring_values(),
        {"monitoring": {"serviceMonitor": {"jobName": ""}, "podMonitor": {"jobName": ""}}},
    )
    objects = render_chart(full_chart, values)
    endpoints = [e for pm in of_kind(objects, "PodMonitor") for e in pm["spec"]["podMetricsEndpoints"]]
    endpoints += one(objects, "ServiceMonitor")["spec"]["endpoints"]
    assert endpoints and not [r for e in endpoints for r in e["relabelings"] if r["targetLabel"] == "job"]


def test_labels_of_a_monitor_override_the_common_ones(full_chart: Path) -> None:
    values = merge(monitoring_values(), {"monitoring": {"serviceMonitor": {"labels": {"release": "other"}}}})
    objects = render_chart(full_chart, values)
    assert one(objects, "ServiceMonitor")["metadata"]["labels"]["release"] == "other"
    assert {pm["metadata"]["labels"]["release"] for pm in of_kind(objects, "PodMonitor")} == {
        "kube-prometheus-stack"
    }


def test_monitors_live_in_the_release_namespace_unless_told(full_chart: Path) -> None:
    values = merge(monitoring_values(), {"monitoring": {"namespace": ""}})
    objects = render_chart(full_chart, values, namespace="analytics")
    for obj in [o for o in objects if o["kind"] in MONITORING_KINDS]:
        assert obj["metadata"]["namespace"] == "analytics"
        if obj["kind"] != "PrometheusRule":
            assert obj["spec"]["namespaceSelector"] == {"matchNames": ["analytics"]}


# --- rules and dashboards from files/ ---------------------------------------------------------------------
def test_prometheus_rule_groups_are_the_rule_files_groups(monitored: Objects, full_chart: Path) -> None:
    groups = yaml.safe_load((full_chart / RULES).read_text())["groups"]
    assert groups and one(monitored, "PrometheusRule")["spec"]["groups"] == groups


def test_dashboard_configmaps_carry_the_sidecar_label_and_the_files_json(
    monitored: Objects, full_chart: Path
) -> None:
    files = sorted((full_chart / DASHBOARDS).rglob("*.json"))
    maps = {
        c["metadata"]["name"]: c
        for c in of_kind(monitored, "ConfigMap")
        if "grafana_dashboard" in c["metadata"]["labels"]
    }
    assert len(maps) == len(files)
    for f in files:
        (cm,) = [c for c in maps.values() if f.name in c["data"]]
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert cm["metadata"]["annotations"] == {"grafana_folder": "Ray Services"}
        assert list(cm["data"]) == [f.name]
        assert json.loads(cm["data"][f.name]) == json.loads(f.read_text())


def test_dashboard_label_and_folder_are_configurable(full_chart: Path) -> None:
    values = merge(
        monitoring_values(),
        {
            "monitoring": {
                "dashboards": {"label": "dashboards", "labelValue": "ray", "folder": "", "labels": {"a": "b"}}
            }
        },
    )
    maps = [
        c
        for c in of_kind(render_chart(full_chart, values), "ConfigMap")
        if "dashboards" in c["metadata"]["labels"]
    ]
    assert maps
    for cm in maps:
        assert cm["metadata"]["labels"]["dashboards"] == "ray" and cm["metadata"]["labels"]["a"] == "b"
        assert "grafana_dashboard" not in cm["metadata"]["labels"] and "annotations" not in cm["metadata"]


def test_a_dashboard_that_is_not_json_fails_the_render(tmp_path: Path) -> None:
    chart = chart_copy(tmp_path, dashboards={"broken.json": '{"title": "x",'})
    with pytest.raises(helm_python.HelmError, match=r"broken\.json is not valid JSON"):
        render_chart(chart, monitoring_values())


def test_a_rule_file_without_groups_fails_the_render(tmp_path: Path) -> None:
    chart = chart_copy(tmp_path, rules="rules:\n  - alert: X\n    expr: up == 0\n")
    with pytest.raises(helm_python.HelmError, match=r"raysvc-rules\.yaml: expected a Prometheus rule file"):
        render_chart(chart, monitoring_values())


def test_the_real_chart_renders_its_own_dashboards_and_rules(render: Any) -> None:
    """One ConfigMap per dashboard the chart ships and the rule file's groups; none while it ships none."""
    objects = render(monitoring_values())
    files = sorted((CHART / DASHBOARDS).rglob("*.json"))
    maps = [c for c in of_kind(objects, "ConfigMap") if "grafana_dashboard" in c["metadata"]["labels"]]
    by_name = {f.name: f for f in files}
    assert sorted(k for c in maps for k in c["data"]) == sorted(by_name)
    assert "ray-default.json" in by_name  # Ray's own default dashboard (monitoring.dashboards.ray, on)
    for cm in maps:
        ((name, text),) = cm["data"].items()
        assert json.loads(text) == json.loads(by_name[name].read_text())
    ours = [
        c
        for c in of_kind(render({"monitoring": {"dashboards": {"enabled": True, "ray": False}}}), "ConfigMap")
    ]
    assert sorted(k for c in ours for k in c["data"] if k.endswith(".json")) == sorted(
        f.name for f in (CHART / DASHBOARDS).glob("*.json")
    )
    rules = of_kind(objects, "PrometheusRule")
    if (CHART / RULES).is_file():
        groups = yaml.safe_load((CHART / RULES).read_text())["groups"]
        assert [r["spec"]["groups"] for r in rules] == [groups]
        # the jobs the rules select are the ones the monitors give
        jobs = {
            m.group(1) for g in groups for r in g["rules"] for m in re.finditer(r'job="([^"]*)"', r["expr"])
        }
        defaults = yaml.safe_load((CHART / "values.yaml").read_text())["monitoring"]
        assert jobs <= {defaults["serviceMonitor"]["jobName"], defaults["podMonitor"]["jobName"]}, jobs
    else:
        assert not rules


# --- annotations, env, network policy ---------------------------------------------------------------------
@pytest.mark.parametrize("enabled", [True, False])
def test_scrape_annotations_exactly_when_enabled(
    render: Any, enabled: bool, defaults: dict[str, Any]
) -> None:
    objects = render({"monitoring": {"annotations": {"enabled": enabled}}})
    annotations = pod_annotations(objects)
    assert len(annotations) == 4 + 2  # four services, the head and the default worker group
    ports = {f"{RELEASE}-{name}": svc["port"] for name, svc in defaults["services"].items()}
    for name, a in annotations.items():
        scrape = {k: v for k, v in a.items() if k.startswith("prometheus.io/")}
        if enabled:
            assert scrape == {
                "prometheus.io/scrape": "true",
                "prometheus.io/port": str(ports.get(name, 8080)),
                "prometheus.io/path": "/metrics",
            }, name
        else:
            assert not scrape, name
    if enabled:  # the annotated port is one the pod declares
        declared = [
            {p["containerPort"] for c in spec["containers"] for p in c.get("ports", [])}
            for _, spec in ray_pods(objects).values()
        ]
        assert all(8080 in d for d in declared)


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"grafanaHost": "http://grafana.monitoring.svc:80"},
        monitoring_values()["monitoring"]["rayDashboard"],
    ],
    ids=["none", "grafana-host-only", "all"],
)
def test_ray_dashboard_env_on_the_head_exactly_when_set(render: Any, values: dict[str, str]) -> None:
    objects = render({"monitoring": {"rayDashboard": values}})
    pods = ray_pods(objects)
    head_env = env_of(pods["head"][1]["containers"][0])
    assert {k: v for k, v in head_env.items() if k in RAY_DASHBOARD_ENV.values()} == {
        RAY_DASHBOARD_ENV[k]: v for k, v in values.items()
    }
    others = [env_of(spec["containers"][0]) for n, (_, spec) in pods.items() if n != "head"]
    others += [env_of(d["spec"]["template"]["spec"]["containers"][0]) for d in of_kind(objects, "Deployment")]
    assert not [e for e in others if set(e) & set(RAY_DASHBOARD_ENV.values())]


def test_network_policy_lets_prometheus_reach_exactly_the_scraped_ports(monitored: Objects) -> None:
    peers = monitoring_values()["networkPolicy"]["metricsFrom"]
    policies = of_kind(monitored, "NetworkPolicy")
    pods = ray_pods(monitored)
    for name, (labels, spec) in pods.items():
        (policy,) = [p for p in policies if selects(p["spec"]["podSelector"], labels)]
        (rule,) = [r for r in policy["spec"]["ingress"] if r["from"] == peers]
        allowed = {p["port"] for p in rule["ports"]}
        # the ports the PodMonitor scrapes on this pod, as numbers
        (pm,) = [pm for pm in of_kind(monitored, "PodMonitor") if selects(pm["spec"]["selector"], labels)]
        named = {p["name"]: p["containerPort"] for c in spec["containers"] for p in c.get("ports", [])}
        assert allowed == {named[e["port"]] for e in pm["spec"]["podMetricsEndpoints"]}, name
    # no policy of the chart selects a service pod: the ServiceMonitor's scrapes reach them
    for dep in of_kind(monitored, "Deployment"):
        labels = dep["spec"]["template"]["metadata"]["labels"]
        assert not [p for p in policies if selects(p["spec"]["podSelector"], labels)]


@pytest.mark.parametrize(
    "monitoring",
    [{}, {"podMonitor": {"enabled": True}}, {"annotations": {"enabled": True}}],
    ids=["not-scraped", "pod-monitor", "annotations"],
)
def test_network_policy_opens_metrics_ports_only_while_ray_pods_are_scraped(
    render: Any, monitoring: dict[str, Any]
) -> None:
    peers = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]
    objects = render({"networkPolicy": {"enabled": True, "metricsFrom": peers}, "monitoring": monitoring})
    rules = {
        p["metadata"]["name"].rsplit("-", 2)[-2]: [r for r in p["spec"]["ingress"] if r["from"] == peers]
        for p in of_kind(objects, "NetworkPolicy")
    }
    assert set(rules) == {"head", "workers"}
    if not monitoring:
        assert rules == {"head": [], "workers": []}
        return
    head_ports = {p["port"] for p in rules["head"][0]["ports"]}
    assert head_ports == ({8080, 44217, 44227} if "podMonitor" in monitoring else {8080})
    assert [{p["port"] for p in r["ports"]} for r in rules["workers"]] == [{8080}]


# --- values guards ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("values", "names"),
    [
        ({"monitoring": {"podMonitor": {"enable": True}}}, "enable"),
        ({"monitoring": {"serviceMonitor": {"interval": "30 s"}}}, "/monitoring/serviceMonitor/interval"),
        (
            {"monitoring": {"podMonitor": {"headExtraPorts": {"autoscaler-metrics": 44217}}}},
            "autoscaler-metrics",
        ),
        ({"monitoring": {"podMonitor": {"headExtraPorts": {"as-metrics": "44217"}}}}, "headExtraPorts"),
        (
            {"monitoring": {"rayDashboard": {"grafanaHost": "grafana:3000"}}},
            "/monitoring/rayDashboard/grafanaHost",
        ),
        ({"monitoring": {"dashboards": {"labelValue": 1}}}, "/monitoring/dashboards/labelValue"),
        ({"monitoring": {"labels": {"release": 1}}}, "/monitoring/labels/release"),
        ({"networkPolicy": {"metricsFrom": [{}]}}, "/networkPolicy/metricsFrom/0"),
    ],
    ids=[
        "misspelled-key",
        "bad-interval",
        "port-name-too-long",
        "port-not-integer",
        "grafana-host-without-scheme",
        "label-value-not-string",
        "label-not-string",
        "empty-peer",
    ],
)
def test_schema_rejects_bad_monitoring_values(chart: Any, values: dict[str, Any], names: str) -> None:
    with pytest.raises(helm_python.HelmValuesError, match="schema") as err:
        chart.render(values, name=RELEASE, namespace=NAMESPACE)
    assert names in str(err.value)
