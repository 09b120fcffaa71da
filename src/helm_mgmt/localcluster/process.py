"""Host processes of the cluster: started detached, tracked by pid files, stopped by pid."""

from __future__ import annotations

import contextlib
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from helm_mgmt.localcluster.components import state_dir
from helm_mgmt.paths import logs_dir

STARTED = time.monotonic()


class ComponentError(RuntimeError):
    """A component did not come up; the message names it and its log file."""


def progress(message: str) -> None:
    print(f"[{time.monotonic() - STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


def pid_file(name: str) -> Path:
    return state_dir() / "run" / f"{name}.pid"


def write_config(path: Path, text: str) -> Path:
    """Write a component's config only when it changed: kube-proxy exits when its file is touched."""
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


def log_file(name: str) -> Path:
    return logs_dir() / f"cluster-{name}.log"


def pid_of(name: str) -> int | None:
    """The pid recorded for ``name`` if that process is still alive (and not a zombie)."""
    try:
        pid = int(pid_file(name).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if alive(pid) else None


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # gone, or vanishing while read (ESRCH)
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def start(name: str, argv: list[str], env: dict[str, str] | None = None) -> int:
    """Start ``argv`` in its own session with output to the component's log; record its pid."""
    running = pid_of(name)
    if running:
        return running
    log = log_file(name)
    with log.open("ab") as out:
        out.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%S')} {' '.join(argv)}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
    pid_file(name).parent.mkdir(parents=True, exist_ok=True)
    pid_file(name).write_text(f"{proc.pid}\n")
    return proc.pid


def stop(name: str, timeout: float = 15.0) -> bool:
    """SIGTERM the recorded process, SIGKILL it after ``timeout``; True if one was running."""
    pid = pid_of(name)
    if pid is None:
        pid_file(name).unlink(missing_ok=True)
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_of(name) and time.monotonic() < deadline:
        time.sleep(0.2)
    if pid_of(name):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        while pid_of(name):
            time.sleep(0.1)
    pid_file(name).unlink(missing_ok=True)
    return True


def http_ok(url: str) -> bool:
    """True when ``url`` answers 200; serving certificates are not checked (health ports only)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as resp:
            return resp.status == 200
    except OSError:
        return False


def _tail(name: str, lines: int = 5) -> str:
    try:
        last = log_file(name).read_text(errors="replace").splitlines()[-lines:]
    except FileNotFoundError:
        return ""
    return "".join(f"\n  {line}" for line in last)


def wait_for(name: str, check: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``check`` until it holds; fail naming the component and its log if it dies or times out."""
    began = time.monotonic()
    progress(f"waiting for {what}")
    while not check():
        if pid_file(name).exists() and pid_of(name) is None:
            raise ComponentError(f"{name} exited while waiting for {what}; see {log_file(name)}{_tail(name)}")
        if time.monotonic() - began > timeout:
            raise ComponentError(f"{name}: {what} not reached after {timeout:.0f}s; see {log_file(name)}{_tail(name)}")
        time.sleep(0.5)
    progress(f"{what} after {time.monotonic() - began:.1f}s")
