"""Container images for the local cluster, built from Debian packages without Docker or a registry.

Each image is one layer made from a ``debootstrap --variant=minbase`` root filesystem with the
recipe's packages added by ``apt-get`` in a chroot, plus a few files of ours (entrypoints,
nginx.conf) and, for Clipper's own images, what ``clipperapp`` builds from the application's source
(the API binary and templates, the migrate CLI and migrations, the SPA). It is packed with
``umoci`` and turned into a docker-archive by ``skopeo``, which ``ctr -n k8s.io images import``
loads. ``images/*/Containerfile`` in the repository describe the same images for users who build
them with their own tools (a test keeps the two in step).

Two cache levels, both keyed by the content of their inputs:

- ``<cache>/rootfs/base-<suite>-<key>/``: the debootstrap of a suite (suite, mirror), one for
  every recipe of that suite, and ``<cache>/rootfs/<base>-<suite>-<key>/``: that plus the
  recipe's packages, shared by the recipes with the same ``base``;
- ``<cache>/images/<name>-<tag>-<key>/<name>.tar``: the archive (rootfs key, support files, setup
  script, image config, the application source's digest).

So a warm run only hashes a few small files, and changing an entrypoint script repacks that one
image without bootstrapping Debian again. Building needs root (debootstrap, chroot, chown).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from helm_mgmt import debian
from helm_mgmt.localcluster import clipperapp, components, monitoringbuild, platformbuild
from helm_mgmt.paths import REPO_ROOT, cache_lock, cache_root, logs_dir

SUPPORT_DIR = Path(__file__).with_name("images")
# The recipes users build Clipper's images from (Containerfiles) and the files they copy in.
CONTAINERFILES_DIR = REPO_ROOT / "images"
# Bump when the generic build steps below change in a way that changes the produced images.
FORMAT_VERSION = "2"
HEARTBEAT_S = 15.0
TOOLS = ("debootstrap", "umoci", "skopeo")  # also the Debian package names

Progress = Callable[[str], None]


class ImageBuildError(RuntimeError):
    pass


@dataclass(frozen=True)
class ImageConfig:
    user: str
    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...]
    env: tuple[str, ...]
    workdir: str
    ports: tuple[str, ...]
    stop_signal: str = "SIGTERM"


@dataclass(frozen=True)
class Recipe:
    name: str
    reference: str
    # The image's org.opencontainers.image.description label.
    description: str
    suite: str
    packages: tuple[str, ...]
    # (source file, absolute destination in the image, mode)
    files: tuple[tuple[Path, str, int], ...]
    # POSIX shell run inside the image's root filesystem (chroot) after the files are copied in.
    setup: str
    config: ImageConfig
    # Glob patterns (relative to the root filesystem) of paths removed to keep the image small.
    prune: tuple[str, ...] = field(default=())
    # Build products (files or folders) copied in: (builder returning the path, absolute
    # destination). Builders run only when the archive is built; ``products_key`` versions the
    # products in the cache key without building them.
    products: tuple[tuple[Callable[[], Path], str], ...] = ()
    products_key: Callable[[], str] | None = None
    # Name of the cached root filesystem; recipes with the same suite and packages may share one.
    base: str = ""

    @property
    def rootfs_name(self) -> str:
        return self.base or self.name


BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
COMMON_PRUNE = (
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
    "usr/share/lintian",
    "usr/share/bug",
    "var/lib/apt/lists",
    "var/cache/debconf/templates.dat-old",
    "var/cache/debconf/config.dat-old",
    "etc/hostname",
    "etc/resolv.conf",
)

# Give a Debian system user the fixed uid/gid the upstream image uses, and re-own its files.
RENUMBER_USER = """
renumber() {
    user=$1 id=$2
    old_uid=$(id -u "$user") old_gid=$(id -g "$user")
    if getent passwd "$id" >/dev/null && [ "$old_uid" != "$id" ]; then
        echo "uid $id is already taken: $(getent passwd "$id")" >&2; exit 1
    fi
    if getent group "$id" >/dev/null && [ "$old_gid" != "$id" ]; then
        echo "gid $id is already taken: $(getent group "$id")" >&2; exit 1
    fi
    groupmod -g "$id" "$user"
    usermod -u "$id" -g "$id" "$user"
    find / -xdev -uid "$old_uid" -exec chown -h "$id" {} +
    find / -xdev -gid "$old_gid" -exec chgrp -h "$id" {} +
}
"""


def add_user(name: str, uid: int, home: str = "/nonexistent", system: bool = False) -> str:
    """Setup lines that create a login-less user and its group with the same fixed id."""
    flag = "--system " if system else ""
    return (
        f"groupadd {flag}--gid {uid} {name}\n"
        f"useradd {flag}--uid {uid} --gid {uid} --no-create-home --home-dir {home} --shell /usr/sbin/nologin {name}\n"
    )


def api_at(folder: str) -> tuple[tuple[Callable[[], Path], str], ...]:
    """Clipper's API as upstream's Dockerfile lays it out: the binary with templates/ beside it."""
    return ((clipperapp.backend_binary, f"{folder}/api"), (clipperapp.backend_templates, f"{folder}/templates"))


STACK_RECIPES: tuple[Recipe, ...] = (
    Recipe(
        name="postgres",
        reference="clipper.local/postgres:17-pgvector",
        description="PostgreSQL 17 with pgvector from Debian trixie, after the official postgres image contract",
        suite="trixie",
        packages=("postgresql-17", "postgresql-17-pgvector"),
        files=((SUPPORT_DIR / "postgres-entrypoint.sh", "/usr/local/bin/docker-entrypoint.sh", 0o755),),
        setup=RENUMBER_USER
        + """
