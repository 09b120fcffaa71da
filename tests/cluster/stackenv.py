"""Where the shared stack of the cluster tests lives: the umbrella with the local values."""

from __future__ import annotations

from pathlib import Path

STACK_NAMESPACE = "clipper-e2e"
RELEASE = "clipper"
LOCAL_VALUES = Path(__file__).resolve().parents[2] / "helm" / "charts" / "clipper" / "examples" / "values-local.yaml"
