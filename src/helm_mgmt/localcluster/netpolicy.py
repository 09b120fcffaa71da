"""NetworkPolicy enforcement: kube-router's firewall alone, as a host process, and its removal.

Only the firewall runs (no BGP router, no service proxy, no CNI setup: the bridge stays ours and
kube-proxy keeps the Services). Its health and metrics servers would listen on every address of
the host, so both are off; it is ready once its chains hook the filter table.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from helm_mgmt.localcluster import components as c
from helm_mgmt.localcluster import network, pki, process

NAME = "kube-router"
HOOKS = {"INPUT": "KUBE-ROUTER-INPUT", "FORWARD": "KUBE-ROUTER-FORWARD", "OUTPUT": "KUBE-ROUTER-OUTPUT"}
CHAIN_PREFIXES = ("KUBE-ROUTER-", "KUBE-POD-FW-", "KUBE-NWPLCY-")
IPSET_PREFIXES = ("KUBE-SRC-", "KUBE-DST-", "TMP-")


def _hooked() -> bool:
    return all(network.jumps("filter", builtin, target) for builtin, target in HOOKS.items())


def start(binary: Path) -> None:
    process.start(
        NAME,
        [
            str(binary),
            f"--kubeconfig={pki.kubeconfig(NAME)}",
            f"--hostname-override={c.NODE_NAME}",
            "--run-firewall=true",
            "--run-router=false",
            "--run-service-proxy=false",
            "--run-loadbalancer=false",
            "--enable-cni=false",
            "--enable-ipv6=false",
            f"--service-cluster-ip-range={c.SERVICE_CIDR}",
            "--health-port=0",
            "--metrics-port=0",
        ],
    )
    process.wait_for(NAME, _hooked, 120, "kube-router's chains in the filter table")


def cleanup() -> None:
    """Remove kube-router's hooks, chains and ipsets (it is stopped first); nothing else is touched."""
    network.remove_chains("filter", HOOKS.items(), CHAIN_PREFIXES)
    try:
        sets = subprocess.run(["ipset", "list", "-n"], check=False, capture_output=True, text=True).stdout.split()
    except FileNotFoundError:
        return
    for name in sets:
        if name.startswith(IPSET_PREFIXES):
            subprocess.run(["ipset", "destroy", name], check=False, capture_output=True)
