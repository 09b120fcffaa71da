"""The node bridge, kernel settings, the pod egress guard and CNI configuration; and their removal.

Pods may talk to each other, to Services and to the node's own addresses, never beyond the node:
forwarded traffic from the pod network that would leave through another interface is dropped.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Iterable
from pathlib import Path

from helm_mgmt.localcluster import components as c
from helm_mgmt.localcluster import process

SYSCTLS = {
    "net/ipv4/ip_forward": "1",
    "net/bridge/bridge-nf-call-iptables": "1",
    "net/bridge/bridge-nf-call-ip6tables": "1",
}
CNI_NETWORK = "clipper-kit"
EGRESS_CHAIN = "CLIPPER-KIT-EGRESS"


def iptables(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``iptables -w`` (waits for the xtables lock), output captured; raises on failure if ``check``."""
    return subprocess.run(["iptables", "-w", *args], check=check, capture_output=True, text=True)


def _sysctl_record() -> Path:
    return c.state_dir() / "sysctl-before.json"


def _set_sysctls() -> None:
    """Apply SYSCTLS, remembering the values found before the first ``up`` so ``down`` restores them."""
    record = _sysctl_record()
    if not record.exists():
        record.write_text(json.dumps({key: Path("/proc/sys", key).read_text().strip() for key in SYSCTLS}))
    for key, value in SYSCTLS.items():
        Path("/proc/sys", key).write_text(value)


def _guard_egress() -> None:
    # In the mangle table, which the filter table's ACCEPT rules (kube-router's) cannot bypass.
    iptables("-t", "mangle", "-N", EGRESS_CHAIN, check=False)
    iptables("-t", "mangle", "-F", EGRESS_CHAIN)
    iptables("-t", "mangle", "-A", EGRESS_CHAIN, "-s", c.POD_CIDR, "!", "-o", c.BRIDGE, "-j", "DROP")
    if iptables("-t", "mangle", "-C", "FORWARD", "-j", EGRESS_CHAIN, check=False).returncode != 0:
        iptables("-t", "mangle", "-I", "FORWARD", "1", "-j", EGRESS_CHAIN)


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


def bridge_exists() -> bool:
    return _ip("link", "show", c.BRIDGE, check=False).returncode == 0


def bridge_ports() -> list[str]:
    """Interfaces attached to the node bridge (the host ends of the pods' veths)."""
    out = _ip("-o", "link", "show", "master", c.BRIDGE, check=False).stdout
    return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines()]


def cni_conf_dir() -> Path:
    return c.state_dir() / "cni" / "net.d"


def ipam_dir() -> Path:
    return c.state_dir() / "cni" / "ipam"


def setup() -> None:
    """Bridge ``clipper0`` with the node address, br_netfilter, forwarding and the CNI config."""
    if not Path("/proc/sys/net/bridge").exists():
        subprocess.run(["modprobe", "br_netfilter"], check=True, capture_output=True)
    if "overlay" not in Path("/proc/filesystems").read_text():
        subprocess.run(["modprobe", "overlay"], check=True, capture_output=True)
    _set_sysctls()
    _guard_egress()
    if not bridge_exists():
        _ip("link", "add", c.BRIDGE, "type", "bridge")
    _ip("link", "set", c.BRIDGE, "address", c.BRIDGE_MAC)
    if c.BRIDGE_CIDR not in _ip("-o", "addr", "show", "dev", c.BRIDGE).stdout:
        _ip("addr", "add", c.BRIDGE_CIDR, "dev", c.BRIDGE)
    _ip("link", "set", c.BRIDGE, "up")
    cni_conf_dir().mkdir(parents=True, exist_ok=True)
    conf = {
        "cniVersion": "0.4.0",
        "name": CNI_NETWORK,
        "plugins": [
            {
                "type": "bridge",
                "bridge": c.BRIDGE,
                "isGateway": True,
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "dataDir": str(ipam_dir()),
                    "ranges": [[{"subnet": c.POD_CIDR, "gateway": c.NODE_IP}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
            {"type": "loopback"},
        ],
    }
    process.write_config(cni_conf_dir() / "10-clipper-kit.conflist", json.dumps(conf, indent=2))


# The portmap plugin's hooks in the nat table and the chains it makes for hostPorts (one CNI-DN-*
# per pod). Pods killed with containerd never get their CNI DEL, so these outlive them: a stale
# DNAT to a dead pod's address, hooked first, would swallow the next cluster's hostPort traffic.
PORTMAP_HOOKS = (
    ("PREROUTING", "CNI-HOSTPORT-DNAT"),
    ("OUTPUT", "CNI-HOSTPORT-DNAT"),
    ("POSTROUTING", "CNI-HOSTPORT-MASQ"),
)
PORTMAP_CHAIN_PREFIXES = ("CNI-HOSTPORT-", "CNI-DN-")


def jumps(table: str, builtin: str, target: str) -> list[list[str]]:
    """The rules of ``builtin`` in ``table`` that jump to ``target``, as ``iptables -S`` prints them."""
    rules = [shlex.split(line) for line in iptables("-t", table, "-S", builtin, check=False).stdout.splitlines()]
    return [rule for rule in rules if rule[:1] == ["-A"] and rule[-2:] == ["-j", target]]


def remove_chains(table: str, hooks: Iterable[tuple[str, str]], prefixes: tuple[str, ...]) -> None:
    """Delete another program's rules in ``table``: its ``(builtin, target)`` jumps, then every
    chain whose name starts with one of ``prefixes`` (flushed first, as chains may jump to each
    other)."""
    for builtin, target in hooks:
        for rule in jumps(table, builtin, target):
            iptables("-t", table, "-D", *rule[1:], check=False)
    listed = iptables("-t", table, "-S", check=False).stdout.splitlines()
    chains = [line.split()[1] for line in listed if line.startswith("-N ")]
    chains = [chain for chain in chains if chain.startswith(prefixes)]
    for chain in chains:
        iptables("-t", table, "-F", chain, check=False)
    for chain in chains:
        iptables("-t", table, "-X", chain, check=False)


def teardown() -> None:
    """Delete the pods' veths and the bridge, the guard chain, the portmap plugin's rules; restore
    sysctls.

    A veth would vanish with its pod's namespace, but the kernel frees namespaces asynchronously
    (seconds with several pods), so the host ends are deleted here at once.
    """
    if bridge_exists():
        for port in bridge_ports():
            _ip("link", "delete", port, check=False)
        _ip("link", "delete", c.BRIDGE)
    for table in ("mangle", "filter"):  # filter: where versions before kube-router put it
        while iptables("-t", table, "-D", "FORWARD", "-j", EGRESS_CHAIN, check=False).returncode == 0:
            pass
        if iptables("-t", table, "-F", EGRESS_CHAIN, check=False).returncode == 0:
            iptables("-t", table, "-X", EGRESS_CHAIN)
    remove_chains("nat", PORTMAP_HOOKS, PORTMAP_CHAIN_PREFIXES)
    record = _sysctl_record()
    if record.exists():
        for key, value in json.loads(record.read_text()).items():
            Path("/proc/sys", key).write_text(value)
