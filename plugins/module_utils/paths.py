# Copyright: fullstack.webapp maintainers
# MIT License (see galaxy.yml)
"""Path helpers shared by the collection's filters."""

from __future__ import annotations

import os


def relative_to(path: str, root: str) -> str | None:
    """path relative to root, for a path that ansible.builtin.find reported below root;
    None for root itself or a path outside it."""
    # find reports normalised paths ("a/../b" -> "b"): so is the root.
    root = os.path.normpath(root).rstrip("/")
    if not path.startswith(root + "/"):
        return None
    return path[len(root) + 1 :].strip("/") or None
