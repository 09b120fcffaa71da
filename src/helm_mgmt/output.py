"""Human and JSON output, and progress lines for long waits."""

from __future__ import annotations

import json
import sys
import time
from typing import Any


def emit(data: Any, fmt: str, human: str) -> None:
    if fmt == "json":
        print(json.dumps(data, indent=2, sort_keys=True))
    else:
        print(human)


def progress(message: str, started: float | None = None) -> None:
    suffix = f" ({time.monotonic() - started:.0f}s)" if started is not None else ""
    print(f"==> {message}{suffix}", file=sys.stderr, flush=True)


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in [header, *rows]]
    return "\n".join(lines)
