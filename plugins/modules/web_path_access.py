#!/usr/bin/python
# Copyright: fullstack.webapp maintainers
# MIT License (see galaxy.yml)
"""Check that a user (typically a web server's) can reach a directory and read files in it."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: web_path_access
short_description: Check that a user can traverse a path and read files in it
version_added: 0.1.0
description:
  - Walks every directory from C(/) down to O(path) and checks, from the permission bits,
    that O(user) may search (C(x)) each of them, then that it may read every file listed
    in O(files).
  - The check follows the kernel's rules for the owner, group and other classes - only
    the first class that matches the user counts - using the user's uid, primary group
    and supplementary groups. The root user passes every directory and read check.
  - When O(path) or a directory on the way is a symbolic link, the directories of the
    link target are checked as well.
  - "Read-only; it never changes anything. When the user is blocked the module fails and
    names the first directory or file that blocks it, its mode and owner, and the
    C(chmod) that would fix it. This is the check that turns the web server's
    C(403 Forbidden), C(13: Permission denied) and
    C(rewrite or internal redirection cycle) into a failed play."
  - POSIX ACLs and mandatory access control (AppArmor, SELinux) are not evaluated; the
    module warns when a checked path carries an ACL.
options:
  path:
    description:
      - Absolute path of the directory (or file) the user must reach.
      - For a directory the user needs search permission on it and on every parent;
        for a file, search permission on every parent and read permission on the file.
    type: path
    required: true
  user:
    description:
      - Name (or numeric uid) of the user to check, for example the user nginx workers
        run as (C(www-data) on Debian).
    type: str
    required: true
  files:
    description:
      - Files, relative to O(path), the user must be able to read, for example
        C(index.html). Subdirectories on the way are checked for search permission.
      - Only used when O(path) is a directory.
    type: list
    elements: str
    default: []
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
- name: Check that nginx can read the SPA
  fullstack.webapp.web_path_access:
    path: /var/www/webapp/dist
    user: www-data
    files:
      - index.html

- name: Check a single file
  fullstack.webapp.web_path_access:
    path: /srv/app/shared/config.toml
    user: webapp
"""

RETURN = r"""
user:
  description: Name of the checked user.
  returned: success or when the user exists
  type: str
  sample: www-data
uid:
  description: The user's uid.
  returned: success or when the user exists
  type: int
  sample: 33
groups:
  description: Every gid the user has (primary and supplementary), sorted.
  returned: success or when the user exists
  type: list
  elements: int
  sample: [33]
checked:
  description: Every path checked, in order, up to and including the one that blocked.
  returned: success or when the user exists
  type: list
  elements: dict
  contains:
    path:
      description: The checked path (after resolving symbolic links for the target).
      type: str
    kind:
      description: C(directory) or C(file).
      type: str
    mode:
      description: Permission bits, four octal digits.
      type: str
      sample: "0755"
    owner:
      description: Owner and group as C(user:group).
      type: str
      sample: root:root
    needs:
      description: The permission needed, C(x) (search) or C(r) (read).
      type: str
    allowed:
      description: Whether the user has that permission.
      type: bool
  sample:
    - {path: /, kind: directory, mode: "0755", owner: "root:root", needs: x, allowed: true}
blocked_by:
  description: The first path that blocks the user, with the fix.
  returned: failure, when a path blocks the user
  type: dict
  contains:
    path:
      description: The blocking path.
      type: str
    mode:
      description: Its permission bits.
      type: str
    owner:
      description: Its owner and group.
      type: str
    fix:
      description: A command that would grant the missing permission.
      type: str
      sample: chmod o+x /home/alice
"""

import os
import pwd
import shlex
import stat
from dataclasses import dataclass, field
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fullstack.webapp.plugins.module_utils.posix_ids import (
    group_name,
    user_name,
)

READ = 4
EXECUTE = 1
_NEEDS = {READ: "r", EXECUTE: "x"}
_ACL_XATTR = "system.posix_acl_access"


@dataclass(frozen=True)
class Identity:
    """The credentials the kernel would check for a process running as a user."""

    name: str
    uid: int
    gids: frozenset[int]


