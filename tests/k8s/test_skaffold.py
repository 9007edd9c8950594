"""skaffold.yaml and the kind config: the skaffold schema, and the names they share with the chart."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from tests.utils.shared import require_shared

from .chartlib import REPO, SCENARIOS, env_of, kuberay_head_service_name, of_kind, one, pod_specs

SKAFFOLD = yaml.safe_load((REPO / "skaffold.yaml").read_text())
KIND_CONFIG = yaml.safe_load((REPO / "k8s" / "kind-config.yaml").read_text())


def releases(config: dict[str, Any]) -> list[dict[str, Any]]:
    return config["deploy"]["helm"]["releases"]


def configs() -> dict[str, dict[str, Any]]:
    """The default configuration and each profile's deploy/build merged over it, keyed by profile."""
    out = {"default": SKAFFOLD}
    for profile in SKAFFOLD.get("profiles", []):
        out[profile["name"]] = SKAFFOLD | {k: profile[k] for k in ("build", "deploy") if k in profile}
    return out


def test_skaffold_yaml_matches_the_v4beta14_schema() -> None:
    import jsonschema

    path = require_shared(
        "k8s",
        "schemas",
        "skaffold-v4beta14.json",
        why="validates against skaffold's own v4beta14 schema",
    )
    definitions = json.loads(path.read_text())["definitions"]
    # Validate against SkaffoldConfig itself: the root anyOf would hide the real error.
    validator = jsonschema.Draft7Validator(
        {"$ref": "#/definitions/SkaffoldConfig", "definitions": definitions}
    )
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(SKAFFOLD)]
    assert not errors, errors
    assert SKAFFOLD["apiVersion"] == "skaffold/v4beta14"
    bad = SKAFFOLD | {
        "portForward": [{"resourceType": "service", "resourceName": "x", "port": 1, "localport": 1}]
    }
    assert any("localport" in e.message for e in validator.iter_errors(bad)), (
        "the schema check must catch typos"
    )


@pytest.mark.parametrize("profile", list(configs()))
def test_skaffold_wires_its_one_image_into_every_container(profile: str, render: Any) -> None:
    config = configs()[profile]
    (artifact,) = config["build"]["artifacts"]
    assert (REPO / artifact.get("context", ".") / artifact["docker"]["dockerfile"]).is_file()
    # kind loads the image into its node; the local cluster pulls it from its registry; anything else
    # gets skaffold's default for the context (push to --default-repo for a remote cluster)
    assert config["build"]["local"].get("push") == {"kind": False, "local": True}.get(profile), profile
    (release,) = releases(config)
    assert (REPO / release["chartPath"] / "Chart.yaml").is_file()
    key = "IMAGE_FULLY_QUALIFIED_" + re.sub(r"[^A-Za-z0-9]", "_", artifact["image"])
    templates = release["setValueTemplates"]
    assert templates == {"image.ref": "{{." + key + "}}"}
    # Render as skaffold would: the value it sets, plus the release's values files.
    built = "localhost/ray-services:8f14e45f@sha256:" + "ab" * 32
    values: dict[str, Any] = {"image": {"ref": built}}
    for file in release.get("valuesFiles", []):
        values = yaml.safe_load((REPO / file).read_text()) | values
    objects = render(values, release=release["name"], namespace=release["namespace"])
    images = {c["image"] for spec in pod_specs(objects).values() for c in spec["containers"]}
    assert images == {built}


def test_skaffold_rewrites_images_inside_the_raycluster() -> None:
    allowed = {a["groupKind"]: a for a in SKAFFOLD["resourceSelector"]["allow"]}
    assert allowed["RayCluster.ray.io"]["image"] == [".*"]


