"""The tool and the tests stay ruff-clean: lint rules and formatting (pyproject.toml's settings)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from helm_mgmt.paths import REPO_ROOT


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["check", "format"])
def test_ruff(command: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", *command, "src", "tests"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
