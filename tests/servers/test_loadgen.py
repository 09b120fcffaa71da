"""The benchmark's load generator, built from its Go source and run against HTTP servers on
loopback: every non-2xx answer and every refused connection is a failure, counted per stream and
per second, with no retry; a stop file ends the run."""

from __future__ import annotations

import http.server
import json
import socket
import ssl
import subprocess
import threading
import time
from contextlib import suppress
from pathlib import Path

import pytest

from helm_mgmt.bench import loadgen
from helm_mgmt.gobuild import go_env

pytestmark = pytest.mark.servers


FORWARDED: list[str] = []


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (the stdlib's name)
        FORWARDED.append(self.headers.get("X-Forwarded-For", ""))
        code = 200 if self.path == "/ok" else 503
        self.send_response(code)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"hi")

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("loadgen") / "loadgen"
    subprocess.run(["go", "build", "-o", str(out), "."], cwd=loadgen.SOURCE, env=go_env(), check=True)
    return out


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _load_for(binary: Path, streams: list[dict], seconds: float, tmp_path: Path) -> dict:
    """Run ``streams`` for about ``seconds``, stop the run with its stop file; the tally per stream.
    The streams go in on standard input (``run -``), as the benchmark passes them."""
    stop = tmp_path / "stop"
    env = {"LOADGEN_STOP_FILE": str(stop)}
    given = tmp_path / "streams.json"
    given.write_text(json.dumps(streams))
    with given.open() as stdin:
        proc = subprocess.Popen([str(binary), "run", "-"], stdin=stdin, stdout=subprocess.PIPE, text=True, env=env)
    time.sleep(seconds)
    stop.write_text("stop")
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    return json.loads(out)["streams"]


def test_counts_every_outcome_per_stream_and_second(binary: Path, server, tmp_path: Path) -> None:
    streams = [
        loadgen.stream("ok", f"{server}/ok", 40, True, spread_clients=True),
        loadgen.stream("unavailable", f"{server}/down", 20, False),
        loadgen.stream("refused", f"http://127.0.0.1:{_closed_port()}/", 10, False),
    ]
    result = _load_for(binary, streams, 3.2, tmp_path)
    ok, down, refused = result["ok"], result["unavailable"], result["refused"]
    assert ok["fail"] == 0 and 100 <= ok["ok"] <= 140, ok
    assert down["ok"] == 0 and down["statuses"] == {"503": down["fail"]} and down["fail"] >= 50
    assert refused["ok"] == 0 and refused["errors"] == {"refused": refused["fail"]} and refused["fail"] >= 25
    assert sum(sec["ok"] for sec in ok["per_second"]) == ok["ok"]
    assert all(sec["p99_ms"] > 0 for sec in ok["per_second"] if sec["ok"])
    assert 0 < ok["p50_ms"] <= ok["p99_ms"] and down["p99_ms"] == 0
    spread = [f for f in FORWARDED if f]
    assert len(spread) == len(set(spread)) == ok["ok"] and all(f.startswith("10.") for f in spread)
    assert FORWARDED.count("") == down["ok"] + down["fail"], "only the spread stream sets the header"


@pytest.fixture
def one_answer_per_connection():
    """A server that answers the first request of a connection (keeping it alive) and closes the
    connection on the second without answering: the client must not hide that with a retry."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.5)
    done = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nhi")
            conn.recv(65536)

    def accept() -> None:
        while not done.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    done.set()
    # Closed only once accept() has returned: closing it under a blocked accept() raises EBADF there.
    acceptor.join(timeout=5)
    listener.close()


def test_a_silent_retry_on_a_closed_keepalive_connection_counts_as_a_failure(
    binary: Path, one_answer_per_connection: str, tmp_path: Path
) -> None:
    stop = tmp_path / "stop"
    streams = json.dumps([loadgen.stream("s", one_answer_per_connection, 20, True)])
    proc = subprocess.Popen(
        [str(binary), "run", streams], stdout=subprocess.PIPE, text=True, env={"LOADGEN_STOP_FILE": str(stop)}
    )
    time.sleep(2.2)
    stop.write_text("stop")
    out, _ = proc.communicate(timeout=30)
    tally = json.loads(out)["streams"]["s"]
    assert tally["fail"] >= 10 and tally["errors"] == {"reset": tally["fail"]}, tally
    assert any("the HTTP client retried" in sample for sample in tally["samples"])


def test_a_timeout_names_the_step_where_the_request_stalled(binary: Path, tmp_path: Path) -> None:
    """A server that accepts and never answers: each failure is a timeout after the request went
    out, and says so (a lost DNS answer or an unanswered connect would name their own step)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []

    def hold() -> None:
        with suppress(OSError):
            while True:
                held.append(listener.accept()[0])

    threading.Thread(target=hold, daemon=True).start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
    tally = _load_for(binary, [loadgen.stream("silent", url, 4, False)], 1.1, tmp_path)["silent"]
    assert tally["ok"] == 0 and tally["errors"] == {"timeout": tally["fail"]} and tally["fail"] >= 3, tally
    assert all("(last step: request sent at " in sample for sample in tally["samples"]), tally["samples"]
    listener.close()