renumber postgres 999
rm -rf /var/lib/postgresql/17 /etc/postgresql/17
mkdir -p /var/lib/postgresql/data /run/postgresql /docker-entrypoint-initdb.d
chown 999:999 /var/lib/postgresql /var/lib/postgresql/data /run/postgresql
chmod 0700 /var/lib/postgresql/data
chmod 3777 /run/postgresql
""",
        config=ImageConfig(
            user="999:999",
            entrypoint=("docker-entrypoint.sh",),
            cmd=("postgres",),
            env=(
                f"PATH=/usr/lib/postgresql/17/bin:{BASE_PATH}",
                "PG_MAJOR=17",
                "PGDATA=/var/lib/postgresql/data",
                "LANG=C.UTF-8",
            ),
            workdir="/",
            ports=("5432/tcp",),
            stop_signal="SIGINT",
        ),
        # LLVM is only there for JIT compilation, which PostgreSQL skips when llvmjit.so is absent.
        prune=(
            "usr/share/postgresql/17/man",
            "usr/lib/postgresql/17/lib/bitcode",
            "usr/lib/postgresql/17/lib/llvmjit*",
            "usr/lib/x86_64-linux-gnu/libLLVM*",
            "usr/lib/x86_64-linux-gnu/libz3.so*",
        ),
    ),
    Recipe(
        name="redis",
        reference="clipper.local/redis:7",
        description="Redis 7 from Debian bookworm, after the official redis image contract",
        suite="bookworm",
        packages=("redis-server",),
        files=((SUPPORT_DIR / "redis-entrypoint.sh", "/usr/local/bin/docker-entrypoint.sh", 0o755),),
        setup=RENUMBER_USER
        + """
