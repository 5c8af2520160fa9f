#!/usr/bin/python
# Copyright: fullstack.webapp maintainers
# MIT License (see galaxy.yml)
"""Take or release a host's deploy lock: one run that changes the host at a time."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: deploy_lock
short_description: Take or release a host's deploy lock, waiting a bounded time for another run's
version_added: 0.3.0
description:
  - The lock is a JSON file holding the run's id, who runs it, from which controller, the
    run's release id and since when. Taking it creates the file; a run that holds it already
    (the same O(run)) takes it again at no cost.
  - When another run holds it, the module waits up to O(wait) seconds for it to go, then fails
    naming the holder. A lock older than O(expiry) seconds counts as left behind by a run that
    died, and is taken over with a warning.
  - Releasing removes the file only when this run holds it.
  - Taking and releasing report no change, since the lock is the run's own bookkeeping, not the
    host's state, so a run that changes nothing else reports nothing changed.
  - Check mode takes no lock and does not wait, and warns when another run holds it.
options:
  path:
    description: The lock file; its directory is created when missing.
    type: path
    required: true
  action:
    description: C(acquire) or C(release).
    type: str
    choices: [acquire, release]
    default: acquire
  run:
    description: The run's own random id, the same on every host of the run.
    type: str
    required: true
  holder:
    description: Who runs, from where, and which release (recorded, shown to the runs that wait).
    type: dict
    default: {}
  wait:
    description:
      - Seconds to wait for another run's lock; C(0) fails at once.
      - The deploy role leaves it at C(0) and retries from the controller instead, so that a
        run killed while it waits leaves no module behind on the host.
    type: int
    default: 0
  expiry:
    description: Seconds after which a lock that was never released is taken over.
    type: int
    default: 7200
author:
  - fullstack.webapp maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Take the deploy lock
  fullstack.webapp.deploy_lock:
    path: /run/lock/fullstack.webapp-deploy.json
    run: "{{ run_id }}"
    holder:
      user: alice
      controller: laptop
      release: 20261202T120000Z
"""

RETURN = r"""
lock:
  description: The lock as it is after the module ran (for C(release), as it was before).
  returned: always
  type: dict
waited:
  description: Seconds spent waiting for another run's lock.
  returned: always
  type: float
waited_for:
  description: The run waited for (who, from where, its release, since when); empty when none.
  returned: always
  type: str
taken_over:
  description: The left-behind lock replaced, when there was one.
  returned: always
  type: dict
"""

import fcntl
import json
import os
import time
from collections.abc import Callable
from typing import Any

from ansible.module_utils.basic import AnsibleModule


def read_lock(path: str) -> dict[str, Any] | None:
    """The lock's content; None when there is none. A file that is not a JSON object (a
    half-written one) counts as held by someone unknown since its modification time."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        mtime = os.stat(path).st_mtime
    except FileNotFoundError:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return {"run": "", "since_epoch": mtime, "holder": {"user": "unknown"}}
    return data


def describe(lock: dict[str, Any]) -> str:
    holder = lock.get("holder") or {}
    since = lock.get("since") or time.strftime(
        "%Y-%m-%dT%H:%M:%SZ", time.gmtime(float(lock.get("since_epoch", 0)))
    )
    return (
        f"{holder.get('user', 'unknown')} from {holder.get('controller', 'an unknown controller')}"
        f" (release {holder.get('release', '?')}) since {since}"
    )


def write_lock(path: str, lock: dict[str, Any]) -> None:
    temporary = f"{path}.tmp-{os.getpid()}"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(lock, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)


def attempt(params: dict[str, Any], now: float, check_mode: bool) -> tuple[str, dict[str, Any]]:
    """One try under the guard: ("held", lock) when this run holds it now, ("busy", lock)
    when another live run does, ("taken_over", old lock) when a left-behind one was replaced."""
    path = params["path"]
    current = read_lock(path)
    mine = {
        "run": params["run"],
        "holder": params["holder"],
        "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        "since_epoch": now,
    }
    if current is None:
        if not check_mode:
            write_lock(path, mine)
        return "held", mine
    if current.get("run") == params["run"]:
        return "held", current
    if now - float(current.get("since_epoch", 0)) > params["expiry"]:
        if not check_mode:
            write_lock(path, mine)
        return "taken_over", current
    return "busy", current


def outcome(
    lock: dict[str, Any],
    waited: float = 0.0,
    waited_for: str = "",
    taken_over: dict[str, Any] | None = None,
) -> dict[str, Any]:
    # Never "changed": see the description.
    return {
        "changed": False,
        "lock": lock,
        "waited": waited,
        "waited_for": waited_for,
        "taken_over": taken_over or {},
    }


def run(
    params: dict[str, Any], check_mode: bool, warn: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """The module's logic; raises RuntimeError with the message to fail with."""
    path = params["path"]
    os.makedirs(os.path.dirname(path) or ".", mode=0o755, exist_ok=True)
    started = time.monotonic()
    # The guard file serialises the runs' reads and writes of the lock on this host: two
    # runs that both find a left-behind lock cannot both take it over.
    with open(f"{path}.guard", "a", encoding="utf-8") as guard:
        if params["action"] == "release":
            fcntl.flock(guard, fcntl.LOCK_EX)
            current = read_lock(path)
            if current is not None and current.get("run") == params["run"] and not check_mode:
                os.unlink(path)
            return {
                "changed": False,
                "lock": current or {},
                "waited": 0.0,
                "waited_for": "",
                "taken_over": {},
            }
        waited_for = ""
        while True:
            fcntl.flock(guard, fcntl.LOCK_EX)
            state, lock = attempt(params, time.time(), check_mode)
            fcntl.flock(guard, fcntl.LOCK_UN)
            waited = round(time.monotonic() - started, 1)
            if state == "held":
                return outcome(lock, waited, waited_for)
            if state == "taken_over":
                if warn is not None:
                    warn(f"took over the deploy lock {path} left by {describe(lock)}")
                return outcome(read_lock(path) or {}, waited, waited_for, lock)
            if check_mode:
                if warn is not None:
                    warn(f"another run holds the deploy lock {path}: {describe(lock)}")
                return {
                    "changed": False,
                    "lock": lock,
                    "waited": 0.0,
                    "waited_for": "",
                    "taken_over": {},
                }
            waited_for = describe(lock)
            if waited >= params["wait"]:
                raise RuntimeError(
                    f"another run holds the deploy lock {path}: {describe(lock)}"
                    + (f"; waited {params['wait']} s" if params["wait"] else "")
                    + ". Nothing was changed. When that run is dead, delete the file (or wait "
                    "for deploy_lock_expiry)."
                )
            time.sleep(1)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "action": {"type": "str", "choices": ["acquire", "release"], "default": "acquire"},
            "run": {"type": "str", "required": True},
            "holder": {"type": "dict", "default": {}},
            "wait": {"type": "int", "default": 0},
            "expiry": {"type": "int", "default": 7200},
        },
        supports_check_mode=True,
    )
    try:
        result = run(module.params, module.check_mode, module.warn)
    except (RuntimeError, OSError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
