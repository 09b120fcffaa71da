"""How `helm-mgmt test` splits a run into pytest phases and adds their counts up."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from helm_mgmt import testrun


def _marker(cmd: list[str]) -> str:
    after_pytest = cmd[cmd.index("pytest") + 1 :]
    return after_pytest[after_pytest.index("-m") + 1]


def test_full_run_is_servers_and_cluster_in_order_then_offline_in_parallel() -> None:
    first, second = testrun.phases(full=True, pytest_args=[])
    assert (first.marker, first.parallel) == ("cluster or servers", False)
    assert (second.marker, second.parallel) == ("not cluster and not servers", True)
    assert second.beside and not first.beside
    serial = testrun.pytest_command(first, True, [], None)
    assert "-n" not in serial and "--fail-on-skip" in serial
    parallel = testrun.pytest_command(second, True, [], None)
    assert parallel[parallel.index("-n") + 1].isdigit() and "--fail-on-skip" in parallel


def test_named_paths_replace_the_suite_and_run_in_one_serial_phase() -> None:
    args = ["tests/unit/test_cli.py", "-x"]
    (phase,) = testrun.phases(full=False, pytest_args=args)
    cmd = testrun.pytest_command(phase, False, args, None)
    assert cmd[-2:] == args and "-n" not in cmd
    assert not any(part.endswith("/tests") for part in cmd)
    assert _marker(cmd) == "not cluster and not servers"
    (full,) = testrun.phases(full=True, pytest_args=args)
    assert full.marker is None


def test_the_default_run_is_offline_only() -> None:
    (phase,) = testrun.phases(full=False, pytest_args=["-k", "backend"])
    cmd = testrun.pytest_command(phase, False, ["-k", "backend"], None)
    assert _marker(cmd) == "not cluster and not servers"
    assert "--fail-on-skip" not in cmd


def test_counts_of_the_phases_add_up(tmp_path) -> None:
    totals = {kind: {"passed": 0, "failed": 0, "skipped": 0} for kind in testrun.KINDS}
    first = tmp_path / "a.json"
    first.write_text(json.dumps({"cluster": {"passed": 3, "failed": 1, "skipped": 0}}))
    second = tmp_path / "b.json"
    second.write_text(json.dumps({"unit": {"passed": 7, "failed": 0, "skipped": 2}}))
    testrun._add(totals, first)
    testrun._add(totals, second)
    testrun._add(totals, tmp_path / "never-written.json")
    line = testrun.summary(totals)
    assert line.startswith("unit 7 passed, 0 failed, 2 skipped; servers 0 passed")
    assert line.endswith("cluster 3 passed, 1 failed, 0 skipped")


# Stand-ins for the two pytest runs: the first announces its builds, then keeps running until the
# second has started (or 20 s); the second records its niceness. Both write their counts.
FIRST_PHASE = """
import json, os, pathlib, sys, time
from helm_mgmt import testrun
out = pathlib.Path(sys.argv[1])
(out / "first-started").touch()
time.sleep(0.5)
testrun.builds_done()
deadline = time.monotonic() + 20
while not (out / "second-started").exists() and time.monotonic() < deadline:
    time.sleep(0.05)
(out / "first-saw-second").write_text(str((out / "second-started").exists()))
json.dump({"cluster": {"passed": 2, "failed": 0, "skipped": 0}}, open(os.environ["CLIPPER_TEST_COUNTS"], "w"))
sys.exit(int(sys.argv[2]))
"""
SECOND_PHASE = """
import json, os, pathlib, sys
out = pathlib.Path(sys.argv[1])
(out / "second-started").write_text(str((out / "first-started").exists()) + " " + str(os.nice(0)))
print("offline phase output")
json.dump({"unit": {"passed": 5, "failed": 0, "skipped": 0}}, open(os.environ["CLIPPER_TEST_COUNTS"], "w"))
"""


@pytest.fixture
def stand_ins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    built: list[str] = []
    monkeypatch.setattr(testrun.toolchain, "ensure_all", lambda: built.append("tools"))

    def run(first_exit: int) -> tuple[int, list[str]]:
        def command(phase, full, pytest_args, report):
            script = FIRST_PHASE if phase.name == "servers-and-cluster" else SECOND_PHASE
            return [sys.executable, "-c", script, str(tmp_path), str(first_exit)]

        monkeypatch.setattr(testrun, "pytest_command", command)
        return testrun.run_tests(full=True, pytest_args=[]), built

    return run


def test_the_offline_phase_runs_beside_the_first_once_its_builds_are_done(
    stand_ins, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    code, built = stand_ins(first_exit=0)
    assert code == 0 and built == ["tools"]
    assert (tmp_path / "first-saw-second").read_text() == "True", "the offline phase waited for the first to end"
    first_had_started, niceness = (tmp_path / "second-started").read_text().split()
    assert first_had_started == "True"
    assert int(niceness) >= testrun.BESIDE_NICENESS
    out = capfd.readouterr()
    assert "offline phase output" in out.out
    assert "whole run, tests by kind: unit 5 passed, 0 failed, 0 skipped; servers 0 passed" in out.out
    assert "; cluster 2 passed, 0 failed, 0 skipped" in out.out
    assert out.err.index("==> test phase: servers-and-cluster") < out.err.index("==> test phase: offline, beside")


def test_a_failing_first_phase_fails_the_run_and_the_offline_phase_still_reports(
    stand_ins, capfd: pytest.CaptureFixture[str]
) -> None:
    code, _built = stand_ins(first_exit=3)
    assert code == 3
    assert "unit 5 passed" in capfd.readouterr().out


def test_builds_done_touches_the_file_named_by_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "built"
    monkeypatch.delenv(testrun.BUILT_ENV, raising=False)
    testrun.builds_done()
    assert not marker.exists()
    monkeypatch.setenv(testrun.BUILT_ENV, str(marker))
    testrun.builds_done()
    assert marker.exists()
