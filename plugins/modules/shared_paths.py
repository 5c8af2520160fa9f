#!/usr/bin/python
# Copyright: fullstack.webapp maintainers
# MIT License (see galaxy.yml)
"""Link an application's writable files and directories to copies that outlive its releases."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: shared_paths
short_description: Link the paths an application writes to a shared, writable copy
version_added: 0.2.0
description:
  - For each entry of O(paths), relative to O(app_dir), makes C(app_dir/PATH) a symbolic
    link to C(shared_dir/PATH), the one copy every release (or the in-place app) uses.
    An entry ending in C(/) is a directory, any other a file.
  - The shared copy is owned by O(owner) and O(group), so the application may write it,
    while the code around the link stays as it is (root-owned and read-only).
  - What the release ships at that path seeds the shared copy the first time, and is
    then replaced by the link; once the shared copy exists, a shipped file or directory
    is discarded and the shared copy is never overwritten.
  - Without anything shipped or shared, an empty directory or file is created.
  - Missing parent directories are created, under O(shared_dir) owned by O(owner), under
    O(app_dir) owned by the owner of O(app_dir).
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
options:
  app_dir:
    description: Absolute path of the application's source (a release's C(app) directory).
    type: path
    required: true
  shared_dir:
    description: Absolute path of the directory that holds the shared copies.
    type: path
    required: true
  paths:
    description:
      - Paths relative to O(app_dir), without C(..); C(dir/) for a directory.
    type: list
    elements: str
    required: true
  owner:
    description: Owner of the shared copies (the application's user).
    type: str
    required: true
  group:
    description: Group of the shared copies.
    type: str
    required: true
author:
  - fullstack.webapp maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Keep the database directory and the activity log across releases
  fullstack.webapp.shared_paths:
    app_dir: /opt/notes/releases/20261202T101500Z/app
    shared_dir: /var/lib/notes/shared
    paths: [instance/, activity.log]
    owner: notes
    group: notes
"""

RETURN = r"""
linked:
  description: The paths whose link was made or fixed in this run.
  returned: always
  type: list
  elements: str
  sample: [instance/]
seeded:
  description: The paths whose shared copy was made from what the release ships.
  returned: always
  type: list
  elements: str
  sample: [activity.log]
created:
  description: The paths whose shared copy was created empty.
  returned: always
  type: list
  elements: str
discarded:
  description: The paths the release ships that were replaced by the existing shared copy.
  returned: always
  type: list
  elements: str
"""

import os
import shutil
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fullstack.webapp.plugins.module_utils.posix_ids import gid_of, uid_of

DIRECTORY_MODE = 0o750
FILE_MODE = 0o640


def path_problem(path: str) -> str | None:
    """Why an entry of paths is not a usable relative path, or None."""
    parts = path.rstrip("/").split("/")
    if not path.rstrip("/") or path.startswith("/") or any(p in ("", ".", "..") for p in parts):
        return f"{path!r} must be a relative path below the app's directory, without '.' or '..'"
    return None


def chown_tree(path: str, uid: int, gid: int) -> None:
    """Give path, and everything below it when it is a directory, to uid:gid."""
    os.lchown(path, uid, gid)
    if os.path.isdir(path) and not os.path.islink(path):
        for top, dirs, files in os.walk(path):
            for name in dirs + files:
                os.lchown(os.path.join(top, name), uid, gid)


def make_parents(path: str, stop: str, uid: int, gid: int) -> None:
    """Create the missing directories between stop (which exists) and path's parent."""
    parent = os.path.dirname(path)
    missing = []
    while parent != stop and not os.path.lexists(parent):
        missing.append(parent)
        parent = os.path.dirname(parent)
    for directory in reversed(missing):
        os.mkdir(directory, DIRECTORY_MODE)
        os.chown(directory, uid, gid)


def remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def share(
    app_dir: str, shared_dir: str, entry: str, uid: int, gid: int, check_mode: bool
) -> str | None:
    """Make app_dir/entry a link to shared_dir/entry; what was done ("linked", "seeded",
    "created", "discarded") or None when the link was already right."""
    relative = entry.rstrip("/")
    is_dir = entry.endswith("/")
    link = os.path.join(app_dir, relative)
    target = os.path.join(shared_dir, relative)
    if os.path.islink(link) and os.readlink(link) == target and os.path.lexists(target):
        return None
    shipped = os.path.lexists(link) and not os.path.islink(link)
    exists = os.path.lexists(target)
    if exists:
        action = "discarded" if shipped else "linked"
    else:
        action = "seeded" if shipped else "created"
    if check_mode:
        return action
    make_parents(target, shared_dir, uid, gid)
    if action == "seeded":
        shutil.move(link, target)
        chown_tree(target, uid, gid)
    elif action == "created":
        if is_dir:
            os.mkdir(target, DIRECTORY_MODE)
        else:
            with open(target, "a", encoding="utf-8"):
                pass
            os.chmod(target, FILE_MODE)
        os.chown(target, uid, gid)
    elif os.path.lexists(link):
        remove(link)
    app_stat = os.stat(app_dir)
    make_parents(link, app_dir, app_stat.st_uid, app_stat.st_gid)
    os.symlink(target, link)
    os.lchown(link, app_stat.st_uid, app_stat.st_gid)
    return action


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "app_dir": {"type": "path", "required": True},
            "shared_dir": {"type": "path", "required": True},
            "paths": {"type": "list", "elements": "str", "required": True},
            "owner": {"type": "str", "required": True},
            "group": {"type": "str", "required": True},
        },
        supports_check_mode=True,
    )
    app_dir: str = module.params["app_dir"].rstrip("/")
    shared_dir: str = module.params["shared_dir"].rstrip("/")
    paths: list[str] = module.params["paths"]
    for name in ("app_dir", "shared_dir"):
        if not os.path.isabs(module.params[name]):
            module.fail_json(msg=f"{name}: {module.params[name]!r} must be an absolute path")
    problems = [p for p in map(path_problem, paths) if p]
    if problems:
        module.fail_json(msg="paths: " + "; ".join(problems))
    try:
        uid, gid = uid_of(module.params["owner"]), gid_of(module.params["group"])
    except LookupError as exc:
        module.fail_json(msg=str(exc))
    if not os.path.isdir(shared_dir) and not module.check_mode:
        module.fail_json(msg=f"shared_dir: {shared_dir} is not a directory (create it first)")
    result: dict[str, Any] = {"linked": [], "seeded": [], "created": [], "discarded": []}
    for entry in paths:
        try:
            action = share(app_dir, shared_dir, entry, uid, gid, module.check_mode)
        except OSError as exc:
            where = f"{app_dir} -> {shared_dir}"
            module.fail_json(msg=f"cannot share {entry!r} ({where}): {exc}", **result)
        if action:
            result["linked"].append(entry)
            if action != "linked":
                result[action].append(entry)
    module.exit_json(changed=bool(result["linked"]), **result)


if __name__ == "__main__":
    main()
