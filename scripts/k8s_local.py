"""A single-node Kubernetes v1.36 on this machine, from binaries built out of pinned Go modules.

    python scripts/k8s_local.py up        # or `make k8s-up`; then `source .raysvc/k8s.env`
    python scripts/k8s_local.py down      # or `make k8s-down`: stops everything, removes the cluster state
    python scripts/k8s_local.py status

kind cannot run here (its node image comes from a registry, and building one needs kind's base image and
a systemd inside a container), so the same components a kind node runs are started as host processes:
etcd, kube-apiserver, kube-controller-manager, kube-scheduler, containerd 2 with runc and the CNI bridge
plugin, kubelet and kube-proxy (iptables). In the cluster: CoreDNS and the KubeRay operator, from images
built here and served by a registry on 127.0.0.1:5000, where skaffold pushes too. A private Docker engine
builds the images. Binaries come from scripts/k8s_build.sh (cached by version); the kubeconfig is
`.raysvc/kubeconfig` (context `raysvc-local`), and `.raysvc/k8s.env` puts the tools on PATH.

Network: the node's address is 10.244.0.1 on the bridge `raysvc0`; pods get 10.244.0.0/24 and Services
10.96.0.0/16. The API server and the kubelet listen on the bridge address only, the registry on loopback,
and pods cannot reach anything beyond the node (an iptables rule drops their forwarded traffic).
Needs root. Environment: RAYSVC_K8S_STATE (default /var/lib/raysvc-k8s) keeps containerd's images and the
registry between runs; RAYSVC_K8S_CACHE is the binaries' cache (scripts/k8s_build.sh).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import resource
import secrets
import shlex
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCAL = ROOT / "k8s" / "local"
DOT = ROOT / ".raysvc"
WORK = DOT / "k8s"  # logs, pids, PKI and configs of this cluster
KUBECONFIG = DOT / "kubeconfig"
ENV_FILE = DOT / "k8s.env"
STATE = Path(os.environ.get("RAYSVC_K8S_STATE", "/var/lib/raysvc-k8s"))
RUN = Path("/run/raysvc-k8s")
CACHE = Path(os.environ.get("RAYSVC_K8S_CACHE", Path.home() / ".cache" / "raysvc-k8s"))
ENGINE = CACHE / "engine"

CONTEXT = "raysvc-local"
NODE = "raysvc-node"
BRIDGE = "raysvc0"
NODE_IP = "10.244.0.1"
POD_SUBNET = "10.244.0.0/24"
CLUSTER_CIDR = "10.244.0.0/16"
SERVICE_CIDR = "10.96.0.0/16"
API_SERVICE_IP = "10.96.0.1"
DNS_IP = "10.96.0.10"
API = f"https://{NODE_IP}:6443"
REGISTRY = "127.0.0.1:5000"
PAUSE = f"{REGISTRY}/pause:3.10.1"
KUBERAY_VERSION = "v1.6.1"  # k8s/local/kuberay/go.mod
COREDNS_VERSION = "v1.14.3"  # k8s/local/go.mod
REDIS_TAG = "7.0-bookworm"  # Debian bookworm's redis-server (7.0.15)
HOSTPATH_ROOT = Path("/var/local/ray-services")  # k8s/values-kind.yaml: storage.hostPath.root
APT = ["iptables", "conntrack", "socat", "iproute2", "openssl", "docker.io", "debootstrap"]
# Start order; `down` stops in reverse.
PROCESSES = [
    "registry",
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "containerd",
    "kubelet",
    "kube-proxy",
]

T0 = time.monotonic()


def log(msg: str) -> None:
    print(f"[k8s_local {time.monotonic() - T0:5.0f}s] {msg}", flush=True)


def sh(
    cmd: str | list[str],
    *,
    check: bool = True,
    capture: bool = True,
    env: dict | None = None,
    input: str | None = None,
    timeout: float | None = 600,
) -> str:
    proc = subprocess.run(
        cmd,
        shell=isinstance(cmd, str),
        capture_output=capture,
        text=True,
        env=env,
        input=input,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise RuntimeError(
            f"{cmd if isinstance(cmd, str) else ' '.join(cmd)} -> {proc.returncode}\n"
            f"{(proc.stdout or '')[-2000:]}{(proc.stderr or '')[-2000:]}"
        )
    return (proc.stdout or "").strip()


def wait(what: str, check, timeout: float, interval: float = 1.0, proc: str | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc and not alive(proc):
            raise RuntimeError(f"{proc} exited while waiting for {what}:\n{tail(proc)}")
        try:
            if check():
                log(f"{what}: ok")
                return
        except (OSError, urllib.error.URLError, RuntimeError, subprocess.SubprocessError):
            pass
        time.sleep(interval)
    raise TimeoutError(f"{what}: not within {timeout:.0f}s" + (f"\n{tail(proc)}" if proc else ""))


# --- processes ----------------------------------------------------------------------------------------------
def pid_of(name: str) -> int | None:
    try:
        return int((WORK / "pids" / f"{name}.pid").read_text())
    except (OSError, ValueError):
        return None


def alive(name: str) -> bool:
    pid = pid_of(name)
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def tail(name: str, lines: int = 30) -> str:
    try:
        return "\n".join((WORK / "logs" / f"{name}.log").read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _node_limits() -> None:
    # containers inherit containerd's open-files limit: as many as this host allows (KubeRay asks for 65536;
    # these sandboxes cap the hard limit lower, and cannot raise it)
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def start(name: str, argv: list[str], env: dict | None = None) -> None:
    (WORK / "logs").mkdir(parents=True, exist_ok=True)
    (WORK / "pids").mkdir(parents=True, exist_ok=True)
    out = open(WORK / "logs" / f"{name}.log", "ab")
    proc = subprocess.Popen(
        argv,
        stdout=out,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        env=env or os.environ.copy(),
        preexec_fn=_node_limits,
    )
    (WORK / "pids" / f"{name}.pid").write_text(str(proc.pid))
    log(f"started {name} (pid {proc.pid})")


def stop(name: str, grace: float = 10) -> None:
    pid = pid_of(name)
    if pid and alive(name):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while alive(name) and time.monotonic() < deadline:
            time.sleep(0.2)
        if alive(name):
            os.kill(pid, signal.SIGKILL)
    (WORK / "pids" / f"{name}.pid").unlink(missing_ok=True)


# --- host ---------------------------------------------------------------------------------------------------
def binaries() -> Path:
    log("binaries: scripts/k8s_build.sh (cached by version)")
    out = sh(["bash", str(ROOT / "scripts" / "k8s_build.sh")], capture=True, timeout=7200)
    return Path(out.splitlines()[-1])


def prepare_host() -> None:
    missing = [p for p in APT if subprocess.run(["dpkg", "-s", p], capture_output=True).returncode != 0]
    if missing:
        log(f"apt-get install {' '.join(missing)}")
        sh("apt-get update -qq", timeout=300)
        sh(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
            env=os.environ | {"DEBIAN_FRONTEND": "noninteractive"},
            timeout=900,
        )
    # Bridged pod traffic through iptables (Services), and routing between pods and Service addresses;
    # `down` puts the host's own values back.
    wanted = {"net/bridge/bridge-nf-call-iptables": "1", "net/ipv4/ip_forward": "1"}
    saved = WORK / "sysctl.json"
    if not saved.exists():
        saved.parent.mkdir(parents=True, exist_ok=True)
        saved.write_text(json.dumps({k: Path("/proc/sys", k).read_text().strip() for k in wanted}))
    for key, value in wanted.items():
        Path("/proc/sys", key).write_text(value)
    if subprocess.run(["ip", "link", "show", BRIDGE], capture_output=True).returncode != 0:
        sh(["ip", "link", "add", BRIDGE, "type", "bridge"])
    if NODE_IP not in sh(["ip", "-4", "addr", "show", BRIDGE]):
        sh(["ip", "addr", "add", f"{NODE_IP}/24", "dev", BRIDGE])
    sh(["ip", "link", "set", BRIDGE, "up"])
    # Pods reach pods, Services and the node; anything they would forward elsewhere is dropped.
    sh("iptables -N RAYSVC-EGRESS 2>/dev/null || iptables -F RAYSVC-EGRESS")
    sh(f"iptables -A RAYSVC-EGRESS -d {CLUSTER_CIDR} -j RETURN && iptables -A RAYSVC-EGRESS -j DROP")
    if (
        subprocess.run(
            ["iptables", "-C", "FORWARD", "-s", CLUSTER_CIDR, "-j", "RAYSVC-EGRESS"], capture_output=True
        ).returncode
        != 0
    ):
        sh(["iptables", "-I", "FORWARD", "1", "-s", CLUSTER_CIDR, "-j", "RAYSVC-EGRESS"])
    # hostPath volumes of the chart's kind values, writable by the image's user (uid 1000)
    for sub in ("data", "results", "models"):
        (HOSTPATH_ROOT / sub).mkdir(parents=True, exist_ok=True)
        shutil.chown(HOSTPATH_ROOT / sub, 1000, 1000)
        (HOSTPATH_ROOT / sub).chmod(0o775)


def remove_chains(prefixes: tuple[str, ...] = ("KUBE-", "RAYSVC-")) -> None:
    """Every iptables/ip6tables chain of the kubelet, kube-proxy and this script, and the rules jumping to
    them: the host's firewall is as before `up`."""
    for tool in ("iptables", "ip6tables"):
        if shutil.which(tool) is None:  # a fresh host before `up` installs it: no rules of ours to remove
            continue
        for table in ("filter", "nat", "mangle"):
            rules = sh([tool, "-t", table, "-S"], check=False).splitlines()
            chains = [
                r.split()[1] for r in rules if r.startswith("-N ") and r.split()[1].startswith(prefixes)
            ]
            for rule in rules:
                parts = shlex.split(rule)
                if parts[:1] == ["-A"] and parts[1] not in chains and any(c in parts for c in chains):
                    subprocess.run([tool, "-t", table, "-D", *parts[1:]], capture_output=True)
            for action in ("-F", "-X"):
                for chain in chains:
                    subprocess.run([tool, "-t", table, action, chain], capture_output=True)


