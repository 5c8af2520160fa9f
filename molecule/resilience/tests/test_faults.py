"""Faults the stack survives, each checked over HTTP through nginx inside the container.

Every test puts back what it broke (in a ``finally``) and leaves the host serving, so the
tests may run in any order.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from collections.abc import Callable

import pytest
from testinfra.host import Host

from tools import checklist
from tools.testing import http_status, main_pid, wait_until

SERVICE = "webapp.service"
NGINX = "nginx.service"
CRASH_DROPIN_DIR = "/etc/systemd/system/webapp.service.d"
CRASH_DROPIN = f"{CRASH_DROPIN_DIR}/zz-resilience-crash.conf"
CRASH_MODULE = "app.resilience_crash_loop"
REMOVE_CRASH_DROPIN = (
    f"rm -f {CRASH_DROPIN} && rmdir --ignore-fail-on-non-empty {CRASH_DROPIN_DIR} "
    "&& systemctl daemon-reload"
)


def serving(host: Host) -> bool:
    """The SPA and the API answer 200 through nginx."""
    return http_status(host, "/api/health") == 200 and http_status(host, "/") == 200


def ensure_serving(host: Host, *units: str) -> None:
    """Start whatever is down and wait until the stack serves again."""
    for unit in units:
        if host.run(f"systemctl is-active --quiet {unit}").rc != 0:
            host.run(f"systemctl reset-failed {unit}; systemctl start {unit}")
    wait_until(lambda: serving(host), 30)


def test_gunicorn_master_killed_is_back_and_serving_within_10_s(host: Host) -> None:
    before = main_pid(host, SERVICE)
    assert before > 0
    try:
        host.check_output(f"kill -9 {before}")

        def back() -> bool:
            pid = main_pid(host, SERVICE)
            return pid not in {0, before} and http_status(host, "/api/health") == 200

        seconds = wait_until(back, 15)
        print(f"gunicorn master kill -9: serving again through nginx after {seconds:.1f} s")
        assert seconds <= 10
    finally:
        ensure_serving(host, SERVICE)


def test_worker_killed_is_replaced_without_losing_requests(
    host: Host, run_in_host: Callable[[str], str]
) -> None:
    """Two bounded request loops run through nginx while one worker is killed: at most the
    request that worker held may fail, and the master brings the worker count back."""
    master = main_pid(host, SERVICE)
    workers_before = set(host.check_output(f"pgrep -P {master}").split())
    per_loop = 250
    script = f"""
        set -u
        rm -f /tmp/resilience-loop.*
        for loop in 1 2; do
          ( for i in $(seq 1 {per_loop}); do
              curl -s -o /dev/null -w '%{{http_code}}\\n' --max-time 10 http://127.0.0.1/api/health
            done > /tmp/resilience-loop.$loop ) &
        done
        sleep 1
        victim=$(pgrep -P {master} | head -n 1)
        kill -9 "$victim"
        echo "victim $victim"
        wait
        cat /tmp/resilience-loop.* | sort | uniq -c
        rm -f /tmp/resilience-loop.*
    """
    try:
        output = host.check_output(f"bash -c {shlex.quote(script)}")
        victim = re.search(r"^victim (\d+)$", output, re.MULTILINE)
        assert victim is not None, output
        victim_pid = victim.group(1)
        assert victim_pid in workers_before
        counts = {
            code: int(count)
            for count, code in re.findall(r"^\s*(\d+) (\d{3})$", output, re.MULTILINE)
        }
        sent = sum(counts.values())
        failed = sent - counts.get("200", 0)
        print(f"worker kill -9: {sent} requests sent through nginx, {failed} failed ({counts})")
        assert sent == 2 * per_loop, output
        assert failed <= 1, output

        def replaced() -> bool:
            workers = set(host.check_output(f"pgrep -P {master}").split())
            return victim_pid not in workers and len(workers) == len(workers_before)

        seconds = wait_until(replaced, 15)
        print(f"worker kill -9: replaced by the master after {seconds:.1f} s")
        assert main_pid(host, SERVICE) == master, "the master itself must not restart"
        result = checklist.check_gunicorn_processes(run_in_host, "webapp")
        assert result.passed, result.detail
    finally:
        ensure_serving(host, SERVICE)


def test_nginx_killed_is_restarted_by_systemd(host: Host) -> None:
    assert host.file("/etc/systemd/system/nginx.service.d/restart.conf").exists
    props = host.check_output(f"systemctl show {NGINX} -p Restart -p RestartUSec").splitlines()
    assert "Restart=on-failure" in props
    before = main_pid(host, NGINX)
    assert before > 0
    try:
        host.check_output(f"kill -9 {before}")

        def back() -> bool:
            return main_pid(host, NGINX) not in {0, before} and serving(host)

        seconds = wait_until(back, 20)
        print(f"nginx master kill -9: restarted by systemd and serving after {seconds:.1f} s")
        assert seconds <= 10
    finally:
        ensure_serving(host, NGINX)


def docker(*argv: str, timeout: float = 90) -> str:
    result = subprocess.run(
        ["docker", *argv], capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, f"docker {' '.join(argv)}: {result.stderr}"
    return result.stdout.strip()


@pytest.mark.parametrize(
    "how",
    [
        # systemd's halt signal: an orderly shutdown, then the container starts again.
        pytest.param("SIGRTMIN+3", id="clean-reboot"),
        # No shutdown at all: as if the power went off.
        pytest.param("SIGKILL", id="power-cut"),
    ],
)
def test_reboot_brings_back_everything_enabled_and_serving(
    host: Host, fetch: checklist.Fetch, how: str
) -> None:
    container = host.backend.get_hostname()
    before = docker("inspect", "--format", "{{.State.StartedAt}}", container)
    try:
        docker("kill", "--signal", how, container)
        docker("wait", container)
        docker("start", container)
        assert docker("inspect", "--format", "{{.State.StartedAt}}", container) != before

        def booted() -> bool:
            state = host.run("systemctl is-system-running --wait").stdout.strip()
            return state in {"running", "degraded"}

        boot_s = wait_until(booted, 60, interval_s=0.5)
        serve_s = boot_s + wait_until(lambda: serving(host), 30)
        print(f"reboot ({how}): booted after {boot_s:.1f} s, serving after {serve_s:.1f} s")
        assert host.check_output("systemctl is-system-running") == "running", host.check_output(
            "systemctl --failed --no-legend"
        )
        for unit in ("webapp.socket", SERVICE, NGINX, "logrotate.timer"):
            assert host.service(unit).is_enabled, unit
            assert host.service(unit).is_running, unit
        for check in checklist.CHECKS:
            result = check(fetch)
            assert result.passed, result.detail
    finally:
        if docker("inspect", "--format", "{{.State.Running}}", container) != "true":
            docker("start", container)
        wait_until(lambda: serving(host), 60, interval_s=0.5)


def exec_start_argv(host: Host) -> list[str]:
    shown = host.check_output(f"systemctl show --property=ExecStart --value {SERVICE}")
    match = re.search(r"argv\[\]=([^;]+) ;", shown)
    assert match is not None, shown
    return match.group(1).split()


def test_crash_loop_keeps_retrying_says_why_and_recovers(host: Host) -> None:
    """The app fails to import: systemd retries for ever (no start limit), the journal
    names the error, and once repaired the next retry serves again with no manual step."""
    props = host.check_output(f"systemctl show {SERVICE} -p Restart -p StartLimitIntervalUSec")
    assert "Restart=always" in props.splitlines()
    assert "StartLimitIntervalUSec=0" in props.splitlines()
    broken = [*exec_start_argv(host), f"{CRASH_MODULE}:app"]  # the CLI app wins over the config
    dropin = f"[Service]\nExecStart=\nExecStart={shlex.join(broken)}\n"
    since = host.check_output("date +%s")
    try:
        host.check_output(
            f"mkdir -p {CRASH_DROPIN_DIR} && printf %s {shlex.quote(dropin)} "
            f"> {CRASH_DROPIN} && systemctl daemon-reload"
        )
        host.check_output(f"systemctl restart {SERVICE}")
        samples: list[tuple[str, int]] = []

        def three_restarts() -> bool:
            shown = host.check_output(
                f"systemctl show {SERVICE} -p ActiveState -p SubState -p NRestarts"
            )
            fields = dict(line.split("=", 1) for line in shown.splitlines())
            samples.append(
                (f"{fields['ActiveState']}/{fields['SubState']}", int(fields["NRestarts"]))
            )
            return samples[-1][1] >= 3

        looping_s = wait_until(three_restarts, 30, interval_s=0.25)
        states = sorted({state for state, _ in samples})
        print(f"crash loop: {samples[-1][1]} restarts in {looping_s:.1f} s, states seen {states}")
        assert not any(state.startswith("failed") for state, _ in samples), samples
        assert [count for _, count in samples] == sorted(count for _, count in samples)
        assert http_status(host, "/api/health", max_time_s=2) != 200
        journal = host.check_output(f"journalctl -u {SERVICE} --since @{since} -o cat --no-pager")
        assert f"No module named '{CRASH_MODULE}'" in journal, journal[-3000:]
        assert "Scheduled restart job" in journal, journal[-3000:]
        error_log = host.file("/var/log/webapp/gunicorn-error.log").content_string
        assert f"ModuleNotFoundError: No module named '{CRASH_MODULE}'" in error_log

        # The repair: systemd's next retry picks it up; nobody restarts anything.
        host.check_output(REMOVE_CRASH_DROPIN)
        seconds = wait_until(lambda: serving(host), 30)
        print(f"crash loop: serving again {seconds:.1f} s after the repair")
        assert host.check_output(f"systemctl is-active {SERVICE}") == "active"
    finally:
        host.run(REMOVE_CRASH_DROPIN)
        try:
            wait_until(lambda: serving(host), 15)
        except TimeoutError:
            host.run(f"systemctl restart {SERVICE}")
            wait_until(lambda: serving(host), 30)
