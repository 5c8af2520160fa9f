# Copyright: fullstack.webapp maintainers
# MIT License (see galaxy.yml)
"""The precompress_targets filter: the assets whose .gz (or .br) must be made (again)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

DOCUMENTATION = r"""
---
name: precompress_targets
short_description: The text assets whose gzip (or brotli) copy is missing or out of date on the host
version_added: 0.1.0
description:
  - Takes the result of M(ansible.builtin.find) on the source tree (the controller), the
    one on the installed tree (the host) and the files copied in this run, and returns
    the files under O(directory) with one of O(extensions), at least O(min_size) bytes,
    whose compressed copy (C(NAME.gz), or C(NAME.br) with O(suffix)) must be made - because
    the file was just copied, or its copy is missing, is not a regular file, has another
    modification time than the file (C(gzip --keep) and C(brotli) give it the file's; Debian
    12's C(brotli) 1.0.9 only to the second, which counts as the same for a C(.br)) or
    another mode, owner or group.
  - Used by C(fullstack.webapp.frontend) so that nginx (C(gzip_static), C(brotli_static))
    sends hashed assets compressed without compressing them for every request.
positional: _input, installed, src, dest, copied, extensions, mode, owner, group
options:
  _input:
    description: The registered result of M(ansible.builtin.find) on the source tree.
    type: dict
    required: true
  installed:
    description: The registered result of M(ansible.builtin.find) on the installed tree.
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
  copied:
    description: The files (relative paths) copied in this run.
    type: list
    elements: str
    required: true
  extensions:
    description: File name extensions (without the dot) that are compressed.
    type: list
    elements: str
    required: true
  mode:
    description: The mode the compressed copies must have (the files' mode).
    type: str
    required: true
  owner:
    description: Their owner, a name or a uid.
    type: str
    required: true
  group:
    description: Their group, a name or a gid.
    type: str
    required: true
  directory:
    description: Only files below this directory (relative to O(src)) are compressed.
    type: str
    default: assets
  min_size:
    description: Smaller files are not compressed.
    type: int
    default: 256
  suffix:
    description: The compressed copy's suffix, C(.gz) or C(.br).
    type: str
    default: .gz
"""

EXAMPLES = r"""
- name: Precompress the assets that need it
  ansible.builtin.command:
    argv: "{{ ['gzip', '--best', '--no-name', '--keep', '--force', '--'] + targets }}"
  vars:
    targets: >-
      {{ src_tree | fullstack.webapp.precompress_targets(dest_tree, dist, '/var/www/app',
         copied, ['js', 'css'], '0644', 'root', 'root')
         | map('regex_replace', '^', '/var/www/app/') }}

- name: The same for brotli (brotli --best --keep --force)
  ansible.builtin.set_fact:
    br_targets: >-
      {{ src_tree | fullstack.webapp.precompress_targets(dest_tree, dist, '/var/www/app',
         copied, ['js', 'css'], '0644', 'root', 'root', suffix='.br') }}
"""

RETURN = r"""
_value:
  description: Paths relative to O(src) and O(dest) of the files to compress, sorted.
  type: list
  elements: str
"""

from ansible_collections.fullstack.webapp.plugins.module_utils.paths import files_below  # noqa: E402
from ansible_collections.fullstack.webapp.plugins.module_utils.posix_ids import same_id  # noqa: E402


def _same_mtime(copy: object, original: object, whole_seconds: bool) -> bool:
    """The copy has the file's modification time or, with `whole_seconds`, the file's whole
    seconds: brotli 1.0.9 (Debian 12) copies it with utime(), to the second."""
    try:
        copy_s, original_s = float(str(copy)), float(str(original))
    except (TypeError, ValueError):
        return False
    if copy_s == original_s:
        return True
    return whole_seconds and copy_s.is_integer() and copy_s == math.floor(original_s)


def _gz_is_current(
    original: Mapping[str, Any] | None,
    gz: Mapping[str, Any] | None,
    mode: str,
    owner: str,
    group: str,
    whole_seconds: bool = False,
) -> bool:
    if original is None or gz is None or not gz.get("isreg"):
        return False
    try:
        same_mode = int(str(gz.get("mode")), 8) == int(str(mode), 8)
    except ValueError:
        return False
    return (
        same_mode
        and _same_mtime(gz.get("mtime"), original.get("mtime"), whole_seconds)
        and same_id(gz, str(owner), "pw_name", "uid")
        and same_id(gz, str(group), "gr_name", "gid")
    )


def precompress_targets(
    source: Mapping[str, Any],
    installed: Mapping[str, Any],
    src: str,
    dest: str,
    copied: list[str],
    extensions: list[str],
    mode: str,
    owner: str,
    group: str,
    directory: str = "assets",
    min_size: int = 256,
    suffix: str = ".gz",
) -> list[str]:
    suffixes = tuple("." + str(ext).lstrip(".").lower() for ext in extensions)
    if not suffixes:
        return []
    prefix = directory.strip("/") + "/" if directory.strip("/") else ""
    on_host = files_below(installed, dest)
    just_copied = set(copied or [])
    targets = []
    for relative, entry in files_below(source, src).items():
        if (
            not entry.get("isreg")
            or not relative.startswith(prefix)
            or not relative.lower().endswith(suffixes)
            or int(entry.get("size") or 0) < min_size
        ):
            continue
        if relative in just_copied or not _gz_is_current(
            on_host.get(relative),
            on_host.get(relative + suffix),
            mode,
            owner,
            group,
            whole_seconds=suffix == ".br",
        ):
            targets.append(relative)
    return sorted(targets)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"precompress_targets": precompress_targets}