def cleanup_host(bin_dir: Path | None) -> None:
    if bin_dir and (bin_dir / "kube-proxy").exists():
        subprocess.run([str(bin_dir / "kube-proxy"), "--cleanup"], capture_output=True)
    remove_chains()
    saved = WORK / "sysctl.json"
    if saved.exists():  # the host's own values from before `up`
        for key, value in json.loads(saved.read_text()).items():
            Path("/proc/sys", key).write_text(value)
        saved.unlink()
    # pod mounts and network namespaces left by the kubelet and containerd
    for root in (STATE / "kubelet", RUN, STATE / "containerd"):
        mounts = [
            line.split()[1]
            for line in Path("/proc/mounts").read_text().splitlines()
            if line.split()[1].startswith(str(root) + "/")
        ]
        for m in sorted(mounts, key=len, reverse=True):
            subprocess.run(["umount", "-l", m], capture_output=True)
    for link in sh("ip -o link show", check=False).splitlines():
        name = link.split(":")[1].strip().split("@")[0]
        if name.startswith("veth") and f"master {BRIDGE}" in link:
            subprocess.run(["ip", "link", "del", name], capture_output=True)
    subprocess.run(["ip", "link", "del", BRIDGE], capture_output=True)


# --- PKI ----------------------------------------------------------------------------------------------------
def pki() -> Path:
    """A CA, the API server's serving certificate, one client certificate per component (RBAC identities as
    kubeadm makes them) and the ServiceAccount signing key. Made anew for each cluster."""
    d = WORK / "pki"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    ossl = ["openssl"]
    sh(
        [
            *ossl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "30",
            "-subj",
            "/CN=raysvc-local-ca",
            "-keyout",
            str(d / "ca.key"),
            "-out",
            str(d / "ca.crt"),
        ]
    )

    def cert(name: str, subject: str, ext: str) -> None:
        sh(
            [
                *ossl,
                "req",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-subj",
                subject,
                "-keyout",
                str(d / f"{name}.key"),
                "-out",
                str(d / f"{name}.csr"),
            ]
        )
        (d / f"{name}.ext").write_text(ext)
        sh(
            [
                *ossl,
                "x509",
                "-req",
                "-in",
                str(d / f"{name}.csr"),
                "-CA",
                str(d / "ca.crt"),
                "-CAkey",
                str(d / "ca.key"),
                "-CAcreateserial",
                "-days",
                "30",
                "-extfile",
                str(d / f"{name}.ext"),
                "-out",
                str(d / f"{name}.crt"),
            ]
        )

    san = ",".join(
        [
            f"IP:{NODE_IP}",
            f"IP:{API_SERVICE_IP}",
            "IP:127.0.0.1",
            "DNS:localhost",
            "DNS:kubernetes",
            "DNS:kubernetes.default",
            "DNS:kubernetes.default.svc",
            "DNS:kubernetes.default.svc.cluster.local",
        ]
    )
    cert("apiserver", "/CN=kube-apiserver", f"subjectAltName={san}\nextendedKeyUsage=serverAuth\n")
    cert(
        "kubelet-serving",
        f"/CN={NODE}",
        f"subjectAltName=IP:{NODE_IP},DNS:{NODE}\nextendedKeyUsage=serverAuth\n",
    )
    client = "extendedKeyUsage=clientAuth\n"
    for name, subject in {
        "admin": "/O=system:masters/CN=kubernetes-admin",
        "apiserver-kubelet-client": "/O=system:masters/CN=kube-apiserver-kubelet-client",
        "controller-manager": "/CN=system:kube-controller-manager",
        "scheduler": "/CN=system:kube-scheduler",
        "kubelet": f"/O=system:nodes/CN=system:node:{NODE}",
        "kube-proxy": "/CN=system:kube-proxy",
    }.items():
        cert(name, subject, client)
    sh([*ossl, "genrsa", "-out", str(d / "sa.key"), "2048"])
    sh([*ossl, "rsa", "-in", str(d / "sa.key"), "-pubout", "-out", str(d / "sa.pub")])
    return d


