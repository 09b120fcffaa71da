"""helm/INSTALLATION.md runs: every shell command of its fenced ```bash blocks is executed, in the
guide's order, against the local cluster, with a small explicit mapping to this cluster (MAPPING:
test namespaces, the local values with the backup CronJob on, a backend tag that exists in the
node's containerd, a revision and a dump name of this run). Each command must exit 0, and after the
key steps the test checks what the guide says happened: pods Ready, the image tag changed by the
upgrade and put back by the rollback, rows written through the API come back from a dump, the
uninstall keeps the claims and Secrets it says it keeps.

A command that cannot run here is listed in NOT_RUN with the reason; a command of the guide that is
neither run nor listed, a listed one the guide no longer has, or a check whose command is gone fails
the test, so the lists cannot rot silently."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from docblocks import shell_commands
from stackenv import LOCAL_VALUES, RELEASE, psql
from test_clipper_app import fetch, login

from helm_mgmt import rollout
from helm_mgmt.gobuild import bin_dir
from helm_mgmt.localcluster import components, containerd
from helm_mgmt.paths import REPO_ROOT
from helm_mgmt.stack import prepare_cluster

GUIDE = REPO_ROOT / "helm" / "INSTALLATION.md"
NAMESPACE = "clipper-guide"
STAGING_NAMESPACE = "clipper-guide-staging"
# The guide's backup section needs postgres.backup.enabled, which its production values leave to
# the operator. The local StorageClass binds on first use (WaitForFirstConsumer), so this also proves
# that `helm install --wait` does not wait forever for the chart's backup claim.
BACKUP_SETS = "--set postgres.backup.enabled=true"
BACKUP_CLAIM = f"{RELEASE}-postgres-backup"
LOCAL_VALUES_ARG = str(LOCAL_VALUES.relative_to(REPO_ROOT))
BACKEND_IMAGE = "clipper.local/backend"
UPGRADE_TAG = "guide-upgrade"  # clipper.local/backend:local under a second name (see retag_backend)
DUMP_PLACEHOLDER = "clipper_db-20261203T030000Z.dump"

# The guide's text -> this cluster's, applied in this order to every command. Each entry must be
# used by some command of the guide (test_the_mapping_and_the_lists_match_the_guide).
MAPPING = [
    ("-f helm/charts/clipper/examples/values-production.yaml", f"-f {LOCAL_VALUES_ARG} {BACKUP_SETS}"),
    ("-f helm/charts/clipper/examples/values-staging.yaml", f"-f {LOCAL_VALUES_ARG}"),
    ("--env production", f"--env local {BACKUP_SETS}"),
    ("clipper-production", NAMESPACE),
    ("clipper-staging", STAGING_NAMESPACE),
    ("backend.image.tag=1.4.3", f"backend.image.tag={UPGRADE_TAG}"),
    # Revision 3 of the guide's story; here revision 1 (the install, image tag `local`), so that the
    # rollback visibly puts the upgraded tag back.
    ("helm rollback clipper 3 ", "helm rollback clipper 1 "),
    ("helm-mgmt.sh rollback 3 ", "helm-mgmt.sh rollback 1 "),
]
# `helm` and `kubectl` are the test's own (Helm 4, the cluster's kubectl) through PATH, with the
# cluster's kubeconfig in KUBECONFIG; the named dump is the one `backup --list` printed.

MONITORING_INSTALL = (
    "helm install monitoring helm/charts/monitoring -n clipper-monitoring --create-namespace "
    "-f helm/charts/monitoring/examples/values-production.yaml"
)
MGMT_INSTALL = "./helm/helm-mgmt.sh install -n clipper-production --env production"
# (command, occurrence) -> why it is not run here.
NOT_RUN = {
    (MONITORING_INSTALL, 0): (
        "the monitoring chart's production values need what the local cluster lacks (cert-manager, an "
        "ingress controller, production-sized Prometheus storage; issue 8); test_monitoring.py installs the "
        "chart with its local values, and the local Clipper values turn no ServiceMonitor on"
    ),
    (MGMT_INSTALL, 0): (
        "the alternative to the `helm install` before it (the release exists then); the same command runs "
        "later, in 'Upgrading from the superuser layout'"
    ),
}

INSTALL = (
    "helm install clipper helm/charts/clipper -n clipper-production --create-namespace "
    "-f helm/charts/clipper/examples/values-production.yaml --wait --timeout 15m --rollback-on-failure"
)
STAGING_SECRET = (
    "kubectl create secret generic clipper-backend-secrets -n clipper-staging "
    ' --from-literal=MFA_ENCRYPTION_KEY="$(openssl rand -base64 32)" '
    " --from-file=JWT_PRIVATE_KEY=<(openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048)"
)
STAGING_INSTALL = (
    "helm install clipper helm/charts/clipper -n clipper-staging --create-namespace "
    "-f helm/charts/clipper/examples/values-staging.yaml"
)
LABEL = "kubectl label namespace clipper-production pod-security.kubernetes.io/enforce=restricted"
METRICS_TOKEN = "./helm/helm-mgmt.sh metrics-token -n clipper-production --ttl 90d"
UPGRADE = (
    "helm upgrade clipper helm/charts/clipper -n clipper-production "
    "-f helm/charts/clipper/examples/values-production.yaml --set backend.image.tag=1.4.3 "
    "--wait --timeout 15m --rollback-on-failure"
)
DIFF = "./helm/helm-mgmt.sh diff -n clipper-production --env production --set backend.image.tag=1.4.3"
DRY_UPGRADE = (
    "./helm/helm-mgmt.sh upgrade -n clipper-production --env production --set backend.image.tag=1.4.3 --dry-run"
)
MGMT_UPGRADE = (
    "./helm/helm-mgmt.sh upgrade -n clipper-production --env production --set backend.image.tag=1.4.3 --timeout 15m"
)
ROLLBACK_PREVIOUS = "helm rollback clipper -n clipper-production --wait"
ROLLBACK_TO = "helm rollback clipper 3 -n clipper-production --wait"
MGMT_ROLLBACK_TO = "./helm/helm-mgmt.sh rollback 3 -n clipper-production"
BACKUP = "./helm/helm-mgmt.sh backup -n clipper-production"
BACKUP_LIST = "./helm/helm-mgmt.sh backup -n clipper-production --list"
RESTORE = "./helm/helm-mgmt.sh restore -n clipper-production --yes"
RESTORE_NAMED = f"./helm/helm-mgmt.sh restore {DUMP_PLACEHOLDER} -n clipper-production --yes"
MGMT_UNINSTALL = "./helm/helm-mgmt.sh uninstall -n clipper-production --delete-pvcs"
UNINSTALL = "helm uninstall clipper -n clipper-production --wait"
DELETE_PVCS = "kubectl delete pvc -n clipper-production -l app.kubernetes.io/instance=clipper"
DELETE_SECRETS = "kubectl delete secret -n clipper-production -l app.kubernetes.io/instance=clipper"


def guide_commands() -> list[tuple[str, int]]:
    """The guide's commands in order, each with its occurrence (0 for the first of equal lines)."""
    seen: Counter[str] = Counter()
    out = []
    for command in shell_commands(GUIDE):
        out.append((command, seen[command]))
        seen[command] += 1
    return out


