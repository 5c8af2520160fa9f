"""Make a tree's roles run without the hand-made skip layer, for `make bench-ansible
BENCH_ARGS="--baseline HEAD --baseline-edit benchmarks/variants/unguard.py"`: the same
collection, every file, template, copy and link task run by its plain module instead of
being skipped when fullstack.webapp.path_matches says its target is already right, and apt
run without the dpkg-query look-up before it. (path_facts itself stays: other tasks read it.)

Usage: python3 unguard.py TREE   (edits TREE/roles/*/tasks/*.yml in place)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

WHEN = re.compile(r"^(?P<indent> *)when: *>-? *$")
ITEM = re.compile(r"^(?P<indent> *)- *>-? *$")
ONE_LINE_ITEM = re.compile(
    r"^ *(- |when: )not \(__\w+_paths \| fullstack\.webapp\.path_matches\(.*\)\)$"
)
DPKG_GUARD = re.compile(
    r"^ *when: __\w+_packages\w* \| difference\(__\w+_packages_installed\) \| length > 0$"
)


def indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def unguard(text: str) -> tuple[str, int]:
    """The task file without the path_matches conditions (and the apt task's dpkg guard)."""
    lines = text.split("\n")
    out: list[str] = []
    removed = 0
    i = 0
    while i < len(lines):
        line = lines[i]
        if DPKG_GUARD.match(line) or ONE_LINE_ITEM.match(line):
            removed += 1
            i += 1
            continue
        block = WHEN.match(line) or ITEM.match(line)
        if block:
            # The lines of this scalar: more indented than its key or dash.
            j = i + 1
            while j < len(lines) and lines[j].strip() and indent_of(lines[j]) > indent_of(line):
                j += 1
            body = "\n".join(lines[i:j])
            if "path_matches(" in body:
                removed += 1
                i = j
                # A `when:` list left with no item goes too.
                if (
                    out
                    and out[-1].strip() == "when:"
                    and not (
                        i < len(lines)
                        and lines[i].lstrip().startswith("- ")
                        and indent_of(lines[i]) > indent_of(out[-1])
                    )
                ):
                    out.pop()
                continue
        out.append(line)
        i += 1
    return "\n".join(out), removed


def main(tree: str) -> None:
    total = 0
    for path in sorted(Path(tree, "roles").glob("*/tasks/*.yml")):
        text, removed = unguard(path.read_text())
        if removed:
            path.write_text(text)
            total += removed
    print(f"unguard: {total} guards removed under {tree}/roles")


if __name__ == "__main__":
    main(sys.argv[1])
