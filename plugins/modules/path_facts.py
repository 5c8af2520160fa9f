#!/usr/bin/python
# Copyright: fullstack.webapp maintainers
# MIT License (see galaxy.yml)
"""Report the state of several paths in one module run."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: path_facts
short_description: Report the type, mode, owner, checksum or link target of several paths
version_added: 0.1.0
description:
  - Looks at every path in O(paths) with C(lstat) and reports whether it exists, its type,
    mode, owner and group, the SHA-1 checksum of a regular file and the target of a
    symbolic link.
  - One module run replaces one M(ansible.builtin.stat) per path, and the roles of this
    collection use the result (with the P(fullstack.webapp.path_matches#filter) filter) to
    skip the file, template and copy tasks whose target already is what they would make
    (a template or copy task that changes nothing still costs two module runs).
  - Read-only; it never changes anything.
options:
  paths:
    description: Absolute paths to look at; a missing path is reported as absent.
    type: list
    elements: path
    required: true
  checksum:
    description: Compute the SHA-1 checksum of regular files.
    type: bool
    default: true
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
- name: Look at the files the role manages
  fullstack.webapp.path_facts:
    paths:
      - /etc/webapp
      - /etc/webapp/gunicorn.conf.py
  register: __paths

- name: Write the configuration unless it already is what the template makes
  ansible.builtin.template:
    src: gunicorn.conf.py.j2
    dest: /etc/webapp/gunicorn.conf.py
    mode: "0640"
  when: >-
    not (__paths | fullstack.webapp.path_matches('/etc/webapp/gunicorn.conf.py', mode='0640',
    content=lookup('ansible.builtin.template', 'gunicorn.conf.py.j2')))
"""

RETURN = r"""
paths:
  description: One entry per path of O(paths), keyed by that path.
  returned: always
  type: dict
  sample:
    /etc/webapp/gunicorn.conf.py:
      exists: true
      type: file
      mode: "0640"
      owner: root
      group: webapp
      uid: 0
      gid: 998
      checksum: 7e35efaa47c86f11a6853fa31c441f87d508484c
  contains:
    exists:
      description: Whether the path exists (a dangling symbolic link exists).
      type: bool
    type:
      description: C(file), C(directory), C(link), C(other) or C(absent).
      type: str
    mode:
      description: Permission bits, four octal digits.
      type: str
    owner:
      description: Owner name (the uid when it has no name).
      type: str
    group:
      description: Group name (the gid when it has no name).
      type: str
    uid:
      description: Owner uid.
      type: int
    gid:
      description: Group gid.
      type: int
    checksum:
      description: SHA-1 of the content, for regular files when O(checksum) is true.
      type: str
    target:
      description: What a symbolic link points to.
      type: str
"""

import hashlib
import os
import stat
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fullstack.webapp.plugins.module_utils.posix_ids import (
    group_name,
    user_name,
)


def sha1_of(path: str) -> str:
    digest = hashlib.sha1()  # noqa: S324 - the checksum Ansible's copy and template use
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def describe(path: str, checksum: bool = True) -> dict[str, Any]:
    """The state of one path, without following a final symbolic link."""
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return {"exists": False, "type": "absent"}
    if stat.S_ISLNK(st.st_mode):
        kind = "link"
    elif stat.S_ISDIR(st.st_mode):
        kind = "directory"
    elif stat.S_ISREG(st.st_mode):
        kind = "file"
    else:
        kind = "other"
    entry: dict[str, Any] = {
        "exists": True,
        "type": kind,
        "mode": f"{stat.S_IMODE(st.st_mode):04o}",
        "uid": st.st_uid,
        "gid": st.st_gid,
        "owner": user_name(st.st_uid),
        "group": group_name(st.st_gid),
    }
    if kind == "file" and checksum:
        entry["checksum"] = sha1_of(path)
    if kind == "link":
        entry["target"] = os.readlink(path)
    return entry


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "paths": {"type": "list", "elements": "path", "required": True},
            "checksum": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    paths: list[str] = module.params["paths"]
    relative = [path for path in paths if not os.path.isabs(path)]
    if relative:
        module.fail_json(msg=f"paths must be absolute, got {', '.join(relative)}")
    try:
        result = {path: describe(path, module.params["checksum"]) for path in paths}
    except OSError as exc:
        module.fail_json(msg=f"cannot look at {exc.filename}: {exc.strerror}")
    module.exit_json(changed=False, paths=result)


if __name__ == "__main__":
    main()
