#!/usr/bin/python
# Copyright: fullstack.webapp maintainers
# MIT License (see galaxy.yml)
"""Wait for a Gunicorn instance's workers to boot, or for its connections to drain."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: gunicorn_instance
short_description: Wait for a Gunicorn instance's workers to boot, or for its connections to close
version_added: 0.6.0
description:
  - Used by the blue/green switch of the collection's roles, around an instance of a
    Gunicorn service under systemd (C(NAME@blue.service), C(NAME@green.service)).
  - O(wait_for=workers) is the warm-up before an instance receives traffic. It waits until
    Gunicorn's master (the unit's main process) has O(workers) worker processes, and
    until each of them logged the Uvicorn line that ends its start-up (C(Application startup
    complete.), or C(ASGI 'lifespan' protocol appears unsupported.) for an app without a
    lifespan). A worker that answers has imported the app, but the others may still be
    importing it. The lines are read from the unit's journal or from O(log_file), in
    Gunicorn's error log format (C([PID] [INFO] message)).
    When no worker logs such a line (a log level above C(info), or another worker class), it
    waits for the worker count only, and says so in RV(readiness).
  - O(wait_for=drained) waits until no established connection is left on the instance's
    listening socket (O(unix_socket) or TCP O(port)), read from C(/proc/net), so that a
    graceful stop finds no request in flight from a proxy that has just moved away.
    Long-lived connections (WebSockets) may remain at O(timeout); the result says how many.
  - Read-only; it never changes anything.
options:
  wait_for:
    description: What to wait for.
    type: str
    choices: [workers, drained]
    required: true
  unit:
    description: The service unit (O(wait_for=workers)).
    type: str
  workers:
    description: How many worker processes the instance runs (O(wait_for=workers)).
    type: int
    default: 1
  log_file:
    description: Gunicorn's error log file; empty for the journal.
    type: str
    default: ""
  unix_socket:
    description: The instance's unix socket path (O(wait_for=drained)).
    type: str
    default: ""
  port:
    description: The instance's TCP port (O(wait_for=drained)), when not a unix socket.
    type: int
    default: 0
  timeout:
    description: Seconds to wait at most.
    type: int
    default: 60
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
author:
  - fullstack.webapp maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Wait for every worker of the green instance
  fullstack.webapp.gunicorn_instance:
    wait_for: workers
    unit: webapp@green.service
    workers: 5
    timeout: 60

- name: Wait until nginx let go of the blue instance
  fullstack.webapp.gunicorn_instance:
    wait_for: drained
    unix_socket: /run/webapp/gunicorn.sock
    timeout: 30
"""

RETURN = r"""
ready:
  description: Whether the wait ended with what was waited for (false at O(timeout)).
  type: bool
  returned: always
workers_ready:
  description: The process ids of the workers that finished their start-up.
  type: list
  elements: int
  returned: O(wait_for=workers)
worker_pids:
  description: The process ids of the workers of the master (its child processes).
  type: list
  elements: int
  returned: O(wait_for=workers)
readiness:
  description: C(started) (each worker logged its start-up) or C(count) (the worker count only).
  type: str
  returned: O(wait_for=workers)
connections:
  description: Established connections left on the listening socket.
  type: int
  returned: O(wait_for=drained)
waited:
  description: Seconds waited.
  type: float
  returned: always
"""

import re
import subprocess
import time
from pathlib import Path
from typing import Any

from ansible.module_utils.basic import AnsibleModule

STARTED = ("Application startup complete.", "ASGI 'lifespan' protocol appears unsupported.")
_LOG_LINE = re.compile(r"\[(\d+)\] \[INFO\] (.*)$")
_TCP_ESTABLISHED = "01"
_UNIX_CONNECTED = "03"


