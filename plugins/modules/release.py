#!/usr/bin/python
# Copyright: fullstack.webapp maintainers
# MIT License (see galaxy.yml)
"""Prepare, record, activate, judge and prune the release directories of an application."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: release
short_description: Prepare, record, activate, judge and prune release directories
version_added: 0.2.0
description:
  - Manages a release layout - O(root)/releases/ID/ (one directory per release, holding a
    C(manifest.json)) and a symbolic link O(link) that points at the release being served.
  - The order of the releases (for pruning and rollback) is the order of their manifests'
    C(deployed_at) then C(release), never the directories' file times. C(activate) adds
    C(served_at) to a release's manifest the first time it is served, C(mark_good) adds
    C(good_at) the first time the release passes its health gate and C(checked_at) each
    time it passes one after a switch. A directory without a manifest
    is an unfinished release, never listed nor activated.
  - The link is switched atomically - a new link under a temporary name, renamed over
    the old one - so a reader sees the old release or the new one, never none.
  - With O(facts_file), the list of releases and the one served are written there as JSON
    (an Ansible local fact, read back with M(ansible.builtin.setup)); a key each for
    C(root), C(link), C(current) and C(releases) (the manifests, oldest first).
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
      - C(list) reports the releases.
      - C(prepare) says whether a new release is needed (RV(needed)); it is when no release
        is served or when the served release's manifest has another C(fingerprint) than
        O(fingerprint). When it is, C(prepare) checks O(release), fails when a finished
        release of that id exists, removes an unfinished directory of that id and makes
        the empty directory O(root)/releases/O(release), and O(root) and O(root)/releases
        when they are missing. Every directory it creates (missing parents of O(root) too)
        gets O(owner), O(group) and O(mode); existing ones are left as they are. In check
        mode it creates nothing.
      - C(record) writes O(manifest) into the release O(release) (whose directory must
        exist).
      - C(activate) points O(link) at O(release).
      - C(mark_good) records in the manifest of the finished release O(release) that it
        passed its health gate - C(checked_at) (UTC, to the microsecond) each time, and
        C(good_at) the first time.
      - >-
        C(refuse) removes the directory of O(release) (never the release O(link) points
        at) and fails with the message C(release ID of SOURCE refused: check 'CHECK'
        failed: ERROR; the serving release CURRENT is untouched) (C(of SOURCE) left out
        without O(source), C(CURRENT) is V((none\)) when no release is served). The facts
        file is written before it fails. In check mode it removes nothing, and fails too.
      - C(prune) removes unfinished releases and all but the last O(keep) releases, never
        the one served nor the last good ones (RV(last_good) and the last to pass a gate).
    type: str
    choices: [list, prepare, record, activate, mark_good, refuse, prune]
    default: list
  release:
    description:
      - Release id (letters, digits, C(.), C(_), C(-), at most 128, not starting with
        C(.), C(_) or C(-)); required by C(prepare), C(record), C(activate), C(mark_good)
        and C(refuse).
    type: str
  fingerprint:
    description:
      - For C(prepare), what identifies the release's content (for example the sha256 of
        its source tree); compared with the C(fingerprint) of the served release's
        manifest. Required by C(prepare).
    type: str
  owner:
    description: For C(prepare), the owner (name or uid) of the directories it creates.
    type: str
  group:
    description: For C(prepare), the group (name or gid) of the directories it creates.
    type: str
  mode:
    description:
      - For C(prepare), the octal mode of the directories it creates, for example
        C("0750"); left out, the umask decides.
    type: str
  check:
    description:
      - >-
        For C(refuse), the name of the check that failed, for example the name of the task
        that failed; a leading C(Check: ) is left out. Required by C(refuse).
    type: str
  error:
    description:
      - For C(refuse), what the check said; stripped, runs of white space made one space.
        Required by C(refuse).
    type: str
  source:
    description: For C(refuse), what the release was built from, named in the message.
    type: str
  manifest:
    description: For C(record), the manifest to record; C(release) is set to O(release).
    type: dict
  keep:
    description: Releases kept by C(prune) (at least 1).
    type: int
    default: 5
  facts_file:
    description: Where to write the releases as an Ansible local fact (C(*.fact)).
    type: path
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
- name: Make the directory of release 20260101T000000Z unless the served one has that source
  fullstack.webapp.release:
    root: /opt/webapp
    action: prepare
    release: 20260101T000000Z
    fingerprint: "{{ source_tree | fullstack.webapp.tree_sha256('/srv/build/webapp') }}"
    owner: root
    group: webapp
    mode: "0750"
  register: __prepared

- name: Serve release 20260101T000000Z
  fullstack.webapp.release:
    root: /opt/webapp
    action: activate
    release: 20260101T000000Z
    facts_file: /etc/ansible/facts.d/python_uv_webapp.fact

- name: Record that it passed the health gate
  fullstack.webapp.release:
    root: /opt/webapp
    action: mark_good
    release: 20260101T000000Z
    facts_file: /etc/ansible/facts.d/python_uv_webapp.fact

- name: Remove a release that failed a check and stop the run, naming the check
  fullstack.webapp.release:
    root: /opt/webapp
    action: refuse
    release: 20260101T000000Z
    check: "{{ ansible_failed_task.name }}"
    error: "{{ ansible_failed_result.msg | default('') }}"
    source: /srv/build/webapp
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
current_good:
  description: Whether the current release's manifest has C(good_at).
  returned: always
  type: bool
last_good:
  description:
    - The release other than the current one that passed its health gate most recently
      (its manifest's C(checked_at), else C(good_at)); null when none. What to put back
      when the current release fails its gate.
  returned: always
  type: str
before:
  description: The release served before this run (for C(activate), before the switch).
  returned: always
  type: str
removed:
  description: For C(prune) and C(refuse), the release directories removed.
  returned: always
  type: list
  elements: str
needed:
  description:
    - For C(prepare), whether a new release is needed - no release is served, or the
      served release's manifest has another C(fingerprint).
  returned: when O(action=prepare)
  type: bool
path:
  description: The directory of O(release), O(root)/releases/O(release).
  returned: when O(action) is C(prepare), C(record), C(activate), C(mark_good) or C(refuse)
  type: str
"""