renumber redis 999
mkdir -p /data
chown 999:999 /data
""",
        config=ImageConfig(
            user="999:999",
            entrypoint=("docker-entrypoint.sh",),
            cmd=("redis-server",),
            env=(f"PATH={BASE_PATH}", "LANG=C.UTF-8"),
            workdir="/data",
            ports=("6379/tcp",),
        ),
    ),
    Recipe(
        name="frontend",
        reference="clipper.local/frontend:local",
        description="The Clipper frontend (the SPA built from the application's source) served by nginx as non-root",
        suite="trixie",
        packages=("nginx-light",),
        files=(
            (CONTAINERFILES_DIR / "frontend" / "docker-entrypoint.sh", "/docker-entrypoint.sh", 0o755),
            (CONTAINERFILES_DIR / "frontend" / "nginx.conf", "/etc/nginx/nginx.conf", 0o644),
        ),
        setup=add_user("nginx", 101, system=True)
        + "rm -rf /etc/nginx/sites-enabled /etc/nginx/sites-available /etc/nginx/conf.d /var/www\n",
        config=ImageConfig(
            user="101:101",
            entrypoint=("/docker-entrypoint.sh",),
            cmd=("nginx", "-g", "daemon off;"),
            env=(f"PATH={BASE_PATH}", "NGINX_PORT=8080"),
            workdir="/",
            ports=("8080/tcp",),
            stop_signal="SIGQUIT",
        ),
        products=((clipperapp.frontend_dist, "/usr/share/nginx/html"),),
        products_key=clipperapp.source_key,
    ),
    Recipe(
        name="backend",
        reference="clipper.local/backend:local",
        description="The Clipper API built from the application's source, laid out to run as any non-root user",
        suite="trixie",
        packages=("ca-certificates",),
        files=(),
        setup=add_user("clipper", 65532, home="/app"),
        config=ImageConfig(
            user="65532:65532",
            entrypoint=("/app/api",),
            cmd=(),
            env=(f"PATH={BASE_PATH}", "GIN_MODE=release"),
            workdir="/app",
            ports=("8080/tcp",),
        ),
        products=api_at("/app"),
        products_key=clipperapp.source_key,
        base="ca-certificates",
    ),
    # The published image as upstream lays it out (binary and templates under /root, run as root),
    # under the published name and the charts' appVersion, so that the chart's defaults meet it.
    Recipe(
        name="backend-upstream-layout",
        reference="ghcr.io/subculture-collective/clipper/backend:1.4.2",
        description="Built here from the application's source, laid out like the published image: /root/api, root user",
        suite="trixie",
        packages=("ca-certificates",),
        files=(),
        setup="chmod 0700 /root\n",
        config=ImageConfig(
            user="0:0",
            entrypoint=(),
            cmd=("./api",),
            env=(f"PATH={BASE_PATH}",),
            workdir="/root",
            ports=("8080/tcp",),
        ),
        products=api_at("/root"),
        products_key=clipperapp.source_key,
        base="ca-certificates",
    ),
    Recipe(
        name="migrations",
        reference="clipper.local/migrations:local",
        description="golang-migrate with the PostgreSQL driver and Clipper's schema migrations (no seed data)",
        suite="trixie",
        packages=("ca-certificates",),
        files=(),
        setup=add_user("migrate", 65532),
        config=ImageConfig(
            user="65532:65532",
            entrypoint=("migrate",),
            cmd=("--help",),
            env=(f"PATH={BASE_PATH}",),
            workdir="/",
            ports=(),
        ),
        products=((clipperapp.migrate_binary, "/usr/local/bin/migrate"), (clipperapp.migrations_dir, "/migrations")),
        products_key=lambda: f"{clipperapp.source_key()}-migrate-{clipperapp.MIGRATE_VERSION}",
        base="ca-certificates",
    ),
    # The image of the charts' helper and helm-test pods in the local values (their default is busybox): sh, wget, nc.
    Recipe(
        name="toolbox",
        reference="clipper.local/toolbox:local",
        description="sh, wget and nc for helper and helm test pods",
        suite="trixie",
        packages=("wget", "netcat-openbsd"),
        files=(),
        setup=add_user("toolbox", 10001),
        config=ImageConfig(
            user="10001:10001",
            entrypoint=(),
            cmd=("sh",),
            env=(f"PATH={BASE_PATH}",),
            workdir="/",
            ports=(),
        ),
    ),
)

NOBODY = "65534:65534"


def debian_program(
    name: str,
    reference: str,
    package: str,
    program: str,
    entrypoint: str,
    ports: tuple[str, ...],
    description: str,
    command: tuple[str, ...] = (),
    workdir: str = "/",
    files: tuple[tuple[Path, str, int], ...] = (),
) -> Recipe:
    """A one-program image from a Debian trixie package, run as nobody or as any other uid.

    Debian installs the program as ``/usr/bin/<program>``; the upstream image's name for it,
    ``entrypoint``, becomes a link beside it (``/bin`` is ``/usr/bin`` in trixie). A ``workdir``
    other than / is created empty and writable by every uid, as a data directory for an
    arbitrary ``runAsUser`` (a pod normally mounts a volume there)."""
    setup = f"test -x /usr/bin/{program}\n"
    if entrypoint != program:
        setup += f"ln -s {program} /usr/bin/{entrypoint}\n"
    if workdir != "/":
        setup += f"mkdir -p {workdir}\nchown {NOBODY} {workdir}\nchmod 0777 {workdir}\n"
    return Recipe(
        name=name,
        reference=reference,
        description=description,
        suite="trixie",
        packages=(package,),
        files=files,
        setup=setup,
        config=ImageConfig(
            user=NOBODY,
            entrypoint=(f"/bin/{entrypoint}",),
            cmd=command,
            env=(f"PATH={BASE_PATH}",),
            workdir=workdir,
            ports=ports,
        ),
    )


def go_program(
    name: str,
    reference: str,
    builder: Callable[[], Path],
    key: Callable[[], str],
    path: str,
    ports: tuple[str, ...],
    description: str,
) -> Recipe:
    """A Go program built here (``monitoringbuild``) on the smallest Debian base (CA certificates)."""
    return Recipe(
        name=name,
        reference=reference,
        description=description,
        suite="trixie",
        packages=("ca-certificates",),
        files=(),
        setup="",
        config=ImageConfig(
            user=NOBODY,
            entrypoint=(path,),
            cmd=(),
            env=(f"PATH={BASE_PATH}",),
            workdir="/",
            ports=ports,
        ),
        products=((builder, path),),
        products_key=key,
        base="ca-certificates",
    )


# The monitoring stack's images: built only when asked for (``names=ALL_IMAGES``), never by default.
# Grafana and Loki are not among them (AGPL, and Debian does not package them).
MONITORING_RECIPES: tuple[Recipe, ...] = (
    debian_program(
        name="prometheus",
        reference="clipper.local/prometheus:v2.53.3",
        package="prometheus",
        program="prometheus",
        entrypoint="prometheus",
        ports=("9090/tcp",),
        description="Prometheus from Debian trixie, laid out like the upstream image (data in /prometheus)",
        command=("--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"),
        workdir="/prometheus",
    ),
    debian_program(
        name="alertmanager",
        reference="clipper.local/alertmanager:v0.28.1",
        package="prometheus-alertmanager",
        program="prometheus-alertmanager",
        entrypoint="alertmanager",
        ports=("9093/tcp",),
        description="Alertmanager from Debian trixie, laid out like the upstream image (/bin/alertmanager)",
        command=("--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager"),
        workdir="/alertmanager",
        files=((SUPPORT_DIR / "alertmanager.yaml", "/etc/alertmanager/alertmanager.yml", 0o644),),
    ),
    debian_program(
        name="postgres-exporter",
        reference="clipper.local/postgres-exporter:v0.17.1",
        package="prometheus-postgres-exporter",
        program="prometheus-postgres-exporter",
        entrypoint="postgres_exporter",
        ports=("9187/tcp",),
        description="The Prometheus PostgreSQL exporter from Debian trixie (/bin/postgres_exporter)",
    ),
    debian_program(
        name="redis-exporter",
        reference="clipper.local/redis-exporter:v1.69.0",
        package="prometheus-redis-exporter",
        program="prometheus-redis-exporter",
        entrypoint="redis_exporter",
        ports=("9121/tcp",),
        description="The Prometheus Redis exporter from Debian trixie (/bin/redis_exporter)",
    ),
    debian_program(
        name="nginx-exporter",
        reference="clipper.local/nginx-exporter:v1.4.1",
        package="prometheus-nginx-exporter",
        program="prometheus-nginx-exporter",
        entrypoint="nginx-prometheus-exporter",
        ports=("9113/tcp",),
        description="The Prometheus NGINX exporter from Debian trixie (/bin/nginx-prometheus-exporter)",
    ),
    go_program(
        name="prometheus-operator",
        reference=f"clipper.local/prometheus-operator:{monitoringbuild.OPERATOR_VERSION}",
        builder=monitoringbuild.prometheus_operator,
        key=monitoringbuild.operator_key,
        path="/bin/operator",
        ports=("8080/tcp",),
        description="prometheus-operator built here from its Go module",
    ),
    go_program(
        name="prometheus-config-reloader",
        reference=f"clipper.local/prometheus-config-reloader:{monitoringbuild.OPERATOR_VERSION}",
        builder=monitoringbuild.prometheus_config_reloader,
        key=monitoringbuild.operator_key,
        path="/bin/prometheus-config-reloader",
        ports=("8080/tcp",),
        description="prometheus-operator's config reloader built here from its Go module",
    ),
    go_program(
        name="kube-state-metrics",
        reference=f"clipper.local/kube-state-metrics:{monitoringbuild.KUBE_STATE_METRICS_VERSION}",
        builder=monitoringbuild.kube_state_metrics,
        key=monitoringbuild.kube_state_metrics_key,
        path="/kube-state-metrics",
        ports=("8080/tcp", "8081/tcp"),
        description="kube-state-metrics built here from its Go module (metrics on 8080, its own on 8081)",
    ),
)

# What the local cluster's platform runs in pods: the ingress controller and Gateway (ingress.py).
PLATFORM_RECIPES: tuple[Recipe, ...] = (
    go_program(
        name="traefik",
        reference=f"clipper.local/traefik:{components.TRAEFIK_VERSION}",
        builder=platformbuild.traefik,
        key=platformbuild.traefik_key,
        path="/usr/local/bin/traefik",
        ports=("8000/tcp", "8443/tcp", "8080/tcp"),
        description="Traefik built here from its Go module: ingress controller (class nginx) and Gateway API",
    ),
    go_program(
        name="external-secrets",
        reference=f"clipper.local/external-secrets:{components.ESO_VERSION}",
        builder=platformbuild.external_secrets,
        key=platformbuild.external_secrets_key,
        path="/usr/local/bin/external-secrets",
        ports=("8080/tcp",),
        description="External Secrets Operator built here from its Go module (kubernetes and fake providers only)",
    ),
    go_program(
        name="cert-manager-controller",
        reference=f"clipper.local/cert-manager-controller:{components.CERT_MANAGER_VERSION}",
        builder=platformbuild.cert_manager_controller,
        key=platformbuild.cert_manager_key,
        path="/usr/local/bin/cert-manager-controller",
        ports=("9402/tcp", "9403/tcp"),
        description="cert-manager's controller built here from its library module (CA, self-signed and ACME issuers)",
    ),
    go_program(
        name="cert-manager-acmesolver",
        reference=f"clipper.local/cert-manager-acmesolver:{components.CERT_MANAGER_VERSION}",
        builder=platformbuild.cert_manager_acmesolver,
        key=platformbuild.cert_manager_key,
        path="/usr/local/bin/cert-manager-acmesolver",
        ports=("8089/tcp",),
        description="cert-manager's ACME HTTP-01 solver built here from its library module",
    ),
    go_program(
        name="pebble",
        reference=f"clipper.local/pebble:{components.PEBBLE_VERSION}",
        builder=platformbuild.pebble,
        key=platformbuild.pebble_key,
        path="/usr/local/bin/pebble",
        ports=("14000/tcp", "15000/tcp"),
        description="Pebble, Let's Encrypt's ACME test server, built here from its Go module",
    ),
)

RECIPES: tuple[Recipe, ...] = STACK_RECIPES + PLATFORM_RECIPES + MONITORING_RECIPES
IMAGES: dict[str, str] = {recipe.name: recipe.reference for recipe in RECIPES}
# What build_all, import_all and build_in_background take by default: the Clipper stack's images.
STACK_IMAGES: tuple[str, ...] = tuple(recipe.name for recipe in STACK_RECIPES)
PLATFORM_IMAGES: tuple[str, ...] = tuple(recipe.name for recipe in PLATFORM_RECIPES)
MONITORING_IMAGES: tuple[str, ...] = tuple(recipe.name for recipe in MONITORING_RECIPES)
ALL_IMAGES: tuple[str, ...] = STACK_IMAGES + PLATFORM_IMAGES + MONITORING_IMAGES


def selection(with_monitoring: bool = False) -> tuple[str, ...]:
    """The image names `helm-mgmt up` builds: the stack's and the platform's, and the monitoring
    images too when asked for."""
    return ALL_IMAGES if with_monitoring else STACK_IMAGES + PLATFORM_IMAGES


def recipes_named(names: Iterable[str] | None = None) -> tuple[Recipe, ...]:
    """The recipes of ``names`` in RECIPES order; None means the stack's (STACK_IMAGES)."""
    if isinstance(names, str):
        names = (names,)
    wanted = set(STACK_IMAGES if names is None else names)
    unknown = wanted - set(IMAGES)
    if unknown:
        raise ImageBuildError(f"no image recipe named {', '.join(sorted(unknown))}; known: {', '.join(IMAGES)}")
    return tuple(recipe for recipe in RECIPES if recipe.name in wanted)


