"""Backups that restore, and the way off the superuser layout, as one story on the real Clipper:
an install of the last chart version whose backend ran as PostgreSQL's superuser gets data
through the API and a backup; the new chart refuses to upgrade it in place; after an uninstall
(data volume deleted, backup volume kept) the new chart installs fresh with its own application
role, `helm-mgmt restore` brings the data back, the API reads it, and the application's role can do
nothing a superuser can. Retention and a failing restore are checked on the same install.

The tests run in file order and share the install: each step needs the one before."""

from __future__ import annotations

import json
import subprocess
import tarfile
import uuid
from pathlib import Path

import pytest
from stackenv import APP_SQL, LOCAL_VALUES, psql
from test_clipper_app import fetch, login

from helm_mgmt.cli import main
from helm_mgmt.paths import REPO_ROOT
from helm_mgmt.release import ReleaseFailed, ReleaseSpec, history, install, uninstall
from helm_mgmt.stack import prepare_cluster, restricted_namespace, wait_all_ready

NAMESPACE = "clipper-backup"
RELEASE = "clipper"
POSTGRES_POD = f"{RELEASE}-postgres-0"
# The last commit whose postgres chart made the application's role the bootstrap superuser.
SUPERUSER_LAYOUT_COMMIT = "2c3b4a9"
# No frontend, so no site Ingress either (the chart refuses an Ingress without the frontend).
BACKUP_VALUES = [
    "postgres.backup.enabled=true",
    "postgres.backup.persistence.size=1Gi",
    "frontend.enabled=false",
    "ingress.enabled=false",
]
# Before the change the container had no POSTGRES_APP_*: its POSTGRES_USER was the application's.
OLD_SQL = (
    'PGPASSWORD="$(cat "$POSTGRES_PASSWORD_FILE")" '
    'psql -h 127.0.0.1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" -v ON_ERROR_STOP=1 -tAc "$Q"'
)
STORY: dict[str, str] = {}


def sql(kubectl, query: str, shell: str = APP_SQL, check: bool = True) -> subprocess.CompletedProcess[str]:
    return psql(kubectl, NAMESPACE, query, shell, check)


def mgmt(capsys, *args: str) -> tuple[int, str, str]:
    code = main([*args, "--release", RELEASE, "--namespace", NAMESPACE])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def old_umbrella(tmp_path_factory) -> Path:
    """The umbrella chart as it was at SUPERUSER_LAYOUT_COMMIT, from the checkout's history."""
    target = tmp_path_factory.mktemp("superuser-layout")
    archive = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "archive", SUPERUSER_LAYOUT_COMMIT, "helm/charts/clipper"],
        capture_output=True,
        check=False,
    )
    assert archive.returncode == 0, (
        f"this test installs the chart of commit {SUPERUSER_LAYOUT_COMMIT} from the git history, which this "
        f"checkout lacks (a shallow clone?): {archive.stderr.decode()}"
    )
    (target / "chart.tar").write_bytes(archive.stdout)
    with tarfile.open(target / "chart.tar") as tar:
        tar.extractall(target, filter="data")
    return target / "helm" / "charts" / "clipper"


@pytest.fixture(scope="module")
def api(cluster, port_forward):
    prepare_cluster()  # Clipper's images imported (the shared stack's fixture may not have run)

    def open_api():
        return port_forward(NAMESPACE, f"svc/{RELEASE}-backend", 8080)

    return open_api


