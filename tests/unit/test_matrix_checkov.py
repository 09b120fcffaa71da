"""checkov on every render: zero failed checks. A check may be skipped only by a
`checkov.io/skipN` annotation in the template that gives a reason, except on objects that the
vendored community charts render: their accepted findings are listed, with reasons, in
checkov_vendored.yaml."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from renders import render_cases, rendered_docs, rendered_text

CASES = render_cases()
VENDORED_ACCEPTED: dict[str, str] = yaml.safe_load(Path(__file__).with_name("checkov_vendored.yaml").read_text())


def vendored_prefixes(case) -> tuple[str, ...]:
    """checkov's names (Kind.namespace.name, pods as Pod.namespace.<workload>...) of the objects
    in a render that the vendored charts made: those without the Clipper charts' part-of label."""
    prefixes = []
    for doc in rendered_docs(case):
        meta = doc["metadata"]
        if (meta.get("labels") or {}).get("app.kubernetes.io/part-of") == "clipper":
            continue
        namespace = meta.get("namespace", "default")
        prefixes += [f"{doc['kind']}.{namespace}.{meta['name']}", f"Pod.{namespace}.{meta['name']}"]
    return tuple(prefixes)


def is_vendored(resource: str, prefixes: tuple[str, ...]) -> bool:
    return any(resource == p or resource.startswith(p + ".") for p in prefixes)


@pytest.fixture(scope="session")
def checkov_results(tmp_path_factory) -> dict[str, dict]:
    # The one installed beside this Python (the checkout's virtualenv), else one on PATH.
    beside = Path(sys.executable).parent / "checkov"
    checkov = str(beside) if beside.is_file() else shutil.which("checkov")
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
    by_file: dict[str, dict] = {case.id: {"failed": [], "passed": 0, "skipped": [], "vendored": []} for case in CASES}
    prefixes = {case.id: vendored_prefixes(case) for case in CASES}
    for rep in reports:
        results = rep.get("results", {})
        for check in results.get("failed_checks", []):
            case_id = Path(check["file_path"]).stem
            finding = f"{check['check_id']} {check['check_name']} on {check['resource']}"
            if is_vendored(check["resource"], prefixes[case_id]) and check["check_id"] in VENDORED_ACCEPTED:
                by_file[case_id]["vendored"].append(check["check_id"])
            else:
                by_file[case_id]["failed"].append(finding)
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


@pytest.mark.helm
def test_every_accepted_vendored_finding_still_occurs(checkov_results):
    seen = {check for result in checkov_results.values() for check in result["vendored"]}
    stale = sorted(set(VENDORED_ACCEPTED) - seen)
    assert not stale, f"checkov_vendored.yaml accepts findings that no longer occur: {stale}"
    for check_id, reason in VENDORED_ACCEPTED.items():
        assert len(str(reason).split()) >= 3, f"{check_id} is accepted without a reason"
