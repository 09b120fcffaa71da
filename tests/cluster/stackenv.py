"""Where the shared stack of the cluster tests lives (the umbrella with the local values), and psql
in a release's PostgreSQL pod."""

from __future__ import annotations

from pathlib import Path

from helm_mgmt.bench import loadgen
from helm_mgmt.release import ReleaseSpec

STACK_NAMESPACE = "clipper-e2e"
RELEASE = "clipper"
LOCAL_VALUES = Path(__file__).resolve().parents[2] / "helm" / "charts" / "clipper" / "examples" / "values-local.yaml"
# Its host name (values-e2e-host.yaml), distinct from the clipper.local that `helm-mgmt up` serves.
SITE = "e2e.clipper.local"
# The stack's values files, in order: the local values, the load generator's admission through the
# backend's and frontend's NetworkPolicies, and its own host name. Every install and upgrade of it
# takes all three (stack_value_args, stack_spec).
STACK_EXTRA_VALUES = (loadgen.ADMIT_VALUES, Path(__file__).with_name("values-e2e-host.yaml"))
STACK_VALUES = (LOCAL_VALUES, *STACK_EXTRA_VALUES)
# As the backend logs in: the application's role over TCP, with the password file it gets.
APP_SQL = (
    'PGPASSWORD="$(cat "$POSTGRES_APP_PASSWORD_FILE")" '
    'psql -h 127.0.0.1 -U "$POSTGRES_APP_USER" -d "$POSTGRES_DB" -v ON_ERROR_STOP=1 -tAc "$Q"'
)


def stack_value_args() -> list[str]:
    return [arg for path in STACK_VALUES for arg in ("-f", str(path))]


def stack_spec(namespace: str, *set_values: str, timeout: str = "10m") -> ReleaseSpec:
    """What helm-mgmt's release commands take for the stack: the local values and the extra files."""
    return ReleaseSpec(
        RELEASE,
        namespace,
        env="local",
        values_files=list(STACK_EXTRA_VALUES),
        set_values=list(set_values),
        timeout=timeout,
    )


def psql(kubectl, namespace: str, query: str, shell: str = APP_SQL, check: bool = True):
    """Run ``query`` (as $Q) with ``shell`` in the server container of <RELEASE>-postgres-0."""
    pod = f"{RELEASE}-postgres-0"
    return kubectl(
        "exec", "-n", namespace, pod, "-c", "postgres", "--", "env", f"Q={query}", "sh", "-c", shell, check=check
    )


def backend_ready_url(kubectl, namespace: str) -> str:
    """The backend Service's readiness route by ClusterIP: a rollout is measured, not the DNS."""
    ip = kubectl("get", "service", f"{RELEASE}-backend", "-n", namespace, "-o", "jsonpath={.spec.clusterIP}").stdout
    return f"http://{ip}:8080/health/ready"
