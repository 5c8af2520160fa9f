# Copyright: fullstack.webapp maintainers
# MIT License (see galaxy.yml)
"""Which variables of a role's prefix no argument specification declares, with the closest
declared name: shared by the undeclared_variables lookup and its tests."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any


def declared_options(spec: Mapping[str, Any]) -> set[str]:
    """Every option of every entry point of a role's meta/argument_specs.yml (parsed)."""
    names: set[str] = set()
    for entry_point in (spec.get("argument_specs") or {}).values():
        names.update((entry_point or {}).get("options") or {})
    return names


def undeclared(names: Iterable[str], declared: Iterable[str]) -> list[tuple[str, str | None]]:
    """Each name that is not declared, sorted, with the closest declared name when one is
    close enough: difflib's ratio of at least 0.8 pairs gunicorn_worker with
    gunicorn_workers (0.97) but not frontend_before with frontend_owner (0.76)."""
    known = sorted(set(declared))
    found: list[tuple[str, str | None]] = []
    for name in sorted(set(names) - set(known)):
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.8)
        found.append((name, close[0] if close else None))
    return found