def test_port_forwards_name_rendered_services(render: Any) -> None:
    (release,) = releases(SKAFFOLD)
    objects = render({}, release=release["name"], namespace=release["namespace"])
    services = {s["metadata"]["name"]: s for s in of_kind(objects, "Service")}
    cluster = one(objects, "RayCluster")
    head_svc = kuberay_head_service_name(cluster["metadata"]["name"])
    head_ports = {
        p["containerPort"]
        for p in cluster["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["ports"]
    }
    forwarded = {}
    for pf in SKAFFOLD["portForward"]:
        assert pf["resourceType"] == "service" and pf["namespace"] == release["namespace"]
        assert pf.get("address", "127.0.0.1") == "127.0.0.1"
        forwarded[pf["localPort"]] = pf["resourceName"]
        if pf["resourceName"] == head_svc:
            assert pf["port"] in head_ports
        else:
            assert pf["port"] in {p["port"] for p in services[pf["resourceName"]]["spec"]["ports"]}, pf
    assert forwarded == {
        8005: f"{release['name']}-sentiment",
        8006: f"{release['name']}-garch",
        8007: f"{release['name']}-portfolio",
        8008: f"{release['name']}-intraday",
        8265: head_svc,
    }


def test_status_check_waits_long_enough_for_a_ray_head() -> None:
    for name, config in configs().items():
        assert config["deploy"]["statusCheckDeadlineSeconds"] >= 600, name


def test_kind_profile_targets_the_cluster_kind_up_creates() -> None:
    assert KIND_CONFIG["apiVersion"] == "kind.x-k8s.io/v1alpha4" and KIND_CONFIG["kind"] == "Cluster"
    (profile,) = [p for p in SKAFFOLD["profiles"] if p["name"] == "kind"]
    # any kind context (CLUSTER=other scripts/kind_up.sh), and the deploy follows the current context
    assert profile["activation"] == [{"kubeContext": "kind-.*"}]
    assert re.fullmatch(profile["activation"][0]["kubeContext"], f"kind-{KIND_CONFIG['name']}")
    assert "kubeContext" not in profile["deploy"]
    script = (REPO / "scripts" / "kind_up.sh").read_text()
    assert f"CLUSTER=${{CLUSTER:-{KIND_CONFIG['name']}}}" in script
    assert "KUBERAY_VERSION=${KUBERAY_VERSION:-1.7.0}" in script
    assert "config/crd?ref=v${KUBERAY_VERSION}" in script  # Helm never upgrades CRDs
    (release,) = releases(profile)
    assert release["valuesFiles"] == [str(SCENARIOS["kind"].relative_to(REPO))]
    # kind_up.sh prepares the hostPath root the kind values point the volumes at.
    root = yaml.safe_load(SCENARIOS["kind"].read_text())["storage"]["hostPath"]["root"]
    assert f"HOSTPATH_ROOT=${{HOSTPATH_ROOT:-{root}}}" in script


def test_services_reach_the_head_service_kuberay_creates(render: Any) -> None:
    objects = render({})
    head_svc = kuberay_head_service_name(one(objects, "RayCluster")["metadata"]["name"])
    for dep in of_kind(objects, "Deployment"):
        env = env_of(dep["spec"]["template"]["spec"]["containers"][0])
        assert env["RAY_ADDRESS"] == f"ray://{head_svc}:10001"
        assert env["RAYSVC_JOBS_ADDRESS"] == f"http://{head_svc}:8265"


@pytest.mark.parametrize(
    ("release", "override"),
    [
        ("prod", {}),
        ("a-very-long-release-name-for-the-ray-services-platform", {}),
        ("x", {"ray": {"clusterName": "r" * 41}}),
    ],
    ids=["short-release", "long-release", "longest-cluster-name"],
)
def test_head_service_name_is_never_shortened_by_kuberay(
    release: str, override: dict[str, Any], render: Any
) -> None:
    objects = render(override, release=release)
    cluster = one(objects, "RayCluster")["metadata"]["name"]
    head_svc = kuberay_head_service_name(cluster)
    assert head_svc == f"{cluster}-head-svc"
    env = env_of(of_kind(objects, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0])
    assert env["RAY_ADDRESS"] == f"ray://{head_svc}:10001"
