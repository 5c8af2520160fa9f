"""Unit tests for plugins/modules/http_check.py against real HTTP servers on loopback and on
a unix socket (threads of this test process, stopped at the end of each test)."""

from __future__ import annotations

import http.server
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tools.testing import load_plugin, run_module

hc = load_plugin("modules", "http_check")


class Handler(http.server.BaseHTTPRequestHandler):
    """/status/CODE answers CODE; /flaky answers 503 twice, then 200; /host 200 when the
    Host header is notes.test, else 421."""

    flaky_left = 0

    def do_GET(self) -> None:
        if self.path.startswith("/status/"):
            code = int(self.path.rsplit("/", 1)[1])
        elif self.path == "/host":
            code = 200 if self.headers.get("Host") == "notes.test" else 421
        elif self.path == "/flaky":
            code = 503 if Handler.flaky_left > 0 else 200
            Handler.flaky_left -= 1
        else:
            code = 404
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


class UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def serve(server: socketserver.BaseServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def tcp_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    serve(server)
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def unix_socket(tmp_path: Path) -> Iterator[str]:
    path = str(tmp_path / "app.sock")

    class UnixHandler(Handler):
        def address_string(self) -> str:
            return "unix"

    server = UnixServer(path, UnixHandler)
    serve(server)
    yield path
    server.shutdown()
    server.server_close()


def no_sleep(_seconds: float) -> None:
    pass


def test_statuses_over_tcp_and_a_unix_socket(tcp_url: str, unix_socket: str) -> None:
    checks = [
        {"name": "tcp", "url": f"{tcp_url}/status/200", "status": [200]},
        {"name": "missing", "url": f"{tcp_url}/status/404", "status": []},
        {"url": "http://localhost", "path": "/status/204", "unix_socket": unix_socket},
    ]
    results, failure = hc.run_checks(checks, 0, 0, 5, False)
    assert failure == ""
    assert [(r["status"], r["ok"], r["attempts"]) for r in results] == [
        (200, True, 1),
        (404, True, 1),
        (204, True, 1),
    ]


def test_a_5xx_fails_unless_it_is_accepted(tcp_url: str) -> None:
    checks = [{"name": "api", "url": f"{tcp_url}/status/502", "status": []}]
    results, failure = hc.run_checks(checks, 2, 0, 5, False, sleep=no_sleep)
    assert failure == "api: GET /status/502 answered 502, expected an answer below 500"
    assert results[0]["attempts"] == 3
    accepted = [{"url": f"{tcp_url}/status/502", "status": list(range(100, 600))}]
    assert hc.run_checks(accepted, 0, 0, 5, False)[1] == ""


def test_retries_until_it_answers(tcp_url: str) -> None:
    Handler.flaky_left = 2
    delays: list[float] = []
    results, failure = hc.run_checks(
        [{"url": f"{tcp_url}/flaky", "status": [200]}], 3, 0.5, 5, False, sleep=delays.append
    )
    assert failure == ""
    assert results[0]["attempts"] == 3
    assert delays == [0.5, 0.5]


def test_nothing_listening_names_the_error(tmp_path: Path) -> None:
    checks = [
        {
            "name": "Gunicorn",
            "url": "http://localhost/api/health",
            "unix_socket": str(tmp_path / "x"),
        },
        {"name": "never tried first", "url": "http://127.0.0.1:9/", "status": [200]},
    ]
    results, failure = hc.run_checks(checks, 0, 0, 2, False)
    assert failure.startswith("Gunicorn: GET /api/health answered nothing (FileNotFoundError")
    assert failure.endswith("expected an answer below 500")
    assert [r["ok"] for r in results] == [False, False]
    assert results[0]["status"] == -1


def test_the_module_fails_with_the_first_failed_check(
    tcp_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args: dict[str, Any] = {
        "checks": [
            {"name": "ok", "url": f"{tcp_url}/status/200"},
            {"name": "bad", "url": f"{tcp_url}/status/500", "status": [200]},
        ],
        "delay": 0,
    }
    result = run_module(hc, args, capsys)
    assert result["failed"] is True
    assert result["msg"] == "bad: GET /status/500 answered 500, expected 200"
    assert result["failed_check"]["name"] == "bad"
    assert [check["ok"] for check in result["checks"]] == [True, False]
    passing = run_module(hc, {"checks": args["checks"][:1]}, capsys)
    assert passing.get("failed") is not True
    assert passing["changed"] is False


def test_the_host_header_picks_the_site(tcp_url: str, unix_socket: str) -> None:
    """A host's nginx with several sites: the check names the site it means."""
    checks = [
        {"url": tcp_url, "path": "/host", "host_header": "notes.test", "status": [200]},
        {
            "url": "http://localhost",
            "path": "/host",
            "unix_socket": unix_socket,
            "host_header": "notes.test",
            "status": [200],
        },
        {"url": tcp_url, "path": "/host", "status": [421]},
    ]
    results, failure = hc.run_checks(checks, 0, 0, 5, False)
    assert failure == ""
    assert [r["status"] for r in results] == [200, 200, 421]
