"""`helm-mgmt test`: pytest over tests/, in phases.

The full run (`--all`) is two pytest runs: the tests that need real servers or the local cluster,
one at a time and in their declared order; and the offline tests, which only render and check,
spread over every core with pytest-xdist. The offline phase runs beside the first one at the lowest
CPU priority, started once the first phase reports that the cluster is up and every image is built
(or once it has ended without saying so): the cluster tests leave most of the CPU idle while they
wait for rollouts and load runs, and the builds before them need all of it. Its output is kept in
a file and printed after the first phase's. Each phase writes its counts per kind of test; the run
ends with one line that adds them up.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from helm_mgmt import toolchain
from helm_mgmt.paths import DIST_DIR, REPO_ROOT

OFFLINE = "not cluster and not servers"
KINDS = ("unit", "servers", "cluster")
COUNTS_ENV = "CLIPPER_TEST_COUNTS"
# The file the cluster tests create once the cluster runs and every image is built (builds_done).
BUILT_ENV = "CLIPPER_TEST_BUILT"
BESIDE_NICENESS = 19
POLL_S = 2.0


@dataclass(frozen=True)
class Phase:
    name: str
    marker: str | None
    parallel: bool
    # Runs beside the phase before it, niced, from the moment that phase's builds are done.
    beside: bool = False


def phases(full: bool, pytest_args: list[str]) -> list[Phase]:
    """Test files or folders named on the command line replace the whole suite and run as one
    phase, with the caller's options only (so `-x`, `-k` and `--pdb` behave as in plain pytest)."""
    if _named_paths(pytest_args):
        return [Phase("named", None if full else OFFLINE, parallel=False)]
    if not full:
        return [Phase("offline", OFFLINE, parallel=True)]
    return [
        Phase("servers-and-cluster", "cluster or servers", parallel=False),
        Phase("offline", OFFLINE, parallel=True, beside=True),
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


def builds_done() -> None:
    """Called by the cluster tests once the cluster runs and the images are built: a phase waiting
    to run beside them may start now."""
    marker = os.environ.get(BUILT_ENV)
    if marker:
        Path(marker).touch()


@dataclass
class _Running:
    phase: Phase
    proc: subprocess.Popen[bytes]
    counts: Path
    output: IO[bytes] | None


def _start(phase: Phase, cmd: list[str], env: dict[str, str], workdir: Path) -> _Running:
    counts = workdir / f"counts-{phase.name}.json"
    output = (workdir / f"output-{phase.name}.log").open("w+b") if phase.beside else None
    proc = subprocess.Popen(
        cmd,
        cwd=REPO_ROOT,
        env={**env, COUNTS_ENV: str(counts)},
        stdout=output,
        stderr=subprocess.STDOUT if output else None,
        preexec_fn=(lambda: os.nice(BESIDE_NICENESS)) if phase.beside else None,
    )
    return _Running(phase, proc, counts, output)


def _wait_for_builds(running: _Running, marker: Path) -> None:
    while running.proc.poll() is None and not marker.exists():
        time.sleep(POLL_S)


def run_tests(full: bool, pytest_args: list[str], json_report: bool = False) -> int:
    totals = {kind: {"passed": 0, "failed": 0, "skipped": 0} for kind in KINDS}
    selected = phases(full, pytest_args)
    several = len(selected) > 1
    if any(phase.beside for phase in selected):
        # Built here at full priority: a niced phase must never hold a build the others wait for.
        toolchain.ensure_all()
    running: list[_Running] = []
    with tempfile.TemporaryDirectory(prefix="helm-mgmt-test-") as tmp:
        workdir = Path(tmp)
        marker = workdir / "builds-done"
        env = {**os.environ, BUILT_ENV: str(marker)}
        for phase in selected:
            report = DIST_DIR / f"test-report-{phase.name}.xml" if json_report else None
            if report:
                report.parent.mkdir(exist_ok=True)
            if phase.beside and running:
                _wait_for_builds(running[-1], marker)
            elif running:
                running[-1].proc.wait()
            if several:
                how = f", beside {running[-1].phase.name} at nice {BESIDE_NICENESS}" if phase.beside and running else ""
                print(f"==> test phase: {phase.name}{how}", file=sys.stderr, flush=True)
            running.append(_start(phase, pytest_command(phase, full, pytest_args, report), env, workdir))
        codes = [_finish(run, totals, several) for run in running]
    if several:
        print("whole run, tests by kind: " + summary(totals), flush=True)
    # pytest's 5 is "nothing collected": a phase may select nothing when paths are named.
    failures = [code for code in codes if code not in (0, 5) or (code == 5 and not several)]
    return failures[0] if failures else 0


def _finish(run: _Running, totals: dict[str, dict[str, int]], several: bool) -> int:
    code = run.proc.wait()
    if run.output:
        run.output.seek(0)
        if several:
            print(f"==> output of test phase {run.phase.name}", file=sys.stderr, flush=True)
        sys.stdout.flush()
        sys.stdout.buffer.write(run.output.read())
        sys.stdout.flush()
        run.output.close()
    _add(totals, run.counts)
    return code


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
