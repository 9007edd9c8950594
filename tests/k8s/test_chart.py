"""The Helm chart: strict lint, the values matrix rendered and validated, the schema and template guards,
and what each value turns on."""

from __future__ import annotations

import base64
from typing import Any

import pytest

helm_python = pytest.importorskip("helm_python", reason="helm-python-sdk (the dev extra) renders the chart")

from .chartlib import (  # noqa: E402
    CHART,
    KUBE_VERSION,
    NAMESPACE,
    RELEASE,
    SCENARIOS,
    env_of,
    load_values,
    loader_jobs,
    of_kind,
    one,
    pod_specs,
    quantity,
)

SCENARIO_IDS = list(SCENARIOS)


@pytest.fixture(scope="module")
def rendered(render: Any) -> dict[str, list[dict[str, Any]]]:
    """Every scenario rendered once."""
    return {name: render(load_values(name)) for name in SCENARIO_IDS}


@pytest.fixture(scope="module")
def default(rendered: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return rendered["default"]


def raycluster(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return one(objects, "RayCluster")


# --- lint, render, validate -------------------------------------------------------------------------------
@pytest.mark.parametrize("scenario", SCENARIO_IDS)
def test_lint_strict_passes(scenario: str) -> None:
    report = helm_python.lint(
        str(CHART), load_values(scenario), strict=True, namespace=NAMESPACE, kube_version=f"v{KUBE_VERSION}"
    )
    problems = [m for m in report["messages"] if m["severity"] >= 2] + report["errors"]
    assert report["total_charts_linted"] == 1
    assert not problems, problems


@pytest.mark.parametrize("scenario", SCENARIO_IDS)
def test_every_rendered_object_validates(
    scenario: str, rendered: dict[str, list[dict[str, Any]]], k8s_validate: Any, crd_validator: Any
) -> None:
    objects = rendered[scenario]
    assert {"RayCluster", "Deployment", "Service"} <= {o["kind"] for o in objects}
    errors = {}
    for obj in objects:
        check = crd_validator if obj["apiVersion"].startswith("ray.io/") else k8s_validate
        if found := check(obj):
            errors[f"{obj['kind']}/{obj['metadata']['name']}"] = found
    assert not errors, errors


def test_crd_validation_rejects_a_misspelled_field(default: list[dict[str, Any]], crd_validator: Any) -> None:
    """The closed CRD schema is strict: the same check would catch a typo in the chart's RayCluster."""
    bad = raycluster(default) | {}
    bad["spec"] = dict(bad["spec"], headGroupSpec=dict(bad["spec"]["headGroupSpec"], rayStartParam={}))
    assert any("rayStartParam" in e for e in crd_validator(bad))


def test_names_and_labels_fit_kubernetes_limits(rendered: dict[str, list[dict[str, Any]]]) -> None:
    for scenario, objects in rendered.items():
        for obj in objects:
            meta = obj["metadata"]
            assert len(meta["name"]) <= 63, (scenario, meta["name"])
            assert all(len(str(v)) <= 63 for v in meta.get("labels", {}).values()), (scenario, meta["labels"])


# --- values guards ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("values", "names"),
    [
        ({"replicaCount": 2}, "replicaCount"),
        ({"ray": {"head": {"resource": {}}}}, "resource"),
        ({"services": {"garch": {"port": "8006"}}}, "/services/garch/port"),
        ({"services": {"garch": {"port": 70000}}}, "/services/garch/port"),
        ({"services": {"pricing": {"port": 8009}}}, "pricing"),
        ({"services": {"portfolio": {"calls": ["pricing"]}}}, "/services/portfolio/calls/0"),
        (
            {"ray": {"workerGroups": {"cpu": {"resources": {"cpu": "two", "memory": "4Gi"}}}}},
            "/ray/workerGroups/cpu/resources/cpu",
        ),
        ({"ray": {"workerGroups": {"CPU": {"resources": {"cpu": "1", "memory": "1Gi"}}}}}, "CPU"),
        ({"ray": {"workerGroups": {"gpu": {"replicas": 1}}}}, "resources"),
        ({"ray": {"head": {"rayStartParams": {"num-cpus": 0}}}}, "/ray/head/rayStartParams/num-cpus"),
        ({"ray": {"clusterName": "a" * 42}}, "/ray/clusterName"),
        ({"ray": {"gcsFaultTolerance": {"enabled": True}}}, "/ray/gcsFaultTolerance/redisAddress"),
        ({"data": {"source": "s3"}}, "/data/source"),
        ({"data": {"persistence": {"accessModes": ["ReadWriteAll"]}}}, "/data/persistence/accessModes/0"),
        ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy"),
        ({"auth": {"enabled": "yes"}}, "/auth/enabled"),
        ({"apiKeys": {"enabled": "yes"}}, "/apiKeys/enabled"),
        ({"services": {"garch": {"env": [{"name": "X", "value": 1}]}}}, "/services/garch/env/0/value"),
        ({"ray": {"clusterName": "-Not-a-name"}}, "/ray/clusterName"),
        ({"ray": {"head": {"requests": {"gpu": "1"}}}}, "gpu"),
    ],
    ids=[
        "unknown-top-level-key",
        "misspelled-nested-key",
        "port-as-string",
        "port-out-of-range",
        "unknown-service",
        "calls-unknown-service",
        "bad-cpu-quantity",
        "group-name-not-dns",
        "group-without-resources",
        "start-param-not-string",
        "cluster-name-too-long",
        "gcs-ft-without-redis",
        "unknown-data-source",
        "bad-access-mode",
        "bad-pull-policy",
        "auth-not-boolean",
        "api-keys-not-boolean",
        "env-value-not-string",
        "cluster-name-unanchored-match",
        "unknown-request",
    ],
)
def test_schema_rejects_bad_values(chart: Any, values: dict[str, Any], names: str) -> None:
    with pytest.raises(helm_python.HelmValuesError, match="schema") as err:
        chart.render(values, name=RELEASE, namespace=NAMESPACE)
    assert names in str(err.value)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"ray": {"gcsFaultTolerance": {"enabled": True, "redisAddress": "redis:6379"}}},
            "Redis password from a Secret",
        ),
        (
            {"ray": {"workerGroups": {"cpu": {"minReplicas": 3, "maxReplicas": 2, "replicas": 2}}}},
            "greater than maxReplicas",
        ),
        ({"ray": {"workerGroups": {"cpu": {"replicas": 9}}}}, "must lie between"),
        ({"ray": {"workerGroups": {"cpu": {"disabled": True}}}}, "at least one group"),
        ({"data": {"source": "configMap"}}, "data.loader.enabled"),
        ({"services": {"sentiment": {"disabled": True}}}, "calls sentiment, which is disabled"),
    ],
    ids=[
        "gcs-ft-without-password",
        "min-above-max",
        "replicas-outside-range",
        "no-worker-group",
        "configmap-with-loader",
        "calls-disabled-service",
    ],
)
def test_templates_fail_on_inconsistent_values(chart: Any, values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm_python.HelmError, match=message):
        chart.render(values, name=RELEASE, namespace=NAMESPACE)


