"""Every render validates strictly (unknown fields are errors) against the Kubernetes OpenAPI
schemas of every minor version from 1.29 to 1.35."""

from __future__ import annotations

import kubernetes_validate
import pytest
from renders import render_cases, rendered_docs

KUBE_VERSIONS = [f"1.{minor}.0" for minor in range(29, 36)]
# Custom resources of operators the charts integrate with; they have no built-in schema.
CUSTOM_KINDS = {
    "ExternalSecret",
    "SecretStore",
    "ClusterSecretStore",
    "HTTPRoute",
    "ServiceMonitor",
    "PrometheusRule",
    "Prometheus",
    "Alertmanager",
}


@pytest.mark.helm
@pytest.mark.parametrize("case", render_cases(), ids=lambda c: c.id)
@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_render_is_valid_for_kubernetes(case, kube_version):
    docs = rendered_docs(case)
    assert docs, f"{case.id} rendered nothing"
    errors = []
    for doc in docs:
        if doc["kind"] in CUSTOM_KINDS:
            continue
        try:
            kubernetes_validate.validate(doc, kube_version, strict=True)
        except kubernetes_validate.ValidationError as err:
            errors.append(f"{doc['kind']}/{doc['metadata']['name']}: {err.message} at {list(err.path)}")
        except kubernetes_validate.SchemaNotFoundError as err:
            errors.append(f"{doc['kind']}/{doc['metadata']['name']}: no schema in {kube_version} ({err})")
    assert not errors, "\n".join(errors)
