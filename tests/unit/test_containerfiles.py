"""images/*/Containerfile, the recipes users build Clipper's images from, make the same images as
the local build (helm_mgmt.localcluster.images): user, entrypoint, command, ports, working
directory, environment, packages and the files copied in."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from helm_mgmt.localcluster import images

RECIPES = {recipe.name: recipe for recipe in images.RECIPES}
CONTAINERFILES = sorted(images.CONTAINERFILES_DIR.glob("*/Containerfile"))


@dataclass
class FinalStage:
    """What the last stage of a Containerfile declares."""

    user: str = ""
    workdir: str = "/"
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    ports: set[str] = field(default_factory=set)
    env: dict[str, str] = field(default_factory=dict)
    stop_signal: str = "SIGTERM"
    packages: set[str] = field(default_factory=set)
    # (source as written, destination) of every COPY
    copies: list[tuple[str, str]] = field(default_factory=list)


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    out = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def final_stage(text: str) -> FinalStage:
    steps = instructions(text)
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    stage = FinalStage()
    for word, args in steps[last_from + 1 :]:
        if word == "USER":
            stage.user = args
        elif word == "WORKDIR":
            stage.workdir = args
        elif word in ("ENTRYPOINT", "CMD"):
            setattr(stage, word.lower(), json.loads(args))
        elif word == "EXPOSE":
            stage.ports |= {p if "/" in p else f"{p}/tcp" for p in args.split()}
        elif word == "ENV":
            key, _, value = args.partition("=")
            stage.env[key] = value
        elif word == "STOPSIGNAL":
            stage.stop_signal = args
        elif word == "RUN":
            for command in args.split("&&"):
                words = shlex.split(command)
                if words[:2] == ["apt-get", "install"]:
                    stage.packages |= {w for w in words[2:] if not w.startswith("-")}
        elif word == "COPY":
            parts = [p for p in args.split() if not p.startswith("--")]
            stage.copies += [(source, parts[-1]) for source in parts[:-1]]
    return stage


def test_every_clipper_image_has_a_containerfile_and_every_containerfile_a_recipe():
    assert {p.parent.name for p in CONTAINERFILES} == {"backend", "migrations", "frontend"}
    for path in CONTAINERFILES:
        assert path.parent.name in RECIPES, path


@pytest.mark.parametrize("path", CONTAINERFILES, ids=lambda p: p.parent.name)
def test_containerfile_matches_the_local_build(path: Path):
    recipe = RECIPES[path.parent.name]
    stage = final_stage(path.read_text())
    config = recipe.config
    assert stage.user == config.user
    assert stage.workdir == config.workdir
    assert stage.entrypoint == list(config.entrypoint)
    assert stage.cmd == list(config.cmd)
    assert stage.ports == set(config.ports)
    assert stage.stop_signal == config.stop_signal
    assert stage.env == dict(item.split("=", 1) for item in config.env if not item.startswith("PATH="))
    assert stage.packages == set(recipe.packages)
    destinations = {dest.rstrip("/") for _source, dest in stage.copies}
    wanted = {dest for _path, dest, _mode in recipe.files} | {dest for _builder, dest in recipe.products}
    assert destinations == wanted
    # Files of ours are copied from this folder (the build's `kit` context) under the same names.
    ours = {(source, dest) for source, dest in stage.copies if (path.parent / source).is_file()}
    assert ours == {(src.name, dest) for src, dest, _mode in recipe.files}
    for src, _dest, _mode in recipe.files:
        assert src.parent == path.parent, f"{src} is not beside {path}"


def test_the_parser_sees_a_difference():
    """A Containerfile that drifts (another user, an extra port) is told apart from the recipe."""
    text = (images.CONTAINERFILES_DIR / "backend" / "Containerfile").read_text()
    drifted = final_stage(text.replace("USER 65532:65532", "USER 0:0").replace("EXPOSE 8080", "EXPOSE 8080 9090"))
    assert drifted.user == "0:0" and drifted.ports == {"8080/tcp", "9090/tcp"}
