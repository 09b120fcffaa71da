"""A host-side dynamic provisioner for StorageClass ``standard``: one world-writable directory per claim.

Run as ``python -m helm_mgmt.localcluster.provisioner``. It polls claims every two seconds;
with WaitForFirstConsumer a claim is provisioned once the scheduler has picked the node.
Released volumes of this provisioner are deleted together with their directory.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path
from typing import Any

from helm_mgmt.localcluster import components as c
from helm_mgmt.localcluster import kubeapi
from helm_mgmt.localcluster.storage import PROVISIONER

USER = "provisioner"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"


def volumes_root() -> Path:
    return c.state_dir() / "volumes"


def _volume(claim: dict[str, Any], directory: Path) -> dict[str, Any]:
    meta, spec = claim["metadata"], claim["spec"]
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": f"pvc-{meta['uid']}", "annotations": {PROVISIONED_BY: PROVISIONER}},
        "spec": {
            "capacity": {"storage": spec["resources"]["requests"]["storage"]},
            "accessModes": spec["accessModes"],
            "volumeMode": spec.get("volumeMode", "Filesystem"),
            "persistentVolumeReclaimPolicy": "Delete",
            "storageClassName": c.STORAGE_CLASS,
            "claimRef": {"namespace": meta["namespace"], "name": meta["name"], "uid": meta["uid"]},
            "hostPath": {"path": str(directory), "type": "Directory"},
            "nodeAffinity": {
                "required": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": "kubernetes.io/hostname", "operator": "In", "values": [c.NODE_NAME]}
                            ]
                        }
                    ]
                }
            },
        },
    }


def provision_pending() -> None:
    claims = kubeapi.request("GET", "/api/v1/persistentvolumeclaims", user=USER)["items"]
    for claim in claims:
        meta = claim["metadata"]
        wanted = claim["spec"].get("storageClassName") == c.STORAGE_CLASS
        if not wanted or claim["status"].get("phase") != "Pending" or claim["spec"].get("volumeName"):
            continue
        if SELECTED_NODE not in meta.get("annotations", {}):
            continue
        directory = volumes_root() / f"{meta['namespace']}-{meta['name']}-{meta['uid']}"
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o777)
        kubeapi.create_if_absent("/api/v1/persistentvolumes", _volume(claim, directory), user=USER)
        print(f"provisioned {meta['namespace']}/{meta['name']} at {directory}", flush=True)


def delete_released() -> None:
    for volume in kubeapi.request("GET", "/api/v1/persistentvolumes", user=USER)["items"]:
        meta = volume["metadata"]
        ours = meta.get("annotations", {}).get(PROVISIONED_BY) == PROVISIONER
        if not ours or volume["status"].get("phase") not in ("Released", "Failed"):
            continue
        shutil.rmtree(volume["spec"]["hostPath"]["path"], ignore_errors=True)
        try:
            kubeapi.request("DELETE", f"/api/v1/persistentvolumes/{meta['name']}", user=USER)
        except kubeapi.ApiError as err:
            if err.status != 404:
                raise
        print(f"deleted {meta['name']}", flush=True)


def main() -> int:
    volumes_root().mkdir(parents=True, exist_ok=True)
    while True:
        try:
            provision_pending()
            delete_released()
        except (OSError, kubeapi.ApiError) as err:
            print(f"provisioner: {err}", file=sys.stderr, flush=True)
        time.sleep(2)


if __name__ == "__main__":
    sys.exit(main())
