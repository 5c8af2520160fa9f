"""Unit tests for the blue/green pieces: the gunicorn_instances filter (the instances' units
and addresses) and the gunicorn_instance module's readers (worker start-up lines, the
connections left on a listener, a master's workers), on real sockets and processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

from tools.testing import load_plugin

instances = load_plugin("filter", "gunicorn_instances")
module = load_plugin("modules", "gunicorn_instance")


def test_one_instance_keeps_the_service_and_its_bind() -> None:
    assert instances.gunicorn_instances("webapp", "unix:/run/webapp/gunicorn.sock") == {
        "": {
            "service": "webapp.service",
            "socket": "webapp.socket",
            "bind": "unix:/run/webapp/gunicorn.sock",
            "listen_stream": "/run/webapp/gunicorn.sock",
            "upstream": "unix:/run/webapp/gunicorn.sock",
            "url": "http://localhost",
            "unix_socket": "/run/webapp/gunicorn.sock",
            "port": 0,
        }
    }


def test_blue_keeps_the_bind_and_green_moves_next_to_it() -> None:
    unix = instances.gunicorn_instances("shop", "unix:/run/shop/gunicorn.sock", True)
    assert set(unix) == {"blue", "green"}
    assert unix["blue"]["bind"] == "unix:/run/shop/gunicorn.sock"
    assert unix["green"]["bind"] == "unix:/run/shop/gunicorn-green.sock"
    assert (unix["green"]["service"], unix["green"]["socket"]) == (
        "shop@green.service",
        "shop@green.socket",
    )
    assert instances.instance_bind("unix:/run/shop/app", "green") == "unix:/run/shop/app-green"
    tcp = instances.gunicorn_instances("shop", "10.0.0.5:8000", True)
    assert (tcp["blue"]["port"], tcp["green"]["port"]) == (8000, 8001)
    assert tcp["green"]["upstream"] == "10.0.0.5:8001"
    assert tcp["green"]["unix_socket"] == ""


@pytest.mark.parametrize(
    ("bind", "upstream"),
    [("0.0.0.0:8000", "127.0.0.1:8000"), ("[::]:8000", "[::1]:8000"), ("*:8000", "127.0.0.1:8000")],
)
def test_a_wildcard_is_reached_on_loopback(bind: str, upstream: str) -> None:
    described = instances.gunicorn_instances("app", bind)[""]
    assert described["upstream"] == upstream
    assert described["url"] == f"http://{upstream}"


def test_green_needs_a_next_port() -> None:
    with pytest.raises(AnsibleFilterError, match="below 65535"):
        instances.gunicorn_instances("app", "127.0.0.1:65535", True)


def test_a_worker_is_started_once_it_logged_the_end_of_its_start_up() -> None:
    lines = [
        "[2026-12-05 04:33:20 +0000] [100] [INFO] Booting worker with pid: 101",
        "[2026-12-05 04:33:21 +0000] [101] [INFO] Waiting for application startup.",
        "[2026-12-05 04:33:21 +0000] [101] [INFO] Application startup complete.",
        "[2026-12-05 04:33:21 +0000] [102] [INFO] Waiting for application startup.",
        "[2026-12-05 04:33:21 +0000] [103] [INFO] ASGI 'lifespan' protocol appears unsupported.",
        "[2026-12-05 04:33:21 +0000] [999] [INFO] Application startup complete.",
    ]
    assert module.started_in(lines, [101, 102, 103]) == {101, 103}


def test_the_connections_left_on_a_unix_socket_and_a_tcp_port(tmp_path: Path) -> None:
    path = str(tmp_path / "instance.sock")
    unix_server = socket.socket(socket.AF_UNIX)
    unix_server.bind(path)
    unix_server.listen()
    tcp_server = socket.create_server(("127.0.0.1", 0))
    port = tcp_server.getsockname()[1]
    try:
        assert module.unix_connections(path) == 0
        assert module.tcp_connections(port) == 0
        unix_client = socket.socket(socket.AF_UNIX)
        unix_client.connect(path)
        tcp_client = socket.create_connection(("127.0.0.1", port))
        accepted = [unix_server.accept()[0], tcp_server.accept()[0]]
        assert module.unix_connections(path) == 1
        assert module.tcp_connections(port) == 1
        for connection in (unix_client, tcp_client, *accepted):
            connection.close()
        assert module.unix_connections(path) == 0
        deadline = time.monotonic() + 5
        while module.tcp_connections(port) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert module.tcp_connections(port) == 0
    finally:
        unix_server.close()
        tcp_server.close()


def test_drained_waits_until_the_last_connection_closed(tmp_path: Path) -> None:
    path = str(tmp_path / "old.sock")
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen()
    client = socket.socket(socket.AF_UNIX)
    client.connect(path)
    accepted, _ = server.accept()
    try:
        params = {"unix_socket": path, "port": 0, "timeout": 1}
        held = module.wait_drained(params)
        assert held["ready"] is False
        assert held["connections"] == 1
        assert held["waited"] >= 1
        client.close()
        accepted.close()
        assert module.wait_drained(params) == {"ready": True, "connections": 0, "waited": 0.0}
    finally:
        server.close()


def test_the_workers_of_a_master_are_its_children() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert child.pid in module.children_of(os.getpid())
    finally:
        child.kill()
        child.wait()
