"""The helm-mgmt command line: every command takes --helm/--output the same way, wherever they go."""

from __future__ import annotations

import argparse

import pytest

from helm_mgmt.cli import build_parser

PARSER = build_parser()


def commands() -> list[str]:
    sub = next(a for a in PARSER._actions if isinstance(a, argparse._SubParsersAction))
    return sorted(sub.choices)


def test_the_parser_has_the_documented_commands():
    documented = {"check", "lint", "test", "template", "deps", "docs", "schema", "package"}
    documented |= {"install", "upgrade", "diff", "rollback", "history", "uninstall", "status", "cluster", "up", "down"}
    documented |= {"metrics-token", "backup", "restore", "bench"}
    assert set(commands()) == documented


@pytest.mark.parametrize("command", [c for c in commands() if c != "cluster"])
def test_every_command_takes_output_and_helm(command):
    args = PARSER.parse_args([command, "--output", "json", "--helm", "helm3"])
    assert (args.output, args.helm) == ("json", "helm3")
    assert PARSER.parse_args([command]).output == "human"


@pytest.mark.parametrize(
    "argv",
    [
        ["cluster", "--output", "json", "status"],
        ["cluster", "status", "--output", "json"],
        ["cluster", "status", "-o", "json"],
    ],
)
def test_cluster_status_output_is_the_same_option_at_either_level(argv):
    assert PARSER.parse_args(argv).output == "json"


def test_cluster_status_defaults_to_human_output():
    args = PARSER.parse_args(["cluster", "status"])
    assert (args.output, args.cluster_command) == ("human", "status")


def test_an_unknown_output_format_is_refused():
    with pytest.raises(SystemExit):
        PARSER.parse_args(["status", "--output", "yaml"])


@pytest.mark.parametrize("argv", [["install"], ["upgrade"], ["rollback", "3"], ["uninstall", "--delete-pvcs"]])
def test_every_cluster_changing_command_has_a_dry_run(argv):
    assert PARSER.parse_args([*argv, "--dry-run"]).dry_run is True
    assert PARSER.parse_args(argv).dry_run is False


def test_restore_refuses_a_path_and_an_unconfirmed_run_before_touching_a_cluster(monkeypatch, capsys):
    from helm_mgmt import backup, cli

    def no_cluster(*args, **kwargs):
        raise AssertionError("the cluster was touched")

    monkeypatch.setattr(backup, "kubectl", no_cluster)
    monkeypatch.setattr(backup, "kubectl_json", no_cluster)
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert cli.main(["restore", "../../etc/passwd", "--yes"]) == cli.EXIT_FAILED
    assert "backup '../../etc/passwd' is not a dump file name" in capsys.readouterr().err
    assert cli.main(["restore", "clipper_db-20261203T031500Z.dump"]) == cli.EXIT_USAGE
    assert "add --yes to confirm" in capsys.readouterr().err
    args = PARSER.parse_args(["restore", "clipper_db-20261203T031500Z.dump", "--yes", "-n", "shop"])
    assert (args.backup, args.yes, args.namespace) == ("clipper_db-20261203T031500Z.dump", True, "shop")
    assert PARSER.parse_args(["backup", "--list"]).list
