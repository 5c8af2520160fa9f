"""Logs that cannot fill the disk: nginx's, Gunicorn's and the app's files are rotated, and
the journal is capped."""

from __future__ import annotations

import json
import shlex
import time
from pathlib import Path

from testinfra.host import Host

from tools.testing import (
    EXAMPLE_BACKEND,
    backend_variant,
    failing_health_edit,
    http_status,
    run_playbook,
    wait_until,
)

SCENARIO = Path(__file__).resolve().parent.parent

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


def test_a_failed_gate_shows_the_apps_traceback_from_gunicorns_error_log(
    host: Host, tmp_path: Path
) -> None:
    """With the logs in files, a traceback inside a request is in Gunicorn's error log, not in
    the journal: the gate's failure message ends with that file too."""
    failing = backend_variant(tmp_path, "logged", failing_health_edit("logged-in-the-file"))
    converge = SCENARIO / "converge.yml"
    try:
        variables = json.dumps({"python_uv_app_src": str(failing)})
        result = run_playbook(converge, "all", "-e", variables)
        output = result.stdout + result.stderr
        assert result.returncode != 0, output[-4000:]
        assert "health gate failed" in output, output[-4000:]
        assert f"{LOG_DIR}/gunicorn-error.log ends with:" in output, output[-4000:]
        assert "RuntimeError: logged-in-the-file" in output, output[-4000:]
    finally:
        restored = run_playbook(
            converge, "all", "-e", json.dumps({"python_uv_app_src": str(EXAMPLE_BACKEND)})
        )
        assert restored.returncode == 0, (restored.stdout + restored.stderr)[-4000:]
    assert http_status(host, "/api/health") == 200