def stderr_progress(message: str) -> None:
    print(f"[images] {message}", file=sys.stderr, flush=True)


def _digest(*parts: object) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else json.dumps(part, sort_keys=True, default=str).encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def base_key(suite: str) -> str:
    return _digest(FORMAT_VERSION, suite, debian.mirror(), "minbase")


def rootfs_key(recipe: Recipe) -> str:
    return _digest(FORMAT_VERSION, base_key(recipe.suite), sorted(recipe.packages), "apt-get install")


def image_key(recipe: Recipe) -> str:
    contents = [path.read_bytes() for path, _dest, _mode in recipe.files]
    files = [(dest, mode) for _path, dest, mode in recipe.files]
    products = recipe.products_key() if recipe.products_key else None
    return _digest(
        FORMAT_VERSION,
        rootfs_key(recipe),
        recipe.reference,
        recipe.description,
        files,
        *contents,
        recipe.setup,
        asdict(recipe.config),
        COMMON_PRUNE,
        recipe.prune,
        products,
    )


def key_of_reference(reference: str) -> str | None:
    """The content key of the image built under ``reference`` (None if no recipe builds it). A pod
    template that carries it rolls when the image is rebuilt under the same tag."""
    found = [recipe for recipe in RECIPES if recipe.reference == reference]
    return image_key(found[0]) if found else None


