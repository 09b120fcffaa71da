"""`helm-mgmt bench` end to end on the local cluster, short: its own release of the real Clipper,
the load generator's four streams through the Services and four through the ingress (HTTPS by the
site's name, the API as a signed-in user), two scenarios, and the JSON and PNG it
writes. The figures themselves are the benchmark's to report (docs/benchmarks/), not this test's."""

from __future__ import annotations

import json

from helm_mgmt.cli import main

NAMESPACE = "clipper-bench-test"
RELEASE = "benchtest"


def test_bench_runs_its_scenarios_and_writes_its_results(cluster, helm, kubectl, tmp_path) -> None:
    out = tmp_path / "bench"
    argv = ["bench", "--scenarios", "upgrade,evict", "--rate", "10", "--min-requests", "800"]
    assert main([*argv, "--release", RELEASE, "--namespace", NAMESPACE, "--out", str(out)]) == 0
    results = json.loads((out / "bench.json").read_text())
    assert results["install_seconds"] > 0
    assert results["app_source"]["origin"] and len(results["app_source"]["key"]) == 16
    assert results["through_ingress"] is True
    assert [s["name"] for s in results["streams"]] == [
        "backend-keepalive",
        "backend-new-conn",
        "frontend-keepalive",
        "frontend-new-conn",
        "ingress-api-keepalive",
        "ingress-api-new-conn",
        "ingress-frontend-keepalive",
        "ingress-frontend-new-conn",
    ]
    assert all(s["spread_clients"] == s["name"].startswith("backend") for s in results["streams"])
    assert {s["url"] for s in results["streams"] if s["name"].startswith("ingress")} == {
        f"https://{RELEASE}.clipper.local/api/v1/auth/me",
        f"https://{RELEASE}.clipper.local/",
    }
    # The session token and the CA stay out of the results.
    assert not any("headers" in s or "ca" in s for s in results["streams"])
    for scenario in results["scenarios"]:
        assert scenario["totals"]["requests"] >= 800, scenario["totals"]
        # the real API route and the site answered: most requests are successes, not refusals
        assert scenario["totals"]["ok"] >= 0.9 * scenario["totals"]["requests"], scenario["totals"]
        for name, stream in scenario["streams"].items():
            assert stream["ok"] >= 0.9 * (stream["ok"] + stream["fail"]), (name, stream)
        assert 0 < scenario["marks"]["start"] < scenario["marks"]["end"] < scenario["load_seconds"]
        assert scenario["peak_memory_mib"] > 100
    assert (out / "bench.png").read_bytes().startswith(b"\x89PNG")
    # the benchmark removes what it installed
    assert helm.run(["status", RELEASE, "-n", NAMESPACE], check=False).returncode != 0
    kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)
