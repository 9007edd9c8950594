"""helm uninstall's pre-delete hook: delete the RayCluster first and wait until KubeRay has let it go.

With GCS fault tolerance KubeRay holds the RayCluster with a finalizer until its Redis cleanup Job, a copy of
the head pod, has run. Deleted together with everything else, that Job would wait on the claims and Secrets
Helm deletes in the same breath, never start, and leave the cluster's keys in Redis. A cluster whose fault
tolerance was turned off keeps the finalizer but never gets the cleanup: the finalizer is dropped here, and
the Redis keys are named for a manual cleanup. Standard library only; the API through the pod's token.
"""

import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.request

SA = "/var/run/secrets/kubernetes.io/serviceaccount"
FINALIZER = "ray.io/gcs-ft-redis-cleanup-finalizer"
NAMESPACE, TOKEN = (open(f"{SA}/{name}").read().strip() for name in ("namespace", "token"))
URL = f"https://kubernetes.default.svc/apis/ray.io/v1/namespaces/{NAMESPACE}/rayclusters/{os.environ['RAY_CLUSTER']}"
TLS = ssl.create_default_context(cafile=f"{SA}/ca.crt")


def call(method: str, body: dict | None = None) -> dict | None:
    """The RayCluster after `method`, or None once it is gone."""
    request = urllib.request.Request(URL, method=method, data=json.dumps(body).encode() if body else None, headers={
        "Authorization": f"Bearer {TOKEN}", "Content-Type": "application/merge-patch+json"})
    try:
        with urllib.request.urlopen(request, context=TLS, timeout=10) as response:
            return json.load(response)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise


cluster = call("GET")
if cluster is None:
    sys.exit(print("no RayCluster to delete"))
meta = cluster["metadata"]
if FINALIZER in meta.get("finalizers", []) and "gcsFaultToleranceOptions" not in cluster["spec"]:
    storage = meta.get("annotations", {}).get("ray.io/external-storage-namespace", meta["uid"])
    print(f"GCS fault tolerance was turned off, so KubeRay will not clean Redis: dropping its finalizer; "
          f"delete the keys of storage namespace {storage} from Redis yourself")
    call("PATCH", {"metadata": {"resourceVersion": meta["resourceVersion"],
                                "finalizers": [f for f in meta["finalizers"] if f != FINALIZER]}})
start = time.monotonic()
call("DELETE")
print(f"deleting RayCluster {meta['name']}; waiting for KubeRay (and its Redis cleanup when fault tolerant)")
while call("GET") is not None:
    time.sleep(2)
print(f"RayCluster {meta['name']} gone in {time.monotonic() - start:.0f}s")
