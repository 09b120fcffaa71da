"""`helm-mgmt bench`: run the zero-downtime scenarios against a chart on the local cluster and write
bench.json and bench.png."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from helm_mgmt.paths import DIST_DIR
from helm_mgmt.release import UMBRELLA, PreflightError

MAX_RATE = 500


def listed(text: str | None) -> list[str]:
    """The names in a comma-separated option, blanks dropped."""
    return [n.strip() for n in (text or "").split(",") if n.strip()]


def check_args(args: argparse.Namespace) -> list[str]:
    """Scenario names and figures, refused before anything touches the cluster."""
    from helm_mgmt.bench.scenarios import INGRESS_STREAMS, SCENARIOS, SERVICE_STREAMS

    names = listed(args.scenarios)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown or not names:
        raise PreflightError(
            f"--scenarios {args.scenarios!r}: unknown {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(SCENARIOS)}"
        )
    streams = listed(args.streams)
    unknown = [n for n in streams if n not in SERVICE_STREAMS + INGRESS_STREAMS]
    if unknown or (args.streams is not None and not streams):
        raise PreflightError(
            f"--streams {args.streams!r}: unknown {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(SERVICE_STREAMS + INGRESS_STREAMS)}"
        )
    if not 1 <= args.rate <= MAX_RATE:
        raise PreflightError(f"--rate {args.rate}: give 1 to {MAX_RATE} requests per second per stream")
    if args.min_requests < 1:
        raise PreflightError(f"--min-requests {args.min_requests}: give a positive number of requests per scenario")
    if not (Path(args.chart) / "Chart.yaml").is_file():
        raise PreflightError(f"--chart {args.chart}: no Chart.yaml there; give the path of a chart directory")
    return names


def cmd_bench(args: argparse.Namespace) -> int:
    from helm_mgmt.bench import loadgen, report
    from helm_mgmt.bench.scenarios import CONTROL_VALUES, LOADGEN_POD, Bench
    from helm_mgmt.helm import Helm
    from helm_mgmt.localcluster import clipperapp
    from helm_mgmt.output import progress
    from helm_mgmt.release import uninstall
    from helm_mgmt.stack import prepare_cluster, restricted_namespace

    names = check_args(args)
    helm = Helm(args.helm)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    prepare_cluster()
    restricted_namespace(args.namespace)
    if helm.run(["status", args.release, "-n", args.namespace], check=False).returncode == 0:
        raise PreflightError(
            f"release {args.release} already exists in {args.namespace}: the benchmark installs its own; "
            f"uninstall it (helm-mgmt uninstall -r {args.release} -n {args.namespace} --delete-pvcs) or pass --release"
        )
    bench = Bench(Path(args.chart).resolve(), args.namespace, args.release, args.rate, args.min_requests, helm=helm)
    bench.only = tuple(listed(args.streams))
    operations = {
        "upgrade": lambda: bench.upgrade(*bench.new_images()),
        "rollback": bench.rollback,
        "rollout-undo": bench.rollout_undo,
        "restart": bench.restart,
        "evict": bench.evict,
        "hpa": bench.hpa,
        "upgrade-control": lambda: bench.upgrade(*CONTROL_VALUES, *bench.new_images()),
    }
    results: dict = {
        "chart": str(args.chart),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "rate_per_stream": args.rate,
        # Which Clipper the local images were built from (CLIPPER_APP_SOURCE may name another).
        "app_source": {"origin": clipperapp.source().origin, "key": clipperapp.source_key()},
        "streams": [],
        "scenarios": [],
    }
    json_path, png_path = out / "bench.json", out / "bench.png"
    try:
        bench.start_generator()
        bench.values = bench.base_values()
        results["values"] = bench.values
        results["values_files"] = [loadgen.ADMIT_VALUES.name]
        progress(f"installing {args.release} ({args.chart}) into {args.namespace}")
        results["install_seconds"] = round(bench.install(), 1)
        results["through_ingress"] = bench.through_ingress()
        missing = [n for n in bench.only if n not in {s["name"] for s in bench.streams()}]
        if missing:
            raise PreflightError(
                f"--streams: {', '.join(missing)} need an Ingress for {bench.site()}, which this release does not make"
            )
        results["streams"] = bench.described_streams()
        for name in names:
            results["scenarios"].append(bench.run(name, operations[name]))
            report.write_json(results, json_path)
    finally:
        if not args.keep:
            uninstall(helm, args.release, args.namespace, delete_pvcs=True)
            from helm_mgmt.kube import kubectl

            kubectl(["delete", "pod", LOADGEN_POD, "-n", args.namespace, "--ignore-not-found"], check=False)
    report.write_json(results, json_path)
    report.write_png(results, png_path)
    for line in report.summary_lines(results):
        print(line)
    print(f"wrote {json_path} and {png_path}")
    return 0


def add_bench_parser(sub) -> None:
    from helm_mgmt.bench.scenarios import SCENARIOS

    p = sub.add_parser("bench", help="zero-downtime benchmark of a chart on the local cluster (JSON and PNG)")
    p.add_argument("--chart", default=str(UMBRELLA), help="the chart to measure (default: the umbrella)")
    p.add_argument("--release", "-r", default="bench")
    p.add_argument("--namespace", "-n", default="clipper-bench")
    p.add_argument("--scenarios", default=",".join(SCENARIOS), help=f"comma-separated, from {', '.join(SCENARIOS)}")
    p.add_argument(
        "--rate",
        type=int,
        default=30,
        help="requests per second of each stream (4 through the Services, 4 through the ingress)",
    )
    p.add_argument(
        "--streams",
        default=None,
        help="comma-separated stream names to run (default: all), e.g. backend-keepalive",
    )
    p.add_argument("--min-requests", type=int, default=10_000, help="requests per scenario, at least")
    p.add_argument("--out", default=str(DIST_DIR / "bench"), help="folder for bench.json and bench.png")
    p.add_argument("--keep", action="store_true", help="leave the release installed afterwards")
    p.set_defaults(func=cmd_bench)
