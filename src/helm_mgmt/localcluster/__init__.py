"""A real single-node Kubernetes cluster built from upstream sources and run on this machine."""

from helm_mgmt.localcluster.cluster import ensure_up, up
from helm_mgmt.localcluster.components import kubeconfig_path
from helm_mgmt.localcluster.report import status
from helm_mgmt.localcluster.teardown import down

__all__ = ["down", "ensure_up", "kubeconfig_path", "status", "up"]
