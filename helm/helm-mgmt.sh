#!/usr/bin/env bash
# Thin shim: runs the Python helm-mgmt tool from this checkout, installing it on first use.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if ! python3 -c 'import helm_mgmt, yaml' 2>/dev/null; then
    echo "==> installing helm-mgmt (pip install -e ${repo}[test])" >&2
    python3 -m pip install --quiet -e "${repo}[test]" >&2
fi
exec python3 -m helm_mgmt.cli "$@"
