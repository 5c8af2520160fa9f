#!/usr/bin/python
# Copyright: fullstack.webapp maintainers
# MIT License (see galaxy.yml)
"""Keep the hashed assets of earlier front-end builds served after a switch."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: asset_bridge
short_description: Keep the assets of earlier front-end builds served after a switch
version_added: 0.5.0
description:
  - A browser tab opened before a deploy holds the previous C(index.html), and its next
    lazily loaded route asks for hashed files of the previous build. This module keeps
    them on the host, so that the tab keeps working.
  - C(bridge), for a release layout (M(fullstack.webapp.release)) - makes O(dest)/O(directory)
    the union of the O(directory) of every finished release under O(root)/releases, as hard
    links (copies across file systems), and removes what no finished release holds any more,
    so pruning a release drops its files from the bridge. Where two releases hold one path
    with different content, the newest release's file wins.
  - C(expire), for a dist installed in place - records the paths of the dist just installed
    in O(history) (one entry per distinct dist, the last O(keep)), and removes from O(dest)
    each file that none of the recorded dists holds, once O(keep) dists are recorded. A
    C(NAME.gz) or C(NAME.br) counts as held when C(NAME) is. Directories left empty go too.
options:
  action:
    description: C(bridge) or C(expire), see above.
    type: str
    choices: [bridge, expire]
    required: true
  root:
    description: For C(bridge), the directory holding C(releases/).
    type: path
  directory:
    description: For C(bridge), the directory of each release that is bridged.
    type: str
    default: assets
  dest:
    description:
      - For C(bridge), the bridge; the files land in O(dest)/O(directory).
      - For C(expire), the directory the dist is installed in.
    type: path
    required: true
  files:
    description: For C(expire), the paths of the dist just installed, relative to O(dest).
    type: list
    elements: str
  fingerprint:
    description: For C(expire), what identifies the dist just installed.
    type: str
  history:
    description: For C(expire), the JSON file that records the last O(keep) dists.
    type: path
  keep:
    description: For C(expire), how many dists are recorded (at least 1).
    type: int
    default: 5
  owner:
    description: The owner (name or uid) of the directories this module creates.
    type: str
  group:
    description: The group (name or gid) of the directories this module creates.
    type: str
  mode:
    description: The octal mode of the directories this module creates, for example C("0755").
    type: str
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
- name: Serve the assets of every kept release from /var/www/webapp/bridge/assets
  fullstack.webapp.asset_bridge:
    action: bridge
    root: /var/www/webapp
    dest: /var/www/webapp/bridge
    mode: "0755"

- name: Remove the files that left the dist five deploys ago
  fullstack.webapp.asset_bridge:
    action: expire
    dest: /var/www/webapp/dist
    files: [index.html, assets/index-4f2a.js]
    fingerprint: "{{ dist_sha256 }}"
    history: /var/www/webapp/.dist-files.json
    keep: 5
"""

RETURN = r"""
added:
  description: The paths (relative to the bridge's O(directory)) linked into the bridge.
  returned: when O(action=bridge)
  type: list
  elements: str
removed:
  description: The paths removed, relative to the bridge's O(directory) or to O(dest).
  returned: always
  type: list
  elements: str
files:
  description: For C(bridge), how many files the bridge holds now.
  returned: when O(action=bridge)
  type: int
"""

import errno
import json
import os
import shutil
from collections.abc import Callable
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fullstack.webapp.plugins.module_utils.files import (
    make_directories,
    parse_mode,
    write_json,
)
from ansible_collections.fullstack.webapp.plugins.module_utils.posix_ids import gid_of, uid_of

MANIFEST = "manifest.json"
COMPANIONS = (".gz", ".br")


def directory_maker(params: dict[str, Any]) -> Callable[[str], None]:
    """mkdir -p for the directories this module creates, with O(owner), O(group) and O(mode)."""
    uid = uid_of(params["owner"]) if params["owner"] else -1
    gid = gid_of(params["group"]) if params["group"] else -1
    mode = parse_mode(params["mode"])
    return lambda path: make_directories(path, uid, gid, mode)


def tree(top: str) -> dict[str, os.stat_result]:
    """The regular files under top, by path relative to it ({} when top is missing)."""
    found: dict[str, os.stat_result] = {}
    for parent, _dirs, names in os.walk(top):
        for name in names:
            path = os.path.join(parent, name)
            info = os.lstat(path)
            if os.path.isfile(path) and not os.path.islink(path):
                found[os.path.relpath(path, top)] = info
    return found


def finished_releases(root: str) -> list[str]:
    """The finished releases' directories (those with a manifest), newest first."""
    base = os.path.join(root, "releases")
    dated: list[tuple[str, str, str]] = []
    try:
        names = os.listdir(base)
    except FileNotFoundError:
        return []
    for name in names:
        path = os.path.join(base, name)
        try:
            with open(os.path.join(path, MANIFEST), encoding="utf-8") as handle:
                manifest = json.load(handle)
        except (FileNotFoundError, NotADirectoryError, ValueError):
            continue
        deployed_at = str(manifest.get("deployed_at", "")) if isinstance(manifest, dict) else ""
        dated.append((deployed_at, name, path))
    return [path for _at, _name, path in sorted(dated, reverse=True)]


