"""Command line of helm-mgmt. Parsing only; the work is in the modules it calls."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from helm_mgmt import __version__
from helm_mgmt.toolchain import DEFAULT_HELM, HELM_RELEASES

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _helm(args: argparse.Namespace):
    from helm_mgmt.helm import Helm

    return Helm(args.helm)


def cmd_check(args: argparse.Namespace) -> int:
    from helm_mgmt.check import render_human, run_check
    from helm_mgmt.output import emit

    if args.install:
        from helm_mgmt.toolchain import ensure_all

        ensure_all()
    result = run_check()
    emit(result, args.output, render_human(result))
    return EXIT_FAILED if result["missing"] else EXIT_OK


def cmd_lint(args: argparse.Namespace) -> int:
    from helm_mgmt.lint import as_json, lint_all
    from helm_mgmt.output import emit, table

    keys = [args.helm] if args.helm_only else None
    results = lint_all(keys, args.charts or None)
    rows = [["ok" if r.ok else "FAIL", r.chart, r.values, r.helm] for r in results]
    human = table(rows, ["", "chart", "values", "helm"])
    failures = [f"\n--- {r.chart} ({r.values}, helm {r.helm})\n{r.output}" for r in results if not r.ok]
    summary = f"\n{sum(r.ok for r in results)} passed, {sum(not r.ok for r in results)} failed"
    emit(as_json(results), args.output, human + "".join(failures) + summary)
    return EXIT_FAILED if any(not r.ok for r in results) else EXIT_OK


def cmd_test(args: argparse.Namespace) -> int:
    from helm_mgmt.testrun import run_tests

    return run_tests(args.all, args.pytest_args, json_report=args.output == "json")


def cmd_template(args: argparse.Namespace) -> int:
    from helm_mgmt.paths import CHARTS_DIR
    from helm_mgmt.release import ReleaseSpec, preflight

    spec = ReleaseSpec(args.release, args.namespace, CHARTS_DIR / args.chart, args.env, args.values, args.set)
    preflight(_helm(args), spec)
    out = _helm(args).run(["template", spec.release, str(spec.chart), "-n", spec.namespace, *spec.value_args()])
    print(out.stdout, end="")
    return EXIT_OK


def cmd_deps(args: argparse.Namespace) -> int:
    from helm_mgmt.charts import stale_dependencies, sync_dependencies

    if args.check:
        stale = stale_dependencies(_helm(args))
        for s in stale:
            print(f"stale: {s}")
        print("dependencies up to date" if not stale else "run `helm-mgmt deps` and commit the result")
        return EXIT_FAILED if stale else EXIT_OK
    changed = sync_dependencies(_helm(args))
    for path in changed:
        print(f"updated {path}")
    print(f"{len(changed)} dependency file(s) updated")
    return EXIT_OK


def cmd_docs(args: argparse.Namespace) -> int:
    from helm_mgmt.docs import regenerate_all

    changed = regenerate_all()
    for path in changed:
        print(f"regenerated {path}")
    print(f"{len(changed)} README(s) changed")
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from helm_mgmt import schemagen

    if args.check:
        stale = schemagen.stale()
        for chart in stale:
            print(f"stale: {schemagen.target(chart).relative_to(schemagen.REPO_ROOT)}")
        print("schemas up to date" if not stale else "run `helm-mgmt schema` and commit the result")
        return EXIT_FAILED if stale else EXIT_OK
    changed = schemagen.write_all()
    for path in changed:
        print(f"generated {path}")
    print(f"{len(changed)} schema(s) changed")
    return EXIT_OK


def _package_usage(args: argparse.Namespace) -> str | None:
    """Options of `package` that only make sense with another option."""
    if (args.amend or args.note) and not args.record:
        return "--amend and --note go with --record"
    if (args.plain_http or args.registry_config or args.username or args.password_stdin) and not args.push:
        return "--plain-http, --registry-config, --username and --password-stdin go with --push"
    if bool(args.username) != args.password_stdin:
        return "--username and --password-stdin go together (the password is read from stdin)"
    return None


def cmd_package(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from helm_mgmt import oci, releases
    from helm_mgmt.charts import sync_dependencies
    from helm_mgmt.helm import RegistryError
    from helm_mgmt.output import emit
    from helm_mgmt.paths import DIST_DIR

    helm = _helm(args)
    # Every input is checked before a file is written or anything is pushed.
    try:
        if problem := _package_usage(args):
            raise oci.PushError(problem)
        target = oci.parse_target(args.push) if args.push else None
        if target:
            helm.registry_args(target.host, args.plain_http, args.registry_config)
        password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
        if args.password_stdin and not password:
            raise oci.PushError("--password-stdin: stdin gave no password")
    except (oci.PushError, RegistryError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    recorded: list[str] = []
    pushed: list[oci.Pushed] = []
    try:
        if args.record:
            recorded = releases.record(helm, notes=args.note, amend=args.amend)
        else:
            sync_dependencies(helm)
        packages = releases.package_all(helm, DIST_DIR)
        if target:
            with oci.registry_session(
                helm, target, args.plain_http, args.registry_config, args.username, password
            ) as registry_args:
                pushed = oci.push_all(helm, packages, target, registry_args)
    except (releases.ReleaseError, oci.PushError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_FAILED
    result = {"recorded": recorded, "packages": [str(p) for _, p in packages], "pushed": [asdict(p) for p in pushed]}
    human = [*recorded, *(f"packaged {path}" for _, path in packages), *(p.describe() for p in pushed)]
    emit(result, args.output, "\n".join(human))
    return EXIT_OK


def _spec(args: argparse.Namespace):
    from helm_mgmt.release import ReleaseSpec

    return ReleaseSpec(
        release=args.release,
        namespace=args.namespace,
        env=args.env,
        values_files=[Path(v) for v in args.values],
        set_values=args.set,
        timeout=args.timeout,
    )


def cmd_install(args: argparse.Namespace, upgrade: bool = False) -> int:
    from helm_mgmt.release import install

    print(install(_helm(args), _spec(args), upgrade=upgrade, wait=not args.no_wait, dry_run=args.dry_run))
    return EXIT_OK


def cmd_rollback(args: argparse.Namespace) -> int:
    from helm_mgmt.release import rollback

    print(rollback(_helm(args), args.release, args.namespace, args.revision, args.timeout, args.dry_run))
    return EXIT_OK


def cmd_uninstall(args: argparse.Namespace) -> int:
    from helm_mgmt.release import uninstall

    for line in uninstall(_helm(args), args.release, args.namespace, args.delete_pvcs, args.dry_run):
        print(line)
    return EXIT_OK


def cmd_history(args: argparse.Namespace) -> int:
    from helm_mgmt.output import emit, table
    from helm_mgmt.release import history

    revisions = history(_helm(args), args.release, args.namespace)
    rows = [
        [str(r["revision"]), r["updated"][:19], r["status"], r["chart"], r.get("app_version", ""), r["description"]]
        for r in revisions
    ]
    emit(revisions, args.output, table(rows, ["revision", "updated", "status", "chart", "app", "description"]))
    return EXIT_OK


def cmd_diff(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from helm_mgmt.diff import upgrade_diff
    from helm_mgmt.output import emit

    changes = upgrade_diff(_helm(args), _spec(args))
    human = "".join(c.diff for c in changes)
    summary = ", ".join(f"{c.change} {c.object}" for c in changes) or "no change"
    emit([asdict(c) for c in changes], args.output, f"{human}\n{len(changes)} object(s): {summary}")
    return EXIT_OK


def cmd_metrics_token(args: argparse.Namespace) -> int:
    from helm_mgmt import metricstoken
    from helm_mgmt.output import emit
    from helm_mgmt.rollout import parse_duration

    try:
        days = args.ttl[:-1] if args.ttl.endswith("d") else ""
        ttl = int(days) * 86400 if days.isdigit() else int(parse_duration(args.ttl))
    except ValueError as err:
        raise metricstoken.TokenError(f"--ttl {args.ttl} is not a lifetime like 90d, 720h or 45m") from err
    if ttl < 3600:
        raise metricstoken.TokenError(
            f"--ttl {args.ttl} is under an hour: Prometheus would lose access between rotations"
        )
    result = metricstoken.issue(
        args.namespace, args.release, ttl, args.secret, args.jwt_secret, args.user_id, args.dry_run
    )
    verb = "would store" if args.dry_run else "stored"
    human = f"{verb} an admin token for user {result['user_id']} in Secret {result['secret']} (key token)"
    emit(result, args.output, f"{human}, valid until {result['expires']}")
    return EXIT_OK


def cmd_backup(args: argparse.Namespace) -> int:
    from helm_mgmt import backup
    from helm_mgmt.output import emit, table
    from helm_mgmt.rollout import parse_duration

    if args.list:
        entries = backup.list_backups(args.namespace, args.release)
        rows = [[name, f"{size} KiB"] for name, size in entries]
        emit([{"name": n, "kib": s} for n, s in entries], args.output, table(rows, ["backup", "size"]))
        return EXIT_OK
    result = backup.backup_now(args.namespace, args.release, timeout=parse_duration(args.timeout))
    emit({"job": result.name, "succeeded": result.succeeded, "log": result.logs}, args.output, result.logs.rstrip())
    return EXIT_OK if result.succeeded else EXIT_FAILED


def cmd_restore(args: argparse.Namespace) -> int:
    from helm_mgmt import backup
    from helm_mgmt.output import emit
    from helm_mgmt.rollout import parse_duration

    backup.check_backup_name(args.backup)
    what = args.backup or "the newest backup"
    if not args.yes:
        if not sys.stdin.isatty():
            print(
                f"error: restore replaces the database of {args.namespace}/{args.release} with {what}; "
                "add --yes to confirm",
                file=sys.stderr,
            )
            return EXIT_USAGE
        answer = input(f"Replace the database of {args.namespace}/{args.release} with {what}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            return EXIT_FAILED
    result = backup.restore(args.namespace, args.release, args.backup, timeout=parse_duration(args.timeout))
    emit({"job": result.name, "succeeded": result.succeeded, "log": result.logs}, args.output, result.logs.rstrip())
    return EXIT_OK if result.succeeded else EXIT_FAILED


def cmd_status(args: argparse.Namespace) -> int:
    from helm_mgmt.output import emit, table
    from helm_mgmt.release import status

    st = status(_helm(args), args.release, args.namespace)
    rows = [[p["name"], p["phase"], "yes" if p["ready"] else "no", str(p["restarts"])] for p in st["pods"]]
    human = f"{st['release']} in {st['namespace']}: revision {st['revision']}, {st['status']}\n"
    emit(st, args.output, human + table(rows, ["pod", "phase", "ready", "restarts"]))
    return EXIT_OK if st["status"] == "deployed" and all(p["healthy"] for p in st["pods"]) else EXIT_FAILED


def _release_args(p: argparse.ArgumentParser, values: bool = True) -> None:
    p.add_argument("--release", "-r", default="clipper", help="release name (default: clipper)")
    p.add_argument("--namespace", "-n", default="clipper", help="namespace (default: clipper)")
    p.add_argument("--timeout", default="10m", help="how long to wait for readiness (default: 10m)")
    if values:
        p.add_argument("--env", choices=["production", "staging", "local"], help="use examples/values-<env>.yaml")
        p.add_argument("--values", "-f", action="append", default=[], help="extra values file (repeatable)")
        p.add_argument("--set", action="append", default=[], help="extra --set value (repeatable)")


class _CommonSubparsers:
    """Adds the shared --helm/--output options to every sub-command, so they go after it.

    A nested level (``cluster status``) gets them again with suppressed defaults, so that
    ``cluster --output json status`` and ``cluster status --output json`` mean the same: a
    sub-parser's default would otherwise overwrite what the level above parsed."""

    def __init__(
        self, sub: argparse._SubParsersAction, common: argparse.ArgumentParser, nested: argparse.ArgumentParser
    ) -> None:
        self.sub = sub
        self.common = common
        self.nested = nested

    def add_parser(self, name: str, **kwargs) -> argparse.ArgumentParser:
        return self.sub.add_parser(name, parents=[self.common], **kwargs)

    def nested_level(self, parser: argparse.ArgumentParser, dest: str) -> _CommonSubparsers:
        inner = parser.add_subparsers(dest=dest, required=True)
        return _CommonSubparsers(inner, self.nested, self.nested)


