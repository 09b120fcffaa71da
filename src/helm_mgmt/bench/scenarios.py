"""The zero-downtime benchmark: a chart installed on the local cluster, a steady load from a pod in
its namespace through the Services users reach, and the day-2 operations an operator runs under
that load, one scenario at a time.

Every scenario keeps the load on for at least ``min_requests`` requests over four streams (the
backend's ``/api/v1/categories`` and the frontend's ``/``, each over kept-alive connections and with a
new connection per request), marks when its operation started and ended, and records every failed
request.

Clipper limits requests per client address and bans an address for a day after 1,000 requests in
an hour (its abuse detection exempts only loopback, not ``RATE_LIMIT_WHITELIST_IPS``), and it takes
the client's address from ``X-Forwarded-For``. So the backend streams spread their requests over
client addresses: each request carries an address of its own in that header, as the requests of
many users behind an ingress would.

When the release has an Ingress for its host (the umbrella's local values make one), four more
streams go the way users come: HTTPS by the site's name, which the cluster DNS leads to the ingress
controller, checked against the local CA. The ingress rightly replaces a forwarded address the
client made up, so all their requests come from one address: the API streams ask for
``/api/v1/auth/me`` as a signed-in user (a token signed with the release's own key, like
``helm-mgmt metrics-token``), a real API route the abuse detection exempts.
"""

from __future__ import annotations

import json
import math
import os
import ssl
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from helm_mgmt import rollout
from helm_mgmt.bench import loadgen
from helm_mgmt.helm import Helm
from helm_mgmt.kube import kubectl, kubectl_binary, kubectl_json
from helm_mgmt.localcluster.components import SITE_DOMAIN
from helm_mgmt.output import progress
from helm_mgmt.release import ReleaseSpec, install, rollback

LOADGEN_POD = "bench-loadgen"
BENCH_USER = "bench-loadgen"
SESSION_TTL_S = 6 * 3600
WARMUP_S = 10
COOLDOWN_S = 15
SCENARIOS = ("upgrade", "rollback", "rollout-undo", "restart", "evict", "hpa", "upgrade-control")
SERVICE_STREAMS = ("backend-keepalive", "backend-new-conn", "frontend-keepalive", "frontend-new-conn")
INGRESS_STREAMS = (
    "ingress-api-keepalive",
    "ingress-api-new-conn",
    "ingress-frontend-keepalive",
    "ingress-frontend-new-conn",
)

# The control: the same upgrade without the chart's zero-downtime settings (no preStop pause, the
# Kubernetes default readiness timing, no startup probe), so that their effect shows side by side.
CONTROL_VALUES = [
    "backend.preStop.enabled=false",
    "backend.startupProbe.enabled=false",
    "backend.readinessProbe.periodSeconds=10",
    "backend.readinessProbe.timeoutSeconds=4",
    "backend.readinessProbe.failureThreshold=3",
    "frontend.preStop.enabled=false",
    "frontend.readinessProbe.periodSeconds=10",
    "frontend.readinessProbe.timeoutSeconds=1",
    "frontend.readinessProbe.failureThreshold=3",
]


