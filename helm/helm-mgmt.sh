#!/usr/bin/env bash
# Thin shim: runs the Python helm-mgmt tool of this checkout, (re)installing it when the
# importable helm_mgmt is missing or belongs to another checkout.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if ! python3 - "$repo" <<'PY' 2>/dev/null
import sys, pathlib, helm_mgmt, yaml
sys.exit(0 if pathlib.Path(helm_mgmt.__file__).resolve().is_relative_to(pathlib.Path(sys.argv[1]).resolve()) else 1)
PY
then
    echo "==> installing helm-mgmt from ${repo} (pip install -e .[test])" >&2
    python3 -m pip install --quiet --disable-pip-version-check -e "${repo}[test]" >&2
fi
exec python3 -m helm_mgmt.cli "$@"