def archive_path(recipe: Recipe) -> Path:
    tag = recipe.reference.rsplit(":", 1)[1]
    return cache_root() / "images" / f"{recipe.name}-{tag}-{image_key(recipe)}" / f"{recipe.name}.tar"


class _StepRunner:
    """Runs the commands of one build, logging them and reporting progress with elapsed seconds."""

    def __init__(self, recipe: Recipe, log: Path, progress: Progress) -> None:
        self.recipe = recipe
        self.log = log
        self.progress = progress
        self.started = time.monotonic()

    def elapsed(self) -> str:
        return f"{time.monotonic() - self.started:.0f} s"

    def run(self, step: str, cmd: list[str]) -> None:
        self.progress(f"{self.recipe.name}: {step} ({self.elapsed()} elapsed)")
        with self.log.open("a") as out:
            out.write(f"\n### {step}\n$ {' '.join(cmd)}\n")
            out.flush()
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            while True:
                try:
                    code = proc.wait(timeout=HEARTBEAT_S)
                    break
                except subprocess.TimeoutExpired:
                    self.progress(f"{self.recipe.name}: still at {step} ({self.elapsed()} elapsed)")
        if code != 0:
            tail = "".join(self.log.read_text(errors="replace").splitlines(keepends=True)[-15:])
            raise ImageBuildError(
                f"image {self.recipe.name}: step '{step}' failed (exit {code}); log: {self.log}\n{tail}"
            )


