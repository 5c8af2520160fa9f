# Copyright: fullstack.webapp maintainers
# MIT License (see galaxy.yml)
"""File-system writes shared by the collection's modules (release, asset_bridge)."""

from __future__ import annotations

import json
import os


def write_json(path: str, data: object) -> bool:
    """Write data as JSON unless the file already holds exactly that; True when written."""
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    try:
        with open(path, encoding="utf-8") as handle:
            if handle.read() == text:
                return False
    except FileNotFoundError:
        pass
    temporary = f"{path}.tmp-{os.getpid()}"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)
    return True


def parse_mode(mode: str | None) -> int | None:
    if mode is None:
        return None
    try:
        value = int(str(mode), 8)
    except ValueError:
        value = -1
    if not 0 <= value <= 0o7777:
        raise ValueError(f"mode must be an octal mode such as '0750', got {mode!r}")
    return value


def make_directories(path: str, uid: int, gid: int, mode: int | None) -> None:
    """mkdir -p path, giving uid, gid (-1: unchanged) and mode to every directory it
    creates."""
    missing: list[str] = []
    while not os.path.isdir(path):
        if os.path.lexists(path):
            raise ValueError(f"{path} exists and is not a directory")
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    for directory in reversed(missing):
        # Created private, then opened up: no moment with wider permissions than mode.
        os.mkdir(directory, 0o700 if mode is not None else 0o777)
        if uid != -1 or gid != -1:
            os.chown(directory, uid, gid)
        if mode is not None:
            os.chmod(directory, mode)
