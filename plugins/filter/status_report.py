# Copyright: fullstack.webapp maintainers
# MIT License (see galaxy.yml)
"""The status_report filter: the run's status table, for playbooks/status.yml."""

from __future__ import annotations

DOCUMENTATION = r"""
---
name: status_report
short_description: The run's status table and each host's problems
version_added: 0.3.0
description:
  - Takes the summaries that C(fullstack.webapp.status_summary) made for the hosts of the
    run and returns C(table), one row per host followed by every problem, and C(problems),
    for each host its own problems and the disagreements between hosts (hosts serving
    different releases of the same side).
positional: _input
options:
  _input:
    description: The hosts' summaries.
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
- name: Show the status of every host
  ansible.builtin.debug:
    msg: "{{ (summaries | fullstack.webapp.status_report).table }}"
"""

RETURN = r"""
_value:
  description: C(table) (text) and C(problems) (host name to list of sentences).
  type: dict
"""

from typing import Any  # noqa: E402

from ansible_collections.fullstack.webapp.plugins.module_utils.status import report  # noqa: E402


def status_report(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    return report(summaries)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"status_report": status_report}
