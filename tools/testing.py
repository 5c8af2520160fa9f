"""Helpers for the Molecule scenarios' testinfra tests."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from testinfra.host import Host

from tools import checklist


def curl_fetch(host: Host, base_url: str = "http://127.0.0.1") -> checklist.Fetch:
    """A checklist.Fetch that runs curl inside the container, against its own nginx."""

    def fetch(method: str, path: str, body: dict[str, object] | None) -> checklist.Response:
        argv = ["curl", "-sS", "-i", "--max-time", "10", "-X", method]
        if body is not None:
            argv += ["-H", "Content-Type: application/json", "--data", json.dumps(body)]
        argv.append(base_url + path)
        result = host.run(shlex.join(argv))
        assert result.rc == 0, f"curl {method} {path} failed: {result.stderr}"
        return parse_http(result.stdout)

    return fetch


def parse_http(raw: str) -> checklist.Response:
    head, _, body = raw.partition("\r\n\r\n")
    lines = head.split("\r\n")
    status = int(lines[0].split()[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return checklist.Response(status, headers, body.encode())


def run_playbook(playbook: Path, limit: str, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run a real ansible-playbook against the scenario's inventory, as Molecule does."""
    inventory = Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent
    plain_output = {
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_CALLBACK_RESULT_FORMAT": "json",
    }
    return subprocess.run(
        ["ansible-playbook", "-i", str(inventory), "--limit", limit, str(playbook), *extra],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, **plain_output},
    )


def http_status(
    host: Host, path: str, base_url: str = "http://127.0.0.1", max_time_s: float = 10
) -> int:
    """Status of one GET through the container's own gateway; 0 when nothing answered."""
    argv = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", str(max_time_s)]
    result = host.run(shlex.join([*argv, base_url + path]))
    code = result.stdout.strip()
    return int(code) if code.isdigit() else 0


def main_pid(host: Host, unit: str) -> int:
    """systemd's MainPID of a unit (0 when it has no running main process)."""
    return int(host.check_output(f"systemctl show --property=MainPID --value {shlex.quote(unit)}"))


def wait_until(condition: Callable[[], bool], timeout_s: float, interval_s: float = 0.2) -> float:
    """Seconds until condition() held; raises TimeoutError after timeout_s."""
    started = time.monotonic()
    while True:
        if condition():
            return time.monotonic() - started
        if time.monotonic() - started > timeout_s:
            raise TimeoutError(f"not true after {timeout_s} s: {condition.__doc__ or condition}")
        time.sleep(interval_s)