def unit_processes(unit: str, proc: Path = Path("/proc")) -> tuple[int, list[int]]:
    """The unit's main process id (Gunicorn's master) and its child processes (the workers)."""
    shown = subprocess.run(
        ["systemctl", "show", "--property=MainPID", "--value", unit],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    main_pid = int(shown or 0)
    if not main_pid:
        return 0, []
    return main_pid, children_of(main_pid, proc)


def children_of(parent: int, proc: Path = Path("/proc")) -> list[int]:
    children = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses.
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == parent:
            children.append(int(entry.name))
    return sorted(children)


def started_in(lines: list[str], pids: list[int]) -> set[int]:
    """The workers of ``pids`` whose start-up line is in ``lines`` (Gunicorn's log format:
    the journal's _PID of a service's output stream is the master's, not the worker's)."""
    wanted = set(pids)
    started: set[int] = set()
    for line in lines:
        match = _LOG_LINE.search(line)
        if match and int(match.group(1)) in wanted and match.group(2).rstrip().endswith(STARTED):
            started.add(int(match.group(1)))
    return started


def journal_lines(unit: str) -> list[str]:
    return subprocess.run(
        ["journalctl", "--unit", unit, "--output", "cat", "--lines", "5000", "--no-pager"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.splitlines()


def file_lines(log_file: str) -> list[str]:
    try:
        with Path(log_file).open(encoding="utf-8", errors="replace") as stream:
            stream.seek(0, 2)
            stream.seek(max(0, stream.tell() - 1_000_000))
            return stream.read().splitlines()
    except OSError:
        return []


def unix_connections(path: str, table: Path = Path("/proc/net/unix")) -> int:
    """Connected sockets bound to ``path``: the server side of each accepted connection."""
    count = 0
    for line in table.read_text().splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 8 and fields[7] == path and fields[5] == _UNIX_CONNECTED:
            count += 1
    return count


def tcp_connections(port: int, tables: tuple[Path, ...] | None = None) -> int:
    """Established TCP connections whose local port is ``port``."""
    tables = tables or (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))
    count = 0
    for table in tables:
        try:
            lines = table.read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) >= 4 and fields[3] == _TCP_ESTABLISHED:
                local_port = int(fields[1].rsplit(":", 1)[1], 16)
                count += local_port == port
    return count


def wait_workers(params: dict[str, Any]) -> dict[str, Any]:
    begin = time.monotonic()
    expected = params["workers"]
    result: dict[str, Any] = {"ready": False, "workers_ready": [], "worker_pids": []}
    any_started = False
    while True:
        _main, pids = unit_processes(params["unit"])
        lines = (
            file_lines(params["log_file"]) if params["log_file"] else journal_lines(params["unit"])
        )
        started = started_in(lines, pids)
        any_started = any_started or bool(started)
        result.update(worker_pids=pids, workers_ready=sorted(started))
        counted = len(pids) >= expected
        waited = time.monotonic() - begin
        # Without a single start-up line after a few seconds, the lines are not logged.
        by_count = not any_started and waited >= min(5, params["timeout"])
        result["readiness"] = "count" if by_count else "started"
        if counted and (len(started) >= expected or by_count):
            result["ready"] = True
            break
        if waited >= params["timeout"]:
            break
        time.sleep(0.2)
    result["waited"] = round(time.monotonic() - begin, 2)
    return result


def wait_drained(params: dict[str, Any]) -> dict[str, Any]:
    begin = time.monotonic()
    while True:
        if params["unix_socket"]:
            connections = unix_connections(params["unix_socket"])
        else:
            connections = tcp_connections(params["port"])
        if connections == 0 or time.monotonic() - begin >= params["timeout"]:
            break
        time.sleep(0.2)
    return {
        "ready": connections == 0,
        "connections": connections,
        "waited": round(time.monotonic() - begin, 2),
    }


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "wait_for": {"type": "str", "required": True, "choices": ["workers", "drained"]},
            "unit": {"type": "str"},
            "workers": {"type": "int", "default": 1},
            "log_file": {"type": "str", "default": ""},
            "unix_socket": {"type": "str", "default": ""},
            "port": {"type": "int", "default": 0},
            "timeout": {"type": "int", "default": 60},
        },
        required_if=[("wait_for", "workers", ["unit"])],
        supports_check_mode=True,
    )
    try:
        if module.params["wait_for"] == "workers":
            result = wait_workers(module.params)
        else:
            result = wait_drained(module.params)
    except (OSError, subprocess.CalledProcessError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
