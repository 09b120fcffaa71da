"""The commands shown in the READMEs and INSTALLATION.md are real: every helm-mgmt command line
parses with the tool's own parser, and every `helm install|upgrade|template` of a chart in this
repository renders with the values it names (run as `helm template`)."""

from __future__ import annotations

import shlex

import pytest
from docblocks import shell_commands

from helm_mgmt.cli import build_parser
from helm_mgmt.helm import Helm
from helm_mgmt.paths import REPO_ROOT

DOCS = [REPO_ROOT / "README.md", REPO_ROOT / "helm" / "README.md", REPO_ROOT / "helm" / "INSTALLATION.md"]
DOCS += sorted((REPO_ROOT / "helm" / "charts").glob("*/README.md"))
DOCS += [REPO_ROOT / "docs" / "benchmarks" / "README.md"]
TOOL_PREFIXES = ("./helm/helm-mgmt.sh", "helm/helm-mgmt.sh", "helm-mgmt")
# Flags of install/upgrade that only matter against a cluster; `helm template` does not take them.
CLUSTER_ONLY_FLAGS = {
    "--wait",
    "--atomic",
    "--rollback-on-failure",
    "--create-namespace",
    "--reuse-values",
    "--install",
}
CLUSTER_ONLY_WITH_VALUE = {"--timeout"}


def commands(prefixes: tuple[str, ...]) -> list[pytest.param]:
    found = []
    for doc in DOCS:
        if doc.exists():
            for cmd in shell_commands(doc):
                if cmd.startswith(prefixes):
                    found.append(pytest.param(cmd, id=f"{doc.relative_to(REPO_ROOT)}: {cmd[:60]}"))
    return found


def test_documents_exist():
    missing = [str(d.relative_to(REPO_ROOT)) for d in DOCS[:3] if not d.exists()]
    assert not missing, missing


@pytest.mark.parametrize("cmd", commands(TOOL_PREFIXES))
def test_documented_helm_mgmt_command_parses(cmd):
    argv = shlex.split(cmd)[1:]
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:
        pytest.fail(f"`{cmd}` does not parse (exit {exc.code})")
    assert callable(args.func)


def as_template(argv: list[str]) -> list[str]:
    out: list[str] = ["template"]
    skip_next = False
    for arg in argv[2:]:
        if skip_next:
            skip_next = False
        elif arg in CLUSTER_ONLY_FLAGS:
            continue
        elif arg in CLUSTER_ONLY_WITH_VALUE:
            skip_next = True
        elif arg.split("=", 1)[0] in CLUSTER_ONLY_WITH_VALUE:
            continue
        else:
            local = REPO_ROOT / arg
            out.append(str(local) if not arg.startswith("-") and local.exists() else arg)
    return out


@pytest.mark.helm
@pytest.mark.parametrize("cmd", commands(("helm install", "helm upgrade", "helm template")))
def test_documented_helm_command_renders(cmd):
    argv = shlex.split(cmd)
    positional = [a for a in argv[2:] if not a.startswith("-")]
    chart = next((a for a in positional if (REPO_ROOT / a / "Chart.yaml").exists()), None)
    assert chart, f"`{cmd}` names no chart directory of this repository (use paths from the repo root)"
    for i, arg in enumerate(argv):
        if arg in ("-f", "--values"):
            assert (REPO_ROOT / argv[i + 1]).is_file(), f"`{cmd}`: values file {argv[i + 1]} does not exist"
    proc = Helm("helm4").run(as_template(argv), check=False)
    assert proc.returncode == 0, f"`{cmd}` fails to render:\n{proc.stderr}"