def kubeconfig(path: Path, user: str, pki_dir: Path) -> Path:
    def b64(p: Path) -> str:
        return base64.b64encode(p.read_bytes()).decode()

    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": CONTEXT,
        "clusters": [
            {
                "name": CONTEXT,
                "cluster": {"server": API, "certificate-authority-data": b64(pki_dir / "ca.crt")},
            }
        ],
        "users": [
            {
                "name": f"{CONTEXT}-{user}",
                "user": {
                    "client-certificate-data": b64(pki_dir / f"{user}.crt"),
                    "client-key-data": b64(pki_dir / f"{user}.key"),
                },
            }
        ],
        "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": f"{CONTEXT}-{user}"}}],
    }
    path.write_text(json.dumps(cfg, indent=1))  # JSON is YAML
    path.chmod(0o600)
    return path


def api_ready(pki_dir: Path) -> bool:
    ctx = ssl.create_default_context(cafile=str(pki_dir / "ca.crt"))
    ctx.load_cert_chain(str(pki_dir / "admin.crt"), str(pki_dir / "admin.key"))
    with urllib.request.urlopen(f"{API}/readyz", context=ctx, timeout=5) as r:
        return r.status == 200


# --- images -------------------------------------------------------------------------------------------------
def engine() -> dict[str, str]:
    """The private Docker engine, the local python:3.11-slim base in it, and the wheelhouse linked into the
    repository (gitignored) for skaffold's offline builds of the project image."""
    script = str(ROOT / "scripts" / "engine.sh")
    host = sh(["bash", script, "start", str(ENGINE)], timeout=120).splitlines()[-1]
    sh(["bash", script, "base", str(ENGINE), str(CACHE)], timeout=900)
    sh(["bash", script, "wheelhouse", str(CACHE), sys.executable], timeout=900)
    shutil.rmtree(ROOT / "wheelhouse", ignore_errors=True)
    sh(["cp", "-al", str(CACHE / "wheelhouse"), str(ROOT / "wheelhouse")])
    return os.environ | {"DOCKER_HOST": host, "DOCKER_BUILDKIT": "0"}


