"""`helm-mgmt up` / `down`: the whole Clipper stack on the local cluster, for a newcomer's first
command. Clipper's backend, migrations and frontend built from the application's source (in the
background while the cluster is built), cluster up if needed, images built and imported, the
umbrella installed with the local values into a namespace that enforces Pod Security
`restricted`, then a wait with progress until every pod is Ready through its real probes."""

from __future__ import annotations

import argparse
import os
import time

from helm_mgmt import rollout
from helm_mgmt.helm import Helm
from helm_mgmt.output import progress
from helm_mgmt.release import UMBRELLA, ReleaseSpec, install

NAMESPACE = "clipper"
RELEASE = "clipper"
MONITORING_NAMESPACE = "clipper-monitoring"
# global.host of the umbrella's local values, served by the cluster's Traefik on the loopback.
SITE_HOST = "clipper.local"
MONITORING_RELEASE = "monitoring"
PSS_LABELS = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/warn": "restricted",
}


def prepare_cluster(with_monitoring: bool = False) -> str:
    """Cluster up, images imported (the monitoring stack's too when asked), and Ready: the ingress
    controller, the External Secrets Operator with the local secret store, cert-manager with the
    local CA's issuer, Pebble with the ACME issuer. Returns the kubeconfig path (also exported to
    KUBECONFIG)."""
    from helm_mgmt.localcluster import (
        certmanager,
        clipperapp,
        cluster,
        containerd,
        externalsecrets,
        images,
        ingress,
        pebble,
        secretstore,
    )

    names = images.selection(with_monitoring)
    progress(f"Clipper's source: {clipperapp.source().origin}")
    images.build_in_background(names=names)
    kubeconfig = str(cluster.ensure_up())
    os.environ["KUBECONFIG"] = kubeconfig
    started = time.monotonic()
    progress("building images (cached after the first run)")
    images.build_all(names=names)
    progress("importing images into containerd", started)
    images.import_all("ctr", str(containerd.socket_path()), names=names)
    progress("starting Traefik, the ingress controller (class nginx) and Gateway (class traefik)", started)
    ingress.ensure()
    progress("starting the External Secrets Operator and the local secret store", started)
    externalsecrets.ensure()
    secretstore.ensure()
    progress("starting cert-manager and the local CA's ClusterIssuer", started)
    certmanager.ensure()
    progress("starting Pebble, the local ACME CA, and its ClusterIssuer", started)
    pebble.ensure()
    return kubeconfig


def install_monitoring(helm: Helm) -> None:
    """The monitoring chart with its local values (operator, Prometheus, Alertmanager,
    kube-state-metrics), upgraded in place when present, and its Prometheus Ready."""
    from helm_mgmt.kube import kubectl
    from helm_mgmt.paths import CHARTS_DIR

    chart = CHARTS_DIR / "monitoring"
    spec = ReleaseSpec(release=MONITORING_RELEASE, namespace=MONITORING_NAMESPACE, chart=chart, env="local")
    already = helm.run(["status", spec.release, "-n", spec.namespace], check=False).returncode == 0
    install(helm, spec, upgrade=already)
    # The operator creates Prometheus' StatefulSet after the release is in: wait for it too.
    selector = "app.kubernetes.io/name=prometheus"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        found = kubectl(["get", "pods", "-n", spec.namespace, "-l", selector, "-o", "name"], check=False).stdout
        if found.strip():
            break
        time.sleep(3)
    kubectl(
        ["wait", "pods", "-n", spec.namespace, "-l", selector, "--for=condition=Ready", "--timeout=300s"], timeout=330
    )


def mint_metrics_token(namespace: str, release: str) -> None:
    """The backend's scrape token for the local stack (see `helm-mgmt metrics-token`)."""
    from helm_mgmt import metricstoken

    metricstoken.issue(namespace, release, 30 * 86400)


def restricted_namespace(name: str) -> None:
    from helm_mgmt.kube import kubectl

    if kubectl(["get", "namespace", name], check=False).returncode != 0:
        kubectl(["create", "namespace", name])
    kubectl(["label", "namespace", name, "--overwrite", *[f"{k}={v}" for k, v in PSS_LABELS.items()]])


