"""Cluster DNS: CoreDNS as a host process on the node bridge address: the cluster's names
(kubernetes plugin), and the site's names leading to the ingress controller."""

from __future__ import annotations

import re
import socket
import struct
from pathlib import Path

from helm_mgmt.localcluster import components as c
from helm_mgmt.localcluster import pki, process

NAME = "coredns"
INGRESS_SERVICE = "traefik.ingress-nginx.svc"


def _corefile() -> Path:
    zones = f"{c.CLUSTER_DOMAIN} in-addr.arpa ip6.arpa"
    # Names under the site's domain answer with the ingress controller's Service, as public DNS
    # would lead to the load balancer: pods that call the site by name (an ACME CA validating a
    # challenge, cert-manager's self-check) reach it through the ingress like a browser.
    domain = re.escape(c.SITE_DOMAIN)
    ingress = f"{INGRESS_SERVICE}.{c.CLUSTER_DOMAIN}."
    text = f"""{c.CLUSTER_DOMAIN}:53 {c.SITE_DOMAIN}:53 in-addr.arpa:53 ip6.arpa:53 {{
    bind {c.CLUSTER_DNS}
    errors
    health 127.0.0.1:18080
    ready 127.0.0.1:18181
    rewrite name regex ^([a-z0-9-]+\\.)*{domain}\\.$ {ingress} answer auto
    kubernetes {zones} {{
        kubeconfig {pki.kubeconfig("coredns")} clipper-kit
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
    }}
    cache 30
}}
"""
    path = c.state_dir() / "Corefile"
    process.write_config(path, text)
    return path


def _skip_name(message: bytes, pos: int) -> int:
    while message[pos]:
        if message[pos] & 0xC0 == 0xC0:
            return pos + 2
        pos += message[pos] + 1
    return pos + 1


def resolve(name: str) -> list[str]:
    """A-record answers of the cluster DNS for ``name`` (an empty list if none or no answer)."""
    query = struct.pack(">HHHHHH", 0x4B1D, 0x0100, 1, 0, 0, 0)
    query += b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split(".")) + b"\0"
    query += struct.pack(">HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        try:
            sock.sendto(query, (c.CLUSTER_DNS, 53))
            message = sock.recv(4096)
        except OSError:
            return []
    pos = _skip_name(message, 12) + 4
    addresses = []
    for _ in range(struct.unpack(">H", message[6:8])[0]):
        pos = _skip_name(message, pos)
        rtype, _cls, _ttl, length = struct.unpack(">HHIH", message[pos : pos + 10])
        pos += 10
        if rtype == 1:
            addresses.append(socket.inet_ntoa(message[pos : pos + 4]))
        pos += length
    return addresses


def start(binary: Path) -> None:
    process.start(NAME, [str(binary), "-conf", str(_corefile())])
    process.wait_for(NAME, lambda: bool(resolve(f"kubernetes.default.svc.{c.CLUSTER_DOMAIN}")), 60, "CoreDNS")
