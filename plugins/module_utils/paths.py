# Copyright: fullstack.webapp maintainers
# MIT License (see galaxy.yml)
"""Path helpers shared by the collection's filters."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any


def relative_to(path: str, root: str) -> str | None:
    """path relative to root, for a path that ansible.builtin.find reported below root;
    None for root itself or a path outside it."""
    # find reports normalised paths ("a/../b" -> "b"): so is the root.
    root = os.path.normpath(root).rstrip("/")
    if not path.startswith(root + "/"):
        return None
    return path[len(root) + 1 :].strip("/") or None


def files_below(find_result: Mapping[str, Any], root: str) -> dict[str, Mapping[str, Any]]:
    """The entries of a registered ansible.builtin.find result keyed by their path relative
    to root (the directory it searched); a skipped or failed result gives none."""
    entries: dict[str, Mapping[str, Any]] = {}
    for entry in find_result.get("files") or []:
        relative = relative_to(str(entry.get("path", "")), root)
        if relative is not None:
            entries[relative] = entry
    return entries
