"""Debian on this machine: the packages the tool needs, installed with apt-get when missing (as
root), and the mirror the machine's own apt uses, which the image builder bootstraps from.

One install function for every caller, so that concurrent installs (the cluster's and the image
builder's run in parallel) wait for each other instead of failing on dpkg's lock.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path

DEFAULT_MIRROR = "http://deb.debian.org/debian"
APT_SOURCES = Path("/etc/apt")
# How long apt-get waits for another apt-get or dpkg (ours or the machine's) to finish.
LOCK_TIMEOUT_S = 600
_one_at_a_time = threading.Lock()


class DebianInstallError(RuntimeError):
    pass


def missing(packages: Iterable[str]) -> list[str]:
    """The packages of ``packages`` that dpkg does not list as installed."""
    wanted = list(packages)
    query = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Package} ${db:Status-Status}\n", *wanted], capture_output=True, text=True
    )
    installed = {line.split()[0] for line in query.stdout.splitlines() if line.endswith(" installed")}
    return [pkg for pkg in wanted if pkg not in installed]


def install(packages: Iterable[str], log: Path) -> None:
    """``apt-get update`` then ``apt-get install`` of the packages, output appended to ``log``."""
    wanted = sorted(set(packages))
    if not wanted:
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    lock = ["-o", f"DPkg::Lock::Timeout={LOCK_TIMEOUT_S}"]
    with _one_at_a_time, log.open("a") as out:
        for cmd in (
            ["apt-get", *lock, "update", "-q"],
            ["apt-get", *lock, "install", "-y", "-q", "--no-install-recommends", *wanted],
        ):
            out.write(f"$ {' '.join(cmd)}\n")
            out.flush()
            if subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env).returncode != 0:
                tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-15:])
                raise DebianInstallError(f"`{' '.join(cmd)}` failed; log: {log}\n{tail}")


def extract_binary(package: str, path_in_package: str, target: Path, log: Path) -> Path:
    """One file of a Debian package, unpacked to ``target`` without installing the package (no
    maintainer scripts, no services): ``apt-get download`` then ``dpkg-deb -x``."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with _one_at_a_time, log.open("a") as out, tempfile.TemporaryDirectory() as tmp:
        for cmd in (["apt-get", "update", "-q"], ["apt-get", "download", "-q", package]):
            out.write(f"$ {' '.join(cmd)}\n")
            out.flush()
            if subprocess.run(cmd, cwd=tmp, stdout=out, stderr=subprocess.STDOUT, env=env).returncode != 0:
                tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-15:])
                raise DebianInstallError(f"`{' '.join(cmd)}` failed; log: {log}\n{tail}")
        deb = next(Path(tmp).glob(f"{package}_*.deb"))
        unpacked = Path(tmp) / "unpacked"
        subprocess.run(["dpkg-deb", "-x", str(deb), str(unpacked)], check=True, stdout=out, stderr=subprocess.STDOUT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(unpacked / path_in_package.lstrip("/"), target)
    return target


def candidate_version(package: str) -> str | None:
    """The version ``apt-get install package`` would install, from the local package lists."""
    out = subprocess.run(["apt-cache", "policy", package], capture_output=True, text=True).stdout
    for line in out.splitlines():
        key, _, value = line.strip().partition(": ")
        if key == "Candidate" and value != "(none)":
            return value
    return None


def _one_line_sources(text: str) -> Iterator[tuple[str, list[str]]]:
    """(URI, suites) of the `deb` lines of a sources.list file."""
    for line in text.splitlines():
        words = re.sub(r"\[[^\]]*\]", " ", line.split("#", 1)[0]).split()
        if len(words) >= 3 and words[0] == "deb":
            yield words[1], [words[2]]


def _deb822_sources(text: str) -> Iterator[tuple[str, list[str]]]:
    """(URI, suites) of the enabled `Types: deb` stanzas of a .sources file."""
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line:
                continue
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.strip()
        if "deb" in fields.get("types", "").split() and fields.get("enabled", "yes").lower() != "no":
            for uri in fields.get("uris", "").split():
                yield uri, fields.get("suites", "").split()


def mirror_from(root: Path) -> str | None:
    """The first Debian archive mirror of the apt configuration under ``root`` (security and
    other archives left out), or None."""
    files = [root / "sources.list", *sorted((root / "sources.list.d").glob("*.list"))]
    files += sorted((root / "sources.list.d").glob("*.sources"))
    for path in files:
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        entries = _deb822_sources(text) if path.suffix == ".sources" else _one_line_sources(text)
        for uri, suites in entries:
            if uri.rstrip("/").endswith("/debian") and any("-" not in suite for suite in suites):
                return uri.rstrip("/")
    return None


@cache
def mirror() -> str:
    """Where the image builder fetches Debian from: ``CLIPPER_KIT_DEBIAN_MIRROR``, else the mirror
    the machine's apt uses (a machine behind its own mirror needs that), else deb.debian.org."""
    return os.environ.get("CLIPPER_KIT_DEBIAN_MIRROR") or mirror_from(APT_SOURCES) or DEFAULT_MIRROR