def in_registry(name: str, tag: str) -> bool:
    req = urllib.request.Request(
        f"http://{REGISTRY}/v2/{name}/manifests/{tag}",
        method="HEAD",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status == 200
    except urllib.error.HTTPError:
        return False


def static_image(
    env: dict[str, str], binary: Path, name: str, tag: str, entry: str, user: str = "65532"
) -> None:
    """An image of one static binary (FROM scratch), pushed to the local registry unless already there."""
    if in_registry(name, tag):
        return
    ctx = WORK / "images" / name
    shutil.rmtree(ctx, ignore_errors=True)
    ctx.mkdir(parents=True)
    shutil.copy2(binary, ctx / Path(entry).name)
    (ctx / "Dockerfile").write_text(
        f'FROM scratch\nCOPY {Path(entry).name} {entry}\nUSER {user}\nENTRYPOINT ["{entry}"]\n'
    )
    ref = f"{REGISTRY}/{name}:{tag}"
    sh(["/usr/bin/docker", "build", "-q", "--network", "none", "-t", ref, str(ctx)], env=env)
    sh(["/usr/bin/docker", "push", "-q", ref], env=env)
    log(f"image {ref} built and pushed")


def debian_image(env: dict[str, str], name: str, tag: str, packages: list[str], entry: str, uid: int) -> None:
    """An image of Debian packages on the local bookworm base, run as `uid` (created before the packages, so
    they adopt it), pushed to the local registry unless already there."""
    if in_registry(name, tag):
        return
    ctx = WORK / "images" / name
    shutil.rmtree(ctx, ignore_errors=True)
    ctx.mkdir(parents=True)
    mirror = sh(["bash", "-c", f"source {ROOT / 'scripts' / 'engine.sh'} && engine_mirror"]).strip()
    (ctx / "Dockerfile").write_text(
        "FROM local/debian:bookworm\n"
        f"RUN groupadd -r -g {uid} {name} \\\n"
        f" && useradd -r -u {uid} -g {uid} -d /nonexistent -s /usr/sbin/nologin {name} \\\n"
        f" && echo 'deb {mirror} bookworm main' > /etc/apt/sources.list \\\n"
        f" && apt-get update && apt-get install -y --no-install-recommends {' '.join(packages)} \\\n"
        " && rm -rf /var/lib/apt/lists/*\n"
        f'USER {uid}:{uid}\nENTRYPOINT ["{entry}"]\n'
    )
    ref = f"{REGISTRY}/{name}:{tag}"
    sh(["/usr/bin/docker", "build", "-q", "--network", "host", "-t", ref, str(ctx)], env=env, timeout=600)
    sh(["/usr/bin/docker", "push", "-q", ref], env=env)
    log(f"image {ref} built and pushed")


# --- components ---------------------------------------------------------------------------------------------
def write_configs(bin_dir: Path, pki_dir: Path) -> dict[str, Path]:
    cfg = WORK / "config"
    cfg.mkdir(parents=True, exist_ok=True)
    for user in ("controller-manager", "scheduler", "kubelet", "kube-proxy"):
        kubeconfig(cfg / f"{user}.kubeconfig", user, pki_dir)
    cni = STATE / "cni" / "net.d"
    cni.mkdir(parents=True, exist_ok=True)
    (cni / "10-raysvc.conflist").write_text(
        json.dumps(
            {
                "cniVersion": "1.0.0",
                "name": "raysvc",
                "plugins": [
                    {
                        "type": "bridge",
                        "bridge": BRIDGE,
                        "isGateway": True,
                        "ipMasq": False,
                        "hairpinMode": True,
                        "ipam": {
                            "type": "host-local",
                            "ranges": [[{"subnet": POD_SUBNET, "gateway": NODE_IP}]],
                            "routes": [{"dst": "0.0.0.0/0"}],
                            "dataDir": str(STATE / "cni" / "ipam"),
                        },
                    },
                    {"type": "portmap", "capabilities": {"portMappings": True}},
                ],
            },
            indent=1,
        )
    )
    certs = STATE / "certs.d" / REGISTRY
    certs.mkdir(parents=True, exist_ok=True)
    (certs / "hosts.toml").write_text(
        f'server = "http://{REGISTRY}"\n\n[host."http://{REGISTRY}"]\n  capabilities = ["pull", "resolve"]\n'
    )
    (cfg / "containerd.toml").write_text(f"""version = 3
root = "{STATE / "containerd"}"
state = "{RUN / "containerd"}"
[grpc]
  address = "{RUN / "containerd.sock"}"
[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = "{PAUSE}"
  [plugins.'io.containerd.cri.v1.images'.registry]
    config_path = "{STATE / "certs.d"}"
[plugins.'io.containerd.cri.v1.runtime']
  # these sandboxes lack CAP_SYS_RESOURCE: no process may lower its OOM score below containerd's own
  restrict_oom_score_adj = true
  [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
      BinaryName = "{bin_dir / "runc"}"
      SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ["{bin_dir / "cni"}"]
    conf_dir = "{cni}"
""")
    (cfg / "kubelet.yaml").write_text(
        json.dumps(
            {
                "apiVersion": "kubelet.config.k8s.io/v1beta1",
                "kind": "KubeletConfiguration",
                # these hosts mount cgroup v1 (with a unified hierarchy beside it): allowed explicitly since 1.35
                "failCgroupV1": False,
                "cgroupDriver": "cgroupfs",
                "containerRuntimeEndpoint": f"unix://{RUN / 'containerd.sock'}",
                "address": NODE_IP,
                "readOnlyPort": 0,
                "healthzBindAddress": "127.0.0.1",
                "tlsCertFile": str(pki_dir / "kubelet-serving.crt"),
                "tlsPrivateKeyFile": str(pki_dir / "kubelet-serving.key"),
                "authentication": {
                    "anonymous": {"enabled": False},
                    "webhook": {"enabled": True},
                    "x509": {"clientCAFile": str(pki_dir / "ca.crt")},
                },
                "authorization": {"mode": "Webhook"},
                "clusterDomain": "cluster.local",
                "clusterDNS": [DNS_IP],
                "failSwapOn": False,
                "serializeImagePulls": False,
                "protectKernelDefaults": False,
                "evictionHard": {
                    "memory.available": "200Mi",
                    "nodefs.available": "2%",
                    "imagefs.available": "2%",
                },
                "imageGCHighThresholdPercent": 98,
                "imageGCLowThresholdPercent": 95,
            },
            indent=1,
        )
    )
    (cfg / "kube-proxy.yaml").write_text(
        json.dumps(
            {
                "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
                "kind": "KubeProxyConfiguration",
                "mode": "iptables",
                "clusterCIDR": CLUSTER_CIDR,
                "hostnameOverride": NODE,
                "clientConnection": {"kubeconfig": str(cfg / "kube-proxy.kubeconfig")},
                "bindAddress": NODE_IP,
                "healthzBindAddress": "127.0.0.1:10256",
                "metricsBindAddress": "127.0.0.1:10249",
                "nodePortAddresses": [f"{NODE_IP}/32"],
                "iptables": {"localhostNodePorts": False},
                "conntrack": {"maxPerCore": 0},  # leave the host's conntrack table size alone
            },
            indent=1,
        )
    )
    return {"dir": cfg}


def start_cluster(bin_dir: Path, pki_dir: Path) -> None:
    cfg = write_configs(bin_dir, pki_dir)["dir"]
    b = lambda n: str(bin_dir / n)  # noqa: E731
    p = lambda n: str(pki_dir / n)  # noqa: E731
    env = os.environ | {"PATH": f"{bin_dir}:{os.environ['PATH']}"}

    shutil.rmtree(STATE / "etcd", ignore_errors=True)
    start(
        "etcd",
        [
            b("etcd"),
            "--name",
            NODE,
            "--data-dir",
            str(STATE / "etcd"),
            "--listen-client-urls",
            "http://127.0.0.1:2379",
            "--advertise-client-urls",
            "http://127.0.0.1:2379",
            "--listen-peer-urls",
            "http://127.0.0.1:2380",
            "--initial-advertise-peer-urls",
            "http://127.0.0.1:2380",
            "--initial-cluster",
            f"{NODE}=http://127.0.0.1:2380",
            "--listen-metrics-urls",
            "http://127.0.0.1:2381",
            "--quota-backend-bytes",
            str(2 << 30),
        ],
    )
    wait(
        "etcd /health",
        lambda: (
            json.load(urllib.request.urlopen("http://127.0.0.1:2381/health", timeout=3))["health"] == "true"
        ),
        60,
        proc="etcd",
    )

    start(
        "kube-apiserver",
        [
            b("kube-apiserver"),
            "--etcd-servers=http://127.0.0.1:2379",
            f"--bind-address={NODE_IP}",
            f"--advertise-address={NODE_IP}",
            "--secure-port=6443",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            f"--client-ca-file={p('ca.crt')}",
            f"--tls-cert-file={p('apiserver.crt')}",
            f"--tls-private-key-file={p('apiserver.key')}",
            f"--kubelet-client-certificate={p('apiserver-kubelet-client.crt')}",
            f"--kubelet-client-key={p('apiserver-kubelet-client.key')}",
            f"--kubelet-certificate-authority={p('ca.crt')}",
            "--kubelet-preferred-address-types=InternalIP",
            f"--service-account-key-file={p('sa.pub')}",
            f"--service-account-signing-key-file={p('sa.key')}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NodeRestriction",
            "--allow-privileged=true",
        ],
    )
    wait("kube-apiserver /readyz", lambda: api_ready(pki_dir), 120, proc="kube-apiserver")

    start(
        "kube-controller-manager",
        [
            b("kube-controller-manager"),
            f"--kubeconfig={cfg / 'controller-manager.kubeconfig'}",
            f"--authentication-kubeconfig={cfg / 'controller-manager.kubeconfig'}",
            f"--authorization-kubeconfig={cfg / 'controller-manager.kubeconfig'}",
            "--bind-address=127.0.0.1",
            "--leader-elect=false",
            "--use-service-account-credentials=true",
            f"--service-account-private-key-file={p('sa.key')}",
            f"--root-ca-file={p('ca.crt')}",
            f"--cluster-signing-cert-file={p('ca.crt')}",
            f"--cluster-signing-key-file={p('ca.key')}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
        ],
    )
    start(
        "kube-scheduler",
        [
            b("kube-scheduler"),
            f"--kubeconfig={cfg / 'scheduler.kubeconfig'}",
            f"--authentication-kubeconfig={cfg / 'scheduler.kubeconfig'}",
            f"--authorization-kubeconfig={cfg / 'scheduler.kubeconfig'}",
            "--bind-address=127.0.0.1",
            "--leader-elect=false",
        ],
    )

    RUN.mkdir(parents=True, exist_ok=True)
    start("containerd", [b("containerd"), "--config", str(cfg / "containerd.toml")], env=env)
    wait("containerd socket", lambda: (RUN / "containerd.sock").exists(), 60, proc="containerd")

    shutil.rmtree(STATE / "kubelet", ignore_errors=True)
    start(
        "kubelet",
        [
            b("kubelet"),
            f"--config={cfg / 'kubelet.yaml'}",
            f"--kubeconfig={cfg / 'kubelet.kubeconfig'}",
            f"--root-dir={STATE / 'kubelet'}",
            f"--hostname-override={NODE}",
            f"--node-ip={NODE_IP}",
        ],
        env=env,
    )
    start("kube-proxy", [b("kube-proxy"), f"--config={cfg / 'kube-proxy.yaml'}"], env=env)
    wait(
        f"node {NODE} Ready",
        lambda: (
            kubectl(
                bin_dir, "get", "node", NODE, "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}"
            )
            == "True"
        ),
        180,
        proc="kubelet",
    )


def kubectl(bin_dir: Path, *args: str, input: str | None = None, check: bool = True) -> str:
    return sh([str(bin_dir / "kubectl"), f"--kubeconfig={KUBECONFIG}", *args], input=input, check=check)


def addons(bin_dir: Path) -> None:
    """CoreDNS and the KubeRay operator (its own CRD, RBAC and manager manifests) from local images."""
    coredns = (LOCAL / "manifests" / "coredns.yaml").read_text()
    coredns = coredns.replace("${IMAGE}", f"{REGISTRY}/coredns:{COREDNS_VERSION}").replace(
        "${DNS_IP}", DNS_IP
    )
    kubectl(bin_dir, "apply", "-f", "-", input=coredns)
    overlay = bin_dir / "kuberay-config" / "raysvc"
    overlay.mkdir(exist_ok=True)
    (overlay / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: kuberay-system\n"
        "resources: [namespace.yaml, ../default]\n"
        "images:\n- name: quay.io/kuberay/operator\n"
        f"  newName: {REGISTRY}/kuberay-operator\n  newTag: {KUBERAY_VERSION}\n"
    )
    (overlay / "namespace.yaml").write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: kuberay-system\n"
    )
    manifests = kubectl(bin_dir, "kustomize", str(overlay))
    kubectl(bin_dir, "apply", "--server-side", "--force-conflicts", "-f", "-", input=manifests)
    kubectl(bin_dir, "wait", "--for=condition=Established", "crd/rayclusters.ray.io", "--timeout=60s")
    kubectl(bin_dir, "-n", "kube-system", "rollout", "status", "deployment/coredns", "--timeout=180s")
    kubectl(
        bin_dir, "-n", "kuberay-system", "rollout", "status", "deployment/kuberay-operator", "--timeout=180s"
    )
    log(f"CoreDNS {COREDNS_VERSION} and the KubeRay operator {KUBERAY_VERSION} are ready")


