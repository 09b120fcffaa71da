#!/usr/bin/env bash
# Thin shim: runs helm-mgmt from this checkout's own virtualenv (<checkout>/.venv), created on first
# use and refreshed when pyproject.toml changes, so that two checkouts never share an install and
# nothing goes into the system's Python (a stock Debian Python refuses that, PEP 668).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${repo}/.venv"
stamp="${venv}/.helm-mgmt-installed"
want="$(sha256sum "${repo}/pyproject.toml" | cut -d' ' -f1)"
if [ ! -x "${venv}/bin/python" ] || [ "$(cat "${stamp}" 2>/dev/null)" != "${want}" ]; then
    if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
        # Debian ships venv's pip bootstrap in a package of its own.
        if [ "$(id -u)" -ne 0 ]; then
            echo "error: python3 cannot create a virtualenv; install python3-venv (apt-get install python3-venv)" >&2
            exit 1
        fi
        echo "==> installing python3-venv with apt-get" >&2
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -q >&2
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q python3-venv >&2
    fi
    echo "==> installing helm-mgmt into ${venv} (pip install -e .[test])" >&2
    python3 -m venv "${venv}"
    "${venv}/bin/python" -m pip install --quiet --disable-pip-version-check -e "${repo}[test]" >&2
    printf '%s' "${want}" >"${stamp}"
fi
exec "${venv}/bin/python" -m helm_mgmt.cli "$@"
