# Copyright: fullstack.webapp maintainers
# MIT License (see galaxy.yml)
"""The tree_changes filter: which files of a source tree a host lacks or holds differently."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DOCUMENTATION = r"""
---
name: tree_changes
short_description: Files and directories of a source tree that differ on the host
version_added: 0.1.0
description:
  - Compares two results of M(ansible.builtin.find) (C(recurse), C(file_type=any),
    C(hidden), C(get_checksum)) - one of the source tree on the controller, one of the
    installed tree on the host - and returns what must be created or copied so that the
    host matches the source - directories missing or with another mode, owner or group,
    and files missing or with another checksum, mode, owner or group.
  - Two module runs (one find on each side) then replace one remote stat per file,
    which is what a directory M(ansible.builtin.copy) costs on every run.
  - Files on the host that the source does not have are not reported (the roles leave
    them in place). A symbolic link in the source has no checksum and is always
    reported, so M(ansible.builtin.copy) decides.
positional: >-
  _input, installed, src, dest, file_mode, dir_mode, owner, group, executable_mode, exclude
options:
  _input:
    description: The registered result of M(ansible.builtin.find) on the source tree.
    type: dict
    required: true
  installed:
    description:
      - The registered result of M(ansible.builtin.find) on the installed tree; a
        skipped or failed result counts as an empty tree.
    type: dict
    required: true
  src:
    description: The directory the first find searched.
    type: path
    required: true
  dest:
    description: The directory the second find searched.
    type: path
    required: true
  file_mode:
    description: The octal mode every file must have, for example C("0644").
    type: str
    required: true
  dir_mode:
    description: The octal mode every directory must have, for example C("0755").
    type: str
    required: true
  owner:
    description: The owner every file and directory must have (a name or a uid).
    type: str
    required: true
  group:
    description: The group every file and directory must have (a name or a gid).
    type: str
    required: true
  executable_mode:
    description:
      - The octal mode of a file that is executable (C(u+x)) in the source; left out,
        such a file must have O(file_mode) like any other.
    type: str
  exclude:
    description:
      - Paths relative to O(src) (C(dir/) or C(file)) left out on both sides, with
        everything below them, for example the paths a role links to shared copies.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Copy only the files of the dist that differ
  ansible.builtin.copy:
    src: "{{ dist }}/{{ item }}"
    dest: "/var/www/app/{{ item }}"
    mode: "0644"
  loop: "{{ (local_tree | fullstack.webapp.tree_changes(host_tree, dist, '/var/www/app',
            '0644', '0755', 'root', 'root')).files }}"
"""

RETURN = r"""
_value:
  description: What differs, as paths relative to O(src) and O(dest).
  type: dict
  contains:
    directories:
      description: Directories to create or fix, parents before their children.
      type: list
      elements: str
    files:
      description: Files to copy, sorted.
      type: list
      elements: str
    unchanged:
      description: How many files and directories already match.
      type: int
    executables:
      description: The files of RV(_value.files) that are executable in the source.
      type: list
      elements: str
    archive_mode:
      description:
        - A symbolic mode (for example C(u=rwX,g=rX,o=)) that gives O(dir_mode) to a
          directory, O(file_mode) to a file and O(executable_mode) to an executable one,
          for M(ansible.builtin.unarchive) (which also applies it to the top directories
          of what it unpacks); an empty string when no symbolic mode does all of that.
      type: str
    excluded:
      description: The entries of O(exclude) that the source has (as given in O(exclude)).
      type: list
      elements: str
"""

from ansible_collections.fullstack.webapp.plugins.module_utils.paths import files_below  # noqa: E402
from ansible_collections.fullstack.webapp.plugins.module_utils.posix_ids import same_id  # noqa: E402


def _attributes_match(entry: Mapping[str, Any], mode: str, owner: str, group: str) -> bool:
    try:
        same_mode = int(str(entry.get("mode", "")), 8) == int(mode, 8)
    except ValueError:
        return False
    return (
        same_mode
        and same_id(entry, owner, "pw_name", "uid")
        and same_id(entry, group, "gr_name", "gid")
    )


def archive_mode(file_mode: str, dir_mode: str, executable_mode: str | None = None) -> str:
    """The symbolic mode that turns into dir_mode on a directory, file_mode on a plain file
    and executable_mode on an executable one ('' when there is none)."""
    try:
        fmode, dmode = int(str(file_mode), 8), int(str(dir_mode), 8)
        xmode = None if executable_mode is None else int(str(executable_mode), 8)
    except ValueError:
        return ""
    if fmode & 0o7111 or dmode & 0o7000 or (fmode | (dmode & 0o111)) != dmode:
        return ""
    if xmode is not None and xmode != dmode:
        return ""
    parts = []
    for who, shift in (("u", 6), ("g", 3), ("o", 0)):
        bits = (dmode >> shift) & 0o7
        perms = ("r" if bits & 4 else "") + ("w" if bits & 2 else "") + ("X" if bits & 1 else "")
        parts.append(f"{who}={perms}")
    return ",".join(parts)


def tree_changes(
    source: Mapping[str, Any],
    installed: Mapping[str, Any],
    src: str,
    dest: str,
    file_mode: str,
    dir_mode: str,
    owner: str,
    group: str,
    executable_mode: str | None = None,
    exclude: list[str] | None = None,
) -> dict[str, Any]:
    owner, group = str(owner), str(group)
    on_host = files_below(installed, dest)
    wanted = files_below(source, src)
    left_out = {str(path).strip("/"): str(path) for path in exclude or []}
    excluded = sorted(left_out[relative] for relative in wanted if relative in left_out)
    wanted = {
        relative: entry
        for relative, entry in wanted.items()
        if not any(relative == path or relative.startswith(path + "/") for path in left_out)
    }
    # A link to a directory (find follows it) is a directory: something lies below it.
    parents = {relative.rpartition("/")[0] for relative in wanted}

    directories: list[str] = []
    files: list[str] = []
    executables: list[str] = []
    unchanged = 0
    for relative, entry in wanted.items():
        have = on_host.get(relative)
        if entry.get("isdir") or (entry.get("islnk") and relative in parents):
            if have and have.get("isdir") and _attributes_match(have, dir_mode, owner, group):
                unchanged += 1
            else:
                directories.append(relative)
            continue
        wanted_mode = file_mode
        if entry.get("xusr") and executable_mode is not None:
            wanted_mode = executable_mode
        if (
            have is not None
            and have.get("isreg")
            and entry.get("checksum") is not None
            and have.get("checksum") == entry.get("checksum")
            and _attributes_match(have, wanted_mode, owner, group)
        ):
            unchanged += 1
            continue
        files.append(relative)
        if entry.get("xusr"):
            executables.append(relative)
    return {
        "directories": sorted(directories),
        "files": sorted(files),
        "unchanged": unchanged,
        "executables": sorted(executables),
        "archive_mode": archive_mode(file_mode, dir_mode, executable_mode),
        "excluded": excluded,
    }


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"tree_changes": tree_changes}
