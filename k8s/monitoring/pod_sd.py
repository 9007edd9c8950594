"""Pod discovery for Prometheus' http_sd_configs, as kubernetes_sd_configs (role: pod) would give it.

Debian's prometheus package is built without Kubernetes discovery (removed for client-go's dependencies;
`promtool check config` rejects `kubernetes_sd_configs`). This sidecar lists the pods of the given
namespaces from the API server with the pod's ServiceAccount token, on every request, and answers the
http_sd JSON: one target group per declared container port, `<pod IP>:<port>`, labelled with the same
`__meta_kubernetes_*` names Prometheus' own pod role uses (namespace, pod name/IP/phase/ready/uid/node,
labels, labelpresent, annotations, container name/port name/number/protocol/init), so relabel_configs written
for kubernetes_sd_configs work unchanged. Pods without an IP are left out, as Prometheus does.

    python3 pod_sd.py --namespaces ray-services --listen 127.0.0.1:8000     # GET /pods

A failed listing answers 503: Prometheus keeps the targets of the last good answer.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import ssl
import sys
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SA = "/var/run/secrets/kubernetes.io/serviceaccount"


def label_name(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


def list_pods(namespace: str) -> list[dict[str, Any]]:
    host = os.environ["KUBERNETES_SERVICE_HOST"]
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if ":" in host:
        host = f"[{host}]"
    with open(f"{SA}/token") as f:
        token = f.read().strip()
    req = urllib.request.Request(
        f"https://{host}:{port}/api/v1/namespaces/{namespace}/pods",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )
    ctx = ssl.create_default_context(cafile=f"{SA}/ca.crt")
    with urllib.request.urlopen(req, timeout=10, context=ctx) as r:
        return json.load(r)["items"]


def target_groups(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups = []
    for pod in pods:
        meta, spec, status = pod["metadata"], pod["spec"], pod.get("status", {})
        ip = status.get("podIP")
        if not ip:
            continue
        ready = any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions", []))
        common = {
            "__meta_kubernetes_namespace": meta["namespace"],
            "__meta_kubernetes_pod_name": meta["name"],
            "__meta_kubernetes_pod_ip": ip,
            "__meta_kubernetes_pod_uid": meta["uid"],
            "__meta_kubernetes_pod_node_name": spec.get("nodeName", ""),
            "__meta_kubernetes_pod_host_ip": status.get("hostIP", ""),
            "__meta_kubernetes_pod_phase": status.get("phase", ""),
            "__meta_kubernetes_pod_ready": str(ready).lower(),
        }
        for k, v in (meta.get("labels") or {}).items():
            common[f"__meta_kubernetes_pod_label_{label_name(k)}"] = v
            common[f"__meta_kubernetes_pod_labelpresent_{label_name(k)}"] = "true"
        for k, v in (meta.get("annotations") or {}).items():
            common[f"__meta_kubernetes_pod_annotation_{label_name(k)}"] = v
            common[f"__meta_kubernetes_pod_annotationpresent_{label_name(k)}"] = "true"
        for init, containers in ((False, spec.get("containers", [])), (True, spec.get("initContainers", []))):
            for c in containers:
                for p in c.get("ports", []):
                    groups.append(
                        {
                            "targets": [f"{ip}:{p['containerPort']}"],
                            "labels": common
                            | {
                                "__meta_kubernetes_pod_container_name": c["name"],
                                "__meta_kubernetes_pod_container_image": c.get("image", ""),
                                "__meta_kubernetes_pod_container_init": str(init).lower(),
                                "__meta_kubernetes_pod_container_port_name": p.get("name", ""),
                                "__meta_kubernetes_pod_container_port_number": str(p["containerPort"]),
                                "__meta_kubernetes_pod_container_port_protocol": p.get("protocol", "TCP"),
                            },
                        }
                    )
    return groups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--namespaces", required=True, help="comma-separated")
    parser.add_argument("--listen", default="127.0.0.1:8000")
    args = parser.parse_args()
    namespaces = [n for n in args.namespaces.split(",") if n]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] not in ("/pods", "/healthz"):
                self.send_error(404)
                return
            try:
                pods = [p for ns in namespaces for p in list_pods(ns)]
            except (OSError, ValueError, KeyError) as exc:  # API unreachable or refused: keep the last
                self.send_error(503, f"listing pods: {exc}")
                return
            body = json.dumps(target_groups(pods) if self.path.startswith("/pods") else {"pods": len(pods)})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, fmt: str, *a: Any) -> None:
            if not str(a[1] if len(a) > 1 else "").startswith("2"):
                sys.stderr.write(f"pod_sd: {fmt % a}\n")

    # PID 1 of its container: without a handler the kernel ignores SIGTERM and the pod waits out its grace period
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    host, port = args.listen.rsplit(":", 1)
    print(f"pod_sd: pods of {namespaces} on http://{args.listen}/pods", flush=True)
    ThreadingHTTPServer((host, int(port)), Handler).serve_forever()


if __name__ == "__main__":
    main()
