"""The alert rules each chart ships, rendered as Helm renders them, checked by Prometheus' own
promtool: they load (`promtool check rules`) and each alert fires and stays quiet when it should
(`promtool test rules` with the cases in alert_tests/<chart>.yaml)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from charttest import render

from helm_mgmt.toolchain import ensure_promtool

CASES_DIR = Path(__file__).with_name("alert_tests")
# Values that render every alert of the chart, including the conditional ones.
ALL_ALERTS: dict[str, dict] = {
    "backend": {
        "metrics": {"prometheusRule": {"enabled": True}},
        "autoscaling": {"enabled": True},
        "exports": {"persistence": {"enabled": True, "accessMode": "ReadWriteMany"}},
    },
    "postgres": {"metrics": {"enabled": True, "prometheusRule": {"enabled": True}}, "backup": {"enabled": True}},
    "redis": {"metrics": {"enabled": True, "prometheusRule": {"enabled": True}}},
    "frontend": {"metrics": {"enabled": True, "prometheusRule": {"enabled": True}}},
}


@pytest.fixture(scope="module")
def promtool() -> Path:
    return ensure_promtool()


def rule_groups(chart: str, values: dict) -> list[dict]:
    rules = [doc for doc in render(chart, values) if doc["kind"] == "PrometheusRule"]
    assert len(rules) == 1, f"{chart} rendered {len(rules)} PrometheusRules"
    return rules[0]["spec"]["groups"]


def alert_names(groups: list[dict]) -> set[str]:
    return {rule["alert"] for group in groups for rule in group["rules"] if "alert" in rule}


def run(promtool: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(promtool), *args], cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.mark.helm
@pytest.mark.parametrize("chart", sorted(ALL_ALERTS))
def test_rules_load_and_pass_their_unit_tests(chart: str, promtool: Path, tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": rule_groups(chart, ALL_ALERTS[chart])}))
    shutil.copy(CASES_DIR / f"{chart}.yaml", tmp_path / "tests.yaml")
    check = run(promtool, "check", "rules", "rules.yaml", cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    tested = run(promtool, "test", "rules", "tests.yaml", cwd=tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr


@pytest.mark.helm
@pytest.mark.parametrize("chart", sorted(ALL_ALERTS))
def test_every_alert_has_a_firing_and_a_quiet_case(chart: str) -> None:
    cases = yaml.safe_load((CASES_DIR / f"{chart}.yaml").read_text())["tests"]
    checks = [check for case in cases for check in case["alert_rule_test"]]
    fires = {check["alertname"] for check in checks if check["exp_alerts"]}
    quiet = {check["alertname"] for check in checks if not check["exp_alerts"]}
    names = alert_names(rule_groups(chart, ALL_ALERTS[chart]))
    assert names - fires == set(), f"alerts never shown firing: {sorted(names - fires)}"
    assert names - quiet == set(), f"alerts never shown quiet: {sorted(names - quiet)}"


@pytest.mark.helm
def test_a_wrong_expectation_fails(promtool: Path, tmp_path: Path) -> None:
    """The harness can fail: the redis cases against rules whose threshold was moved."""
    groups = rule_groups(
        "redis", {"metrics": {"enabled": True, "prometheusRule": {"enabled": True, "memoryRatio": 0.99}}}
    )
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}))
    shutil.copy(CASES_DIR / "redis.yaml", tmp_path / "tests.yaml")
    tested = run(promtool, "test", "rules", "tests.yaml", cwd=tmp_path)
    assert tested.returncode != 0
    assert "ClipperRedisMemoryNearMax" in tested.stdout + tested.stderr


@pytest.mark.helm
@pytest.mark.parametrize("chart", sorted(ALL_ALERTS))
def test_conditional_alerts_follow_their_feature(chart: str) -> None:
    base = {"metrics": {**({"enabled": True} if chart != "backend" else {}), "prometheusRule": {"enabled": True}}}
    if chart == "redis":
        base["persistence"] = {"enabled": False}
    if chart == "backend":
        base["autoscaling"] = {"enabled": False}
    names = alert_names(rule_groups(chart, base))
    conditional = {
        "backend": {"ClipperBackendAtMaxReplicas", "ClipperBackendExportsVolumeFilling"},
        "postgres": {"ClipperPostgresBackupFailed", "ClipperPostgresBackupLate"},
        "redis": {"ClipperRedisVolumeFilling"},
        "frontend": set(),
    }[chart]
    assert not names & conditional, f"rendered without their feature: {sorted(names & conditional)}"
    assert conditional <= alert_names(rule_groups(chart, ALL_ALERTS[chart]))