def redis(bin_dir: Path) -> None:
    """Redis (Debian's package) in namespace `redis`, for GCS fault tolerance: Service redis.redis:6379, its
    password in Secret redis/redis-auth (made once per cluster)."""
    kubectl(bin_dir, "apply", "-f", "-", input="apiVersion: v1\nkind: Namespace\nmetadata:\n  name: redis\n")
    if not kubectl(bin_dir, "-n", "redis", "get", "secret", "redis-auth", "--ignore-not-found", "-o", "name"):
        password = secrets.token_urlsafe(24)
        kubectl(
            bin_dir,
            "-n",
            "redis",
            "create",
            "secret",
            "generic",
            "redis-auth",
            f"--from-literal=redis-password={password}",
            f"--from-literal=redis.conf=requirepass {password}\n",
        )
    manifest = (
        (LOCAL / "manifests" / "redis.yaml").read_text().replace("${IMAGE}", f"{REGISTRY}/redis:{REDIS_TAG}")
    )
    kubectl(bin_dir, "apply", "-f", "-", input=manifest)
    kubectl(bin_dir, "-n", "redis", "rollout", "status", "deployment/redis", "--timeout=180s")
    log("Redis ready at redis.redis.svc.cluster.local:6379 (password: Secret redis/redis-auth)")


