# Copyright: fullstack.webapp maintainers
# MIT License (see galaxy.yml)
"""The tree_sha256 filter: one sha256 for a whole tree of files, from a find result."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from typing import Any

DOCUMENTATION = r"""
---
name: tree_sha256
short_description: The sha256 of a tree of files listed by ansible.builtin.find
version_added: 0.2.0
description:
  - Takes the registered result of M(ansible.builtin.find) (C(file_type=file),
    C(get_checksum=true)) and the directory it searched, and returns the sha256 of a text
    of one line per file, C(<checksum> <path relative to base>) and a newline, the files
    sorted by their C(path) as Jinja's C(sort) filter sorts them with
    C(attribute='path') (ignoring case).
  - The same tree gives the same digest wherever it lies; a file added, removed, renamed
    or changed gives another one. Used as the C(fingerprint) of a release, compared with
    the served release's by M(fullstack.webapp.release).
  - Paths are made relative to O(base) as P(ansible.builtin.relpath#filter) does
    (C(os.path.relpath)), symbolic links not resolved - give O(base) as it was given
    to M(ansible.builtin.find).
positional: _input, base
options:
  _input:
    description: The registered result of M(ansible.builtin.find), with checksums.
    type: dict
    required: true
  base:
    description: The directory M(ansible.builtin.find) searched.
    type: path
    required: true
"""

EXAMPLES = r"""
- name: List the files of the dist on the controller
  ansible.builtin.find:
    paths: /srv/build/webapp/dist
    recurse: true
    hidden: true
    file_type: file
    get_checksum: true
  delegate_to: localhost
  register: dist_tree

- name: Name the dist by its content
  ansible.builtin.set_fact:
    dist_sha256: "{{ dist_tree | fullstack.webapp.tree_sha256('/srv/build/webapp/dist') }}"
"""

RETURN = r"""
_value:
  description: The sha256 hex digest.
  type: str
"""

from ansible.errors import AnsibleFilterError  # noqa: E402


def _jinja_sort_key(entry: Mapping[str, Any]) -> str:
    # Jinja's sort compares strings lowercased (case_sensitive=False); Python's sort, like
    # Jinja's, is stable, so files whose paths differ only in case keep find's order.
    return str(entry.get("path", "")).lower()


def tree_sha256(find_result: Mapping[str, Any], base: str) -> str:
    if not base:
        raise AnsibleFilterError("tree_sha256 needs the directory the find searched")
    files = find_result.get("files")
    if not isinstance(files, list):
        raise AnsibleFilterError(
            "tree_sha256 needs the registered result of ansible.builtin.find (it has no "
            "list of files: was the find skipped?)"
        )
    lines = []
    for entry in sorted(files, key=_jinja_sort_key):
        checksum = entry.get("checksum")
        if not checksum:
            raise AnsibleFilterError(
                f"tree_sha256: {entry.get('path')} has no checksum (find with "
                "get_checksum: true and file_type: file)"
            )
        lines.append(f"{checksum} {os.path.relpath(str(entry['path']), base)}\n")
    text = "".join(lines)
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"tree_sha256": tree_sha256}
