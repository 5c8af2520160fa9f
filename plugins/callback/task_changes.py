# Copyright: fullstack.webapp maintainers
# MIT License (see galaxy.yml)
"""The task_changes callback: which tasks changed, failed or could not reach each host, as
JSON in a file, for playbooks/status.yml's check-mode pass."""

from __future__ import annotations

DOCUMENTATION = r"""
---
name: task_changes
type: aggregate
short_description: Writes the tasks that changed or failed on each host to a JSON file
version_added: 0.3.0
description:
  - At the end of the run, writes to O(path) one JSON object with, for each host, the names
    of the tasks that reported a change (C(changed)), the failures that were not ignored
    (C(failed), each the task name and its message) and whether it could not be reached
    (C(unreachable)).
  - A task that changed on several items of a loop is listed once.
  - Enable it with C(ANSIBLE_CALLBACKS_ENABLED=fullstack.webapp.task_changes); the deploy
    role's C(status) entry point does so for its check-mode pass of the deploy.
requirements:
  - enabled in callbacks_enabled
options:
  path:
    description: The file to write; nothing is written when it is empty.
    type: path
    default: ""
    env:
      - name: FULLSTACK_WEBAPP_TASK_CHANGES_FILE
"""

import json  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from ansible.executor.stats import AggregateStats  # noqa: E402
from ansible.executor.task_result import TaskResult  # noqa: E402
from ansible.plugins.callback import CallbackBase  # noqa: E402


class CallbackModule(CallbackBase):  # type: ignore[misc]
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "fullstack.webapp.task_changes"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self.hosts: dict[str, dict[str, Any]] = {}

    def _host(self, result: TaskResult) -> dict[str, Any]:
        name = result._host.get_name()
        return self.hosts.setdefault(name, {"changed": [], "failed": [], "unreachable": False})

    def v2_runner_on_ok(self, result: TaskResult) -> None:
        if result._result.get("changed"):
            changed = self._host(result)["changed"]
            task = result._task.get_name()
            if task not in changed:
                changed.append(task)
        else:
            self._host(result)

    def v2_runner_on_failed(self, result: TaskResult, ignore_errors: bool = False) -> None:
        if ignore_errors:
            return
        message = result._result.get("msg") or result._result.get("stderr") or "failed"
        self._host(result)["failed"].append(f"{result._task.get_name()}: {message}")

    def v2_runner_on_unreachable(self, result: TaskResult) -> None:
        host = self._host(result)
        host["unreachable"] = True
        host["failed"].append(f"unreachable: {result._result.get('msg', '')}")

    def v2_playbook_on_stats(self, stats: AggregateStats) -> None:
        path = self.get_option("path")
        if path:
            Path(path).write_text(
                json.dumps(self.hosts, indent=2, sort_keys=True) + "\n", encoding="utf-8"
            )
