"""The shell commands of a Markdown page: every line of its fenced bash/sh/shell/console blocks, with
backslash continuations joined and comments dropped, in the page's order. The offline docs test
parses and renders them; the cluster test of INSTALLATION.md runs them."""

from __future__ import annotations

import re
from pathlib import Path

FENCE = re.compile(r"```(?:bash|sh|shell|console)\n(.*?)```", re.S)


def shell_commands(path: Path) -> list[str]:
    commands = []
    for block in FENCE.findall(path.read_text()):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.split(" #", 1)[0].strip()
            if line and not line.startswith("#"):
                commands.append(line)
    return commands
