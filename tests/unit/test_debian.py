"""The Debian mirror the image builder uses is the one the machine's apt is configured with."""

from __future__ import annotations

from pathlib import Path

from helm_mgmt import debian


def write(root: Path, name: str, text: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_deb822_sources_give_the_archive_not_the_security_mirror(tmp_path: Path) -> None:
    write(
        tmp_path,
        "sources.list.d/debian.sources",
        "Types: deb\nURIs: http://security.example/debian-security\nSuites: trixie-security\nComponents: main\n\n"
        "# a mirror of our own\nTypes: deb deb-src\nURIs: http://mirror.example.org/debian/\n"
        "Suites: trixie trixie-updates\nComponents: main\n",
    )
    assert debian.mirror_from(tmp_path) == "http://mirror.example.org/debian"


def test_disabled_stanzas_and_other_archives_are_passed_over(tmp_path: Path) -> None:
    write(
        tmp_path,
        "sources.list.d/a.sources",
        "Types: deb\nURIs: http://off.example/debian\nSuites: trixie\nEnabled: no\n\n"
        "Types: deb\nURIs: https://deb.nodesource.com/node_20.x\nSuites: nodistro\n",
    )
    write(tmp_path, "sources.list.d/b.sources", "Types: deb\nURIs: http://on.example/debian\nSuites: bookworm\n")
    assert debian.mirror_from(tmp_path) == "http://on.example/debian"


def test_one_line_sources_with_options(tmp_path: Path) -> None:
    write(
        tmp_path,
        "sources.list",
        "# deb http://commented.example/debian bookworm main\n"
        "deb [signed-by=/usr/share/keyrings/k.gpg arch=amd64] http://proxy.internal:3142/debian bookworm main\n",
    )
    assert debian.mirror_from(tmp_path) == "http://proxy.internal:3142/debian"


def test_no_configuration_means_none(tmp_path: Path) -> None:
    assert debian.mirror_from(tmp_path) is None
