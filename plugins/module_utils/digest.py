# Copyright: fullstack.webapp maintainers
# MIT License (see galaxy.yml)
"""sha256 of files and directory trees, shared by the source_fingerprint lookup (on the
controller) and the deploy_lock module (on the host)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable


def file_sha256(path: str, follow: bool = False) -> str:
    """The content's sha256; a link's target instead, unless follow."""
    if os.path.islink(path) and not follow:
        return hashlib.sha256(("link:" + os.readlink(path)).encode()).hexdigest()
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tree_entries(
    root: str, ignore: Iterable[str] = (), follow: bool = False
) -> list[tuple[str, str]]:
    """(path relative to root, sha256) of every file below root, sorted, leaving out the
    directories whose name or relative path is in ignore. Links are hashed by their target
    and not entered, unless follow."""
    ignored = {entry.strip("/") for entry in ignore}
    entries: list[tuple[str, str]] = []
    for directory, subdirectories, files in os.walk(root, followlinks=follow):
        relative_dir = os.path.relpath(directory, root)

        def relative(name: str, base: str = relative_dir) -> str:
            return os.path.normpath(os.path.join(base, name))

        kept = [d for d in subdirectories if d not in ignored and relative(d) not in ignored]
        # A link to a directory is hashed as a link (os.walk does not enter it).
        links = [] if follow else [d for d in kept if os.path.islink(os.path.join(directory, d))]
        subdirectories[:] = [d for d in kept if d not in links]
        for name in [*files, *links]:
            entries.append((relative(name), file_sha256(os.path.join(directory, name), follow)))
    return sorted(entries)


def entries_sha256(entries: Iterable[tuple[str, str]], salt: str = "") -> str:
    """One sha256 over "<path>\\0<sha256>\\n" for each entry, then salt."""
    digest = hashlib.sha256()
    for path, content_digest in entries:
        digest.update(f"{path}\0{content_digest}\n".encode())
    digest.update(salt.encode())
    return digest.hexdigest()


def path_sha256(path: str) -> str:
    """A directory's tree (links not entered), a file's content, a link's target, or
    "absent"."""
    if os.path.islink(path) or os.path.isfile(path):
        return file_sha256(path)
    if os.path.isdir(path):
        return entries_sha256(tree_entries(path))
    return "absent"