def up(args: argparse.Namespace) -> int:
    if os.geteuid() != 0:
        print("k8s_local: needs root (iptables, bridges, containerd, kubelet)", file=sys.stderr)
        return 2
    if any(alive(n) for n in PROCESSES):
        log("a cluster is running: stopping it first")
    down(argparse.Namespace(keep_engine=True))  # also what a crashed run left (mounts, bridge, rules)
    bin_dir = binaries()
    log(f"binaries in {bin_dir}")
    prepare_host()
    for d in (STATE, RUN, DOT):
        d.mkdir(parents=True, exist_ok=True)
    denv = engine()
    (STATE / "registry").mkdir(parents=True, exist_ok=True)
    (WORK / "config").mkdir(parents=True, exist_ok=True)
    (WORK / "config" / "registry.yml").write_text(
        f"version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {STATE / 'registry'}\n"
        f"  delete:\n    enabled: true\nhttp:\n  addr: {REGISTRY}\n"
    )
    start("registry", [str(bin_dir / "registry"), "serve", str(WORK / "config" / "registry.yml")])
    wait(
        f"registry on {REGISTRY}",
        lambda: urllib.request.urlopen(f"http://{REGISTRY}/v2/", timeout=3).status == 200,
        30,
        proc="registry",
    )
    static_image(denv, bin_dir / "pause", "pause", PAUSE.rsplit(":", 1)[1], "/pause")
    static_image(denv, bin_dir / "coredns", "coredns", COREDNS_VERSION, "/coredns")
    static_image(denv, bin_dir / "kuberay-operator", "kuberay-operator", KUBERAY_VERSION, "/manager")
    debian_image(denv, "redis", REDIS_TAG, ["redis-server"], "/usr/bin/redis-server", uid=999)

    pki_dir = pki()
    kubeconfig(KUBECONFIG, "admin", pki_dir)
    start_cluster(bin_dir, pki_dir)
    addons(bin_dir)
    redis(bin_dir)
    ENV_FILE.write_text(
        f"# source this file: the local cluster's tools and settings (scripts/k8s_local.py)\n"
        f"export KUBECONFIG={KUBECONFIG}\nexport PATH={bin_dir}:$PATH\nexport DOCKER_HOST={denv['DOCKER_HOST']}\n"
        f"export DOCKER_BUILDKIT=0\nexport SKAFFOLD_DEFAULT_REPO={REGISTRY}\n"
        f"export SKAFFOLD_INSECURE_REGISTRY={REGISTRY}\n"
    )
    log(
        f"cluster up in {time.monotonic() - T0:.0f}s: "
        f"`source {ENV_FILE.relative_to(ROOT)}`, then kubectl / helm / skaffold"
    )
    return 0


