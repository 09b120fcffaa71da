"""Least-privilege access for the host-side add-ons (CoreDNS, the provisioner, metrics-server,
kube-router)."""

from __future__ import annotations

from typing import Any

from helm_mgmt.localcluster import kubeapi

RBAC = "/apis/rbac.authorization.k8s.io/v1"
READ = ["get", "list", "watch"]

CLUSTER_ROLES: dict[str, list[dict[str, Any]]] = {
    "clipper-kit:coredns": [
        {"apiGroups": [""], "resources": ["endpoints", "services", "pods", "namespaces"], "verbs": ["list", "watch"]},
        {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]},
    ],
    "clipper-kit:provisioner": [
        {"apiGroups": [""], "resources": ["persistentvolumeclaims"], "verbs": READ},
        {"apiGroups": [""], "resources": ["persistentvolumes"], "verbs": [*READ, "create", "delete"]},
    ],
    "clipper-kit:metrics-server": [
        {"apiGroups": [""], "resources": ["nodes/metrics"], "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["pods", "nodes"], "verbs": READ},
    ],
    # kube-router starts informers for all of these even when only its firewall runs.
    "clipper-kit:kube-router": [
        {"apiGroups": [""], "resources": ["pods", "namespaces", "nodes", "services", "endpoints"], "verbs": READ},
        {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": READ},
        {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": READ},
    ],
}
# Roles that Kubernetes ships, bound to the add-on user named like the key.
EXTRA_CLUSTER_ROLE_BINDINGS = {"clipper-kit:metrics-server": ["system:auth-delegator"]}
EXTRA_ROLE_BINDINGS = {"clipper-kit:metrics-server": [("kube-system", "extension-apiserver-authentication-reader")]}


def _subject(user: str) -> list[dict[str, str]]:
    return [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]


def _binding(kind: str, name: str, role_kind: str, role: str, user: str, namespace: str = "") -> dict[str, Any]:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": meta,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
        "subjects": _subject(user),
    }


def ensure() -> None:
    """Create the add-ons' roles and bindings (users are the certificates' common names)."""
    for user, rules in CLUSTER_ROLES.items():
        role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": user}}
        kubeapi.create_if_absent(f"{RBAC}/clusterroles", {**role, "rules": rules})
        binding = _binding("ClusterRoleBinding", user, "ClusterRole", user, user)
        kubeapi.create_if_absent(f"{RBAC}/clusterrolebindings", binding)
    for user, roles in EXTRA_CLUSTER_ROLE_BINDINGS.items():
        for role in roles:
            binding = _binding("ClusterRoleBinding", f"{user}:{role}", "ClusterRole", role, user)
            kubeapi.create_if_absent(f"{RBAC}/clusterrolebindings", binding)
    for user, namespaced in EXTRA_ROLE_BINDINGS.items():
        for namespace, role in namespaced:
            binding = _binding("RoleBinding", f"{user}:{role}", "Role", role, user, namespace)
            kubeapi.create_if_absent(f"{RBAC}/namespaces/{namespace}/rolebindings", binding)