def _common_options(suppress_defaults: bool) -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--helm",
        choices=sorted(HELM_RELEASES),
        default=argparse.SUPPRESS if suppress_defaults else DEFAULT_HELM,
        help=f"Helm release to use (default {DEFAULT_HELM})",
    )
    common.add_argument(
        "--output",
        "-o",
        choices=["human", "json"],
        default=argparse.SUPPRESS if suppress_defaults else "human",
        help="output format",
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="helm-mgmt", description="Build, check and deploy the Clipper charts.")
    parser.add_argument("--version", action="version", version=f"helm-mgmt {__version__}")
    sub = _CommonSubparsers(
        parser.add_subparsers(dest="command", required=True), _common_options(False), _common_options(True)
    )

    p = sub.add_parser("check", help="list prerequisites with versions, and what the cluster offers")
    p.add_argument("--install", action="store_true", help="build the pinned tools that are missing first")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("lint", help="helm lint --strict every chart with default/staging/production values")
    p.add_argument("charts", nargs="*", help="only these charts")
    p.add_argument("--helm-only", action="store_true", help="only the Helm release given by --helm")
    p.set_defaults(func=cmd_lint)

    p = sub.add_parser("test", help="run the test suite (offline by default)")
    p.add_argument("--all", action="store_true", help="also the real-server and cluster tests")
    p.add_argument("pytest_args", nargs="*", help="passed to pytest (options too, e.g. -k backend -x)")
    p.set_defaults(func=cmd_test)

    p = sub.add_parser("template", help="render a chart after validating its values")
    p.add_argument("chart", nargs="?", default="clipper")
    _release_args(p)
    p.set_defaults(func=cmd_template)

    p = sub.add_parser("deps", help="rebuild the committed file:// dependency archives (leaf first)")
    p.add_argument("--check", action="store_true", help="only report archives that no longer match their source")
    p.set_defaults(func=cmd_deps)

    p = sub.add_parser("docs", help="regenerate chart READMEs from the values comments (helm-docs)")
    p.set_defaults(func=cmd_docs)

    p = sub.add_parser("schema", help="generate each chart's values.schema.json from helm/schema/")
    p.add_argument("--check", action="store_true", help="only report schemas that differ from their source")
    p.set_defaults(func=cmd_schema)

    p = sub.add_parser(
        "package",
        help="package every chart into dist/ (dependencies first); record a release; push to an OCI registry",
    )
    p.add_argument(
        "--record",
        action="store_true",
        help="first record a release of every chart whose content changed: refused unless its version was "
        "raised; writes its CHANGELOG.md entry and helm/released.json",
    )
    p.add_argument(
        "--amend",
        action="store_true",
        help="with --record: accept a changed chart at its recorded version (only for a version never pushed)",
    )
    p.add_argument(
        "--note",
        action="append",
        default=[],
        help="with --record: a changelog line for every chart recorded (repeatable), added to its [Unreleased] notes",
    )
    p.add_argument("--push", metavar="oci://HOST[:PORT]/PATH", help="then push the charts there, leaf charts first")
    p.add_argument("--plain-http", action="store_true", help="with --push: a registry without TLS (e.g. on loopback)")
    p.add_argument("--registry-config", type=Path, help="with --push: Helm's registry credentials file to use")
    p.add_argument(
        "--username",
        help="with --push: log in as this user first (credentials kept only in a --registry-config file)",
    )
    p.add_argument("--password-stdin", action="store_true", help="with --username: read the password from stdin")
    p.set_defaults(func=cmd_package)

    dry_run = {"action": "store_true", "help": "server-side dry run: the API server checks it all, nothing changes"}
    for name, upgrade in (("install", False), ("upgrade", True)):
        p = sub.add_parser(
            name,
            help=f"{name} the umbrella chart: values checked before the cluster is touched, rollout watched, "
            "rolled back with the reason when it fails within --timeout",
        )
        _release_args(p)
        p.add_argument("--no-wait", action="store_true", help="do not wait for readiness (and no rollback on failure)")
        p.add_argument("--dry-run", **dry_run)
        p.set_defaults(func=lambda a, u=upgrade: cmd_install(a, upgrade=u))

    p = sub.add_parser("diff", help="what an upgrade with these values would change, object by object")
    _release_args(p)
    p.set_defaults(func=cmd_diff)

    p = sub.add_parser("rollback", help="roll the release back (to the previous revision by default)")
    _release_args(p, values=False)
    p.add_argument("revision", nargs="?", type=int)
    p.add_argument("--dry-run", **dry_run)
    p.set_defaults(func=cmd_rollback)

    p = sub.add_parser("history", help="the release's revisions with their status and description")
    _release_args(p, values=False)
    p.set_defaults(func=cmd_history)

    p = sub.add_parser("uninstall", help="remove the release (PVCs are kept unless --delete-pvcs)")
    _release_args(p, values=False)
    p.add_argument("--delete-pvcs", action="store_true", help="also delete the release's PersistentVolumeClaims")
    p.add_argument("--dry-run", **dry_run)
    p.set_defaults(func=cmd_uninstall)

    p = sub.add_parser(
        "metrics-token",
        help="sign a long-lived admin token for Prometheus and store it where the ServiceMonitor reads it",
    )
    _release_args(p, values=False)
    p.add_argument("--ttl", default="90d", help="lifetime of the token, e.g. 90d or 720h (default: 90d)")
    p.add_argument("--secret", help="Secret to write (default: <release>-backend-metrics-token)")
    p.add_argument("--jwt-secret", help="Secret holding JWT_PRIVATE_KEY (default: <release>-backend)")
    p.add_argument(
        "--user-id", help="an existing admin user's id (default: create the service user in the chart's PostgreSQL)"
    )
    p.add_argument("--dry-run", action="store_true", help="sign the token but do not store it")
    p.set_defaults(func=cmd_metrics_token)

    p = sub.add_parser("backup", help="back the database up now (a Job from the backup CronJob), or --list the dumps")
    _release_args(p, values=False)
    p.add_argument("--list", action="store_true", help="list the dumps on the backup volume, newest first")
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser(
        "restore", help="restore a dump from the backup volume (the newest by default); the backend stops meanwhile"
    )
    _release_args(p, values=False)
    p.add_argument("backup", nargs="?", help="dump file name as listed by `backup --list` (default: the newest)")
    p.add_argument("--yes", action="store_true", help="confirm that the database is replaced")
    p.set_defaults(func=cmd_restore)

    p = sub.add_parser("status", help="release revision and state, pod readiness")
    _release_args(p, values=False)
    p.set_defaults(func=cmd_status)

    _add_local_commands(sub)
    return parser


def _add_local_commands(sub: _CommonSubparsers) -> None:
    from helm_mgmt.localcluster.cli import add_cluster_parser

    add_cluster_parser(sub)
    from helm_mgmt.stack import add_stack_parsers

    add_stack_parsers(sub)
    from helm_mgmt.bench.cli import add_bench_parser

    add_bench_parser(sub)


def main(argv: list[str] | None = None) -> int:
    from helm_mgmt.backup import BackupError
    from helm_mgmt.helm import HelmError
    from helm_mgmt.metricstoken import TokenError
    from helm_mgmt.release import PreflightError, ReleaseFailed

    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        if args.command != "test":
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.pytest_args = [*extra, *args.pytest_args]
    try:
        return args.func(args)
    except (PreflightError, HelmError, ReleaseFailed, TokenError, BackupError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
