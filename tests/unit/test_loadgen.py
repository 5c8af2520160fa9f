"""Unit tests for tools/loadgen.py (GETs, POSTs and a WebSocket at once) against the real
example app (Gunicorn with its Uvicorn worker, from the app's own environment, run from a
releases/<id>/app/ tree on a loopback socket of the test's), and against tiny WebSocket
servers of this process for what the app never does; and for tools/testing.py's
exactly-once check of the POSTs and its per-deploy figures. Every load stops by itself."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pytest

from tools import loadgen, testing
from tools.testing import EXAMPLE_BACKEND, ROOT

LOADGEN = ROOT / "tools" / "loadgen.py"
APP_VENV = ROOT / ".cache" / "app-venv"
PATHS = "/api/health,/api/items?limit=1"


# -- the example app under Gunicorn -------------------------------------------------------


@pytest.fixture(scope="module")
def app_python() -> Path:
    """The example back end's own environment (what `make unit` makes for its tests)."""
    python = APP_VENV / "bin" / "python"
    if not (APP_VENV / "bin" / "gunicorn").exists():
        uv = ROOT / ".cache" / "bootstrap" / "bin" / "uv"
        uv_command = str(uv) if uv.exists() else shutil.which("uv")
        if uv_command is None:
            pytest.skip("no uv to make the example app's environment: run `make tools`")
        subprocess.run(
            [uv_command, "sync", "--locked", "--quiet"],
            cwd=EXAMPLE_BACKEND,
            env={**os.environ, "UV_PROJECT_ENVIRONMENT": str(APP_VENV)},
            check=True,
            timeout=600,
        )
    return python


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """base/releases/r1/app and base/releases/r2/app (the back end's code: release_of
    finds r1 and r2), and base/state, the state directory they share."""
    base = tmp_path_factory.mktemp("loadgen")
    for release in ("r1", "r2"):
        shutil.copytree(
            EXAMPLE_BACKEND,
            base / "releases" / release / "app",
            ignore=shutil.ignore_patterns(".venv", "__pycache__", ".pytest_cache", "var", "tests"),
        )
    return base


def listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