def localize(command: str) -> str:
    for guide_text, local_text in MAPPING:
        command = command.replace(guide_text, local_text)
    return command


class Guide:
    """The state of one walk through the guide, and the checks between its commands."""

    def __init__(self, kubectl, port_forward, env: dict[str, str]) -> None:
        self.kubectl = kubectl
        self.port_forward = port_forward
        self.env = env
        self.outputs: dict[tuple[str, int], str] = {}
        self.dump = ""
        self.user = ""
        self.playlists: dict[str, str] = {}
        self.before_uninstall: dict[str, set[str]] = {}

    # --- running ---------------------------------------------------------------------------------

    def run(self, command: str, occurrence: int) -> str:
        local = localize(command).replace(DUMP_PLACEHOLDER, self.dump or DUMP_PLACEHOLDER)
        started = time.monotonic()
        proc = subprocess.run(
            ["bash", "-c", local],
            cwd=REPO_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        print(f"[{time.monotonic() - started:5.1f}s] exit {proc.returncode}: {local}")
        assert proc.returncode == 0, (
            f"the guide's `{command}`, run here as `{local}`, exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
        )
        self.outputs[(command, occurrence)] = proc.stdout
        return proc.stdout

    # --- what the cluster says -------------------------------------------------------------------

    def names(self, kind: str, namespace: str = NAMESPACE) -> set[str]:
        items = json.loads(self.kubectl("get", kind, "-n", namespace, "-o", "json").stdout)["items"]
        return {i["metadata"]["name"] for i in items}

    def backend_tags(self) -> set[str]:
        """The image tag of the backend Deployment's app container, and of its Ready pods."""
        deployment = json.loads(
            self.kubectl("get", "deployment", f"{RELEASE}-backend", "-n", NAMESPACE, "-o", "json").stdout
        )
        images = [c["image"] for c in deployment["spec"]["template"]["spec"]["containers"]]
        pods = json.loads(
            self.kubectl("get", "pods", "-n", NAMESPACE, "-l", "app.kubernetes.io/name=backend", "-o", "json").stdout
        )["items"]
        for pod in pods:
            if not pod["metadata"].get("deletionTimestamp"):
                images += [c["image"] for c in pod["spec"]["containers"]]
        return {i.rsplit(":", 1)[1] for i in images if i.startswith(BACKEND_IMAGE + ":")}

    def history(self) -> list[dict]:
        out = self.run_quiet("helm", "history", RELEASE, "-n", NAMESPACE, "-o", "json")
        return json.loads(out)

    def run_quiet(self, *argv: str) -> str:
        proc = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, f"{' '.join(argv)}: {proc.stderr}"
        return proc.stdout

    def assert_converged(self, namespace: str = NAMESPACE) -> None:
        waiting = rollout.pending(namespace, RELEASE)
        assert waiting == [], f"not Ready in {namespace}: {waiting}"

    # --- data through the API --------------------------------------------------------------------

    def write_playlist(self, label: str) -> None:
        with self.port_forward(NAMESPACE, f"svc/{RELEASE}-backend", 8080) as port:
            base = f"http://127.0.0.1:{port}"
            if not self.user:
                self.user = f"guide_{uuid.uuid4().hex[:8]}"
                insert = (
                    "INSERT INTO users (twitch_id, username, display_name, role) VALUES ('{0}', '{0}', '{0}', 'user')"
                )
                psql(self.kubectl, NAMESPACE, insert.format(self.user))
            token = login(base, self.user)
            made = fetch(f"{base}/api/v1/playlists", "POST", {"title": f"guide {label}", "visibility": "public"}, token)
            assert made.status == 201, made.body[:300]
        self.playlists[label] = made.json()["data"]["id"]

    def playlist_status(self) -> dict[str, int]:
        with self.port_forward(NAMESPACE, f"svc/{RELEASE}-backend", 8080) as port:
            return {
                label: fetch(f"http://127.0.0.1:{port}/api/v1/playlists/{pid}").status
                for label, pid in self.playlists.items()
            }

    # --- before a command ------------------------------------------------------------------------

    def before(self, command: str, occurrence: int) -> None:
        if (command, occurrence) == (BACKUP, 0):
            self.write_playlist("before the backup")
        elif command == RESTORE and occurrence == 0:
            self.write_playlist("after the backup")
        elif command == RESTORE_NAMED:
            assert self.dump, "`backup --list` printed no dump name before the named restore"
            self.write_playlist("before the named restore")
        elif command == UNINSTALL:
            self.before_uninstall = {"pvc": self.names("pvc"), "secret": self.names("secret")}

    # --- after a command -------------------------------------------------------------------------

    def after(self, command: str, occurrence: int, out: str) -> None:
        check = AFTER.get((command, occurrence))
        if check:
            check(self, out)


def installed(guide: Guide, out: str) -> None:
    guide.assert_converged()
    assert guide.backend_tags() == {"local"}


def staging_installed(guide: Guide, out: str) -> None:
    status = json.loads(guide.run_quiet("helm", "status", RELEASE, "-n", STAGING_NAMESPACE, "-o", "json"))
    assert status["info"]["status"] == "deployed"
    secret = json.loads(
        guide.kubectl("get", "secret", "clipper-backend-secrets", "-n", STAGING_NAMESPACE, "-o", "json").stdout
    )
    assert set(secret["data"]) == {"MFA_ENCRYPTION_KEY", "JWT_PRIVATE_KEY"}
    # The staging copy has served its purpose: free the two cores for the rest of the walk.
    guide.kubectl("delete", "namespace", STAGING_NAMESPACE, "--wait=false")


def labelled(guide: Guide, out: str) -> None:
    labels = json.loads(guide.kubectl("get", "namespace", NAMESPACE, "-o", "json").stdout)["metadata"]["labels"]
    assert labels.get("pod-security.kubernetes.io/enforce") == "restricted"


def pods_listed(guide: Guide, out: str) -> None:
    assert f"{RELEASE}-postgres-0" in out and f"{RELEASE}-backend-" in out, out


def token_stored(guide: Guide, out: str) -> None:
    secret = json.loads(
        guide.kubectl("get", "secret", f"{RELEASE}-backend-metrics-token", "-n", NAMESPACE, "-o", "json").stdout
    )
    assert secret["data"].get("token"), "metrics-token stored no token"


def upgraded(guide: Guide, out: str) -> None:
    guide.assert_converged()
    assert guide.backend_tags() == {UPGRADE_TAG}
    assert [r["revision"] for r in guide.history()] == [1, 2]


def no_diff(guide: Guide, out: str) -> None:
    # helm-mgmt with --env local and `helm -f values-local.yaml` describe the same release.
    assert out.rstrip().endswith("0 object(s): no change"), out


def dry_run_changed_nothing(guide: Guide, out: str) -> None:
    assert [r["revision"] for r in guide.history()] == [1, 2]


def mgmt_upgraded(guide: Guide, out: str) -> None:
    revisions = guide.history()
    assert [r["revision"] for r in revisions] == [1, 2, 3] and revisions[-1]["status"] == "deployed"
    guide.assert_converged()
    assert guide.backend_tags() == {UPGRADE_TAG}


def rolled_back_to(revision: int, tag: str) -> Callable[[Guide, str], None]:
    def check(guide: Guide, out: str) -> None:
        last = guide.history()[-1]
        assert last["status"] == "deployed" and last["description"] == f"Rollback to {revision}", last
        guide.assert_converged()
        assert guide.backend_tags() == {tag}

    return check


def history_shown(guide: Guide, out: str) -> None:
    assert "Rollback to 1" in out, out


def backed_up(guide: Guide, out: str) -> None:
    assert "dump complete" in out, out


def listed(guide: Guide, out: str) -> None:
    dumps = [word for word in out.split() if word.startswith("clipper_db-") and word.endswith(".dump")]
    assert len(dumps) == 1, f"one backup so far, `backup --list` printed: {out}"
    guide.dump = dumps[0]


def restored(expected: dict[str, int]) -> Callable[[Guide, str], None]:
    def check(guide: Guide, out: str) -> None:
        assert "restore complete" in out, out
        guide.assert_converged()
        assert guide.playlist_status() == expected

    return check


def only_the_backups_stay(guide: Guide, out: str) -> None:
    assert guide.names("pvc") == {BACKUP_CLAIM}


def fresh_install(guide: Guide, out: str) -> None:
    guide.assert_converged()
    assert set(guide.playlist_status().values()) == {404}, "a fresh database has none of the rows"


def uninstalled(guide: Guide, out: str) -> None:
    gone = subprocess.run(
        ["helm", "status", RELEASE, "-n", NAMESPACE], env=guide.env, capture_output=True, text=True, check=False
    )
    assert gone.returncode != 0, "the release is still there"
    before = guide.before_uninstall
    assert {f"data-{RELEASE}-postgres-0", BACKUP_CLAIM} <= before["pvc"], before
    assert any(n.startswith(f"data-{RELEASE}-redis") for n in before["pvc"]), before
    assert guide.names("pvc") == before["pvc"], "every claim stays"
    kept = {f"{RELEASE}-postgres", f"{RELEASE}-postgres-superuser", f"{RELEASE}-backend"}
    assert kept | {f"{RELEASE}-redis"} <= before["secret"], before
    after = guide.names("secret")
    assert kept <= after and f"{RELEASE}-redis" not in after, after


def no_pvcs_left(guide: Guide, out: str) -> None:
    assert guide.names("pvc") == set(), "the label takes the kept claims too, the backups' included"


def no_release_secrets_left(guide: Guide, out: str) -> None:
    left = guide.kubectl(
        "get", "secret", "-n", NAMESPACE, "-l", f"app.kubernetes.io/instance={RELEASE}", "-o", "name"
    ).stdout
    assert left.strip() == ""


AFTER_THE_BACKUP = {"before the backup": 200, "after the backup": 404}
AFTER: dict[tuple[str, int], Callable[[Guide, str], None]] = {
    (INSTALL, 0): installed,
    (STAGING_INSTALL, 0): staging_installed,
    (LABEL, 0): labelled,
    ("kubectl get pods -n clipper-production", 0): pods_listed,
    (METRICS_TOKEN, 0): token_stored,
    (UPGRADE, 0): upgraded,
    (DIFF, 0): no_diff,
    (DRY_UPGRADE, 0): dry_run_changed_nothing,
    (MGMT_UPGRADE, 0): mgmt_upgraded,
    (ROLLBACK_PREVIOUS, 0): rolled_back_to(2, UPGRADE_TAG),
    (ROLLBACK_TO, 0): rolled_back_to(1, "local"),
    ("./helm/helm-mgmt.sh history -n clipper-production", 0): history_shown,
    (MGMT_ROLLBACK_TO, 0): rolled_back_to(1, "local"),
    (BACKUP, 0): backed_up,
    (BACKUP_LIST, 0): listed,
    (RESTORE, 0): restored(AFTER_THE_BACKUP),
    (RESTORE_NAMED, 0): restored({**AFTER_THE_BACKUP, "before the named restore": 404}),
    (BACKUP, 1): backed_up,
    (MGMT_UNINSTALL, 0): only_the_backups_stay,
    (MGMT_INSTALL, 1): fresh_install,
    (RESTORE, 1): restored(AFTER_THE_BACKUP | {"before the named restore": 404}),
    (UNINSTALL, 0): uninstalled,
    (DELETE_PVCS, 0): no_pvcs_left,
    (DELETE_SECRETS, 0): no_release_secrets_left,
}


def test_the_mapping_and_the_lists_match_the_guide():
    """Every command of the guide is run or listed in NOT_RUN, every listed one and every check is
    still in the guide, and every mapping entry still applies to some command."""
    commands = guide_commands()
    assert len(commands) > 20, f"found only {len(commands)} commands in {GUIDE}"
    present = set(commands)
    assert not set(NOT_RUN) - present, f"NOT_RUN lists what the guide no longer has: {set(NOT_RUN) - present}"
    assert not set(AFTER) - present, f"checks for commands the guide no longer has: {set(AFTER) - present}"
    texts = [c for c, _ in commands]
    unused = [guide_text for guide_text, _ in MAPPING if not any(guide_text in t for t in texts)]
    assert not unused, f"MAPPING entries no command of the guide uses: {unused}"
    assert any(DUMP_PLACEHOLDER in t for t in texts), "the guide names no dump to restore"
    # What NOT_RUN says about the alternative install is still true.
    assert (MGMT_INSTALL, 1) in present and (MGMT_INSTALL, 1) not in NOT_RUN


@pytest.fixture(scope="module")
def guide_env(cluster: Path, helm, tmp_path_factory) -> Iterator[dict[str, str]]:
    """PATH with `helm` (Helm 4) and `kubectl` (the cluster's), KUBECONFIG the cluster's; Clipper's
    images imported, the backend image also under UPGRADE_TAG; no namespace left from an earlier
    run. Both namespaces go at the end, kept claims and Secrets with them."""
    prepare_cluster()
    containerd.ctr("images", "tag", "--force", f"{BACKEND_IMAGE}:local", f"{BACKEND_IMAGE}:{UPGRADE_TAG}")
    tools = tmp_path_factory.mktemp("guide-bin")
    (tools / "helm").symlink_to(helm.binary)
    (tools / "kubectl").symlink_to(bin_dir("kubernetes", components.KUBERNETES_VERSION) / "kubectl")
    env = {**os.environ, "PATH": f"{tools}{os.pathsep}{os.environ['PATH']}", "KUBECONFIG": str(cluster)}
    delete = [str(tools / "kubectl"), "delete", "namespace", NAMESPACE, STAGING_NAMESPACE, "--ignore-not-found"]
    subprocess.run([*delete, "--wait=true", "--timeout=300s"], env=env, check=True, timeout=330, capture_output=True)
    yield env
    subprocess.run([*delete, "--wait=false"], env=env, check=False, timeout=120, capture_output=True)


def test_every_command_of_the_guide_runs_with_the_local_values(guide_env, kubectl, port_forward):
    guide = Guide(kubectl, port_forward, guide_env)
    ran, not_run = [], []
    for command, occurrence in guide_commands():
        if (command, occurrence) in NOT_RUN:
            not_run.append(command)
            continue
        guide.before(command, occurrence)
        out = guide.run(command, occurrence)
        guide.after(command, occurrence, out)
        ran.append(command)
    print(f"ran {len(ran)} commands of {GUIDE.name}; not run here: {len(not_run)}")
    unchecked = set(AFTER) - set(guide.outputs)
    assert not unchecked, f"checks that never ran: {unchecked}"
