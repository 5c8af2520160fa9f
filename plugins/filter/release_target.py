# Copyright: fullstack.webapp maintainers
# MIT License (see galaxy.yml)
"""The release_target filter: which release each side (back end, front end) rolls back to."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DOCUMENTATION = r"""
---
name: release_target
short_description: The release each side of an application goes back to
version_added: 0.2.0
description:
  - Takes the results of M(fullstack.webapp.release) (action C(list)) for each side of an
    application (for example the back end and the front end), keyed by side name.
  - A run of C(site.yml) gives its release id to every side it changed; a side that did
    not change keeps its older release. The runs are all release ids, ordered by their
    manifests' C(deployed_at) (never file times).
  - Without O(wanted), the target run is the last one that passed its health gate
    (C(good_at) in a manifest, recorded by the C(mark_good) action of
    M(fullstack.webapp.release)) before the newest run served by any side; with
    O(wanted), it is that run, any release on the host.
    Each side then goes to its newest release not newer
    than the target run, which is what was serving right after that run.
positional: _input, wanted
options:
  _input:
    description: Side name to the registered result of C(fullstack.webapp.release).
    type: dict
    required: true
  wanted:
    description: The release id to go back to; empty for the one before the current one.
    type: str
    default: ""
"""

RETURN = r"""
_value:
  description: Side name to release id (the same as the current one when it does not move).
  type: dict
"""

from ansible.errors import AnsibleFilterError  # noqa: E402


def release_target(sides: Mapping[str, Mapping[str, Any]], wanted: str = "") -> dict[str, str]:
    runs: dict[str, str] = {}
    for result in sides.values():
        for manifest in result.get("releases") or []:
            name = str(manifest["release"])
            deployed = str(manifest.get("deployed_at", ""))
            runs[name] = min(runs.get(name, deployed), deployed)
    order = sorted(runs, key=lambda name: (runs[name], name))
    if not order:
        raise AnsibleFilterError("no release is recorded on this host")
    if wanted:
        if wanted not in runs:
            raise AnsibleFilterError(
                f"release {wanted} is not on this host (releases: {', '.join(order)})"
            )
        target = order.index(wanted)
    else:
        currents = [order.index(r["current"]) for r in sides.values() if r.get("current") in runs]
        if not currents:
            raise AnsibleFilterError("no release is being served on this host")
        good = {
            str(m["release"])
            for result in sides.values()
            for m in result.get("releases") or []
            if m.get("good_at")
        }
        older = [i for i in range(max(currents)) if order[i] in good]
        if not older:
            raise AnsibleFilterError(
                f"no release passed its health gate before {order[max(currents)]} on this "
                "host: nothing to go back to"
            )
        target = older[-1]
    chosen: dict[str, str] = {}
    for side, result in sides.items():
        mine = [str(m["release"]) for m in result.get("releases") or []]
        candidates = [name for name in mine if order.index(name) <= target]
        if not candidates:
            raise AnsibleFilterError(
                f"the {side} has no release as old as {order[target]} "
                f"(its releases: {', '.join(mine) or 'none'})"
            )
        chosen[side] = max(candidates, key=order.index)
    return chosen


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"release_target": release_target}
