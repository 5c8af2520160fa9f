# Copyright: fullstack.webapp maintainers
# MIT License (see galaxy.yml)
"""The source_fingerprint lookup: one sha256 of a source tree on the controller, for a build
that runs only when its sources changed."""

from __future__ import annotations

DOCUMENTATION = r"""
---
name: source_fingerprint
short_description: The sha256 of a source tree on the controller, without its ignored directories
version_added: 0.3.0
description:
  - Walks the directory given, leaving out every directory whose name is in O(ignore) (at any
    depth) or whose path relative to the tree is, and returns one sha256 over each file's
    relative path and content, in sorted order, and O(salt).
  - Links are hashed by their target, not followed, unless O(follow).
  - A file (an archive) gives the sha256 of its content and O(salt).
options:
  _terms:
    description: The directory or file (one).
    type: list
    elements: str
    required: true
  ignore:
    description:
      - Directory names, or paths relative to the tree, left out (for example
        C(node_modules), C(dist)).
    type: list
    elements: str
    default: []
  salt:
    description: Text hashed with the tree (for example the build command).
    type: str
    default: ""
  follow:
    description: Hash what links point to, and enter linked directories.
    type: bool
    default: false
"""

RETURN = r"""
_raw:
  description: The fingerprint, 64 hex digits.
  type: list
  elements: str
"""

from pathlib import Path  # noqa: E402

from ansible.errors import AnsibleLookupError  # noqa: E402
from ansible.plugins.lookup import LookupBase  # noqa: E402
from ansible_collections.fullstack.webapp.plugins.module_utils.digest import (  # noqa: E402
    entries_sha256,
    file_sha256,
    tree_entries,
)


def fingerprint(root: str, ignore: list[str], salt: str = "", follow: bool = False) -> str:
    """sha256 of "<path>\\0<sha256 of the content or link target>\\n" for every file below
    root, sorted by relative path, then salt; for a file, of its content and salt."""
    if Path(root).is_file():
        return entries_sha256([("", file_sha256(root, follow=True))], salt)
    return entries_sha256(tree_entries(root, ignore, follow), salt)


class LookupModule(LookupBase):  # type: ignore[misc]
    def run(
        self, terms: list[object], variables: dict[str, object] | None = None, **kwargs: object
    ) -> list[str]:
        self.set_options(var_options=variables, direct=kwargs)
        if len(terms) != 1 or not Path(str(terms[0])).exists():
            raise AnsibleLookupError(f"source_fingerprint takes one directory or file, got {terms}")
        ignore = [str(entry) for entry in self.get_option("ignore")]
        return [
            fingerprint(
                str(terms[0]),
                ignore,
                str(self.get_option("salt")),
                bool(self.get_option("follow")),
            )
        ]