def down(args: argparse.Namespace) -> int:
    bin_dir = None
    try:
        bin_dir = Path(ENV_FILE.read_text().split("PATH=")[1].split(":")[0])
    except (OSError, IndexError):
        pass
    for name in reversed(PROCESSES):
        stop(name)
    # containers of the pods: their shims outlive containerd
    for pid in sh(["pgrep", "-f", "containerd-shim-runc-v2 -namespace k8s.io"], check=False).split():
        try:
            os.killpg(int(pid), signal.SIGKILL)
        except OSError:
            pass
        subprocess.run(["kill", "-9", pid], capture_output=True)
    time.sleep(1)
    cleanup_host(bin_dir)
    for path in (STATE / "etcd", STATE / "kubelet", STATE / "cni" / "ipam", RUN):
        shutil.rmtree(path, ignore_errors=True)
    if (ENGINE / "docker.sock").exists():  # what the image builds of this run left in the engine
        try:
            subprocess.run(
                ["bash", str(ROOT / "scripts" / "engine.sh"), "prune", str(ENGINE)],
                capture_output=True,
                timeout=300,
            )
        except subprocess.TimeoutExpired:
            log("pruning the Docker engine took over 300 s: left for the next run")
    if not getattr(args, "keep_engine", False):
        subprocess.run(
            ["bash", str(ROOT / "scripts" / "engine.sh"), "stop", str(ENGINE)], capture_output=True
        )
    ENV_FILE.unlink(missing_ok=True)
    log("cluster stopped")
    return 0


def status(args: argparse.Namespace) -> int:
    for name in PROCESSES:
        print(f"{name:24} {'running' if alive(name) else 'stopped'} (pid {pid_of(name)})")
    return 0 if all(alive(n) for n in PROCESSES) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("up")
    d = sub.add_parser("down")
    d.add_argument("--keep-engine", action="store_true", help="leave the Docker engine running")
    sub.add_parser("status")
    args = parser.parse_args(argv)
    return {"up": up, "down": down, "status": status}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
