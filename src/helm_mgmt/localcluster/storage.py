"""The default StorageClass ``standard``, served by the host-side provisioner."""

from __future__ import annotations

from typing import Any

from helm_mgmt.localcluster import components as c

PROVISIONER = "clipper-kit.local/hostpath"


def storage_class() -> dict[str, Any]:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": c.STORAGE_CLASS,
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        "provisioner": PROVISIONER,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
    }
