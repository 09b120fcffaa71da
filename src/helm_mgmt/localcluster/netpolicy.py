"""NetworkPolicy enforcement: kube-router's firewall alone, as a host process, and its removal.

Only the firewall runs (no BGP router, no service proxy, no CNI setup: the bridge stays ours and
kube-proxy keeps the Services). Its health and metrics servers would listen on every address of
the host, so both are off; it is ready once its chains hook the filter table.
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from helm_mgmt.localcluster import components as c
from helm_mgmt.localcluster import network, pki, process

NAME = "kube-router"
HOOKS = {"INPUT": "KUBE-ROUTER-INPUT", "FORWARD": "KUBE-ROUTER-FORWARD", "OUTPUT": "KUBE-ROUTER-OUTPUT"}
CHAIN_PREFIXES = ("KUBE-ROUTER-", "KUBE-POD-FW-", "KUBE-NWPLCY-")
IPSET_PREFIXES = ("KUBE-SRC-", "KUBE-DST-", "TMP-")


def _iptables(*args: str) -> subprocess.CompletedProcess[str]:
    return network.iptables(*args, check=False)


def _hooks(builtin: str) -> list[list[str]]:
    """The rules of ``builtin`` that jump to a kube-router chain, as ``iptables -S`` prints them."""
    rules = [shlex.split(line) for line in _iptables("-S", builtin).stdout.splitlines()]
    return [rule for rule in rules if rule[:1] == ["-A"] and rule[-2:] == ["-j", HOOKS[builtin]]]


def _hooked() -> bool:
    return all(_hooks(builtin) for builtin in HOOKS)


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


def _chains() -> list[str]:
    created = [line.split()[1] for line in _iptables("-S").stdout.splitlines() if line.startswith("-N ")]
    return [chain for chain in created if chain.startswith(CHAIN_PREFIXES)]


def cleanup() -> None:
    """Remove kube-router's hooks, chains and ipsets (it is stopped first); nothing else is touched."""
    for builtin in HOOKS:
        for rule in _hooks(builtin):
            _iptables("-D", *rule[1:])
    chains = _chains()
    for chain in chains:
        _iptables("-F", chain)
    for chain in chains:
        _iptables("-X", chain)
    try:
        sets = subprocess.run(["ipset", "list", "-n"], check=False, capture_output=True, text=True).stdout.split()
    except FileNotFoundError:
        return
    for name in sets:
        if name.startswith(IPSET_PREFIXES):
            subprocess.run(["ipset", "destroy", name], check=False, capture_output=True)
