# Copyright: fullstack.webapp maintainers
# MIT License (see galaxy.yml)
"""Owners and groups as names or numeric ids, shared by the collection's modules and filters."""

from __future__ import annotations

import grp
import pwd
from collections.abc import Mapping
from typing import Any


def user_name(uid: int) -> str:
    """The name of a uid, or the uid itself as text when it has no name."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def group_name(gid: int) -> str:
    """The name of a gid, or the gid itself as text when it has no name."""
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def uid_of(owner: str) -> int:
    """The uid of a user given by name or number; LookupError when no such user exists."""
    try:
        return pwd.getpwnam(owner).pw_uid
    except KeyError:
        if owner.isdigit():
            return int(owner)
        raise LookupError(f"user {owner!r} does not exist on this host") from None


def gid_of(group: str) -> int:
    """The gid of a group given by name or number; LookupError when no such group exists."""
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        if group.isdigit():
            return int(group)
        raise LookupError(f"group {group!r} does not exist on this host") from None


def same_id(entry: Mapping[str, Any], wanted: object, name_key: str, id_key: str) -> bool:
    """Whether entry's owner (or group) is wanted, given as a name or a numeric id: a number
    is compared with entry[id_key], a name with entry[name_key]."""
    text = str(wanted)
    if text.isdigit():
        return str(entry.get(id_key)) == text
    return entry.get(name_key) == text