class Gunicorn:
    """The example app of one release under Gunicorn (one Uvicorn worker) on an inherited
    listening socket, as under systemd's socket activation: two of them can share it."""

    def __init__(self, python: Path, base: Path, release: str, sock: socket.socket) -> None:
        self.log = base / f"gunicorn-{release}-{time.monotonic_ns()}.log"
        env = {
            key: value for key, value in os.environ.items() if not key.startswith(("APP_", "STATE"))
        }
        env.update(APP_STATE_DIR=str(base / "state"), APP_SECRET_KEY="loadgen-test")  # noqa: S106
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    str(python),
                    "-m",
                    "gunicorn",
                    "app.main:app",
                    "--worker-class",
                    "uvicorn_worker.UvicornWorker",
                    "--workers",
                    "1",
                    "--bind",
                    f"fd://{sock.fileno()}",
                    "--graceful-timeout",
                    "10",
                    "--no-control-socket",
                ],
                cwd=base / "releases" / release / "app",
                env=env,
                pass_fds=[sock.fileno()],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.wait_for("Application startup complete")

    def wait_for(self, text: str, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while text not in self.log.read_text(errors="replace"):
            assert self.process.poll() is None, self.log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, self.log.read_text(errors="replace")[-3000:]
            time.sleep(0.05)

    def stop(self) -> None:
        """A graceful stop (SIGTERM), as systemd stops a Gunicorn service."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


@contextmanager
def gunicorn(python: Path, base: Path, release: str, sock: socket.socket) -> Iterator[Gunicorn]:
    server = Gunicorn(python, base, release, sock)
    try:
        yield server
    finally:
        server.stop()


def loadgen_argv(
    port: int, stop_file: Path, max_seconds: float, paths: str, *flags: str
) -> list[str]:
    """The load generator as the test containers run it: no site-packages (-S)."""
    return [
        sys.executable,
        "-S",
        str(LOADGEN),
        paths,
        str(stop_file),
        str(max_seconds),
        str(port),
        "127.0.0.1",
        *flags,
    ]


def run_loadgen(
    port: int, tmp_path: Path, max_seconds: float, paths: str, *flags: str
) -> dict[str, Any]:
    result = subprocess.run(
        loadgen_argv(port, tmp_path / "stop", max_seconds, paths, *flags),
        capture_output=True,
        text=True,
        timeout=max_seconds + 60,
        check=True,
    )
    report: dict[str, Any] = json.loads(result.stdout)
    return report


@pytest.fixture(scope="module")
def served(
    app_python: Path, releases: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Release r1 serving, and the report of 3 s of all three kinds of load against it."""
    with closing(listening_socket()) as sock, gunicorn(app_python, releases, "r1", sock):
        port = sock.getsockname()[1]
        report = run_loadgen(
            port,
            tmp_path_factory.mktemp("load"),
            3,
            PATHS,
            "--post",
            "/api/jobs",
            "--websocket",
            "/api/ws",
        )
        yield port, report


def test_all_three_kinds_against_the_example_app(served: tuple[int, dict[str, Any]]) -> None:
    _, report = served
    kinds = report["kinds"]
    get, post, ws = kinds["get"], kinds["post"], kinds["websocket"]
    # The GETs' figures, as before.
    assert report["sent"] == get["sent"] > 50, report
    assert report["failed"] == get["failed"] == 0, report
    assert set(report["counts"]) == {"/api/health 200", "/api/items?limit=1 200"}, report
    assert set(report["releases"]) == {"r1"}, report
    assert sum(report["hosts"].values()) == report["counts"]["/api/health 200"], report
    # Every POST answered 202 with a job id of its own.
    assert post["sent"] > 20, post
    assert post["failed"] == 0, post
    assert post["counts"] == {"202": post["sent"]}, post
    assert len(set(post["ids"])) == len(post["ids"]) == post["sent"], post
    # One WebSocket all along, every message echoed.
    assert ws["connections"] == 1, ws
    assert ws["server_closes"] == 0, ws
    assert ws["failed"] == 0, ws
    assert ws["messages"] == ws["sent"] > 20, ws
    # Which release answered: every answer's X-Release.
    assert report["releases_by_kind"] == {
        "get": {"r1": get["sent"]},
        "post": {"r1": post["sent"]},
        "websocket": {"r1": 1},
    }, report
    longest = [get["longest_ms"], post["longest_ms"], ws["longest_ms"]]
    assert all(0 < ms < 3000 for ms in longest), report
    assert report["longest_ms"] == max(longest), report
    assert report["started_at"] < report["stopped_at"] <= time.time(), report


def test_failures_of_each_kind_are_counted(
    served: tuple[int, dict[str, Any]], tmp_path: Path
) -> None:
    """POSTs answered 405, a WebSocket path the app refuses (403) and GETs answered 404."""
    port, _ = served
    report = run_loadgen(
        port, tmp_path, 1, "/nowhere", "--post", "/api/health", "--websocket", "/api/nope"
    )
    kinds = report["kinds"]
    assert report["failed"] == report["sent"] > 0, report
    assert kinds["post"]["failed"] == kinds["post"]["sent"] > 0, report
    assert kinds["post"]["ids"] == [], report
    assert set(kinds["post"]["counts"]) == {"405"}, report
    ws = kinds["websocket"]
    assert ws["connections"] == 0, ws
    assert ws["failed"] >= 3, ws  # retried every 0.1 s
    assert set(ws["counts"]) == {"handshake status 403"}, ws


def test_old_command_line_gets_only(served: tuple[int, dict[str, Any]], tmp_path: Path) -> None:
    """PATHS STOP_FILE MAX_SECONDS [PORT [HOST]], as the scenarios call it today; the stop
    file ends it before MAX_SECONDS."""
    port, _ = served
    stop_file = tmp_path / "stop"
    process = subprocess.Popen(
        [sys.executable, "-S", str(LOADGEN), "/api/health", str(stop_file), "30", str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(0.5)
    stop_file.touch()
    out, _ = process.communicate(timeout=20)
    report = json.loads(out)
    assert report["sent"] > 5, report
    assert report["failed"] == 0, report
    assert report["kinds"]["post"]["sent"] == report["kinds"]["websocket"]["sent"] == 0, report
    assert report["stopped_at"] - report["started_at"] < 10, report


def test_an_error_in_a_loop_is_one_failure() -> None:
    tally = loadgen.PostTally()

    def broken(stop: threading.Event, tally: loadgen.PostTally) -> None:
        tally.sent += 1
        raise KeyError("id")

    loadgen.guarded(broken, tally, threading.Event())
    assert (tally.sent, tally.failed) == (1, 1)
    assert tally.counts == {"loop stopped: KeyError: 'id'": 1}


# -- exactly once --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def jobs_db(served: tuple[int, dict[str, Any]], releases: Path) -> Path:
    return releases / "state" / "jobs.sqlite3"


def copy_db(source: Path, dest: Path) -> Path:
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(dest)) as dst:
        src.backup(dst)
    return dest


def test_every_post_ran_exactly_once(served: tuple[int, dict[str, Any]], jobs_db: Path) -> None:
    _, report = served
    ids = report["kinds"]["post"]["ids"]
    rows = testing.jobs_created_locally(jobs_db, since=report["started_at"])
    check = testing.exactly_once(ids, {"app": rows})
    assert check == {
        "answered": len(ids),
        "created": len(ids),
        "lost": [],
        "duplicated": 0,
        "unexpected": [],
        "no_database": [],
    }
    # The window: nothing before the load started, nothing after it stopped.
    assert testing.jobs_created_locally(jobs_db, since=report["stopped_at"] + 1) == []
    assert testing.jobs_created_locally(jobs_db, since=0, until=report["started_at"] - 1) == []


def test_lost_and_duplicated_posts_are_found(
    served: tuple[int, dict[str, Any]], jobs_db: Path, tmp_path: Path
) -> None:
    _, report = served
    ids = report["kinds"]["post"]["ids"]
    started = report["started_at"]
    app1 = copy_db(jobs_db, tmp_path / "app1.sqlite3")
    app2 = tmp_path / "app2.sqlite3"
    with closing(sqlite3.connect(app1)) as db, db:
        db.execute("DELETE FROM jobs WHERE id = ?", (ids[0],))  # lost
        # Run without a 202 (its client saw a failure), and one from before the load.
        db.execute(
            "INSERT INTO jobs VALUES ('unanswered', 'done', 100, NULL, 1, 0.05, ?, ?)",
            (started + 0.5, started + 0.5),
        )
        db.execute(
            "INSERT INTO jobs VALUES ('before', 'done', 100, NULL, 1, 0.05, ?, ?)",
            (started - 60, started - 60),
        )
    copy_db(app1, app2)
    with closing(sqlite3.connect(app2)) as db, db:
        db.execute("DELETE FROM jobs WHERE id != ?", (ids[1],))  # ran on a second host too
    created = {
        "app1": testing.jobs_created_locally(app1, since=started),
        "app2": testing.jobs_created_locally(app2, since=started),
        "app3": testing.jobs_created_locally(tmp_path / "none.sqlite3", since=started),
    }
    check = testing.exactly_once(ids, created)
    assert check["lost"] == [ids[0]]
    assert check["unexpected"] == ["unanswered"]
    assert check["duplicated"] == 2  # "unanswered", and ids[1] a second time
    assert check["created"] == len(ids) + 1
    assert check["answered"] == len(ids)
    assert check["no_database"] == ["app3"]


def test_jobs_created_reads_as_the_database_owner() -> None:
    """The command run on a host: python3 as the database's owner when run as root."""

    class Result:
        rc = 0
        stdout = '["a", "b"]'
        stderr = ""

    commands: list[str] = []

    class Host:
        def run(self, command: str) -> Result:
            commands.append(command)
            return Result()

    host: Any = Host()
    assert testing.jobs_created(host, "/var/lib/web app/jobs.sqlite3", since=5.0) == ["a", "b"]
    command = commands[0]
    assert "runuser -u \"$(stat -c %U '/var/lib/web app/jobs.sqlite3')\" -- python3 -c" in command
    assert command.endswith("'/var/lib/web app/jobs.sqlite3' 5.0 ''; fi")


# -- per-deploy figures --------------------------------------------------------------------


def test_deploy_figures_are_appended_and_tabled(
    served: tuple[int, dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, report = served
    monkeypatch.setattr(testing, "_SESSION_FIGURES", [])
    results = tmp_path / "results" / "zero-downtime.jsonl"
    check = testing.exactly_once(report["kinds"]["post"]["ids"][1:], {"app": ["x"]})
    first = testing.deploy_figures("v2 | blue", report, check, "r1", results=results)
    old = {"sent": 10, "failed": 1, "counts": {}, "releases": {"r0": 10}, "hosts": {}}
    second = testing.deploy_figures("old report", old, None, results=results)
    kinds = report["kinds"]
    assert first["get_sent"] == kinds["get"]["sent"]
    assert first["post_sent"] == kinds["post"]["sent"]
    assert first["post_lost"] == len(kinds["post"]["ids"]) - 1
    assert first["post_duplicated"] == 1
    assert first["ws_messages"] == kinds["websocket"]["messages"]
    assert first["from_refused_release"] == kinds["get"]["sent"] + kinds["post"]["sent"] + 1
    assert first["longest_ms"] == report["longest_ms"]
    assert second["get_failed"] == 1
    assert second["post_lost"] is None
    assert second["from_refused_release"] == 0
    assert testing.read_figures(results) == [first, second]

    table = testing.figures_table([first, second]).splitlines()
    assert table[0] == (
        "| deploy | GET sent | GET failed | POST sent | POST failed | POST lost | POST dup "
        "| WebSocket connections | WebSocket server closes | WebSocket messages "
        "| WebSocket failed | from refused release | longest wait ms |"
    )
    assert table[1] == "|---|" + "--:|" * 12
    assert table[2].startswith(f"| v2 \\| blue | {kinds['get']['sent']} | 0 |")
    assert table[3] == "| old report | 10 | 1 | 0 | 0 | - | - | 0 | 0 | 0 | 0 | - | 0.0 |"

    lines: list[str] = []

    class Reporter:
        def write_sep(self, sep: str, title: str) -> None:
            lines.append(f"{sep} {title}")

        def write_line(self, line: str) -> None:
            lines.append(line)

    reporter: Any = Reporter()
    testing.zero_downtime_summary(reporter)
    assert lines[0] == "- zero downtime: 2 deploys measured"
    assert lines[1:5] == table
    monkeypatch.setattr(testing, "_SESSION_FIGURES", [])
    lines.clear()
    testing.zero_downtime_summary(reporter)
    assert lines == []


# -- the WebSocket client --------------------------------------------------------------------


def test_reconnects_when_gunicorn_stops_gracefully(
    app_python: Path, releases: Path, tmp_path: Path
) -> None:
    """r1 serves the WebSocket; r2 starts on the same socket, r1 stops (a graceful stop
    closes the WebSocket): the client reconnects at once, to r2, and no message fails."""
    stop_file = tmp_path / "stop"
    with closing(listening_socket()) as sock, gunicorn(app_python, releases, "r1", sock) as r1:
        port = sock.getsockname()[1]
        load = subprocess.Popen(
            loadgen_argv(port, stop_file, 30, "", "--websocket", "/api/ws", "--timeout", "5"),
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            r1.wait_for('"WebSocket /api/ws" [accepted]', timeout_s=10)
            time.sleep(0.5)
            with gunicorn(app_python, releases, "r2", sock) as r2:
                r1.stop()
                r2.wait_for('"WebSocket /api/ws" [accepted]', timeout_s=10)
                time.sleep(0.5)
                stop_file.touch()
                out, _ = load.communicate(timeout=20)
        finally:
            if load.poll() is None:
                load.kill()
                load.wait()
    report = json.loads(out)
    ws = report["kinds"]["websocket"]
    assert ws["connections"] == 2, ws
    assert ws["server_closes"] == 1, ws
    assert ws["close_codes"] == {"1012": 1}, ws  # Uvicorn's close frame: "service restart"
    assert ws["failed"] == 0, ws
    assert ws["messages"] == ws["sent"] > 10, ws
    assert report["releases_by_kind"]["websocket"] == {"r1": 1, "r2": 1}, report
    assert report["sent"] == report["kinds"]["post"]["sent"] == 0, report


Behaviour = Callable[[socket.socket], None]


class FakeServer:
    """A WebSocket server of this process on loopback: each connection is upgraded (with
    X-Release: fake), then handed to the next behaviour; with no behaviour left it stops
    listening. Frames from the client are checked to be masked."""

    def __init__(
        self, behaviours: list[Behaviour], status: str = "101 Switching Protocols"
    ) -> None:
        self.behaviours = behaviours
        self.status = status
        self.accept_key: Callable[[str], str] = loadgen.accept_key
        self.sock = listening_socket()
        self.port = self.sock.getsockname()[1]
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        with self.sock:
            while self.behaviours:
                connection, _ = self.sock.accept()
                behaviour = self.behaviours.pop(0)
                if not self.behaviours:  # nothing listens any more once the last one runs
                    self.sock.close()
                with connection:
                    connection.settimeout(5)
                    try:
                        self.upgrade(connection)
                        behaviour(connection)
                    except Exception as exc:  # reported by the test
                        self.errors.append(exc)

    def upgrade(self, connection: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            head += connection.recv(4096)
        key = next(
            line.split(b":", 1)[1].strip().decode()
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key:")
        )
        connection.sendall(
            f"HTTP/1.1 {self.status}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {self.accept_key(key)}\r\nX-Release: fake\r\n\r\n".encode()
        )


def read_frame(connection: socket.socket) -> tuple[int, bytes]:
    """A client's frame: its opcode and unmasked payload (it must be masked)."""

    def exactly(size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = connection.recv(size - len(data))
            if not chunk:
                raise EOFError("the client closed")
            data += chunk
        return data

    first, second = exactly(2)
    assert second & 0x80, "a client frame must be masked"
    length = second & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", exactly(2))
    elif length == 127:
        (length,) = struct.unpack("!Q", exactly(8))
    mask = exactly(4)
    payload = bytes(b ^ mask[i % 4] for i, b in enumerate(exactly(length)))
    return first & 0x0F, payload


def server_frame(opcode: int, payload: bytes, final: bool = True) -> bytes:
    return bytes([(0x80 if final else 0) | opcode, len(payload)]) + payload


def echo_until_closed(connection: socket.socket) -> None:
    while True:
        try:
            opcode, payload = read_frame(connection)
        except (EOFError, OSError):
            return
        if opcode == loadgen.OP_CLOSE:
            connection.sendall(server_frame(loadgen.OP_CLOSE, payload))
            return
        connection.sendall(server_frame(opcode, payload))


def test_client_answers_pings_joins_fragments_and_answers_a_close() -> None:
    seen: dict[str, Any] = {}

    def behaviour(connection: socket.socket) -> None:
        opcode, message = read_frame(connection)
        seen["message"] = (opcode, message)
        connection.sendall(server_frame(loadgen.OP_PING, b"are you there"))
        seen["pong"] = read_frame(connection)
        half = len(message) // 2
        connection.sendall(server_frame(loadgen.OP_TEXT, message[:half], final=False))
        connection.sendall(server_frame(loadgen.OP_CONTINUATION, message[half:]))
        connection.sendall(server_frame(loadgen.OP_CLOSE, struct.pack("!H", 1012)))
        seen["close"] = read_frame(connection)

    server = FakeServer([behaviour])
    client, release = loadgen.WebSocket.connect("127.0.0.1", server.port, "/ws", timeout=5)
    assert release == "fake"
    client.send_text("hello, échos")
    assert client.receive(timeout=5) == "hello, échos"
    with pytest.raises(loadgen.ServerClosed) as closed:
        client.receive(timeout=5)
    assert closed.value.code == "1012"
    assert client.closed
    server.thread.join(timeout=5)
    assert server.errors == []
    assert seen == {
        "message": (loadgen.OP_TEXT, "hello, échos".encode()),
        "pong": (loadgen.OP_PONG, b"are you there"),
        "close": (loadgen.OP_CLOSE, struct.pack("!H", 1012)),
    }


def test_handshake_is_checked() -> None:
    wrong = FakeServer([echo_until_closed])
    wrong.accept_key = lambda key: base64.b64encode(b"not the hash of the key").decode()
    with pytest.raises(loadgen.HandshakeError, match="wrong Sec-WebSocket-Accept"):
        loadgen.WebSocket.connect("127.0.0.1", wrong.port, "/ws", timeout=5)
    refused = FakeServer([echo_until_closed], status="403 Forbidden")
    with pytest.raises(loadgen.HandshakeError, match="status 403") as error:
        loadgen.WebSocket.connect("127.0.0.1", refused.port, "/ws", timeout=5)
    assert error.value.release == "fake"


def run_websocket_loop(port: int, seconds: float) -> loadgen.SocketTally:
    stop = threading.Event()
    tally = loadgen.SocketTally()
    thread = threading.Thread(
        target=loadgen.websocket_loop, args=("127.0.0.1", port, "/ws", 2.0, stop, tally)
    )
    thread.start()
    time.sleep(seconds)
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive()
    return tally


def test_a_message_the_server_closed_on_is_sent_again() -> None:
    """The server reads a message and closes (1001) without its echo: the loop reconnects
    at once and sends it again; no failure."""

    def close_on_the_second(connection: socket.socket) -> None:
        _, payload = read_frame(connection)
        connection.sendall(server_frame(loadgen.OP_TEXT, payload))
        read_frame(connection)
        connection.sendall(server_frame(loadgen.OP_CLOSE, struct.pack("!H", 1001)))
        read_frame(connection)  # the client's close

    server = FakeServer([close_on_the_second, echo_until_closed])
    tally = run_websocket_loop(server.port, 0.6)
    assert server.errors == []
    assert tally.connections == 2, tally
    assert tally.server_closes == 1, tally
    assert tally.close_codes == {"1001": 1}, tally
    assert tally.resent == 1, tally
    assert tally.failed == 0, tally
    assert tally.messages == tally.sent > 3, tally
    assert tally.releases == {"fake": 2}, tally


def test_no_server_to_reconnect_to_is_a_failure() -> None:
    """The server echoes once and ends the stream (no close frame), then nothing listens:
    every reconnection fails."""

    def once(connection: socket.socket) -> None:
        _, payload = read_frame(connection)
        connection.sendall(server_frame(loadgen.OP_TEXT, payload))

    server = FakeServer([once])
    tally = run_websocket_loop(server.port, 0.6)
    assert tally.connections == 1, tally
    assert tally.messages == 1, tally
    assert tally.server_closes == 1, tally
    assert tally.close_codes == {"eof": 1}, tally
    assert tally.failed >= 2, tally
    assert set(tally.counts) == {"handshake ConnectionRefusedError"}, tally


# -- which Gunicorn service serves -------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "active", "recorded", "expected"),
    [
        (False, [], None, "webapp.service"),
        (True, ["blue.service", "blue.socket"], None, "webapp@blue.service"),
        (True, ["green.service", "blue.socket", "green.socket"], "blue", "webapp@green.service"),
        (True, ["blue.service", "green.service"], "green", "webapp@green.service"),
        (True, ["blue.service", "green.service"], None, "webapp@blue.service"),
        (True, ["green.socket"], None, "webapp@green.service"),
        (True, [], "green", "webapp@green.service"),
    ],
)
def test_pick_serving_service(
    template: bool, active: list[str], recorded: str | None, expected: str
) -> None:
    states = {unit: "active" for unit in active}
    assert testing.pick_serving_service("webapp", template, states, recorded) == expected


def test_serving_service_asks_systemd(tmp_path: Path) -> None:
    """The commands serving_service runs, against a stand-in systemctl and /etc."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (tmp_path / "units").mkdir()
    systemctl = bin_dir / "systemctl"
    systemctl.write_text(
        "#!/bin/sh\n"
        f'units="{tmp_path}/units"\n'
        'if [ "$1" = cat ]; then [ -e "$units/$3" ]; exit; fi\n'
        'if [ "$1" = is-active ]; then cat "$units/$2" 2>/dev/null || echo inactive; fi\n'
    )
    systemctl.chmod(0o755)

    class Host:
        def check_output(self, command: str) -> str:
            command = command.replace("/etc/", f"{tmp_path}/etc/")
            env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
            result = subprocess.run(
                ["sh", "-c", command], env=env, capture_output=True, text=True, check=True
            )
            return result.stdout

    host: Any = Host()
    assert testing.serving_service(host, "webapp") == "webapp.service"
    (tmp_path / "units" / "webapp@.service").touch()
    (tmp_path / "units" / "webapp@green.service").write_text("active\n")
    assert testing.serving_service(host, "webapp") == "webapp@green.service"
    (tmp_path / "units" / "webapp@blue.service").write_text("active\n")
    assert testing.serving_service(host, "webapp") == "webapp@blue.service"
    (tmp_path / "etc" / "webapp").mkdir(parents=True)
    (tmp_path / "etc" / "webapp" / "serving-instance").write_text("green\n")
    assert testing.serving_service(host, "webapp") == "webapp@green.service"
