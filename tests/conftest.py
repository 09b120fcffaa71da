"""Session-wide test plumbing: the kind of each test (unit, servers, cluster) in the closing summary,
and, for the full run (`helm-mgmt test --all`), a skipped test counted as a failure: there a skip
means a missing prerequisite."""

from __future__ import annotations

import json
import os
from collections import Counter

import pytest

KINDS = ("unit", "servers", "cluster")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fail-on-skip",
        action="store_true",
        help="report a skipped test as failed (the full run: a skip is a missing prerequisite)",
    )


def kind(item: pytest.Item) -> str:
    for name in ("cluster", "servers"):
        if item.get_closest_marker(name):
            return name
    return "unit"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    report.user_properties.append(("kind", kind(item)))
    if report.skipped and item.config.getoption("--fail-on-skip") and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped in a full run, which counts as a failure (a missing prerequisite): {reason}"


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    counts: dict[str, Counter[str]] = {k: Counter() for k in KINDS}
    for outcome in ("passed", "failed", "skipped", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            props = dict(getattr(report, "user_properties", []))
            if "kind" in props and (report.when == "call" or outcome in ("skipped", "error")):
                counts[props["kind"]][outcome] += 1
    parts = []
    for name in KINDS:
        c = counts[name]
        parts.append(f"{name} {c['passed']} passed, {c['failed'] + c['error']} failed, {c['skipped']} skipped")
    terminalreporter.write_line("tests by kind: " + "; ".join(parts))
    counts_file = os.environ.get("CLIPPER_TEST_COUNTS")
    if counts_file and not hasattr(config, "workerinput"):
        merged = {
            k: {"passed": c["passed"], "failed": c["failed"] + c["error"], "skipped": c["skipped"]}
            for k, c in counts.items()
        }
        with open(counts_file, "w") as out:
            json.dump(merged, out)
