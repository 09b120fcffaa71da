#!/usr/bin/env python3
"""Time the project's main phases and write the figures to a JSON file.

Phases: toolchain (pinned Helm builds), offline test suite, cluster up, `helm-mgmt up` to all
Ready, cluster tests. `--cold` points CLIPPER_KIT_CACHE at an empty directory first, so every
build starts from nothing (as on a fresh machine); without it the existing cache is used (warm).
Nothing here asserts a duration: the numbers are for people to read.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TOOL = [str(REPO / "helm" / "helm-mgmt.sh")]
PHASES = {
    "toolchain": [*TOOL, "check", "--install"],
    "offline-tests": [*TOOL, "test", "-q"],
    "cluster-up": [*TOOL, "cluster", "up"],
    "stack-up": [*TOOL, "up"],
    "cluster-tests": [sys.executable, "-m", "pytest", "-q", str(REPO / "tests" / "cluster")],
}


def run_phase(name: str, cmd: list[str], env: dict[str, str]) -> dict:
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
    print(f"{name}: {elapsed:.1f}s (exit {proc.returncode})", file=sys.stderr, flush=True)
    return {"seconds": round(elapsed, 1), "exit": proc.returncode, "tail": tail}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("phases", nargs="*", default=list(PHASES))
    parser.add_argument("--cold", action="store_true", help="start from an empty build cache")
    parser.add_argument("--out", default=str(REPO / "dist" / "benchmark.json"))
    args = parser.parse_args()
    unknown = [p for p in args.phases if p not in PHASES]
    if unknown:
        parser.error(f"unknown phase(s) {unknown}: choose from {', '.join(PHASES)}")
    env = dict(os.environ)
    if args.cold:
        env["CLIPPER_KIT_CACHE"] = tempfile.mkdtemp(prefix="clipper-kit-cold-")
    results = {
        "mode": "cold" if args.cold else "warm",
        "cache": env.get("CLIPPER_KIT_CACHE", str(Path.home() / ".cache" / "clipper-kit")),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "phases": {},
    }
    for name in args.phases:
        results["phases"][name] = run_phase(name, PHASES[name], env)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}", file=sys.stderr)
    return 0 if all(p["exit"] == 0 for p in results["phases"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
