"""Logs: the journal by default, or files rotated by logrotate."""

from __future__ import annotations

import pytest
from testinfra.host import Host


def logs_to_file(host: Host) -> bool:
    return bool(host.ansible.get_variables().get("gunicorn_log_to_file", False))


def test_file_logs_are_written_and_rotated(host: Host) -> None:
    if not logs_to_file(host):
        pytest.skip("this platform logs to the journal (host_vars); the other one writes files")
    log_dir = host.file("/var/log/webapp")
    assert log_dir.is_directory
    assert log_dir.user == "webapp"
    error_log = host.file("/var/log/webapp/gunicorn-error.log")
    assert "Booting worker" in error_log.content_string
    assert host.file("/var/log/webapp/gunicorn-access.log").exists
    config = host.file("/etc/logrotate.d/webapp").content_string
    assert "maxsize 100M" in config
    assert "rotate 14" in config
    result = host.run("logrotate --debug /etc/logrotate.d/webapp")
    assert result.rc == 0, result.stderr
    forced = host.run("logrotate --force /etc/logrotate.d/webapp")
    assert forced.rc == 0, forced.stderr
    assert host.file("/var/log/webapp/gunicorn-error.log.1").exists


def test_journal_logs_by_default(host: Host) -> None:
    if logs_to_file(host):
        pytest.skip("this platform writes log files (host_vars); the other one logs to the journal")
    assert not host.file("/etc/logrotate.d/webapp").exists
    assert "Booting worker" in host.check_output("journalctl -u webapp.service -o cat --no-pager")