def test_superuser_layout_install_gets_data_and_a_backup(cluster, helm, kubectl, api, old_umbrella, capsys):
    kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=true", timeout=300)
    restricted_namespace(NAMESPACE)
    # That chart's backup Job starts pg_dump at once, before kube-router admits the new pod's
    # address: its policy for PostgreSQL stays off, as INSTALLATION.md advises for the move.
    sets = [a for v in [*BACKUP_VALUES, "postgres.networkPolicy.enabled=false"] for a in ("--set", v)]
    old_values = old_umbrella / "examples" / "values-local.yaml"
    helm.run(["install", RELEASE, str(old_umbrella), "-n", NAMESPACE, "-f", str(old_values), *sets], timeout=600)
    wait_all_ready(NAMESPACE, RELEASE, timeout=600)
    assert sql(kubectl, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user", OLD_SQL).stdout.strip() == "t"

    username = f"e2e_backup_{uuid.uuid4().hex[:8]}"
    insert = "INSERT INTO users (twitch_id, username, display_name, role) VALUES ('{0}', '{0}', '{0}', 'user')"
    sql(kubectl, insert.format(username), OLD_SQL)
    with api() as port:
        base = f"http://127.0.0.1:{port}"
        token = login(base, username)
        created = fetch(
            f"{base}/api/v1/playlists", "POST", {"title": "kept across the move", "visibility": "public"}, token
        )
        assert created.status == 201, created.body[:300]
    STORY.update(username=username, playlist=created.json()["data"]["id"])

    code, out, err = mgmt(capsys, "backup")
    assert code == 0, err + out
    assert "dump complete" in out
    code, out, err = mgmt(capsys, "backup", "--list")
    assert code == 0 and "clipper_db-" in out, err + out


def test_new_chart_refuses_the_in_place_upgrade_and_leaves_the_release(helm, capsys):
    before = history(helm, RELEASE, NAMESPACE)
    spec = ReleaseSpec(RELEASE, NAMESPACE, values_files=[LOCAL_VALUES], set_values=BACKUP_VALUES)
    with pytest.raises(ReleaseFailed) as err:
        install(helm, spec, upgrade=True)
    assert "Helm refused to upgrade clipper before changing anything" in str(err.value)
    assert "was installed by a chart version whose application role is PostgreSQL's superuser" in str(err.value)
    assert "helm-mgmt backup, uninstall with --delete-pvcs, install this version, helm-mgmt restore" in str(err.value)
    assert history(helm, RELEASE, NAMESPACE) == before, "a refused upgrade must not reach the cluster"


def test_fresh_install_of_the_new_chart_restores_the_backup(helm, kubectl, api, capsys):
    uninstall(helm, RELEASE, NAMESPACE, delete_pvcs=True)
    pvcs = json.loads(kubectl("get", "pvc", "-n", NAMESPACE, "-o", "json").stdout)["items"]
    assert [p["metadata"]["name"] for p in pvcs] == [f"{RELEASE}-postgres-backup"], "only the backups stay"
    spec = ReleaseSpec(RELEASE, NAMESPACE, values_files=[LOCAL_VALUES], set_values=BACKUP_VALUES)
    install(helm, spec)
    with api() as port:
        assert fetch(f"http://127.0.0.1:{port}/api/v1/playlists/{STORY['playlist']}").status == 404, "fresh data"

    code, out, err = mgmt(capsys, "restore")
    assert code == 2 and "add --yes to confirm" in err, "no restore without a confirmation"
    code, out, err = mgmt(capsys, "restore", "--yes")
    assert code == 0, err + out
    assert "restore complete" in out
    wait_all_ready(NAMESPACE, RELEASE, timeout=300)
    with api() as port:
        base = f"http://127.0.0.1:{port}"
        read = fetch(f"{base}/api/v1/playlists/{STORY['playlist']}")
        assert read.status == 200 and read.json()["data"]["title"] == "kept across the move"
        assert login(base, STORY["username"]), "the restored user logs in"
    version = sql(kubectl, "SELECT version::text || dirty::text FROM schema_migrations").stdout.strip()
    assert version.endswith("false"), f"schema_migrations after the restore: {version}"


def test_application_role_has_no_superuser_powers(kubectl):
    assert sql(kubectl, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").stdout.strip() == "f"
    owner = "SELECT pg_get_userbyid(datdba) = current_user FROM pg_database WHERE datname = current_database()"
    assert sql(kubectl, owner).stdout.strip() == "t", "the application's role owns its database"
    foreign = (
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'S', 'v', 'm') "
        "AND pg_get_userbyid(c.relowner) <> current_user "
        "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')"
    )
    assert sql(kubectl, foreign).stdout.strip() == "0", "every restored table belongs to the application's role"
    for statement, error in (
        ("CREATE ROLE intruder", "permission denied to create role"),
        ("SELECT rolpassword FROM pg_authid", "permission denied for table pg_authid"),
        ("COPY (SELECT 1) TO PROGRAM 'id'", "permission denied to COPY to or from an external program"),
        ("ALTER SYSTEM SET work_mem = '1GB'", "permission denied to set parameter"),
    ):
        refused = sql(kubectl, statement, check=False)
        assert refused.returncode != 0 and error in refused.stderr, f"{statement}: {refused.stderr}"


def test_superuser_password_is_only_in_the_server_pod(kubectl):
    superuser_secret = f"{RELEASE}-postgres-superuser"
    pods = json.loads(kubectl("get", "pods", "-n", NAMESPACE, "-o", "json").stdout)["items"]
    holders = {
        p["metadata"]["name"]
        for p in pods
        for v in p["spec"].get("volumes", [])
        if v.get("secret", {}).get("secretName") == superuser_secret
    }
    assert holders == {POSTGRES_POD}
    su_sql = (
        'PGPASSWORD="$(cat /run/secrets/postgres-superuser/password)" '
        'psql -h 127.0.0.1 -U "$POSTGRES_USER" -d postgres -tAc "$Q"'
    )
    assert sql(kubectl, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user", su_sql).stdout.strip() == "t"


def test_retention_keeps_the_newest_dumps_and_a_failed_restore_changes_nothing(helm, kubectl, api, capsys):
    spec = ReleaseSpec(
        RELEASE, NAMESPACE, values_files=[LOCAL_VALUES], set_values=[*BACKUP_VALUES, "postgres.backup.retention=2"]
    )
    install(helm, spec, upgrade=True)
    for _ in range(3):
        code, out, err = mgmt(capsys, "backup")
        assert code == 0, err + out
    code, out, err = mgmt(capsys, "backup", "--list", "--output", "json")
    assert code == 0, err
    names = [entry["name"] for entry in json.loads(out)]
    assert len(names) == 2 and names == sorted(names, reverse=True), names
    assert all(n.startswith("clipper_db-") for n in names)

    code, out, err = mgmt(capsys, "restore", "../etc/passwd", "--yes")
    assert code != 0 and "is not a dump file name" in err
    code, out, err = mgmt(capsys, "restore", "clipper_db-19700101T000000Z.dump", "--yes")
    assert code != 0 and "no dump named clipper_db-19700101T000000Z.dump" in out + err
    wait_all_ready(NAMESPACE, RELEASE, timeout=300)
    with api() as port:
        read = fetch(f"http://127.0.0.1:{port}/api/v1/playlists/{STORY['playlist']}")
        assert read.status == 200, "a failed restore must leave the data and start the backend again"


def test_cleanup(helm, kubectl):
    uninstall(helm, RELEASE, NAMESPACE, delete_pvcs=True)
    kubectl("delete", "namespace", NAMESPACE, "--wait=false")
