"""A hardened service: what the Gunicorn unit may do, and what its user may touch."""

from __future__ import annotations

import re

import pytest
from testinfra.host import Host

from tools.testing import http_status, main_pid, systemd_exposure, wait_until

SERVICE = "webapp.service"
APP_USER = "webapp"
APP_ROOT = "/opt/webapp"
WEB_ROOT = "/var/www/webapp"
CONFIG_DIR = "/etc/webapp"


# Gunicorn's unit is the collection's own; nginx's is Debian's with the role's drop-in.
@pytest.mark.parametrize(("unit", "limit"), [(SERVICE, 2.0), ("nginx.service", 5.0)])
def test_systemd_analyze_security_rates_the_units_within_their_limits(
    host: Host, unit: str, limit: float
) -> None:
    exposure, report = systemd_exposure(host, unit)
    print(f"systemd-analyze security {unit}: {exposure}")
    assert exposure <= limit, report[-3000:]


def test_master_and_workers_run_as_the_unprivileged_app_user(host: Host) -> None:
    account = host.user(APP_USER)
    assert account.exists
    assert 0 < account.uid < 1000, f"{APP_USER} is not a system user (uid {account.uid})"
    assert account.shell == "/usr/sbin/nologin"
    master = main_pid(host, SERVICE)
    assert master > 0
    pids = [str(master), *host.check_output(f"pgrep -P {master}").split()]
    assert len(pids) > 1, "the master has no workers"
    for pid in pids:
        assert host.check_output(f"ps -o user= -p {pid}") == APP_USER, pid
        status = host.file(f"/proc/{pid}/status").content_string
        effective = re.search(r"^CapEff:\s+([0-9a-f]+)$", status, re.MULTILINE)
        assert effective is not None
        assert int(effective.group(1), 16) == 0, f"process {pid} holds capabilities"
        assert re.search(r"^NoNewPrivs:\s+1$", status, re.MULTILINE), pid


def test_code_and_venv_are_not_writable_by_the_app_user(host: Host) -> None:
    paths = f"{APP_ROOT} {APP_ROOT}/app {APP_ROOT}/venv"
    owned = host.check_output(f"find {paths} -user {APP_USER} -print")
    assert owned == "", f"files owned by {APP_USER}:\n{owned}"
    # find -writable asks the kernel (access(2)) as that user, so modes, groups and ACLs count.
    writable = host.run(f"runuser -u {APP_USER} -- find {paths} -writable -print")
    assert writable.rc == 0, writable.stderr
    assert writable.stdout == "", f"writable by {APP_USER}:\n{writable.stdout}"
    # The unit makes the whole file system read-only to the service besides its own
    # state and log directories.
    props = host.check_output(
        f"systemctl show {SERVICE} -p ProtectSystem -p ReadWritePaths -p StateDirectory "
        "-p LogsDirectory"
    )
    assert "ProtectSystem=strict" in props.splitlines()
    assert "ReadWritePaths=" in props.splitlines()
    assert "StateDirectory=webapp" in props.splitlines()
    assert "LogsDirectory=webapp" in props.splitlines()


def test_environment_file_is_readable_by_root_and_the_app_group_only(host: Host) -> None:
    env_file = host.file(f"{CONFIG_DIR}/webapp.env")
    assert env_file.is_file
    assert (env_file.user, env_file.group, env_file.mode) == ("root", APP_USER, 0o640)
    assert host.run(f"runuser -u nobody -- cat {CONFIG_DIR}/webapp.env").rc != 0
    assert host.run(f"runuser -u {APP_USER} -- test -r {CONFIG_DIR}/webapp.env").rc == 0
    assert host.run(f"runuser -u {APP_USER} -- test -w {CONFIG_DIR}/webapp.env").rc != 0


def test_nothing_under_the_app_web_and_config_roots_is_writable_by_others(host: Host) -> None:
    # Symbolic links always show mode 0777 and are skipped: their targets are checked where
    # they are (the venv's python links to /usr/bin/python3).
    found = host.check_output(
        f"find {APP_ROOT} {WEB_ROOT} {CONFIG_DIR} ! -type l -perm -o+w -print"
    )
    assert found == "", f"writable by others:\n{found}"


def test_sandboxed_nginx_reloads_and_rotates_its_logs(host: Host) -> None:
    """Inside the sandbox, the same master reloads and reopens its logs after Debian's
    logrotate: the next request lands in a new access.log."""
    master = main_pid(host, "nginx.service")
    assert host.run("systemctl reload nginx.service").rc == 0
    assert http_status(host, "/") == 200
    rotation = host.run("logrotate --force /etc/logrotate.d/nginx")
    assert rotation.rc == 0, rotation.stderr
    marker = f"/rotation-check-{master}"
    http_status(host, marker)
    wait_until(
        lambda: marker in host.file("/var/log/nginx/access.log").content_string, timeout_s=10
    )
    assert marker not in host.file("/var/log/nginx/access.log.1").content_string
    assert main_pid(host, "nginx.service") == master
    journal = host.check_output("journalctl -u nginx.service --since '-5min' --no-pager -q")
    assert "Permission denied" not in journal, journal