@dataclass(frozen=True)
class Check:
    """One permission check on one path."""

    path: str
    kind: str
    mode: int
    uid: int
    gid: int
    needs: int
    allowed: bool

    @property
    def mode_text(self) -> str:
        return f"{self.mode:04o}"

    @property
    def owner_text(self) -> str:
        return f"{user_name(self.uid)}:{group_name(self.gid)}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "kind": self.kind,
            "mode": self.mode_text,
            "owner": self.owner_text,
            "needs": _NEEDS[self.needs],
            "allowed": self.allowed,
        }


@dataclass
class Report:
    """The outcome of check_access: the checks made and, if any, the problem found."""

    checked: list[Check] = field(default_factory=list)
    blocked: Check | None = None
    problem: str | None = None
    fix: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problem is None


def lookup_identity(user: str) -> Identity:
    """Return the uid and every gid of a user given by name or numeric uid.

    Raises LookupError when the user does not exist.
    """
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        if not user.isdigit():
            raise LookupError(f"user {user!r} does not exist on this host") from None
        try:
            entry = pwd.getpwuid(int(user))
        except KeyError:
            raise LookupError(f"uid {user} does not exist on this host") from None
    gids = set(os.getgrouplist(entry.pw_name, entry.pw_gid))
    gids.add(entry.pw_gid)
    return Identity(name=entry.pw_name, uid=entry.pw_uid, gids=frozenset(gids))


def permission_class(st: os.stat_result, ident: Identity) -> str:
    """The class of the mode bits that applies to the user: u, g or o (first match wins)."""
    if st.st_uid == ident.uid:
        return "u"
    if st.st_gid in ident.gids:
        return "g"
    return "o"


def permitted(st: os.stat_result, ident: Identity, needs: int) -> bool:
    """Whether the user has the permission `needs` (READ or EXECUTE) on the stat'ed path."""
    if ident.uid == 0:
        # Root bypasses read and search checks (CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH),
        # except that executing a regular file needs at least one x bit.
        if needs & EXECUTE and stat.S_ISREG(st.st_mode):
            return bool(st.st_mode & 0o111)
        return True
    shift = {"u": 6, "g": 3, "o": 0}[permission_class(st, ident)]
    bits = (st.st_mode >> shift) & 0o7
    return bits & needs == needs


def suggest_fix(path: str, st: os.stat_result, ident: Identity, needs: int) -> str:
    """The chmod that grants the missing permission to the class that applies to the user."""
    who = permission_class(st, ident)
    return f"chmod {who}+{_NEEDS[needs]} {shlex.quote(path)}"


def prefixes(path: str) -> list[str]:
    """'/a/b' -> ['/', '/a', '/a/b']."""
    parts = [part for part in path.split("/") if part]
    return ["/"] + ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def traversal_chain(path: str) -> list[str]:
    """Every directory whose search permission is checked when resolving `path`.

    Lexical prefixes first; a prefix that is (or goes through) a symbolic link adds the
    directories of its target.
    """
    chain: list[str] = []
    seen: set[str] = set()
    for prefix in prefixes(os.path.abspath(path)):
        for part in prefixes(os.path.realpath(prefix)):
            if part not in seen:
                seen.add(part)
                chain.append(part)
    return chain


def _has_acl(path: str) -> bool:
    listxattr = getattr(os, "listxattr", None)
    if listxattr is None:
        return False
    try:
        return _ACL_XATTR in listxattr(path)
    except OSError:
        return False


