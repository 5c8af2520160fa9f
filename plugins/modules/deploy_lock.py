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
  - With O(record), the module also keeps the record of the host's last good run for the
    deploy role's fast path (C(deploy_fast_path)). Taking the lock reads the record, reports
    the parts (O(expect)) that are as that run left them, and deletes it, so that a run that
    fails, is killed or rolls back leaves none. Releasing writes it again from O(save).
  - A part is as the record says when its fingerprint is the recorded one, the sha256 of its
    O(expect) C(watch) paths is the recorded one, its C(active) units are active and its
    C(inactive) units are not.
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
  record:
    description: The record of the last good run (see the description); C("") keeps none.
    type: path
    default: ""
  expect:
    description:
      - When taking the lock, what each part must be for the record to still hold, by part
        name; C(fingerprint) (str), C(watch) (paths), C(active) and C(inactive) (units).
    type: dict
    default: {}
  save:
    description:
      - When releasing, the parts to record, by part name; C(fingerprint) (str) and C(watch)
        (the paths of files, links and directories, hashed now). C({}) writes no record.
    type: dict
    default: {}
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
unchanged:
  description: The parts of O(expect) that are as the record says, sorted.
  returned: always
  type: list
  elements: str
drift:
  description: For each part of O(expect) that is not, why.
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
from ansible_collections.fullstack.webapp.plugins.module_utils.digest import path_sha256
from ansible_collections.fullstack.webapp.plugins.module_utils.files import write_json


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


def unit_states(units: list[str], run_command: Callable[..., Any] | None) -> dict[str, str]:
    """systemctl is-active of each unit ("unknown" without systemctl)."""
    if not units or run_command is None:
        return dict.fromkeys(units, "unknown")
    _rc, out, _err = run_command(["systemctl", "is-active", "--", *units])
    states = out.splitlines()
    return {
        unit: (states[i].strip() if i < len(states) else "unknown") for i, unit in enumerate(units)
    }


def compare_record(
    record: dict[str, Any], expect: dict[str, Any], run_command: Callable[..., Any] | None
) -> tuple[list[str], dict[str, str]]:
    """The parts of expect that are as the record says, and why each other one is not."""
    units = sorted(
        {
            u
            for part in expect.values()
            for u in [*part.get("active", []), *part.get("inactive", [])]
        }
    )
    states = unit_states(units, run_command)
    unchanged: list[str] = []
    drift: dict[str, str] = {}
    for name, part in sorted(expect.items()):
        recorded = record.get(name)
        if not isinstance(recorded, dict):
            drift[name] = "no record of a good run"
        elif recorded.get("fingerprint") != part.get("fingerprint"):
            drift[name] = "its inputs changed"
        elif moved := [
            path
            for path, digest in watch_digests(part.get("watch", [])).items()
            if (recorded.get("watch") or {}).get(path) != digest
        ]:
            drift[name] = "changed on the host: " + ", ".join(moved)
        elif any(states[u] != "active" for u in part.get("active", [])):
            drift[name] = "not running: " + ", ".join(
                u for u in part["active"] if states[u] != "active"
            )
        elif any(states[u] == "active" for u in part.get("inactive", [])):
            drift[name] = "running: " + ", ".join(
                u for u in part["inactive"] if states[u] == "active"
            )
        else:
            unchanged.append(name)
    return unchanged, drift


def watch_digests(paths: list[str]) -> dict[str, str]:
    return {path: path_sha256(path) for path in paths}


def read_record(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (FileNotFoundError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_record(path: str, save: dict[str, Any]) -> None:
    os.makedirs(os.path.dirname(path) or ".", mode=0o755, exist_ok=True)
    write_json(
        path,
        {
            name: {
                "fingerprint": part.get("fingerprint", ""),
                "watch": watch_digests(part.get("watch", [])),
            }
            for name, part in save.items()
        },
    )


def with_record(
    result: dict[str, Any],
    params: dict[str, Any],
    check_mode: bool,
    run_command: Callable[..., Any] | None,
) -> dict[str, Any]:
    """After the lock was taken: compare the record with expect, then delete it (see the
    description); after it was released: write it from save."""
    path = params["record"]
    if not path:
        return result
    if params["action"] == "release":
        if params["save"] and not check_mode:
            save_record(path, params["save"])
        return result
    if params["expect"]:
        result["unchanged"], result["drift"] = compare_record(
            read_record(path), params["expect"], run_command
        )
    if not check_mode and os.path.exists(path):
        os.unlink(path)
    return result


def run(
    params: dict[str, Any],
    check_mode: bool,
    warn: Callable[[str], None] | None = None,
    run_command: Callable[..., Any] | None = None,
) -> dict[str, Any]:
    """The module's logic; raises RuntimeError with the message to fail with."""
    result = take_or_release(params, check_mode, warn)
    result.update({"unchanged": [], "drift": {}})
    # A record is read, deleted or written only by the run that holds the lock.
    held = result["lock"].get("run") == params["run"]
    return with_record(result, params, check_mode, run_command) if held else result


def take_or_release(
    params: dict[str, Any], check_mode: bool, warn: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Take or release the lock; raises RuntimeError with the message to fail with."""
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
            "record": {"type": "path", "default": ""},
            "expect": {"type": "dict", "default": {}},
            "save": {"type": "dict", "default": {}},
        },
        supports_check_mode=True,
    )
    try:
        result = run(module.params, module.check_mode, module.warn, module.run_command)
    except (RuntimeError, OSError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