@dataclass
class Bench:
    chart: Path
    namespace: str = "clipper-bench"
    release: str = "bench"
    rate: int = 30
    min_requests: int = 10_000
    replicas: int = 3
    helm: Helm = field(default_factory=Helm)
    values: list[str] = field(default_factory=list)
    image_round: int = 0
    # Set by through_ingress() when the release has an Ingress for its host.
    session: dict[str, str] = field(default_factory=dict)
    ca: str = ""
    # Stream names to run (empty: every stream the release offers).
    only: tuple[str, ...] = ()

    # --- names -------------------------------------------------------------------------------------

    def workload(self, part: str) -> str:
        return f"{self.release}-{part}"

    def site(self) -> str:
        return f"{self.release}.{SITE_DOMAIN}"

    def streams(self) -> list[dict]:
        return [s for s in self._all_streams() if not self.only or s["name"] in self.only]

    def _all_streams(self) -> list[dict]:
        backend = f"http://{self.workload('backend')}.{self.namespace}.svc:8080/api/v1/categories"
        frontend = f"http://{self.workload('frontend')}.{self.namespace}.svc/"
        streams = [
            loadgen.stream("backend-keepalive", backend, self.rate, True, spread_clients=True),
            loadgen.stream("backend-new-conn", backend, self.rate, False, spread_clients=True),
            loadgen.stream("frontend-keepalive", frontend, self.rate, True),
            loadgen.stream("frontend-new-conn", frontend, self.rate, False),
        ]
        if not self.ca:
            return streams
        api, site = f"https://{self.site()}/api/v1/auth/me", f"https://{self.site()}/"
        return [
            *streams,
            loadgen.stream("ingress-api-keepalive", api, self.rate, True, headers=self.session, ca=self.ca),
            loadgen.stream("ingress-api-new-conn", api, self.rate, False, headers=self.session, ca=self.ca),
            loadgen.stream("ingress-frontend-keepalive", site, self.rate, True, ca=self.ca),
            loadgen.stream("ingress-frontend-new-conn", site, self.rate, False, ca=self.ca),
        ]

    def described_streams(self) -> list[dict]:
        """The streams as the results record them: no token, no CA."""
        return [{k: v for k, v in s.items() if k not in ("headers", "ca")} for s in self.streams()]

    def seconds_needed(self) -> int:
        return math.ceil(self.min_requests / (self.rate * len(self.streams())))

    # --- set-up ------------------------------------------------------------------------------------

    def start_generator(self) -> None:
        """The generator's pod, idle until a scenario execs a run into it."""
        loadgen.import_image()
        kubectl(["delete", "pod", LOADGEN_POD, "-n", self.namespace, "--ignore-not-found", "--wait=true"], timeout=120)
        kubectl(["apply", "-f", "-"], stdin=loadgen.pod(LOADGEN_POD, self.namespace, ["idle"], cpu_limit="1"))
        kubectl(
            ["wait", "pod", LOADGEN_POD, "-n", self.namespace, "--for=condition=Ready", "--timeout=120s"], timeout=150
        )

    def spec(self, *extra: str) -> ReleaseSpec:
        return ReleaseSpec(
            release=self.release,
            namespace=self.namespace,
            chart=self.chart,
            env="local",
            values_files=[loadgen.ADMIT_VALUES],
            set_values=[*self.values, *extra],
            timeout="10m",
        )

    def base_values(self) -> list[str]:
        n = self.replicas
        return [
            "monitoring.enabled=false",
            f"global.host={self.site()}",
            f"backend.autoscaling.minReplicas={n}",
            f"backend.autoscaling.maxReplicas={n}",
            f"frontend.autoscaling.minReplicas={n}",
            f"frontend.autoscaling.maxReplicas={n}",
        ]

    def install(self) -> float:
        started = time.monotonic()
        install(self.helm, self.spec(), upgrade=False)
        return time.monotonic() - started

    def through_ingress(self) -> bool:
        """When the release has an Ingress for its host: sign a user in for the API streams, and
        wait until the ingress serves the host's certificate. Returns whether it does."""
        from helm_mgmt import metricstoken
        from helm_mgmt.localcluster import certmanager, ingress

        ingresses = kubectl_json(
            ["get", "ingress", "-n", self.namespace, "-l", f"app.kubernetes.io/instance={self.release}"]
        )
        hosts = {rule.get("host") for ing in ingresses["items"] for rule in ing["spec"].get("rules", [])}
        if self.site() not in hosts:
            progress(f"no Ingress for {self.site()}: the load goes through the Services only")
            return False
        backend = metricstoken.scoped_name(self.release, "backend")
        postgres = f"{metricstoken.scoped_name(self.release, 'postgres')}-0"
        user = metricstoken.ensure_user(self.namespace, postgres, BENCH_USER, "Benchmark", "user")
        key = metricstoken.secret_value(self.namespace, backend, "JWT_PRIVATE_KEY")
        self.session = {"Authorization": f"Bearer {metricstoken.mint(key, user, SESSION_TTL_S, role='user')}"}
        self.ca = certmanager.ca_certificate().decode()
        ingress.wait_served(ssl.create_default_context(cadata=self.ca), self.site(), timeout=180)
        return True

    def new_images(self) -> list[str]:
        """Tags that name the same backend and frontend images under a new reference, so that an
        upgrade replaces every pod exactly as a new release of the application would."""
        from helm_mgmt.localcluster import containerd

        self.image_round += 1
        tag = f"bench-{self.image_round}"
        values = []
        for part in ("backend", "frontend"):
            deployment = kubectl_json(["get", "deployment", self.workload(part), "-n", self.namespace])
            images = [c["image"] for c in deployment["spec"]["template"]["spec"]["containers"]]
            repository = next(i.rsplit(":", 1)[0] for i in images if i.rsplit(":", 1)[0].endswith(f"/{part}"))
            containerd.ctr("images", "tag", "--force", f"{repository}:local", f"{repository}:{tag}")
            values.append(f"{part}.image.tag={tag}")
        return values

    # --- operations --------------------------------------------------------------------------------

    def upgrade(self, *extra: str) -> None:
        install(self.helm, self.spec(*extra), upgrade=True)

    def rollback(self) -> None:
        rollback(self.helm, self.release, self.namespace)
        self.converge()

    def rollout_undo(self) -> None:
        for part in ("backend", "frontend"):
            kubectl(["rollout", "undo", f"deployment/{self.workload(part)}", "-n", self.namespace])
        for part in ("backend", "frontend"):
            kubectl(
                ["rollout", "status", f"deployment/{self.workload(part)}", "-n", self.namespace, "--timeout=600s"],
                timeout=630,
            )

    def restart(self) -> None:
        """``kubectl rollout restart`` of the backend: every pod replaced, the same image (what an
        operator does after rotating a Secret the pods read at start)."""
        deployment = f"deployment/{self.workload('backend')}"
        kubectl(["rollout", "restart", deployment, "-n", self.namespace])
        kubectl(["rollout", "status", deployment, "-n", self.namespace, "--timeout=600s"], timeout=630)

    def evict(self) -> None:
        """Evict one backend pod through the Eviction API (what a node drain does), which the
        PodDisruptionBudget may refuse; then wait until the Deployment is whole again."""
        pods = kubectl_json(
            [
                "get",
                "pods",
                "-n",
                self.namespace,
                "-l",
                f"app.kubernetes.io/instance={self.release},app.kubernetes.io/name=backend",
            ]
        )["items"]
        victim = sorted(p["metadata"]["name"] for p in pods if p["status"].get("phase") == "Running")[0]
        eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": victim}}
        path = f"/api/v1/namespaces/{self.namespace}/pods/{victim}/eviction"
        kubectl(["create", "--raw", path, "-f", "-"], stdin=json.dumps(eviction))
        self.converge()

    def hpa(self) -> None:
        """Scale the backend up from 3 to 5 pods and back through its HorizontalPodAutoscaler."""
        name = self.workload("backend")
        for count in (self.replicas + 2, self.replicas):
            patch = json.dumps({"spec": {"minReplicas": count, "maxReplicas": count}})
            kubectl(["patch", "hpa", name, "-n", self.namespace, "--type=merge", "-p", patch])
            self._wait_replicas(name, count, timeout=600)

    def _wait_replicas(self, deployment: str, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = kubectl_json(["get", "deployment", deployment, "-n", self.namespace])["status"]
            if status.get("replicas") == count and status.get("readyReplicas") == count:
                return
            time.sleep(3)
        raise TimeoutError(f"{deployment} did not reach {count} Ready replicas within {timeout:.0f}s")

    def converge(self) -> None:
        waiting = rollout.wait(self.namespace, self.release, 600)
        if waiting:
            raise TimeoutError(f"not Ready after 600s: {', '.join(waiting)}")

    # --- one scenario ------------------------------------------------------------------------------

    def run(self, name: str, operation: Callable[[], None]) -> dict:
        """Load on, warm-up, the operation (marked), load until enough requests, load off."""
        # The streams go in on standard input: their headers hold a session token, which an
        # argument would show in the node's process list.
        command = [kubectl_binary() or "kubectl", "exec", "-i", LOADGEN_POD, "-n", self.namespace]
        command += ["--", "/loadgen", "run", "-"]
        streams = self.streams()
        progress(f"scenario {name}: load on ({self.rate} req/s x {len(streams)} streams)")
        # A pipe filled and closed before the start, not stdin=PIPE: Python 3.11's communicate()
        # fails on a stdin the caller has closed.
        read_end, write_end = os.pipe()
        with os.fdopen(write_end, "w") as streams_in:
            streams_in.write(json.dumps(streams))
        with os.fdopen(read_end) as streams_out:
            load = subprocess.Popen(
                command, stdin=streams_out, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        wall_start = time.time()
        memory = MemoryPeak(self.namespace)
        memory.start()
        try:
            time.sleep(WARMUP_S)
            marks = {"start": time.time()}
            operation()
            marks["end"] = time.time()
            progress(f"scenario {name}: operation took {marks['end'] - marks['start']:.0f}s")
            remaining = max(self.seconds_needed() - (time.time() - wall_start), COOLDOWN_S)
            time.sleep(remaining)
        finally:
            kubectl(["exec", LOADGEN_POD, "-n", self.namespace, "--", "/loadgen", "stop"], check=False)
            out, err = load.communicate(timeout=120)
            memory.stop()
        if load.returncode != 0:
            raise RuntimeError(f"the load generator failed (exit {load.returncode}): {err.strip()[-500:]}")
        result = json.loads(out.strip().splitlines()[-1])
        started = result["started_unix"]
        return {
            "name": name,
            "operation_seconds": round(marks["end"] - marks["start"], 1),
            "marks": {k: round(v - started, 1) for k, v in marks.items()},
            "load_seconds": round(result["seconds"], 1),
            "streams": result["streams"],
            "peak_memory_mib": memory.peak_mib,
        }


class MemoryPeak(threading.Thread):
    """The highest total working-set memory of the namespace's pods (metrics-server, every 10 s)."""

    def __init__(self, namespace: str) -> None:
        super().__init__(daemon=True)
        self.namespace = namespace
        self.peak_mib = 0.0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(10):
            top = kubectl(["top", "pods", "-n", self.namespace, "--no-headers"], check=False).stdout
            total = sum(_mib(line.split()[2]) for line in top.splitlines() if len(line.split()) >= 3)
            self.peak_mib = max(self.peak_mib, total)

    def stop(self) -> None:
        self._done.set()
        self.join(timeout=30)


def _mib(quantity: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return float(quantity[: -len(suffix)]) * factor
    return float(quantity) / (1024 * 1024)
