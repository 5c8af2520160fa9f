#!/usr/bin/python
# Copyright: fullstack.webapp maintainers
# MIT License (see galaxy.yml)
"""List, record, activate and prune the release directories of an application."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: release
short_description: List, record, activate and prune release directories
version_added: 0.2.0
description:
  - Manages a release layout - O(root)/releases/ID/ (one directory per release, holding a
    C(manifest.json)) and a symbolic link O(link) that points at the release being served.
  - The order of the releases (for pruning and rollback) is the order of their manifests'
    C(deployed_at) then C(release), never the directories' file times. C(activate) adds
    C(served_at) to a release's manifest the first time it is served. A directory
    without a manifest is an unfinished release, never listed nor activated.
  - The link is switched atomically - a new link under a temporary name, renamed over
    the old one - so a reader sees the old release or the new one, never none.
  - With O(facts_file), the list of releases and the one served are written there as JSON
    (an Ansible local fact, read back with M(ansible.builtin.setup)).
options:
  root:
    description: Directory holding C(releases/).
    type: path
    required: true
  link:
    description: The link to the release being served; default O(root)/current.
    type: path
  action:
    description:
      - C(list) reports the releases; C(record) writes O(manifest) into the release
        O(release) (whose directory must exist); C(activate) points O(link) at O(release);
        C(prune) removes unfinished releases and all but the last O(keep) releases, never
        the one served.
    type: str
    choices: [list, record, activate, prune]
    default: list
  release:
    description: Release id (letters, digits, C(.), C(_), C(-)); for C(record) and C(activate).
    type: str
  manifest:
    description: The manifest to record; C(release) is set to O(release).
    type: dict
  keep:
    description: Releases kept by C(prune) (at least 1).
    type: int
    default: 5
  facts_file:
    description: Where to write the releases as an Ansible local fact (C(*.fact)).
    type: path
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
author:
  - fullstack.webapp maintainers
"""

EXAMPLES = r"""
- name: Serve release 20260101T000000Z
  fullstack.webapp.release:
    root: /opt/webapp
    action: activate
    release: 20260101T000000Z
    facts_file: /etc/ansible/facts.d/python_uv_webapp.fact
"""

RETURN = r"""
releases:
  description: The manifests of the finished releases, oldest first.
  returned: always
  type: list
  elements: dict
current:
  description: The release the link points at (null when none).
  returned: always
  type: str
previous:
  description: The release before the current one in the order (null when none).
  returned: always
  type: str
before:
  description: For C(activate), the release served before this run.
  returned: always
  type: str
removed:
  description: For C(prune), the release directories removed.
  returned: always
  type: list
  elements: str
"""

import json
import os
import re
import shutil
import time
from typing import Any

from ansible.module_utils.basic import AnsibleModule

MANIFEST = "manifest.json"
RELEASE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def releases_dir(root: str) -> str:
    return os.path.join(root, "releases")


def read_manifests(root: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The finished releases' manifests in deploy order, and the unfinished directories."""
    base = releases_dir(root)
    manifests: list[dict[str, Any]] = []
    unfinished: list[str] = []
    try:
        names = sorted(os.listdir(base))
    except FileNotFoundError:
        return [], []
    for name in names:
        path = os.path.join(base, name)
        if not os.path.isdir(path) or os.path.islink(path):
            continue
        try:
            with open(os.path.join(path, MANIFEST), encoding="utf-8") as handle:
                manifest = json.load(handle)
        except (FileNotFoundError, ValueError):
            unfinished.append(name)
            continue
        if not isinstance(manifest, dict):
            unfinished.append(name)
            continue
        manifest["release"] = name
        manifests.append(manifest)
    manifests.sort(key=lambda m: (str(m.get("deployed_at", "")), m["release"]))
    return manifests, unfinished


def current_release(root: str, link: str) -> str | None:
    """The release id the link points at, when it points into root/releases."""
    if not os.path.islink(link):
        return None
    target = os.readlink(link)
    if not os.path.isabs(target):
        target = os.path.join(os.path.dirname(link), target)
    target = os.path.normpath(target)
    if os.path.dirname(target) != os.path.normpath(releases_dir(root)):
        return None
    return os.path.basename(target)


def previous_of(order: list[str], current: str | None) -> str | None:
    if current not in order:
        return None
    index = order.index(current)
    return order[index - 1] if index > 0 else None


def switch_link(link: str, target: str) -> None:
    """Point link at target atomically: a new link under a temporary name, renamed over."""
    temporary = f"{link}.tmp-{os.getpid()}"
    if os.path.lexists(temporary):
        os.unlink(temporary)
    os.symlink(target, temporary)
    os.replace(temporary, link)


def write_json(path: str, data: object) -> bool:
    """Write data as JSON unless the file already holds exactly that; True when written."""
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    try:
        with open(path, encoding="utf-8") as handle:
            if handle.read() == text:
                return False
    except FileNotFoundError:
        pass
    temporary = f"{path}.tmp-{os.getpid()}"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)
    return True