import json
import os
import re
import shutil
import time
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fullstack.webapp.plugins.module_utils.files import (
    make_directories,
    parse_mode,
    write_json,
)
from ansible_collections.fullstack.webapp.plugins.module_utils.posix_ids import gid_of, uid_of

MANIFEST = "manifest.json"
RELEASE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
ACTIONS = ["list", "prepare", "record", "activate", "mark_good", "refuse", "prune"]
NEEDS_RELEASE = ("prepare", "record", "activate", "mark_good", "refuse")


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


def utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def stamp(root: str, manifest: dict[str, Any], key: str, check_mode: bool) -> bool:
    """Add key (the time now) to a release's manifest unless it has one; True when it had
    none (and, outside check mode, it was written)."""
    if manifest.get(key):
        return False
    if not check_mode:
        manifest[key] = utc_now()
        write_json(os.path.join(releases_dir(root), manifest["release"], MANIFEST), manifest)
    return True


def manifest_of(manifests: list[dict[str, Any]], release: str | None) -> dict[str, Any] | None:
    return next((m for m in manifests if m["release"] == release), None)


def finished(manifests: list[dict[str, Any]], release: str, root: str) -> dict[str, Any]:
    """The manifest of a finished release; ValueError naming it when it is not one."""
    manifest = manifest_of(manifests, release)
    if manifest is None:
        known = ", ".join(m["release"] for m in manifests) or "none"
        raise ValueError(
            f"release {release} is not a finished release under {releases_dir(root)} "
            f"(finished releases: {known})"
        )
    return manifest


def checked_at(manifest: dict[str, Any]) -> str:
    """When a release last passed its health gate ("" when never)."""
    return str(manifest.get("checked_at") or manifest.get("good_at") or "")


def last_good(manifests: list[dict[str, Any]], current: str | None) -> str | None:
    """The release, other than the current one, that passed its health gate most recently:
    what to put back when the current one fails its gate (after a rollback, the release
    rolled back to, not a newer one)."""
    good = [m for m in manifests if m["release"] != current and checked_at(m)]
    return max(good, key=lambda m: (checked_at(m), m["release"]))["release"] if good else None


def prepare(
    params: dict[str, Any], manifests: list[dict[str, Any]], before: str | None, check_mode: bool
) -> tuple[bool, bool]:
    """(needed, changed) for action prepare; makes the new release's directory."""
    root: str = params["root"]
    release: str = params["release"]
    fingerprint = params["fingerprint"]
    if fingerprint is None:
        raise ValueError("prepare needs fingerprint")
    mode = parse_mode(params["mode"])
    serving = manifest_of(manifests, before)
    needed = serving is None or serving.get("fingerprint") != fingerprint
    if not needed:
        return False, False
    check_release_id(release)
    if check_mode:
        return True, True
    if manifest_of(manifests, release) is not None:
        raise ValueError(
            f"check 'release id' failed: release {release} already exists under "
            f"{releases_dir(root)} with other content; give it a new id"
        )
    uid = uid_of(params["owner"]) if params["owner"] else -1
    gid = gid_of(params["group"]) if params["group"] else -1
    path = os.path.join(releases_dir(root), release)
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        raise ValueError(f"{path} exists and is not a directory: move it away")
    make_directories(path, uid, gid, mode)
    return True, True


def refusal(params: dict[str, Any], current: str | None) -> str:
    check = str(params["check"] or "").strip()
    check = check.removeprefix("Check: ")
    error = " ".join(str(params["error"] or "").split())
    source = f" of {params['source']}" if params["source"] else ""
    return (
        f"release {params['release']}{source} refused: check '{check}' failed: {error}; "
        f"the serving release {current or '(none)'} is untouched"
    )


