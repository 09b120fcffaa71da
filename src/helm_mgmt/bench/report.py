"""The benchmark's results: one JSON file with every figure, and a PNG with, per scenario, the
successful requests per second, the failed ones and the p99 latency over time, the operation's
start and end marked."""

from __future__ import annotations

import json
from pathlib import Path


def totals(scenario: dict) -> dict:
    streams = scenario["streams"].values()
    ok = sum(s["ok"] for s in streams)
    fail = sum(s["fail"] for s in streams)
    worst = {f"worst_stream_{p}_ms": max((s.get(f"{p}_ms", 0) for s in streams), default=0) for p in ("p50", "p99")}
    return {"requests": ok + fail, "ok": ok, "fail": fail, **worst}


def series(scenario: dict) -> dict[str, list[float]]:
    """Per second over all streams: successful requests, failed requests, worst stream p99 (ms)."""
    length = max((len(s["per_second"]) for s in scenario["streams"].values()), default=0)
    ok, fail, p99 = [0.0] * length, [0.0] * length, [0.0] * length
    for stream in scenario["streams"].values():
        for i, sec in enumerate(stream["per_second"]):
            ok[i] += sec["ok"]
            fail[i] += sec["fail"]
            p99[i] = max(p99[i], sec["p99_ms"])
    return {"ok": ok, "fail": fail, "p99_ms": p99}


def summary_lines(results: dict) -> list[str]:
    lines = [f"install to all Ready: {results['install_seconds']:.0f}s"]
    for sc in results["scenarios"]:
        t = totals(sc)
        by_stream = ", ".join(f"{name} {s['fail']}" for name, s in sc["streams"].items())
        lines.append(
            f"{sc['name']}: {t['fail']} failed of {t['requests']} ({by_stream}); p50 {t['worst_stream_p50_ms']:.0f} ms,"
            f" p99 {t['worst_stream_p99_ms']:.0f} ms (worst stream); operation {sc['operation_seconds']}s,"
            f" peak memory {sc['peak_memory_mib']:.0f} MiB"
        )
    return lines


def write_json(results: dict, path: Path) -> Path:
    for sc in results["scenarios"]:
        sc["totals"] = totals(sc)
    path.write_text(json.dumps(results, indent=2) + "\n")
    return path


def write_png(results: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scenarios = results["scenarios"]
    fig, axes = plt.subplots(len(scenarios), 1, figsize=(11, 2.6 * len(scenarios)), squeeze=False)
    for ax, sc in zip(axes[:, 0], scenarios, strict=True):
        data = series(sc)
        xs = list(range(len(data["ok"])))
        ax.plot(xs, data["ok"], color="tab:green", label="ok req/s")
        ax.bar(xs, data["fail"], color="tab:red", label="failed req/s")
        ax.set_ylabel("req/s")
        latency = ax.twinx()
        latency.plot(xs, data["p99_ms"], color="tab:blue", linewidth=0.8, label="p99 ms")
        latency.set_ylabel("p99 ms")
        for mark, style in (("start", "--"), ("end", ":")):
            ax.axvline(sc["marks"][mark], color="black", linestyle=style, linewidth=1)
        t = totals(sc)
        ax.set_title(f"{sc['name']}: {t['fail']} failed of {t['requests']} (operation {sc['operation_seconds']}s)")
        ax.legend(loc="lower left", fontsize=7)
    axes[-1, 0].set_xlabel("seconds since the load started (dashed: operation start, dotted: end)")
    fig.suptitle(f"{results['chart']}: {results['rate_per_stream']} req/s x {len(results['streams'])} streams")
    # Leave half an inch at the top, or the figure's title lands on the first plot's.
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.5 / fig.get_figheight()))
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