def mark_served(root: str, release: str, manifests: list[dict[str, Any]]) -> None:
    """Record in the manifest when the release was first served: a release never served
    (refused by a check or a health gate) is never picked to go back to."""
    manifest = next(m for m in manifests if m["release"] == release)
    if "served_at" not in manifest:
        manifest["served_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        write_json(os.path.join(releases_dir(root), release, MANIFEST), manifest)


def run(params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    """The module's logic; raises ValueError with the message to fail with."""
    root: str = params["root"]
    link: str = params["link"] or os.path.join(root, "current")
    action: str = params["action"]
    release: str | None = params["release"]
    if action in ("record", "activate") and (not release or not RELEASE_ID.match(release)):
        raise ValueError(
            f"release must be a release id (letters, digits, '.', '_', '-'), got {release!r}"
        )
    if params["keep"] < 1:
        raise ValueError(f"keep must be at least 1, got {params['keep']}")
    changed = False
    before = current_release(root, link)
    removed: list[str] = []

    if action == "record":
        assert release is not None
        path = os.path.join(releases_dir(root), release)
        if not os.path.isdir(path):
            raise ValueError(f"release directory {path} does not exist")
        manifest = dict(params["manifest"] or {})
        manifest["release"] = release
        changed = check_mode or write_json(os.path.join(path, MANIFEST), manifest)

    manifests, unfinished = read_manifests(root)
    order = [m["release"] for m in manifests]

    if action == "activate":
        assert release is not None
        if release not in order:
            known = ", ".join(order) or "none"
            raise ValueError(
                f"release {release} is not a finished release under {releases_dir(root)} "
                f"(finished releases: {known})"
            )
        if os.path.lexists(link) and not os.path.islink(link):
            raise ValueError(
                f"{link} exists and is not a symbolic link: move it away once to switch to "
                "the release layout"
            )
        if before != release:
            changed = True
            if not check_mode:
                target = os.path.relpath(
                    os.path.join(releases_dir(root), release), os.path.dirname(link)
                )
                switch_link(link, target)
                mark_served(root, release, manifests)

    current = current_release(root, link) if not check_mode else (release or before)
    if action != "activate":
        current = before

    if action == "prune":
        kept = set(order[-params["keep"] :])
        for name in [*unfinished, *order]:
            if name in kept or name == current:
                continue
            removed.append(name)
            changed = True
            if not check_mode:
                shutil.rmtree(os.path.join(releases_dir(root), name))
        manifests = [m for m in manifests if m["release"] not in removed]
        order = [m["release"] for m in manifests]

    facts_file = params["facts_file"]
    if facts_file and not check_mode:
        os.makedirs(os.path.dirname(facts_file), mode=0o755, exist_ok=True)
        facts = {"root": root, "link": link, "current": current, "releases": manifests}
        changed = write_json(facts_file, facts) or changed

    return {
        "changed": changed,
        "releases": manifests,
        "current": current,
        "previous": previous_of(order, current),
        "before": before,
        "removed": removed,
    }


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "root": {"type": "path", "required": True},
            "link": {"type": "path"},
            "action": {
                "type": "str",
                "default": "list",
                "choices": ["list", "record", "activate", "prune"],
            },
            "release": {"type": "str"},
            "manifest": {"type": "dict"},
            "keep": {"type": "int", "default": 5},
            "facts_file": {"type": "path"},
        },
        supports_check_mode=True,
    )
    try:
        result = run(module.params, module.check_mode)
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg=f"{exc.filename}: {exc.strerror}")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
