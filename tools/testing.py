"""Helpers for the Molecule scenarios' testinfra tests."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
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