def same_file(one: os.stat_result, other: os.stat_result) -> bool:
    return (one.st_dev, one.st_ino) == (other.st_dev, other.st_ino)


def place(source: str, target: str) -> None:
    """Link source at target (a copy across file systems), replacing target atomically."""
    temporary = f"{target}.tmp-{os.getpid()}"
    if os.path.lexists(temporary):
        os.unlink(temporary)
    try:
        os.link(source, temporary)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        shutil.copy2(source, temporary)
    os.replace(temporary, target)


def remove_empty_directories(top: str, check_mode: bool) -> None:
    for parent, dirs, names in os.walk(top, topdown=False):
        if parent != top and not dirs and not names and not check_mode:
            os.rmdir(parent)


def bridge(params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    root: str = params["root"]
    directory: str = params["directory"].strip("/")
    target_top = os.path.join(params["dest"], directory)
    wanted: dict[str, list[tuple[str, os.stat_result]]] = {}
    for release in finished_releases(root):
        for relative, info in tree(os.path.join(release, directory)).items():
            wanted.setdefault(relative, []).append(
                (os.path.join(release, directory, relative), info)
            )
    present = tree(target_top)
    make = directory_maker(params)
    added: list[str] = []
    for relative, candidates in sorted(wanted.items()):
        existing = present.get(relative)
        # A file already linked to any release's copy stays: a run with no new release
        # changes nothing, whatever the releases' order.
        if existing is not None and any(same_file(existing, info) for _p, info in candidates):
            continue
        added.append(relative)
        if not check_mode:
            target = os.path.join(target_top, relative)
            make(os.path.dirname(target))
            place(candidates[0][0], target)
    removed = sorted(set(present) - set(wanted))
    if not check_mode:
        for relative in removed:
            os.unlink(os.path.join(target_top, relative))
        if os.path.isdir(target_top):
            remove_empty_directories(target_top, check_mode)
    return {
        "changed": bool(added or removed),
        "added": added,
        "removed": removed,
        "files": len(wanted),
    }


def held(relative: str, kept: set[str]) -> bool:
    if relative in kept:
        return True
    return any(
        relative.endswith(suffix) and relative[: -len(suffix)] in kept for suffix in COMPANIONS
    )


def expire(params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    dest: str = params["dest"]
    history_file: str = params["history"]
    files = sorted(str(path).strip("/") for path in params["files"])
    try:
        with open(history_file, encoding="utf-8") as handle:
            history = json.load(handle)
        if not isinstance(history, list):
            history = []
    except FileNotFoundError:
        history = []
    except ValueError as exc:
        raise ValueError(f"{history_file} is not JSON ({exc}): remove it to start over") from exc
    entry = {"fingerprint": params["fingerprint"], "files": files}
    recorded = history[-1] if history else None
    changed = recorded != entry
    if changed:
        history = [*history, entry][-params["keep"] :]
    removed: list[str] = []
    if len(history) >= params["keep"]:
        kept = {path for dist in history for path in dist.get("files", [])}
        removed = sorted(path for path in tree(dest) if not held(path, kept))
    if not check_mode:
        if changed:
            directory_maker(params)(os.path.dirname(history_file))
            write_json(history_file, history)
        for relative in removed:
            os.unlink(os.path.join(dest, relative))
        if removed:
            remove_empty_directories(dest, check_mode)
    return {"changed": changed or bool(removed), "removed": removed}


def run(params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    """The module's logic; raises ValueError with the message to fail with."""
    if params["keep"] < 1:
        raise ValueError(f"keep must be at least 1, got {params['keep']}")
    if params["action"] == "bridge":
        if not params["root"]:
            raise ValueError("bridge needs root")
        return bridge(params, check_mode)
    missing = [name for name in ("files", "history", "fingerprint") if params[name] is None]
    if missing:
        raise ValueError(f"expire needs {', '.join(missing)}")
    return expire(params, check_mode)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "action": {"type": "str", "required": True, "choices": ["bridge", "expire"]},
            "root": {"type": "path"},
            "directory": {"type": "str", "default": "assets"},
            "dest": {"type": "path", "required": True},
            "files": {"type": "list", "elements": "str"},
            "fingerprint": {"type": "str"},
            "history": {"type": "path"},
            "keep": {"type": "int", "default": 5},
            "owner": {"type": "str"},
            "group": {"type": "str"},
            "mode": {"type": "str"},
        },
        supports_check_mode=True,
    )
    try:
        result = run(module.params, module.check_mode)
    except (ValueError, LookupError) as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg=f"{exc.filename}: {exc.strerror}")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
