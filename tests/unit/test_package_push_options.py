"""`helm-mgmt package --push/--record` without a registry: the OCI reference is checked, the Helm
3.12/3.13+ flag difference is mapped, and a bad invocation stops before anything is built, written
or pushed."""

from __future__ import annotations

import io

import pytest

from helm_mgmt import charts, cli, releases
from helm_mgmt.helm import Helm, RegistryError, is_loopback
from helm_mgmt.oci import PushError, Target, parse_target

PARSER = cli.build_parser()


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("oci://127.0.0.1:5000/clipper", Target("127.0.0.1:5000", "clipper")),
        ("oci://registry.example.com/team/charts/", Target("registry.example.com", "team/charts")),
        ("oci://localhost:5000", Target("localhost:5000", "")),
        ("oci://[::1]:5000/a_b/c-d.e", Target("[::1]:5000", "a_b/c-d.e")),
    ],
)
def test_good_push_targets(url, target):
    assert parse_target(url) == target
    assert target.reference("redis") == f"{target.url}/redis"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("https://127.0.0.1:5000/clipper", "not an OCI reference"),
        ("127.0.0.1:5000/clipper", "not an OCI reference"),
        ("oci://", "is not HOST or HOST:PORT"),
        ("oci://127.0.0.1:99999/clipper", "is not HOST or HOST:PORT"),
        ("oci://bad_host/clipper", "is not HOST or HOST:PORT"),
        ("oci://user:secret@127.0.0.1:5000/clipper", "credentials do not belong in the URL"),
        ("oci://127.0.0.1:5000/Clipper", "'Clipper' is not a valid repository name"),
        ("oci://127.0.0.1:5000/clipper/redis:0.1.0", "no tag or digest here"),
        ("oci://127.0.0.1:5000/clipper?x=1", "no query or fragment"),
    ],
)
def test_bad_push_targets_are_refused_with_the_reason(url, says):
    with pytest.raises(PushError, match=says.replace("?", r"\?")):
        parse_target(url)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1:5000", True), ("localhost", True), ("[::1]:5000", True), ("10.0.0.1:5000", False), ("ghcr.io", False)],
)
def test_loopback_hosts(host, loopback):
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(("key", "flag"), [("helm4", ["--plain-http"]), ("helm3", ["--plain-http"])])
def test_plain_http_is_a_flag_from_helm_3_13(key, flag, tmp_path):
    helm = Helm(key)
    assert helm.registry_args("registry.example.com", plain_http=True) == flag
    config = tmp_path / "config.json"
    assert helm.registry_args("h:1", True, config) == [*flag, "--registry-config", str(config)]
    assert helm.registry_args("h:1") == []


def test_helm_3_12_talks_plain_http_to_loopback_only():
    helm = Helm("helm3-oldest")
    assert helm.registry_args("127.0.0.1:5000", plain_http=True) == []
    with pytest.raises(RegistryError, match=r"Helm v3\.12\.3 has no --plain-http.*--helm helm3 or --helm helm4"):
        helm.registry_args("registry.example.com:5000", plain_http=True)


def test_the_package_options_parse():
    args = PARSER.parse_args(["package", "--record", "--amend", "--note", "a", "--note", "b"])
    assert (args.record, args.amend, args.note, args.push) == (True, True, ["a", "b"], None)
    argv = ["package", "--push", "oci://h:1/p", "--plain-http", "--registry-config", "c.json"]
    args = PARSER.parse_args([*argv, "--username", "u", "--password-stdin"])
    assert (args.push, args.plain_http, str(args.registry_config), args.username) == (
        "oci://h:1/p",
        True,
        "c.json",
        "u",
    )


@pytest.fixture
def nothing_may_happen(monkeypatch):
    """Any dependency rebuild, record or package would fail the test: usage errors come first."""

    def forbidden(*_args, **_kwargs):
        raise AssertionError("package went ahead despite bad input")

    monkeypatch.setattr(charts, "sync_dependencies", forbidden)
    monkeypatch.setattr(releases, "record", forbidden)
    monkeypatch.setattr(releases, "package_all", forbidden)


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--amend"], "--amend and --note go with --record"),
        (["--note", "x"], "--amend and --note go with --record"),
        (["--plain-http"], "go with --push"),
        (["--push", "oci://h:1/p", "--username", "u"], "--username and --password-stdin go together"),
        (["--push", "https://h:1/p"], "not an OCI reference"),
        (["--push", "oci://registry.example.com/p", "--plain-http", "--helm", "helm3-oldest"], "has no --plain-http"),
        (["--push", "oci://h:1/p", "--username", "u", "--password-stdin"], "stdin gave no password"),
    ],
)
def test_bad_package_invocations_stop_before_anything(argv, says, nothing_may_happen, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert cli.main(["package", *argv]) == cli.EXIT_USAGE
    assert says in capsys.readouterr().err
