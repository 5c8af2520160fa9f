"""Logs that cannot fill the disk: nginx's, Gunicorn's and the app's files are rotated, and
the journal is capped."""

from __future__ import annotations

import json
import shlex
import time

from testinfra.host import Host

from tools.testing import wait_until

LOG_DIR = "/var/log/webapp"
APP_LOG = f"{LOG_DIR}/app.log"


def test_nginx_logs_are_rotated_by_debians_logrotate_config(host: Host) -> None:
    assert host.package("logrotate").is_installed
    assert host.service("logrotate.timer").is_enabled
    config = host.file("/etc/logrotate.d/nginx")
    assert config.exists
    assert host.package("nginx-common").is_installed
    text = config.content_string
    assert "/var/log/nginx/*.log" in text
    assert "rotate 14" in text
    assert "compress" in text
    debug = host.run("logrotate --debug /etc/logrotate.d/nginx")
    assert debug.rc == 0, debug.stderr
    assert "considering log /var/log/nginx/access.log" in debug.stdout + debug.stderr


def test_app_log_file_is_written_and_rotated_with_gunicorns(host: Host) -> None:
    env_file = host.file("/etc/webapp/webapp.env").content_string
    assert f"APP_LOG_FILE={json.dumps(APP_LOG)}" in env_file
    log = host.file(APP_LOG)
    assert (log.user, log.group, log.mode) == ("webapp", "webapp", 0o640)
    assert "started: version" in log.content_string
    debug = host.run("logrotate --debug /etc/logrotate.d/webapp")
    assert debug.rc == 0, debug.stderr
    for name in ("app.log", "gunicorn-error.log"):
        assert f"considering log {LOG_DIR}/{name}" in debug.stdout + debug.stderr, name

    forced = host.run("logrotate --force /etc/logrotate.d/webapp")
    assert forced.rc == 0, forced.stderr
    assert host.file(f"{APP_LOG}.1").exists
    # The WatchedFileHandler notices the move and writes a new app.log, in the unit's
    # LogsDirectory, which ProtectSystem=strict leaves writable.
    user = f"resilience-{int(time.time())}"
    body = json.dumps({"username": user})
    login = host.run(
        "curl -sS -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' "
        f"--data {shlex.quote(body)} http://127.0.0.1/api/login"
    )
    assert login.stdout == "200", login.stdout + login.stderr

    def logged() -> bool:
        return host.file(APP_LOG).exists and f"login: {user}" in host.file(APP_LOG).content_string

    wait_until(logged, 10)
    assert f"login: {user}" not in host.file(f"{APP_LOG}.1").content_string


def test_journal_is_capped(host: Host) -> None:
    dropin = host.file("/etc/systemd/journald.conf.d/webapp.conf")
    assert dropin.exists
    assert "SystemMaxUse=200M" in dropin.content_string.splitlines()
    journald = host.check_output("journalctl -u systemd-journald -o cat --no-pager")
    last_start = journald.rsplit("System Journal (", 1)[-1]
    assert "max 200.0M" in last_start.splitlines()[0], journald[-2000:]