class _Walker:
    """Runs the checks in order and stops at the first problem."""

    def __init__(self, ident: Identity) -> None:
        self.ident = ident
        self.report = Report()
        self._seen: set[tuple[str, int]] = set()

    def _who(self) -> str:
        return f"user {self.ident.name!r} (uid {self.ident.uid})"

    def check(self, path: str, kind: str, needs: int) -> bool:
        if (path, needs) in self._seen:
            return True
        self._seen.add((path, needs))
        try:
            st = os.stat(path)
        except FileNotFoundError:
            self.report.problem = f"{path} does not exist"
            return False
        except NotADirectoryError:
            self.report.problem = f"{path} does not exist (a component of it is not a directory)"
            return False
        except OSError as exc:
            self.report.problem = f"cannot stat {path}: {exc.strerror}"
            return False
        if kind == "directory" and not stat.S_ISDIR(st.st_mode):
            self.report.problem = f"{path} is not a directory"
            return False
        if kind == "file" and not stat.S_ISREG(st.st_mode):
            self.report.problem = f"{path} is not a regular file"
            return False
        allowed = permitted(st, self.ident, needs)
        check = Check(
            path=path,
            kind=kind,
            mode=stat.S_IMODE(st.st_mode),
            uid=st.st_uid,
            gid=st.st_gid,
            needs=needs,
            allowed=allowed,
        )
        self.report.checked.append(check)
        acl = _has_acl(path)
        if acl:
            self.report.warnings.append(
                f"{path} has a POSIX ACL, which this check does not evaluate "
                "(only the mode bits were used)"
            )
        if allowed:
            return True
        action = "traverse (search, x)" if needs == EXECUTE else "read (r)"
        fix = suggest_fix(path, st, self.ident, needs)
        hint = (
            "a web server running as this user answers 403 Forbidden "
            "('stat() failed (13: Permission denied)' or 'rewrite or internal "
            "redirection cycle' in its error log)"
        )
        self.report.blocked = check
        self.report.fix = fix
        self.report.problem = (
            f"{self._who()} cannot {action} {path}: mode {check.mode_text}, "
            f"owner {check.owner_text}; {hint}. Fix: {fix}"
            + (
                " (or move the files to a directory the user can reach)"
                if kind == "directory"
                else ""
            )
            + (" - the path has an ACL, which was not evaluated" if acl else "")
        )
        return False

    def directories(self, path: str) -> bool:
        return all(self.check(d, "directory", EXECUTE) for d in traversal_chain(path))

    def file(self, path: str) -> bool:
        if not self.directories(os.path.dirname(path)):
            return False
        real = os.path.realpath(path)
        if real != path and not self.directories(os.path.dirname(real)):
            return False
        return self.check(real, "file", READ)


def check_access(ident: Identity, path: str, files: list[str] | None = None) -> Report:
    """Check that `ident` can reach `path` and read each of `files` (relative to it)."""
    walker = _Walker(ident)
    path = os.path.abspath(path)
    if os.path.isdir(path) or not os.path.exists(path):
        if walker.directories(path):
            for name in files or []:
                if not walker.file(os.path.normpath(os.path.join(path, name))):
                    break
    else:
        walker.file(path)
    return walker.report


def validate_files(files: list[str]) -> str | None:
    """An error message when an entry of `files` is absolute or leaves the directory."""
    for name in files:
        if not name or os.path.isabs(name) or ".." in name.split("/"):
            return f"files: {name!r} must be a path relative to path, without '..'"
    return None


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "user": {"type": "str", "required": True},
            "files": {"type": "list", "elements": "str", "default": []},
        },
        supports_check_mode=True,
    )
    path: str = module.params["path"]
    user: str = module.params["user"]
    files: list[str] = module.params["files"]

    if not os.path.isabs(path):
        module.fail_json(msg=f"path: {path!r} must be an absolute path")
    error = validate_files(files)
    if error:
        module.fail_json(msg=error)
    try:
        ident = lookup_identity(user)
    except LookupError as exc:
        module.fail_json(msg=f"user: {exc}")

    report = check_access(ident, path, files)
    result: dict[str, Any] = {
        "changed": False,
        "user": ident.name,
        "uid": ident.uid,
        "groups": sorted(ident.gids),
        "checked": [c.as_dict() for c in report.checked],
    }
    for warning in report.warnings:
        module.warn(warning)
    if not report.ok:
        if report.blocked is not None:
            result["blocked_by"] = {
                "path": report.blocked.path,
                "mode": report.blocked.mode_text,
                "owner": report.blocked.owner_text,
                "fix": report.fix,
            }
        module.fail_json(msg=report.problem, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
