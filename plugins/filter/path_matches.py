# Copyright: fullstack.webapp maintainers
# MIT License (see galaxy.yml)
"""The path_matches filter: does a path reported by path_facts already have a state?"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

DOCUMENTATION = r"""
---
name: path_matches
short_description: Whether a path reported by path_facts already has the wanted state
version_added: 0.1.0
description:
  - Takes the registered result of M(fullstack.webapp.path_facts) and says whether one of
    its paths already is what a file, template or copy task would make of it, so that the
    task can be skipped (two module runs saved for a template or a copy).
  - Every option left out is not compared. A result without the path (a skipped or failed
    M(fullstack.webapp.path_facts)) never matches, so the task runs.
positional: _input, path, state
options:
  _input:
    description: The registered result of M(fullstack.webapp.path_facts).
    type: dict
    required: true
  path:
    description: One of the paths given to M(fullstack.webapp.path_facts).
    type: path
    required: true
  state:
    description: The wanted type.
    type: str
    choices: [file, directory, link, absent]
    default: file
  mode:
    description: The wanted permission bits, as an octal string such as C("0644").
    type: str
  owner:
    description: The wanted owner, a name or a uid.
    type: str
  group:
    description: The wanted group, a name or a gid.
    type: str
  content:
    description:
      - The wanted content of a file, as text (for example the result of the
        P(ansible.builtin.template#lookup) lookup); compared by its SHA-1 checksum.
    type: str
  checksum:
    description: The wanted SHA-1 checksum of a file.
    type: str
  target:
    description: The wanted target of a symbolic link.
    type: str
"""

EXAMPLES = r"""
- name: Link uv into /usr/local/bin
  ansible.builtin.file:
    src: /opt/uv/venv/bin/uv
    dest: /usr/local/bin/uv
    state: link
  when: >-
    not (__paths | fullstack.webapp.path_matches('/usr/local/bin/uv', 'link',
    target='/opt/uv/venv/bin/uv'))
"""

RETURN = r"""
_value:
  description: True when the path has every wanted property.
  type: bool
"""

from ansible_collections.fullstack.webapp.plugins.module_utils.posix_ids import same_id  # noqa: E402


def path_matches(
    facts: Mapping[str, Any],
    path: str,
    state: str = "file",
    mode: str | None = None,
    owner: str | None = None,
    group: str | None = None,
    content: str | None = None,
    checksum: str | None = None,
    target: str | None = None,
) -> bool:
    entry = (facts.get("paths") or {}).get(path)
    if not isinstance(entry, Mapping):
        return False
    if state == "absent":
        return entry.get("exists") is False
    if not entry.get("exists") or entry.get("type") != state:
        return False
    if mode is not None:
        try:
            if int(str(entry.get("mode")), 8) != int(str(mode), 8):
                return False
        except ValueError:
            return False
    if owner is not None and not same_id(entry, owner, "owner", "uid"):
        return False
    if group is not None and not same_id(entry, group, "group", "gid"):
        return False
    if content is not None:
        data = content.encode("utf-8", "surrogateescape")
        checksum = hashlib.sha1(data).hexdigest()  # noqa: S324 - Ansible's file checksum
    if checksum is not None and entry.get("checksum") != checksum:
        return False
    return target is None or entry.get("target") == target


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"path_matches": path_matches}