def test_refuses_streams_it_cannot_run(binary: Path) -> None:
    bad = json.dumps([loadgen.stream("x", "http://127.0.0.1:1/", 0, True)])
    proc = subprocess.run([str(binary), "run", bad], capture_output=True, text=True)
    assert proc.returncode == 2 and "rate of 1 to 2000" in proc.stderr


def test_waits_for_a_target_that_opens_late_without_counting_the_wait(binary: Path, tmp_path: Path) -> None:
    """With WAIT, refusals before the target first takes a connection are not load: a new pod's
    address is admitted by a NetworkPolicy engine a moment after it starts."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = tmp_path / "stop"
    streams = json.dumps([loadgen.stream("late", f"http://127.0.0.1:{port}/", 20, False)])
    env = {"LOADGEN_STOP_FILE": str(stop)}
    proc = subprocess.Popen(
        [str(binary), "run", streams, "20s"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    time.sleep(1.5)
    assert proc.poll() is None, "it waits instead of loading or giving up"
    listener.listen(64)
    accepted = threading.Event()

    def answer() -> None:
        listener.settimeout(0.2)
        while not stop.exists():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            accepted.set()

    threading.Thread(target=answer, daemon=True).start()
    assert accepted.wait(10)
    time.sleep(1.5)
    stop.write_text("stop")
    out, err = proc.communicate(timeout=30)
    listener.close()
    tally = json.loads(out)["streams"]["late"]
    assert "loading" in err
    assert tally["fail"] == 0 and tally["ok"] >= 10, tally


def test_gives_up_on_a_target_that_never_opens(binary: Path) -> None:
    streams = json.dumps([loadgen.stream("never", f"http://127.0.0.1:{_closed_port()}/", 5, False)])
    proc = subprocess.run([str(binary), "run", streams, "2s"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1 and "not reachable within 2s" in proc.stderr


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _authority(folder: Path, name: str) -> Path:
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-days",
        "1",
        "-subj",
        f"/CN={name}",
        "-keyout",
        f"{name}.key",
        "-out",
        f"{name}.crt",
        cwd=folder,
    )
    return folder / f"{name}.crt"


@pytest.fixture
def https_server(tmp_path: Path):
    """HTTPS on loopback with a certificate for 127.0.0.1 from a CA of its own; yields (URL, CA PEM,
    the Authorization headers it saw)."""
    ca = _authority(tmp_path, "ca")
    _openssl(
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-subj",
        "/CN=server",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        cwd=tmp_path,
    )
    (tmp_path / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    _openssl(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "san.ext",
        "-out",
        "server.crt",
        cwd=tmp_path,
    )
    seen: list[str] = []

    class Handler(_Handler):
        def do_GET(self):  # noqa: N802
            seen.append(self.headers.get("Authorization", ""))
            super().do_GET()

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "server.crt", tmp_path / "server.key")
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"https://127.0.0.1:{httpd.server_address[1]}", ca.read_text(), seen
    httpd.shutdown()


def test_https_trusts_the_streams_ca_only_and_sends_its_headers(binary: Path, https_server, tmp_path: Path) -> None:
    url, ca, seen = https_server
    other_ca = _authority(tmp_path, "other").read_text()
    session = {"Authorization": "Bearer e2e-token"}
    streams = [
        loadgen.stream("trusted", f"{url}/ok", 20, True, headers=session, ca=ca),
        loadgen.stream("untrusted", f"{url}/ok", 10, False, ca=other_ca),
    ]
    result = _load_for(binary, streams, 2.2, tmp_path)
    trusted, untrusted = result["trusted"], result["untrusted"]
    assert trusted["fail"] == 0 and trusted["ok"] >= 30, trusted
    assert untrusted["ok"] == 0 and untrusted["fail"] >= 15, untrusted
    assert any("certificate" in sample for sample in untrusted["samples"]), untrusted["samples"]
    assert seen.count("Bearer e2e-token") == trusted["ok"] and "" not in seen


def test_refuses_a_ca_that_holds_no_certificate(binary: Path) -> None:
    bad = json.dumps([loadgen.stream("x", "https://127.0.0.1:1/", 5, True, ca="not a certificate")])
    proc = subprocess.run([str(binary), "run", bad], capture_output=True, text=True)
    assert proc.returncode == 2 and "ca holds no PEM certificate" in proc.stderr
