"""The gunicorn role: a socket-activated, hardened systemd service with the computed workers."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable

import pytest
from testinfra.backend.base import CommandResult
from testinfra.host import Host

from tools import checklist
from tools.testing import systemd_exposure

SERVICE = "webapp"


def bind_of(host: Host) -> str:
    return str(host.ansible.get_variables().get("gunicorn_bind", "unix:/run/webapp/gunicorn.sock"))


def api_get(host: Host, path: str) -> CommandResult:
    bind = bind_of(host)
    if bind.startswith("unix:"):
        target = f"--unix-socket {bind.removeprefix('unix:')} http://localhost{path}"
    else:
        target = f"http://{bind}{path}"
    return host.run(f"curl -sS --max-time 10 -w '\\n%{{http_code}}' {target}")


def test_socket_and_service_enabled_and_running(host: Host) -> None:
    for unit in (f"{SERVICE}.socket", f"{SERVICE}.service"):
        assert host.service(unit).is_enabled, unit
        assert host.service(unit).is_running, unit


def test_app_answers_on_the_socket(host: Host) -> None:
    result = api_get(host, "/api/health")
    body, _, status = result.stdout.rpartition("\n")
    assert status == "200", result.stdout + result.stderr
    assert json.loads(body)["status"] == "ok"


def test_unix_socket_is_reachable_by_the_web_server_group_only(host: Host) -> None:
    bind = bind_of(host)
    if not bind.startswith("unix:"):
        pytest.skip(
            "this platform listens on TCP (host_vars); the other one checks the unix socket"
        )
    socket = host.file(bind.removeprefix("unix:"))
    assert socket.is_socket
    assert socket.group == "www-data"
    assert socket.mode == 0o660


def test_master_and_computed_workers(host: Host, run_in_host: Callable[[str], str]) -> None:
    facts = host.ansible("setup", "gather_subset=hardware")["ansible_facts"]
    expected = checklist.expected_workers(
        facts["ansible_processor_vcpus"], facts["ansible_memtotal_mb"]
    )
    config = host.file("/etc/webapp/gunicorn.conf.py").content_string
    assert f"workers = {expected}\n" in config
    assert 'worker_class = "uvicorn_worker.UvicornWorker"' in config
    result = checklist.check_gunicorn_processes(run_in_host, SERVICE)
    assert result.passed, result.detail


def test_runs_as_the_unprivileged_app_user(host: Host) -> None:
    main_pid = host.check_output(f"systemctl show -p MainPID --value {SERVICE}.service")
    assert host.check_output(f"ps -o user= -p {main_pid}") == "webapp"


def test_restart_policy_never_gives_up(host: Host) -> None:
    props = host.check_output(
        f"systemctl show {SERVICE}.service -p Restart -p StartLimitIntervalUSec -p TimeoutStopUSec"
    )
    assert "Restart=always" in props
    assert "StartLimitIntervalUSec=0" in props
    stop_timeout = re.search(r"TimeoutStopUSec=(\d+)s", props)
    assert stop_timeout is not None, props
    assert int(stop_timeout.group(1)) > 30, "stop timeout must exceed graceful_timeout (30 s)"


def test_hardening_rated_2_5_or_better(host: Host) -> None:
    exposure, report = systemd_exposure(host, f"{SERVICE}.service")
    assert exposure <= 2.5, report[-2000:]


def test_master_killed_comes_back(host: Host) -> None:
    before = host.check_output(f"systemctl show -p MainPID --value {SERVICE}.service")
    host.run(f"kill -9 {before}")
    deadline = time.monotonic() + 15
    after = before
    while time.monotonic() < deadline:
        after = host.check_output(f"systemctl show -p MainPID --value {SERVICE}.service")
        if after not in {before, "0"} and api_get(host, "/api/health").stdout.endswith("200"):
            break
        time.sleep(0.5)
    assert after not in {before, "0"}, "systemd did not restart the killed master"
    assert api_get(host, "/api/health").stdout.endswith("200")


def test_no_deprecated_worker_module_in_use(host: Host) -> None:
    config = host.file("/etc/webapp/gunicorn.conf.py").content_string
    assert "uvicorn.workers" not in config
    journal = host.check_output(f"journalctl -u {SERVICE}.service --no-pager -o cat")
    assert "uvicorn.workers" not in journal
    assert "DeprecationWarning" not in journal
