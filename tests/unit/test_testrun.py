"""How `helm-mgmt test` splits a run into pytest phases and adds their counts up."""

from __future__ import annotations

import json

from helm_mgmt import testrun


def _marker(cmd: list[str]) -> str:
    after_pytest = cmd[cmd.index("pytest") + 1 :]
    return after_pytest[after_pytest.index("-m") + 1]


def test_full_run_is_servers_and_cluster_in_order_then_offline_in_parallel() -> None:
    first, second = testrun.phases(full=True, pytest_args=[])
    assert (first.marker, first.parallel) == ("cluster or servers", False)
    assert (second.marker, second.parallel) == ("not cluster and not servers", True)
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
