"""`helm-mgmt test`: pytest over tests/, in phases.

The full run (`--all`) is two pytest runs: first the tests that need real servers or the local
cluster, one at a time and in their declared order (the cluster is torn down at the end of that
phase, so it does not compete for the CPU afterwards); then the offline tests, which only render
and check, spread over every core with pytest-xdist. Each phase writes its counts per kind of
test; the run ends with one line that adds them up.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from helm_mgmt.paths import DIST_DIR, REPO_ROOT

OFFLINE = "not cluster and not servers"
KINDS = ("unit", "servers", "cluster")
COUNTS_ENV = "CLIPPER_TEST_COUNTS"


@dataclass(frozen=True)
class Phase:
    name: str
    marker: str | None
    parallel: bool


def phases(full: bool, pytest_args: list[str]) -> list[Phase]:
    """Test files or folders named on the command line replace the whole suite and run as one
    phase, with the caller's options only (so `-x`, `-k` and `--pdb` behave as in plain pytest)."""
    if _named_paths(pytest_args):
        return [Phase("named", None if full else OFFLINE, parallel=False)]
    if not full:
        return [Phase("offline", OFFLINE, parallel=True)]
    return [
        Phase("servers-and-cluster", "cluster or servers", parallel=False),
        Phase("offline", OFFLINE, parallel=True),
    ]


def pytest_command(phase: Phase, full: bool, pytest_args: list[str], report: Path | None) -> list[str]:
    cmd = [sys.executable, "-m", "pytest"]
    if not _named_paths(pytest_args):
        cmd.append(str(REPO_ROOT / "tests"))
    if phase.marker:
        cmd += ["-m", phase.marker]
    if full:
        cmd.append("--fail-on-skip")
    if phase.parallel and (os.cpu_count() or 1) > 1:
        cmd += ["-n", str(os.cpu_count()), "--dist", "loadfile"]
    if report:
        cmd.append(f"--junitxml={report}")
    return [*cmd, *pytest_args]


def run_tests(full: bool, pytest_args: list[str], json_report: bool = False) -> int:
    totals = {kind: {"passed": 0, "failed": 0, "skipped": 0} for kind in KINDS}
    first_failure = 0
    selected = phases(full, pytest_args)
    for phase in selected:
        report = DIST_DIR / f"test-report-{phase.name}.xml" if json_report else None
        if report:
            report.parent.mkdir(exist_ok=True)
        with tempfile.NamedTemporaryFile(suffix=".json") as counts:
            env = {**os.environ, COUNTS_ENV: counts.name}
            if len(selected) > 1:
                print(f"==> test phase: {phase.name}", file=sys.stderr, flush=True)
            code = subprocess.run(pytest_command(phase, full, pytest_args, report), cwd=REPO_ROOT, env=env).returncode
            _add(totals, Path(counts.name))
        # pytest's 5 is "nothing collected": a phase may select nothing when paths are named.
        if code not in (0, 5) or (code == 5 and len(selected) == 1):
            first_failure = first_failure or code
    if len(selected) > 1:
        print("whole run, tests by kind: " + summary(totals), flush=True)
    return first_failure


def summary(totals: dict[str, dict[str, int]]) -> str:
    return "; ".join(
        f"{kind} {c['passed']} passed, {c['failed']} failed, {c['skipped']} skipped" for kind, c in totals.items()
    )


def _add(totals: dict[str, dict[str, int]], counts_file: Path) -> None:
    text = counts_file.read_text() if counts_file.exists() else ""
    for kind, counts in (json.loads(text) if text.strip() else {}).items():
        for outcome, n in counts.items():
            totals[kind][outcome] += n


def _named_paths(pytest_args: list[str]) -> list[str]:
    return [a for a in pytest_args if not a.startswith("-") and (REPO_ROOT / a.split("::")[0]).exists()]
