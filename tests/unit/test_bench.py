"""`helm-mgmt bench` without a cluster: bad arguments are refused before anything runs, the load
generator's pod is one Pod Security `restricted` admits, and the report adds up what it is given."""

from __future__ import annotations

import json

import pytest

from helm_mgmt.bench import loadgen, report
from helm_mgmt.bench.cli import check_args
from helm_mgmt.cli import build_parser
from helm_mgmt.release import PreflightError


def _args(*argv: str):
    return build_parser().parse_args(["bench", *argv])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--scenarios", "upgrade,drain"], "--scenarios 'upgrade,drain': unknown drain; choose from upgrade"),
        (["--scenarios", ","], "unknown (none given)"),
        (["--rate", "0"], "--rate 0: give 1 to 500"),
        (["--rate", "501"], "--rate 501"),
        (["--min-requests", "0"], "--min-requests 0"),
        (["--chart", "/nonexistent"], "--chart /nonexistent: no Chart.yaml there"),
        (["--streams", "backend-keepalive,api"], "--streams 'backend-keepalive,api': unknown api; choose from backend"),
        (["--streams", ""], "--streams '': unknown (none given)"),
    ],
)
def test_bad_arguments_are_named(argv, message) -> None:
    with pytest.raises(PreflightError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_args(_args(*argv))


def test_the_default_arguments_select_every_scenario() -> None:
    assert check_args(_args()) == ["upgrade", "rollback", "rollout-undo", "restart", "evict", "hpa", "upgrade-control"]


def test_the_generator_pod_is_restricted() -> None:
    pod = json.loads(loadgen.pod("g", "ns", ["idle"]))
    spec, container = pod["spec"], pod["spec"]["containers"][0]
    assert spec["securityContext"]["runAsNonRoot"] and spec["securityContext"]["seccompProfile"]["type"]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
    }
    assert container["image"] == loadgen.IMAGE and container["args"] == ["idle"]
    assert container["resources"]["limits"]["cpu"] == "500m"


def _scenario(name: str, per_stream: dict[str, list[tuple[int, int, float]]]) -> dict:
    streams = {
        stream: {
            "ok": sum(s[0] for s in seconds),
            "fail": sum(s[1] for s in seconds),
            "per_second": [{"ok": o, "fail": f, "p99_ms": p} for o, f, p in seconds],
            "p50_ms": min(p for _, _, p in seconds),
            "p99_ms": max(p for _, _, p in seconds),
        }
        for stream, seconds in per_stream.items()
    }
    return {
        "name": name,
        "streams": streams,
        "marks": {"start": 1.0, "end": 2.0},
        "operation_seconds": 1.0,
        "peak_memory_mib": 300.0,
    }


def test_totals_and_series_add_the_streams_up(tmp_path) -> None:
    sc = _scenario("upgrade", {"a": [(10, 0, 5.0), (9, 1, 7.0)], "b": [(10, 0, 9.0), (8, 2, 3.0), (10, 0, 4.0)]})
    assert report.totals(sc) == {
        "requests": 50,
        "ok": 47,
        "fail": 3,
        "worst_stream_p50_ms": 5.0,
        "worst_stream_p99_ms": 9.0,
    }
    assert report.series(sc) == {"ok": [20, 17, 10], "fail": [0, 3, 0], "p99_ms": [9.0, 7.0, 4.0]}
    results = {"chart": "c", "rate_per_stream": 10, "streams": [{}, {}], "install_seconds": 61.0, "scenarios": [sc]}
    lines = report.summary_lines(results)
    assert lines[0] == "install to all Ready: 61s"
    assert lines[1].startswith("upgrade: 3 failed of 50 (a 1, b 2); p50 5 ms, p99 9 ms (worst stream)")
    written = json.loads(report.write_json(results, tmp_path / "b.json").read_text())
    assert written["scenarios"][0]["totals"]["fail"] == 3
    png = report.write_png(results, tmp_path / "b.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000


def test_the_admit_values_open_the_backend_and_frontend_to_the_generator_only() -> None:
    """The generator's label is admitted on port http of both Services, and nothing else opens."""
    from helm_mgmt.helm import Helm, parse_manifests
    from helm_mgmt.release import UMBRELLA

    local = UMBRELLA / "examples" / "values-local.yaml"
    helm = Helm("helm4")
    plain, admitted = (
        {
            doc["metadata"]["name"]: doc["spec"]["ingress"]
            for doc in parse_manifests(helm.template(UMBRELLA, files, namespace="clipper"))
            if doc["kind"] == "NetworkPolicy"
        }
        for files in ([local], [local, loadgen.ADMIT_VALUES])
    )
    rule = {"from": [{"podSelector": {"matchLabels": loadgen.LABELS}}], "ports": [{"port": "http", "protocol": "TCP"}]}
    added = {name: [r for r in rules if r not in plain[name]] for name, rules in admitted.items()}
    assert added == {name: ([rule] if name.endswith(("-backend", "-frontend")) else []) for name in plain}


def test_the_ingress_streams_come_with_a_signed_in_session_and_stay_out_of_the_results() -> None:
    from pathlib import Path

    from helm_mgmt.bench.scenarios import Bench

    bench = Bench(Path("chart"), namespace="ns", release="b1", rate=7)
    assert [s["name"] for s in bench.streams()] == [
        "backend-keepalive",
        "backend-new-conn",
        "frontend-keepalive",
        "frontend-new-conn",
    ]
    assert "global.host=b1.clipper.local" in bench.base_values()
    bench.session, bench.ca = {"Authorization": "Bearer t"}, "-----BEGIN CERTIFICATE-----"
    through = {s["name"]: s for s in bench.streams() if s["name"].startswith("ingress-")}
    assert {name: (s["url"], s["keepalive"]) for name, s in through.items()} == {
        "ingress-api-keepalive": ("https://b1.clipper.local/api/v1/auth/me", True),
        "ingress-api-new-conn": ("https://b1.clipper.local/api/v1/auth/me", False),
        "ingress-frontend-keepalive": ("https://b1.clipper.local/", True),
        "ingress-frontend-new-conn": ("https://b1.clipper.local/", False),
    }
    assert all(s["ca"] == bench.ca and not s["spread_clients"] and s["rate"] == 7 for s in through.values())
    assert [name for name, s in through.items() if "headers" in s] == ["ingress-api-keepalive", "ingress-api-new-conn"]
    described = json.dumps(bench.described_streams())
    assert "Bearer" not in described and "CERTIFICATE" not in described


def test_streams_can_be_narrowed_to_the_ones_named() -> None:
    from pathlib import Path

    from helm_mgmt.bench.scenarios import Bench

    bench = Bench(Path("chart"), rate=400, min_requests=10_000, only=("backend-keepalive", "ingress-api-keepalive"))
    bench.session, bench.ca = {"Authorization": "Bearer t"}, "-----BEGIN CERTIFICATE-----"
    assert [s["name"] for s in bench.streams()] == ["backend-keepalive", "ingress-api-keepalive"]
    assert bench.seconds_needed() == 13
