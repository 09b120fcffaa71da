"""Certificates, service-account keys and kubeconfigs of the local cluster (openssl CLI)."""

from __future__ import annotations

import base64
import subprocess
from dataclasses import dataclass
from pathlib import Path

from helm_mgmt.localcluster import components as c

DAYS = "3650"


@dataclass(frozen=True)
class Cert:
    name: str
    cn: str
    org: str = ""
    sans: tuple[str, ...] = ()
    server: bool = False
    ca: str = "ca"


CERTS = (
    Cert(
        "apiserver",
        "kube-apiserver",
        sans=(
            "DNS:kubernetes",
            "DNS:kubernetes.default",
            "DNS:kubernetes.default.svc",
            f"DNS:kubernetes.default.svc.{c.CLUSTER_DOMAIN}",
            "DNS:localhost",
            "IP:127.0.0.1",
            f"IP:{c.SERVICE_IP}",
            f"IP:{c.NODE_IP}",
        ),
        server=True,
    ),
    Cert("apiserver-kubelet-client", "kube-apiserver-kubelet-client", org="system:masters"),
    Cert("admin", "kubernetes-admin", org="system:masters"),
    Cert("controller-manager", "system:kube-controller-manager"),
    Cert("scheduler", "system:kube-scheduler"),
    Cert("kube-proxy", "system:kube-proxy"),
    Cert("kubelet-client", f"system:node:{c.NODE_NAME}", org="system:nodes"),
    Cert(
        "kubelet-serving",
        c.NODE_NAME,
        sans=(f"DNS:{c.NODE_NAME}", "DNS:localhost", "IP:127.0.0.1", f"IP:{c.NODE_IP}"),
        server=True,
    ),
    Cert("front-proxy-client", "front-proxy-client", ca="front-proxy-ca"),
    Cert("coredns", "clipper-kit:coredns"),
    Cert("provisioner", "clipper-kit:provisioner"),
    Cert("metrics-server", "clipper-kit:metrics-server"),
    Cert("kube-router", "clipper-kit:kube-router"),
)

KUBECONFIGS = {
    "admin": "admin",
    "controller-manager": "controller-manager",
    "scheduler": "scheduler",
    "kube-proxy": "kube-proxy",
    "kubelet": "kubelet-client",
    "coredns": "coredns",
    "provisioner": "provisioner",
    "metrics-server": "metrics-server",
    "kube-router": "kube-router",
}


def pki_dir() -> Path:
    return c.state_dir() / "pki"


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, text=True)


def _key(path: Path) -> None:
    """An ECDSA P-256 key: as good as RSA here and generated in milliseconds."""
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(path))


def _ca(name: str, cn: str) -> None:
    d = pki_dir()
    _key(d / f"{name}.key")
    _openssl(
        "req",
        "-x509",
        "-new",
        "-key",
        str(d / f"{name}.key"),
        "-subj",
        f"/CN={cn}",
        "-days",
        DAYS,
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
        "-out",
        str(d / f"{name}.crt"),
    )


def _issue(cert: Cert) -> None:
    d = pki_dir()
    key, csr, crt = (d / f"{cert.name}.{ext}" for ext in ("key", "csr", "crt"))
    subject = (f"/O={cert.org}" if cert.org else "") + f"/CN={cert.cn}"
    _key(key)
    _openssl("req", "-new", "-key", str(key), "-subj", subject, "-out", str(csr))
    usage = "serverAuth" if cert.server else "clientAuth"
    ext = [
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature",
        f"extendedKeyUsage={usage}",
    ]
    if cert.sans:
        ext.append("subjectAltName=" + ",".join(cert.sans))
    extfile = d / f"{cert.name}.ext"
    extfile.write_text("\n".join(ext) + "\n")
    _openssl(
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(d / f"{cert.ca}.crt"),
        "-CAkey",
        str(d / f"{cert.ca}.key"),
        "-CAcreateserial",
        "-days",
        DAYS,
        "-extfile",
        str(extfile),
        "-out",
        str(crt),
    )
    csr.unlink()
    extfile.unlink()


def kubeconfig(name: str) -> Path:
    return c.state_dir() / f"{name}.kubeconfig"


def _write_kubeconfig(name: str, cert: str) -> None:
    d = pki_dir()

    def b64(path: Path) -> str:
        return base64.b64encode(path.read_bytes()).decode()

    text = f"""apiVersion: v1
kind: Config
clusters:
- name: clipper-kit
  cluster:
    server: https://{c.NODE_IP}:{c.APISERVER_PORT}
    certificate-authority-data: {b64(d / "ca.crt")}
users:
- name: {name}
  user:
    client-certificate-data: {b64(d / f"{cert}.crt")}
    client-key-data: {b64(d / f"{cert}.key")}
contexts:
- name: clipper-kit
  context:
    cluster: clipper-kit
    user: {name}
current-context: clipper-kit
"""
    path = kubeconfig(name)
    path.write_text(text)
    path.chmod(0o600)


def ensure() -> None:
    """Create whatever certificate, key or kubeconfig is missing; existing ones are kept."""
    d = pki_dir()
    d.mkdir(parents=True, exist_ok=True)
    d.chmod(0o700)
    for ca, cn in (("ca", "clipper-kit-ca"), ("front-proxy-ca", "clipper-kit-front-proxy-ca")):
        if not (d / f"{ca}.crt").exists():
            _ca(ca, cn)
    for cert in CERTS:
        if not (d / f"{cert.name}.crt").exists():
            _issue(cert)
    if not (d / "sa.pub").exists():
        _key(d / "sa.key")
        _openssl("pkey", "-in", str(d / "sa.key"), "-pubout", "-out", str(d / "sa.pub"))
    for name, cert in KUBECONFIGS.items():
        if not kubeconfig(name).exists():
            _write_kubeconfig(name, cert)
