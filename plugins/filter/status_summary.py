# Copyright: fullstack.webapp maintainers
# MIT License (see galaxy.yml)
"""The status_summary filter: one host's status and problems, for playbooks/status.yml."""

from __future__ import annotations

DOCUMENTATION = r"""
---
name: status_summary
short_description: One host's status and problems, from the deploy role's status entry point
version_added: 0.3.0
description:
  - Takes a dictionary of what C(roles/deploy/tasks/status.yml) registered on one host and
    returns the host's summary (the release each side serves, the health checks, the units,
    nginx -t, the certificates' days left, the deploy lock, the tasks a deploy would change)
    with C(problems), one sentence per thing that is wrong.
  - Certificates are read on the controller (Python C(cryptography), which ansible-core
    already requires).
positional: _input
options:
  _input:
    description:
      - The keys C(host), C(releases), C(disk), C(in_releases), C(checks), C(units),
        C(nginx), C(certificates), C(lock), C(drift) and C(certificate_days); see
        C(plugins/module_utils/status.py).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Sum up this host
  ansible.builtin.set_fact:
    host_status: "{{ status_inputs | fullstack.webapp.status_summary }}"
"""

RETURN = r"""
_value:
  description: The summary, with C(problems) (a list of sentences, empty when all is well).
  type: dict
"""

from typing import Any  # noqa: E402

from ansible.errors import AnsibleFilterError  # noqa: E402
from ansible_collections.fullstack.webapp.plugins.module_utils.status import summarize  # noqa: E402


def status_summary(inputs: dict[str, Any]) -> dict[str, Any]:
    try:
        return summarize(**inputs)
    except (KeyError, TypeError) as exc:
        raise AnsibleFilterError(f"status_summary: {exc}") from exc


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"status_summary": status_summary}
