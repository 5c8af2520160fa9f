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
  - Links are hashed by their target, not followed.
options:
  _terms:
    description: The directory (one).
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
"""

RETURN = r"""
_raw:
  description: The fingerprint, 64 hex digits.
  type: list
  elements: str
"""

import hashlib  # noqa: E402
import os  # noqa: E402
from pathlib import Path  # noqa: E402

from ansible.errors import AnsibleLookupError  # noqa: E402
from ansible.plugins.lookup import LookupBase  # noqa: E402


def _file_digest(path: str) -> str:
    if os.path.islink(path):
        return hashlib.sha256(("link:" + os.readlink(path)).encode()).hexdigest()
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fingerprint(root: str, ignore: list[str], salt: str = "") -> str:
    """sha256 of "<path>\\0<sha256 of the content or link target>\\n" for every file below
    root, sorted by relative path, then salt."""
    ignored = {entry.strip("/") for entry in ignore}
    entries: list[tuple[str, str]] = []
    for directory, subdirectories, files in os.walk(root):
        relative_dir = os.path.relpath(directory, root)

        def relative(name: str, base: str = relative_dir) -> str:
            return os.path.normpath(os.path.join(base, name))

        kept = [d for d in subdirectories if d not in ignored and relative(d) not in ignored]
        # A link to a directory is hashed as a link (os.walk does not follow it).
        links = [d for d in kept if os.path.islink(os.path.join(directory, d))]
        subdirectories[:] = [d for d in kept if d not in links]
        for name in [*files, *links]:
            entries.append((relative(name), _file_digest(os.path.join(directory, name))))
    digest = hashlib.sha256()
    for path, content_digest in sorted(entries):
        digest.update(f"{path}\0{content_digest}\n".encode())
    digest.update(salt.encode())
    return digest.hexdigest()


class LookupModule(LookupBase):  # type: ignore[misc]
    def run(
        self, terms: list[object], variables: dict[str, object] | None = None, **kwargs: object
    ) -> list[str]:
        self.set_options(var_options=variables, direct=kwargs)
        if len(terms) != 1 or not Path(str(terms[0])).is_dir():
            raise AnsibleLookupError(f"source_fingerprint takes one directory, got {terms}")
        ignore = [str(entry) for entry in self.get_option("ignore")]
        return [fingerprint(str(terms[0]), ignore, str(self.get_option("salt")))]