def wait_all_ready(namespace: str, release: str, timeout: float = 900) -> None:
    """Wait until every workload of the release is updated and Ready; on timeout raise with what is
    pending and why (the failing pods' reasons and last log lines)."""
    waiting = rollout.wait(namespace, release, timeout)
    if waiting:
        why = "\n".join(rollout.diagnose(namespace, release))
        raise TimeoutError(f"not Ready after {timeout:.0f}s: {', '.join(waiting)}\n{why}")


def cmd_up(args: argparse.Namespace) -> int:
    from helm_mgmt.localcluster import certmanager, secretstore

    started = time.monotonic()
    kubeconfig = prepare_cluster(args.with_monitoring)
    restricted_namespace(args.namespace)
    helm = Helm(args.helm)
    extra = [UMBRELLA / "examples" / "values-local-external-secrets.yaml"]
    origin = secretstore.seed_backend(args.namespace, args.release)
    entry = f"{secretstore.NAMESPACE}/{secretstore.BACKEND_ENTRY}"
    progress(f"the backend's keys in the secret store ({entry}): {origin}", started)
    if args.with_monitoring:
        progress("installing the monitoring chart (operator, Prometheus, Alertmanager)", started)
        install_monitoring(helm)
        extra.append(UMBRELLA / "examples" / "values-local-monitoring.yaml")
    spec = ReleaseSpec(release=args.release, namespace=args.namespace, env="local", values_files=extra, timeout="15m")
    already = helm.run(["status", spec.release, "-n", spec.namespace], check=False).returncode == 0
    progress(f"{'upgrading' if already else 'installing'} {spec.release} into namespace {spec.namespace}", started)
    install(helm, spec, upgrade=already, wait=False)
    wait_all_ready(spec.namespace, spec.release)
    if args.with_monitoring:
        mint_metrics_token(spec.namespace, spec.release)
    progress("the Clipper stack is up", started)
    ca_secret = f"-n {certmanager.NAMESPACE} {certmanager.CA_SECRET}"
    save_ca = f"kubectl get secret {ca_secret} -o jsonpath='{{.data.ca\\.crt}}' | base64 -d > clipper-local-ca.crt"
    print(
        f"""
The site: https://{SITE_HOST}/ through the cluster's ingress controller (Traefik on 127.0.0.1:443),
with a certificate from cert-manager's local CA. Save the CA, let this machine resolve the name
(once, as root), trust the CA in your browser (or the system: update-ca-certificates), then open it:
export KUBECONFIG={kubeconfig}
{save_ca}
grep -q ' {SITE_HOST}$' /etc/hosts || echo '127.0.0.1 {SITE_HOST}' >> /etc/hosts
curl --cacert clipper-local-ca.crt --resolve {SITE_HOST}:443:127.0.0.1 https://{SITE_HOST}/api/v1/categories

kubectl get pods -n {spec.namespace}
kubectl get ingress -n {spec.namespace}
kubectl get externalsecret -n {spec.namespace}   # the backend's keys, from Secret {entry}
helm test {spec.release} -n {spec.namespace}{monitoring_hint(args.with_monitoring)}
./helm/helm-mgmt.sh down   # stop the cluster and remove everything it created
"""
    )
    return 0


def monitoring_hint(with_monitoring: bool) -> str:
    if not with_monitoring:
        return ""
    prometheus = f"svc/{MONITORING_RELEASE}-kube-prometheus-prometheus"
    return f"\nkubectl port-forward -n {MONITORING_NAMESPACE} {prometheus} 9090   # Prometheus API: http://127.0.0.1:9090/api/v1/targets"


def add_stack_parsers(sub) -> None:
    p = sub.add_parser("up", help="local cluster + images + the whole stack, waiting until everything is Ready")
    p.add_argument("--release", "-r", default=RELEASE)
    p.add_argument("--namespace", "-n", default=NAMESPACE)
    p.add_argument(
        "--with-monitoring",
        action="store_true",
        help="also the monitoring chart (Prometheus operator, Prometheus, Alertmanager) scraping the stack",
    )
    p.set_defaults(func=cmd_up)
    from helm_mgmt.localcluster.cli import down_command

    p = sub.add_parser("down", help="stop the local cluster and remove what it created")
    p.set_defaults(func=down_command)
