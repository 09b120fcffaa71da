"""checkov on every render: zero failed checks. A check may be skipped only by a
`checkov.io/skipN` annotation in the template that gives a reason."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from renders import render_cases, rendered_docs, rendered_text

CASES = render_cases()


@pytest.fixture(scope="session")
def checkov_results(tmp_path_factory) -> dict[str, dict]:
    checkov = shutil.which("checkov")
    if checkov is None:
        pytest.fail("checkov is not installed: pip install -e .[test]")
    root: Path = tmp_path_factory.mktemp("checkov")
    for case in CASES:
        (root / f"{case.id}.yaml").write_text(rendered_text(case))
    proc = subprocess.run(
        [checkov, "-d", str(root), "--framework", "kubernetes", "--output", "json", "--compact"],
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    report = json.loads(proc.stdout)
    reports = report if isinstance(report, list) else [report]
    by_file: dict[str, dict] = {case.id: {"failed": [], "passed": 0, "skipped": []} for case in CASES}
    for rep in reports:
        results = rep.get("results", {})
        for check in results.get("failed_checks", []):
            case_id = Path(check["file_path"]).stem
            by_file[case_id]["failed"].append(f"{check['check_id']} {check['check_name']} on {check['resource']}")
        for check in results.get("passed_checks", []):
            by_file[Path(check["file_path"]).stem]["passed"] += 1
        for check in results.get("skipped_checks", []):
            by_file[Path(check["file_path"]).stem]["skipped"].append(check)
    return by_file


@pytest.mark.helm
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_checkov_has_no_failures(case, checkov_results):
    result = checkov_results[case.id]
    assert result["passed"] > 0, f"checkov checked nothing in {case.id}"
    assert not result["failed"], "\n".join(result["failed"])


SKIP_ANNOTATION = re.compile(r"^checkov\.io/skip\d+$")


@pytest.mark.helm
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_every_checkov_skip_gives_a_reason(case):
    for doc in rendered_docs(case):
        for key, value in (doc["metadata"].get("annotations") or {}).items():
            if SKIP_ANNOTATION.match(key):
                check_id, _, reason = str(value).partition("=")
                assert re.fullmatch(r"CKV2?_K8S_\d+", check_id), f"{key}: {value}"
                assert len(reason.split()) >= 3, (
                    f"{doc['kind']}/{doc['metadata']['name']} skips {check_id} without a reason"
                )
