"""Handlers: a configuration change reloads Gunicorn (same master, new workers)."""

from __future__ import annotations

import os
from pathlib import Path

from testinfra.host import Host

from tools.testing import run_playbook

SCENARIO = Path(__file__).resolve().parent.parent


def main_pid(host: Host) -> str:
    return str(host.check_output("systemctl show -p MainPID --value webapp.service"))


def worker_pids(host: Host, master: str) -> set[str]:
    return set(host.check_output(f"pgrep -P {master}").split())


def apply_timeout(host: Host, timeout: int) -> str:
    os.environ["GUNICORN_TEST_TIMEOUT"] = str(timeout)
    result = run_playbook(SCENARIO / "reload.yml", host.backend.get_hostname())
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    return result.stdout


def test_config_change_reloads_without_restarting_the_master(host: Host) -> None:
    master = main_pid(host)
    workers = worker_pids(host, master)
    output = apply_timeout(host, 31)
    try:
        assert "RUNNING HANDLER [fullstack.webapp.gunicorn : Reload gunicorn]" in output
        assert "RUNNING HANDLER [fullstack.webapp.gunicorn : Restart gunicorn]" not in output
        assert "timeout = 31\n" in host.file("/etc/webapp/gunicorn.conf.py").content_string
        assert main_pid(host) == master, "a reload must keep the master"
        new_workers = worker_pids(host, master)
        assert len(new_workers) == len(workers)
        assert new_workers.isdisjoint(workers), "a reload replaces every worker"
    finally:
        apply_timeout(host, 30)
