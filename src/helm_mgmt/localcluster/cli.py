"""``helm-mgmt cluster up | down | status``: argument parsing only; the work is in plain functions."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from helm_mgmt.gobuild import BuildError
from helm_mgmt.localcluster import cluster, report, teardown
from helm_mgmt.localcluster.process import ComponentError


def _up(args: argparse.Namespace) -> int:
    try:
        cluster.up()
    except (ComponentError, BuildError) as err:
        print(f"cluster up failed: {err}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as err:
        print(
            f"cluster up failed: {' '.join(map(str, err.cmd))} exited {err.returncode}: {err.stderr}", file=sys.stderr
        )
        return 1
    return 0


def down_command(args: argparse.Namespace) -> int:
    """Tear the cluster down; exit 1 listing whatever could not be removed."""
    problems = teardown.down()
    for problem in problems:
        print(f"left behind: {problem}", file=sys.stderr)
    return 1 if problems else 0


def _status(args: argparse.Namespace) -> int:
    result = report.status()
    print(json.dumps(result, indent=2) if args.output == "json" else report.render(result))
    return 0 if result["healthy"] else 3


def add_cluster_parser(subparsers) -> None:
    """Register ``cluster`` with its ``up``, ``down`` and ``status`` commands (``subparsers``: the
    CLI's sub-command adder, which gives every level the shared --helm/--output options)."""
    parser = subparsers.add_parser("cluster", help="the local single-node Kubernetes cluster")
    commands = subparsers.nested_level(parser, "cluster_command")
    up = commands.add_parser("up", help="build what is missing, start the cluster, wait for the node")
    up.set_defaults(func=_up)
    down = commands.add_parser("down", help="stop every process and remove mounts, interfaces and state")
    down.set_defaults(func=down_command)
    status = commands.add_parser("status", help="each component's process and version, node readiness")
    status.set_defaults(func=_status)