def check_release_id(release: str | None) -> None:
    if not release or not RELEASE_ID.match(release):
        raise ValueError(
            f"release must be a release id (letters, digits, '.', '_', '-'), got {release!r}"
        )


class Refused(Exception):
    """Action refuse's failure: its message and the result to fail with."""

    def __init__(self, msg: str, result: dict[str, Any]) -> None:
        super().__init__(msg)
        self.msg = msg
        self.result = result


def run(params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    """The module's logic; raises ValueError with the message to fail with, and Refused
    (after its work) for action refuse."""
    root: str = params["root"]
    link: str = params["link"] or os.path.join(root, "current")
    action: str = params["action"]
    # "" for the actions that take no release (NEEDS_RELEASE is checked just below).
    release: str = params["release"] or ""
    if action in ("record", "activate", "mark_good"):
        check_release_id(release)
    if action in ("prepare", "refuse") and not release:
        raise ValueError(f"{action} needs release")
    if params["keep"] < 1:
        raise ValueError(f"keep must be at least 1, got {params['keep']}")
    changed = False
    before = current_release(root, link)
    removed: list[str] = []
    extra: dict[str, Any] = {}
    if action in NEEDS_RELEASE:
        extra["path"] = os.path.join(releases_dir(root), str(release))

    if action == "record":
        path = os.path.join(releases_dir(root), release)
        if not os.path.isdir(path):
            raise ValueError(f"release directory {path} does not exist")
        manifest = dict(params["manifest"] or {})
        manifest["release"] = release
        changed = check_mode or write_json(os.path.join(path, MANIFEST), manifest)

    manifests, unfinished = read_manifests(root)
    order = [m["release"] for m in manifests]

    if action == "prepare":
        extra["needed"], changed = prepare(params, manifests, before, check_mode)

    if action == "mark_good":
        passed = finished(manifests, release, root)
        stamp(root, passed, "good_at", check_mode)
        if not check_mode:
            passed["checked_at"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + (
                f".{time.time_ns() // 1000 % 1_000_000:06d}Z"
            )
            write_json(os.path.join(releases_dir(root), release, MANIFEST), passed)
        changed = True

    if action == "activate":
        finished(manifests, release, root)
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
                stamp(root, finished(manifests, release, root), "served_at", check_mode)

    current = current_release(root, link) if not check_mode else (release or before)
    if action != "activate":
        current = before

    if action == "prune":
        kept = set(order[-params["keep"] :])
        for good in (last_good(manifests, None), last_good(manifests, current)):
            if good:
                kept.add(good)
        removed = [name for name in [*unfinished, *order] if name not in kept and name != current]

    if action == "refuse":
        path = os.path.join(releases_dir(root), release)
        if RELEASE_ID.match(release) and release != current and os.path.lexists(path):
            removed = [release]

    for name in removed:
        changed = True
        path = os.path.join(releases_dir(root), name)
        if check_mode:
            continue
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    manifests = [m for m in manifests if m["release"] not in removed]
    order = [m["release"] for m in manifests]

    facts_file = params["facts_file"]
    if facts_file and not check_mode:
        os.makedirs(os.path.dirname(facts_file), mode=0o755, exist_ok=True)
        facts = {"root": root, "link": link, "current": current, "releases": manifests}
        changed = write_json(facts_file, facts) or changed

    serving = manifest_of(manifests, current)
    result = {
        "changed": changed,
        "releases": manifests,
        "current": current,
        "previous": previous_of(order, current),
        "current_good": bool(serving and serving.get("good_at")),
        "last_good": last_good(manifests, current),
        "before": before,
        "removed": removed,
        **extra,
    }
    if action == "refuse":
        raise Refused(refusal(params, current), result)
    return result


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "root": {"type": "path", "required": True},
            "link": {"type": "path"},
            "action": {"type": "str", "default": "list", "choices": ACTIONS},
            "release": {"type": "str"},
            "fingerprint": {"type": "str"},
            "owner": {"type": "str"},
            "group": {"type": "str"},
            "mode": {"type": "str"},
            "check": {"type": "str"},
            "error": {"type": "str"},
            "source": {"type": "str"},
            "manifest": {"type": "dict"},
            "keep": {"type": "int", "default": 5},
            "facts_file": {"type": "path"},
        },
        required_if=[
            ("action", "prepare", ["release", "fingerprint"]),
            ("action", "record", ["release"]),
            ("action", "activate", ["release"]),
            ("action", "mark_good", ["release"]),
            ("action", "refuse", ["release", "check", "error"]),
        ],
        supports_check_mode=True,
    )
    try:
        result = run(module.params, module.check_mode)
    except Refused as exc:
        module.fail_json(msg=exc.msg, **exc.result)
    except (ValueError, LookupError) as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg=f"{exc.filename}: {exc.strerror}")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