def _require_tools(progress: Progress) -> None:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if not missing:
        return
    progress(f"installing {' '.join(missing)} with apt-get")
    try:
        debian.install(missing, logs_dir() / "images-apt.log")
    except debian.DebianInstallError as err:
        raise ImageBuildError(f"installing the image build tools failed: {err}") from err


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


def _drop_stale(current: Path) -> None:
    """Remove cache entries of the same name built from older inputs (the key is the last part)."""
    prefix = current.name.rsplit("-", 1)[0] + "-"
    for other in current.parent.glob(prefix + "*"):
        key = other.name.removeprefix(prefix)
        if other != current and "-" not in key:
            _remove(other)


def _chroot_shell(root: Path, script: str) -> list[str]:
    """A command that runs ``script`` in ``root`` with /proc mounted, in a mount namespace of its
    own so that the mount goes away with the process, whatever happens to it."""
    return [
        "unshare", "--mount", "--propagation", "private", "--fork",
        "chroot", str(root), "/bin/sh", "-ec", f"mount -t proc proc /proc\n{script}",
    ]  # fmt: skip


_APT = "DEBIAN_FRONTEND=noninteractive apt-get -q -o APT::Install-Recommends=false"


def _base_rootfs(suite: str, step: _StepRunner) -> Path:
    """The cached ``debootstrap --variant=minbase`` of ``suite`` with its package lists fetched,
    which every recipe of that suite starts from (one bootstrap per suite, not per image)."""
    target = cache_root() / "rootfs" / f"base-{suite}-{base_key(suite)}"
    if target.is_dir():
        return target
    partial = target.with_name(target.name + ".partial")
    _remove(partial)
    debs = cache_root() / "debootstrap-debs" / suite
    debs.mkdir(parents=True, exist_ok=True)
    bootstrap = ["debootstrap", "--variant=minbase", f"--cache-dir={debs}", suite, str(partial), debian.mirror()]
    step.run(f"debootstrap {suite}", bootstrap)
    shutil.copyfile("/etc/resolv.conf", partial / "etc" / "resolv.conf")
    step.run(f"apt-get update in the {suite} base", _chroot_shell(partial, f"{_APT} update"))
    partial.rename(target)
    _drop_stale(target)
    return target


# Package scripts must not start services inside the build's chroot.
_NO_SERVICES = "printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d\nchmod 0755 /usr/sbin/policy-rc.d\n"


def _rootfs(recipe: Recipe, step: _StepRunner) -> Path:
    """The cached root filesystem of this recipe: its suite's base plus its packages."""
    target = cache_root() / "rootfs" / f"{recipe.rootfs_name}-{recipe.suite}-{rootfs_key(recipe)}"
    if target.is_dir():
        return target
    base = _base_rootfs(recipe.suite, step)
    partial = target.with_name(target.name + ".partial")
    _remove(partial)
    step.run(f"copy the {recipe.suite} base", ["cp", "-a", "--reflink=auto", str(base), str(partial)])
    install = f"{_APT} install -y {' '.join(recipe.packages)}\n{_APT} clean\nrm /usr/sbin/policy-rc.d\n"
    step.run(f"apt-get install {' '.join(recipe.packages)}", _chroot_shell(partial, _NO_SERVICES + install))
    partial.rename(target)
    return target