# --- the RayCluster ------------------------------------------------------------------------------------
def test_head_schedules_only_and_serves_the_dashboard_inside_the_pod(default: list[dict[str, Any]]) -> None:
    head = raycluster(default)["spec"]["headGroupSpec"]
    assert head["rayStartParams"]["num-cpus"] == "0"
    assert head["rayStartParams"]["dashboard-host"] == "0.0.0.0"
    assert head["serviceType"] == "ClusterIP"
    (container,) = head["template"]["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"gcs-server": 6379, "dashboard": 8265, "client": 10001, "metrics": 8080}


def test_ray_version_is_the_pinned_ray(default: list[dict[str, Any]]) -> None:
    import tomllib

    import ray

    deps = tomllib.loads((CHART.parents[1] / "pyproject.toml").read_text())["project"]["dependencies"]
    (pin,) = [d for d in deps if d.replace(" ", "").startswith("ray[default]==")]
    assert raycluster(default)["spec"]["rayVersion"] == pin.split("==")[1] == ray.__version__


@pytest.mark.parametrize("scenario", SCENARIO_IDS)
def test_ray_pods_have_requests_equal_to_limits_unless_lowered(
    scenario: str, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    """Guaranteed QoS by default; the kind values lower the CPU requests (Burstable) to fit a 2-CPU node, and
    the limits, which Ray sizes itself from, stay as set."""
    values = load_values(scenario)
    lowered = scenario == "kind"
    assert lowered == bool(values.get("ray", {}).get("head", {}).get("requests"))
    for name, spec in pod_specs(rendered[scenario]).items():
        if not name.startswith("RayCluster/"):
            continue
        for c in spec["containers"]:
            req, lim = c["resources"]["requests"], c["resources"]["limits"]
            assert set(lim) == set(req) == {"cpu", "memory"}, (name, c["resources"])
            if lowered:
                assert req["memory"] == lim["memory"] and quantity(req["cpu"]) < quantity(lim["cpu"]), (
                    name,
                    req,
                    lim,
                )
            else:
                assert req == lim, (name, c["resources"])


def test_renders_several_worker_groups_when_configured(rendered: dict[str, list[dict[str, Any]]]) -> None:
    groups = {g["groupName"]: g for g in raycluster(rendered["worker-groups"])["spec"]["workerGroupSpecs"]}
    assert set(groups) == {"cpu", "highmem"}
    highmem = groups["highmem"]
    assert (highmem["replicas"], highmem["minReplicas"], highmem["maxReplicas"]) == (1, 0, 2)
    assert highmem["rayStartParams"] == {"resources": '"{\\"highmem\\": 1}"'}
    spec = highmem["template"]["spec"]
    assert spec["containers"][0]["resources"]["limits"] == {"cpu": "4", "memory": "16Gi"}
    assert spec["tolerations"][0]["key"] == "highmem"
    shm = next(v for v in spec["volumes"] if v["name"] == "shared-mem")
    assert shm["emptyDir"] == {"medium": "Memory", "sizeLimit": "6Gi"}


def test_renders_autoscaler_when_autoscaling_is_enabled(rendered: dict[str, list[dict[str, Any]]]) -> None:
    spec = raycluster(rendered["autoscaling"])["spec"]
    assert spec["enableInTreeAutoscaling"] is True
    opts = spec["autoscalerOptions"]
    assert (opts["upscalingMode"], opts["idleTimeoutSeconds"]) == ("Conservative", 120)
    assert opts["resources"]["requests"] == opts["resources"]["limits"]
    assert raycluster(rendered["default"])["spec"]["enableInTreeAutoscaling"] is False
    assert "autoscalerOptions" not in raycluster(rendered["default"])["spec"]


@pytest.mark.parametrize(
    ("scenario", "secret", "key"),
    [("gcs-ft", "redis-auth", "password"), ("gcs-ft-chart-secret", f"{RELEASE}-redis", "redis-password")],
    ids=["existing-secret", "chart-secret"],
)
def test_renders_gcs_fault_tolerance_with_password_from_a_secret(
    scenario: str, secret: str, key: str, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    objects = rendered[scenario]
    ft = raycluster(objects)["spec"]["gcsFaultToleranceOptions"]
    assert ft["redisPassword"] == {"valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}
    made = {s["metadata"]["name"]: s for s in of_kind(objects, "Secret")}
    if scenario == "gcs-ft-chart-secret":
        assert (
            base64.b64decode(made[secret]["data"][key]).decode()
            == load_values(scenario)["ray"]["gcsFaultTolerance"]["redisPassword"]
        )
        assert ft["redisAddress"] == "redis:6379"
    else:
        assert secret not in made
        assert ft["externalStorageNamespace"] == "ray-services-prod"
    assert "gcsFaultToleranceOptions" not in raycluster(rendered["default"])["spec"]

    # the services' batch drivers go to any Ray node but KubeRay's head group: a head restart spares them
    def selector(objs: list[dict[str, Any]]) -> set[str | None]:
        return {
            next(
                (
                    e.get("value")
                    for e in d["spec"]["template"]["spec"]["containers"][0]["env"]
                    if e["name"] == "RAYSVC_JOB_DRIVER_SELECTOR"
                ),
                None,
            )
            for d in of_kind(objs, "Deployment")
        }

    assert selector(objects) == {'{"ray.io/node-group": "!headgroup"}'} and selector(rendered["default"]) == {
        None
    }


def test_uninstall_hook_deletes_the_raycluster_first_with_rights_to_it_only(
    default: list[dict[str, Any]],
) -> None:
    """helm uninstall: a pre-delete hook Job deletes the RayCluster and waits for KubeRay (its Redis cleanup
    needs the claims and Secrets Helm deletes after); its Role reaches that one RayCluster; all of it goes
    when it succeeded. The script it runs is plain Python that compiles."""
    hooks = [o for o in default if o["metadata"].get("annotations", {}).get("helm.sh/hook") == "pre-delete"]
    assert sorted(o["kind"] for o in hooks) == ["Job", "Role", "RoleBinding", "ServiceAccount"]
    assert all("hook-succeeded" in o["metadata"]["annotations"]["helm.sh/hook-delete-policy"] for o in hooks)
    (role,) = [o for o in hooks if o["kind"] == "Role"]
    assert role["rules"] == [
        {
            "apiGroups": ["ray.io"],
            "resources": ["rayclusters"],
            "resourceNames": [raycluster(default)["metadata"]["name"]],
            "verbs": ["get", "patch", "delete"],
        }
    ]
    (job,) = [o for o in hooks if o["kind"] == "Job"]
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"][:2] == ["python", "-c"]
    compile(container["command"][2], "delete-raycluster.py", "exec")
    assert env_of(container)["RAY_CLUSTER"] == raycluster(default)["metadata"]["name"]
    assert container["resources"]["requests"] == container["resources"]["limits"]


# --- token authentication -------------------------------------------------------------------------------
@pytest.mark.parametrize("scenario", ["default", "existing-claims"])
def test_one_token_reaches_the_cluster_and_every_service(
    scenario: str, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    objects = rendered[scenario]
    auth = raycluster(objects)["spec"]["authOptions"]
    assert auth["mode"] == "token"
    secret = auth["secretName"]
    # KubeRay injects RAY_AUTH_MODE/RAY_AUTH_TOKEN from authOptions.secretName (key auth_token) into every
    # Ray container; the services read the same Secret and key.
    for dep in of_kind(objects, "Deployment"):
        env = env_of(dep["spec"]["template"]["spec"]["containers"][0])
        assert env["RAY_AUTH_MODE"] == "token"
        assert env["RAY_AUTH_TOKEN"] == {"secretKeyRef": {"name": secret, "key": "auth_token"}}
    made = {s["metadata"]["name"]: s for s in of_kind(objects, "Secret")}
    if scenario == "default":
        token = base64.b64decode(made[secret]["data"]["auth_token"]).decode()
        assert len(token) >= 32 and token.isalnum()
    else:
        assert secret == "my-ray-token" and secret not in made


def test_renders_a_fixed_token_when_given(render: Any) -> None:
    objects = render({"auth": {"token": "t0k3n-for-a-test"}})
    secret = one(objects, "Secret", f"{RELEASE}-ray-auth")
    assert base64.b64decode(secret["data"]["auth_token"]).decode() == "t0k3n-for-a-test"


def test_auth_off_disables_it_everywhere(rendered: dict[str, list[dict[str, Any]]]) -> None:
    objects = rendered["replicas-auth-off"]
    assert raycluster(objects)["spec"]["authOptions"] == {"mode": "disabled"}
    assert not of_kind(objects, "Secret")
    for name, spec in pod_specs(objects).items():
        if name.startswith("Job/"):
            continue
        env = env_of(spec["containers"][0])
        assert env.get("RAY_AUTH_MODE") == "disabled", name
        assert "RAY_AUTH_TOKEN" not in env


# --- API keys of the services ---------------------------------------------------------------------------
API_KEYS_FILE = "/etc/raysvc/api-keys/api-keys.json"


def api_keys_wiring(dep: dict[str, Any]) -> tuple[Any, list[dict[str, Any]], list[dict[str, Any]]]:
    """A Deployment's RAYSVC_API_KEYS_FILE, and its api-keys volumes and mounts."""
    spec = dep["spec"]["template"]["spec"]
    container = spec["containers"][0]
    volumes = [v for v in spec["volumes"] if v["name"] == "api-keys"]
    mounts = [m for m in container["volumeMounts"] if m["name"] == "api-keys"]
    return env_of(container).get("RAYSVC_API_KEYS_FILE"), volumes, mounts


def test_renders_an_api_key_store_with_one_admin_key_by_default(
    default: list[dict[str, Any]], tmp_path: Any
) -> None:
    """The chart-made store holds the SHA-256 of the admin key it makes, in the format the services read."""
    from services.core.auth import KeyStore

    secret = one(default, "Secret", f"{RELEASE}-api-keys")
    admin = base64.b64decode(secret["data"]["admin_key"]).decode()
    store = base64.b64decode(secret["data"]["api-keys.json"]).decode()
    assert admin.startswith("rsk_") and len(admin) == 47 and admin[4:].isalnum() and admin not in store
    (tmp_path / "api-keys.json").write_text(store)
    assert KeyStore(tmp_path / "api-keys.json").scopes_of(admin) == {"read", "jobs"}
    assert KeyStore(tmp_path / "api-keys.json").scopes_of(admin + "x") is None
    deployments = of_kind(default, "Deployment")
    assert len(deployments) == 4
    for dep in deployments:
        path, volumes, mounts = api_keys_wiring(dep)
        assert path == API_KEYS_FILE
        assert volumes == [
            {
                "name": "api-keys",
                "secret": {
                    "secretName": secret["metadata"]["name"],
                    "items": [{"key": "api-keys.json", "path": "api-keys.json"}],
                    "defaultMode": 0o440,
                },
            }
        ]
        # a directory mount (no subPath): the kubelet's update of a changed Secret reaches the running pod
        assert mounts == [{"name": "api-keys", "mountPath": "/etc/raysvc/api-keys", "readOnly": True}]


def test_renders_the_api_keys_of_an_existing_secret_when_set(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    objects = rendered["existing-claims"]
    assert f"{RELEASE}-api-keys" not in {s["metadata"]["name"] for s in of_kind(objects, "Secret")}
    for dep in of_kind(objects, "Deployment"):
        path, (volume,), _ = api_keys_wiring(dep)
        assert path == API_KEYS_FILE and volume["secret"]["secretName"] == "my-api-keys"


def test_api_keys_off_leaves_the_services_open(rendered: dict[str, list[dict[str, Any]]]) -> None:
    objects = rendered["replicas-auth-off"]
    for dep in of_kind(objects, "Deployment"):
        assert api_keys_wiring(dep) == (None, [], [])


def test_probes_need_an_open_path_when_api_keys_are_on(chart: Any) -> None:
    with pytest.raises(helm_python.HelmError, match=r"probes\.readiness\.path /status needs an API key"):
        chart.render({"probes": {"readiness": {"path": "/status"}}}, name=RELEASE, namespace=NAMESPACE)
    chart.render(
        {"probes": {"readiness": {"path": "/status"}}, "apiKeys": {"enabled": False}},
        name=RELEASE,
        namespace=NAMESPACE,
    )


# --- exposure and network policy ------------------------------------------------------------------------
@pytest.mark.parametrize("scenario", SCENARIO_IDS)
def test_nothing_is_exposed_outside_the_cluster(
    scenario: str, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    objects = rendered[scenario]
    assert not of_kind(objects, "Ingress")
    assert all(s["spec"].get("type", "ClusterIP") == "ClusterIP" for s in of_kind(objects, "Service"))
    head = raycluster(objects)["spec"]["headGroupSpec"]
    assert head["serviceType"] == "ClusterIP" and not head.get("enableIngress")
    for name, spec in pod_specs(objects).items():
        assert not spec.get("hostNetwork") and all(
            "hostPort" not in p for c in spec["containers"] for p in c.get("ports", [])
        ), name


def test_renders_network_policies_when_enabled(rendered: dict[str, list[dict[str, Any]]]) -> None:
    objects = rendered["networkpolicy"]
    cluster = raycluster(objects)["metadata"]["name"]
    policies = {p["metadata"]["name"]: p["spec"] for p in of_kind(objects, "NetworkPolicy")}
    # never KubeRay's own policy names (`<cluster>-head`, `<cluster>-workers`)
    assert not {f"{cluster}-head", f"{cluster}-workers"} & set(policies), sorted(policies)
    head, workers = policies[f"{cluster}-head-ingress"], policies[f"{cluster}-workers-ingress"]
    assert head["podSelector"]["matchLabels"] == {"ray.io/cluster": cluster, "ray.io/node-type": "head"}
    assert workers["podSelector"]["matchLabels"] == {"ray.io/cluster": cluster, "ray.io/node-type": "worker"}
    ray_peers, services_rule, extra_rule = head["ingress"]
    assert ray_peers == {"from": [{"podSelector": {"matchLabels": {"ray.io/cluster": cluster}}}]}
    assert sorted(p["port"] for p in services_rule["ports"]) == [8265, 10001]
    # The service rule's selectors pick exactly the four service Deployments' pods.
    selectors = [peer["podSelector"]["matchLabels"] for peer in services_rule["from"]]
    pod_labels = [d["spec"]["template"]["metadata"]["labels"] for d in of_kind(objects, "Deployment")]
    assert len(selectors) == len(pod_labels) == 4
    for sel in selectors:
        assert sum(sel.items() <= labels.items() for labels in pod_labels) == 1, sel
    assert extra_rule["from"] == load_values("networkpolicy")["networkPolicy"]["allowFrom"]
    assert sorted(p["port"] for p in extra_rule["ports"]) == [6379, 8080, 8265, 10001]
    assert workers["ingress"] == [ray_peers]
    assert not of_kind(rendered["default"], "NetworkPolicy")


# --- services --------------------------------------------------------------------------------------------
def test_services_have_probes_and_a_non_root_read_only_container(default: list[dict[str, Any]]) -> None:
    deployments = of_kind(default, "Deployment")
    assert len(deployments) == 4
    for dep in deployments:
        spec = dep["spec"]["template"]["spec"]
        (c,) = spec["containers"]
        assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert c["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] != 0
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        assert c["securityContext"]["allowPrivilegeEscalation"] is False
        assert {"limits", "requests"} <= set(c["resources"])
        assert {"name": "tmp", "mountPath": "/tmp"} in c["volumeMounts"]


def test_renders_pdbs_only_for_services_with_several_replicas(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    assert not of_kind(rendered["default"], "PodDisruptionBudget")
    objects = rendered["replicas-auth-off"]
    pdbs = {p["metadata"]["name"]: p["spec"] for p in of_kind(objects, "PodDisruptionBudget")}
    assert set(pdbs) == {f"{RELEASE}-sentiment", f"{RELEASE}-garch", f"{RELEASE}-portfolio"}
    for name, spec in pdbs.items():
        dep = one(objects, "Deployment", name)
        assert dep["spec"]["replicas"] > 1
        assert spec["selector"]["matchLabels"] == dep["spec"]["selector"]["matchLabels"]
        assert spec["maxUnavailable"] == "50%"
    assert not [d for d in of_kind(objects, "Deployment") if d["metadata"]["name"].endswith("intraday")]


def test_service_urls_follow_calls(default: list[dict[str, Any]]) -> None:
    env = {
        d["metadata"]["name"]: env_of(d["spec"]["template"]["spec"]["containers"][0])
        for d in of_kind(default, "Deployment")
    }
    assert env[f"{RELEASE}-portfolio"]["RAYSVC_SENTIMENT_URL"] == f"http://{RELEASE}-sentiment:8005"
    assert env[f"{RELEASE}-intraday"]["RAYSVC_GARCH_URL"] == f"http://{RELEASE}-garch:8006"
    assert not any(k.endswith("_URL") for k in env[f"{RELEASE}-garch"])


# --- data, results, models -----------------------------------------------------------------------------
@pytest.mark.parametrize("scenario", SCENARIO_IDS)
def test_data_and_results_are_mounted_at_one_path_everywhere(
    scenario: str, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    values = load_values(scenario)
    paths = {"data": "/data", "results": "/results", "models": "/models"}
    sources: dict[str, set[str]] = {v: set() for v in paths}
    for name, spec in pod_specs(rendered[scenario]).items():
        if name.endswith("-pre-delete"):  # the uninstall hook talks to the API server only
            continue
        volumes = {v["name"]: v for v in spec["volumes"]}
        mounts = {m["name"]: m for m in spec["containers"][0]["volumeMounts"]}
        wanted = ["data", "results"] + (
            ["models"] if name.startswith("RayCluster/") or "models" in mounts else []
        )
        for vol in wanted:
            assert mounts[vol]["mountPath"] == paths[vol], (name, vol)
            src = volumes[vol]
            sources[vol].add(
                src["configMap"]["name"] if "configMap" in src else src["persistentVolumeClaim"]["claimName"]
            )
        writable = name.startswith("Job/")
        assert mounts["data"].get("readOnly", False) is not writable, name
    # one source per volume: every pod sees the same files
    assert all(len(s) == 1 for s in sources.values()), sources
    if values.get("data", {}).get("source") == "configMap":
        assert not [j for j in loader_jobs(rendered[scenario])]


def test_renders_a_configmap_when_data_source_is_configmap(rendered: dict[str, list[dict[str, Any]]]) -> None:
    objects = rendered["configmap-data"]
    (cm,) = of_kind(objects, "ConfigMap")
    assert cm["data"]["symbols.csv"].startswith("symbol,sector\n")
    claims = {c["metadata"]["name"] for c in of_kind(objects, "PersistentVolumeClaim")}
    assert claims == {f"{RELEASE}-results", f"{RELEASE}-models"}


def test_renders_the_loader_job_as_a_plain_job_named_by_its_template(
    default: list[dict[str, Any]], render: Any
) -> None:
    """Not a hook: it starts with everything else (the services wait for its data). Its name follows its pod
    template, so an upgrade that changes it makes a new Job instead of patching an immutable one."""
    (job,) = loader_jobs(default)
    assert "helm.sh/hook" not in job["metadata"].get("annotations", {})
    c = job["spec"]["template"]["spec"]["containers"][0]
    assert [c["command"][0], *c["args"]] == ["raysvc", "data", "generate", "--out", "/data"]
    claim = next(v for v in job["spec"]["template"]["spec"]["volumes"] if v["name"] == "data")
    assert claim["persistentVolumeClaim"]["claimName"] == f"{RELEASE}-data"
    (same,) = loader_jobs(render({}))
    (other,) = loader_jobs(render({"image": {"ref": "ray-services:other"}}))
    assert same["metadata"]["name"] == job["metadata"]["name"] != other["metadata"]["name"]
    assert job["metadata"]["name"].startswith(f"{RELEASE}-data-loader-")


def test_renders_hostpath_volumes_bound_to_the_claims_on_kind(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    objects = rendered["kind"]
    pvs = {pv["metadata"]["name"]: pv["spec"] for pv in of_kind(objects, "PersistentVolume")}
    claims = {c["metadata"]["name"]: c["spec"] for c in of_kind(objects, "PersistentVolumeClaim")}
    assert len(pvs) == len(claims) == 3
    for name, spec in claims.items():
        pv = pvs[spec["volumeName"]]
        assert pv["claimRef"] == {"namespace": NAMESPACE, "name": name}
        assert spec["storageClassName"] == pv["storageClassName"] == ""
        assert pv["hostPath"]["path"] == f"/var/local/ray-services/{name.removeprefix(RELEASE + '-')}"
        assert "ReadWriteMany" in spec["accessModes"]


def test_existing_claims_are_used_and_not_created(rendered: dict[str, list[dict[str, Any]]]) -> None:
    objects = rendered["existing-claims"]
    claims = {c["metadata"]["name"]: c for c in of_kind(objects, "PersistentVolumeClaim")}
    assert set(claims) == {f"{RELEASE}-models"}
    assert claims[f"{RELEASE}-models"]["spec"]["storageClassName"] == "efs-sc"
    head = pod_specs(objects)[f"RayCluster/{raycluster(objects)['metadata']['name']}/head"]
    names = {v["name"]: v.get("persistentVolumeClaim", {}).get("claimName") for v in head["volumes"]}
    assert (names["data"], names["results"]) == ("shared-data", "shared-results")