def _copy_product(source: Path, target: Path) -> None:
    """Copy a build product in, owned by root; files readable and folders searchable by every
    user (executables stay executable), whatever the modes were in the cache."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        _remove(target)
        shutil.copytree(source, target)
        for path in (target, *target.rglob("*")):
            os.chown(path, 0, 0, follow_symlinks=False)
            path.chmod(0o755 if path.is_dir() else 0o644)
    else:
        shutil.copyfile(source, target)
        os.chown(target, 0, 0)
        target.chmod(0o755 if os.access(source, os.X_OK) else 0o644)


def _write_image(recipe: Recipe, rootfs: Path, out_dir: Path, step: _StepRunner) -> Path:
    staging = out_dir / "rootfs"
    step.run("copy root filesystem", ["cp", "-a", "--reflink=auto", str(rootfs), str(staging)])
    for source, dest, mode in recipe.files:
        target = staging / dest.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        target.chmod(mode)
    for builder, dest in recipe.products:
        _copy_product(builder(), staging / dest.lstrip("/"))
    step.run("set up users and directories", ["chroot", str(staging), "/bin/sh", "-ec", recipe.setup])
    for pattern in (*COMMON_PRUNE, *recipe.prune):
        for path in staging.glob(pattern):
            _remove(path)
    # Emptied, not removed: a runtime mounts /dev, and the rest are expected to exist.
    for directory in ("dev", "tmp", "var/log", "var/cache/apt"):
        _remove(staging / directory)
        (staging / directory).mkdir(parents=True)
    (staging / "tmp").chmod(0o1777)

    tag = recipe.reference.rsplit(":", 1)[1]
    layout = out_dir / "oci"
    image = f"{layout}:{tag}"
    cfg = recipe.config
    step.run("umoci init", ["umoci", "init", "--layout", str(layout)])
    step.run("umoci new", ["umoci", "new", "--image", image])
    step.run("umoci insert (pack the layer)", ["umoci", "insert", "--image", image, str(staging), "/"])
    config_cmd = [
        "umoci",
        "config",
        "--image",
        image,
        "--author",
        "clipper-helm-kit",
        f"--config.user={cfg.user}",
        f"--config.workingdir={cfg.workdir}",
        f"--config.stopsignal={cfg.stop_signal}",
        f"--config.label=org.opencontainers.image.title={recipe.reference}",
        f"--config.label=org.opencontainers.image.description={recipe.description}",
        "--history.created_by",
        f"helm-mgmt images: debootstrap {recipe.suite}, apt-get install {' '.join(recipe.packages)}",
    ]
    config_cmd += [f"--config.entrypoint={arg}" for arg in cfg.entrypoint]
    config_cmd += [f"--config.cmd={arg}" for arg in cfg.cmd]
    config_cmd += [f"--config.env={env}" for env in cfg.env]
    config_cmd += [f"--config.exposedports={port}" for port in cfg.ports]
    step.run("umoci config", config_cmd)
    step.run("umoci gc", ["umoci", "gc", "--layout", str(layout)])
    archive = out_dir / f"{recipe.name}.tar"
    step.run(
        "skopeo copy to docker-archive",
        [
            "skopeo",
            "--insecure-policy",
            "copy",
            f"oci:{image}",
            f"docker-archive:{archive}:{recipe.reference}",
        ],
    )
    shutil.rmtree(staging)
    shutil.rmtree(layout)
    return archive


def build_image(recipe: Recipe, progress: Progress = stderr_progress) -> Path:
    """The archive of one image, built unless an archive for the same inputs is already cached."""
    archive = archive_path(recipe)
    if archive.is_file():
        progress(f"{recipe.name}: cached {archive}")
        return archive
    if os.geteuid() != 0:
        raise ImageBuildError(f"image {recipe.name}: building needs root (debootstrap, chroot, chown)")
    log = logs_dir() / f"images-{recipe.name}.log"
    log.write_text(f"building {recipe.reference} into {archive}\n")
    step = _StepRunner(recipe, log, progress)
    progress(f"{recipe.name}: building {recipe.reference} (log: {log})")
    rootfs = _rootfs(recipe, step)
    work = archive.parent.with_name(archive.parent.name + ".partial")
    _remove(work)
    work.mkdir(parents=True)
    _write_image(recipe, rootfs, work, step)
    _remove(archive.parent)
    work.rename(archive.parent)
    _drop_stale(archive.parent)
    _drop_stale(rootfs)
    size_mb = archive.stat().st_size / 1e6
    progress(f"{recipe.name}: built {recipe.reference} ({size_mb:.0f} MB) in {step.elapsed()}")
    return archive


def build_all(progress: Progress = stderr_progress, *, names: Iterable[str] | None = None) -> dict[str, Path]:
    """Build (or reuse) the images named (default: the stack's, STACK_IMAGES; ``ALL_IMAGES`` adds
    the monitoring images); returns image name -> docker-archive path."""
    recipes = recipes_named(names)
    # Archives appear by a rename, whole: when all are there, no need to wait for a build of others.
    if all(archive_path(recipe).is_file() for recipe in recipes):
        return {recipe.name: archive_path(recipe) for recipe in recipes}
    with cache_lock(cache_root() / "images" / ".lock"):
        if any(not archive_path(recipe).is_file() for recipe in recipes):
            _require_tools(progress)
        return {recipe.name: build_image(recipe, progress) for recipe in recipes}


# The CPU priority of images built after the first ones in the background (``later``): below what
# runs the cluster and its tests, above `test --all`'s offline phase (testrun.BESIDE_NICENESS).
LATER_NICENESS = 10


def build_in_background(
    progress: Progress = stderr_progress,
    *,
    names: Iterable[str] | None = None,
    later: Iterable[str] = (),
    first_built: threading.Event | None = None,
) -> threading.Thread:
    """Start ``build_all`` in a thread, to overlap with building the cluster: the Debian
    bootstraps and ``npm ci`` mostly wait on the network. A later ``build_all`` waits for it on the
    cache lock, then finds the archives; if the background build failed, it tries again and raises.

    Then the thread sets ``first_built`` and builds the ``later`` images at LATER_NICENESS (or at
    the thread's own niceness, if higher), so that they use the CPU the cluster's tests leave idle
    instead of delaying the first tests."""
    # An unknown name fails here, not in the thread.
    selected = tuple(recipe.name for recipe in recipes_named(names))
    afterwards = tuple(recipe.name for recipe in recipes_named(later)) if later else ()

    def build(group: tuple[str, ...]) -> None:
        try:
            build_all(progress, names=group)
        except Exception as err:
            progress(f"background build failed, to be retried: {str(err).splitlines()[0]}")

    def work() -> None:
        build(selected)
        if first_built:
            first_built.set()
        if afterwards:
            # Linux keeps a nice value per thread, and the processes this thread starts inherit it.
            tid = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, tid, max(os.getpriority(os.PRIO_PROCESS, tid), LATER_NICENESS))
            build(afterwards)

    thread = threading.Thread(target=work, name="image-build", daemon=True)
    thread.start()
    return thread


def archive_config_digest(archive: Path) -> str:
    """The digest of the image config inside a docker-archive (what containerd stores unchanged)."""
    with tarfile.open(archive) as tar:
        member = tar.extractfile("manifest.json")
        if member is None:
            raise ImageBuildError(f"{archive} has no manifest.json")
        manifest = json.load(member)
    config_name = Path(manifest[0]["Config"]).name.removesuffix(".json")
    return config_name if config_name.startswith("sha256:") else f"sha256:{config_name}"


def _ctr(ctr_binary: str, address: str, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [ctr_binary, "-n", "k8s.io", "--address", address, *args]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise ImageBuildError(f"'{' '.join(cmd)}' failed (exit {result.returncode}): {result.stderr.strip()}")
    return result


def imported_config_digest(ctr_binary: str, address: str, reference: str) -> str | None:
    """The config digest of ``reference`` in containerd's k8s.io namespace, or None if absent."""
    listing = _ctr(ctr_binary, address, "images", "ls", f"name=={reference}").stdout.splitlines()
    for line in listing[1:]:
        columns = line.split()
        if len(columns) >= 3 and columns[0] == reference:
            manifest = json.loads(_ctr(ctr_binary, address, "content", "get", columns[2]).stdout)
            return manifest["config"]["digest"]
    return None


def import_all(
    ctr_binary: str,
    containerd_address: str,
    progress: Progress = stderr_progress,
    *,
    names: Iterable[str] | None = None,
) -> list[str]:
    """Import the images named (as in ``build_all``) into containerd (namespace k8s.io) unless
    the same image is already there.

    Returns the references that were imported.
    """
    imported = []
    for name, archive in build_all(progress, names=names).items():
        reference = IMAGES[name]
        wanted = archive_config_digest(archive)
        if imported_config_digest(ctr_binary, containerd_address, reference) == wanted:
            progress(f"{name}: {reference} already imported ({wanted[:19]})")
            continue
        started = time.monotonic()
        progress(f"{name}: importing {reference} into containerd at {containerd_address}")
        _ctr(ctr_binary, containerd_address, "images", "import", str(archive))
        if imported_config_digest(ctr_binary, containerd_address, reference) != wanted:
            raise ImageBuildError(f"{reference} was imported from {archive} but containerd does not list it")
        progress(f"{name}: imported in {time.monotonic() - started:.0f} s")
        imported.append(reference)
    return imported
