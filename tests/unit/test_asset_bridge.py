"""Unit tests for plugins/modules/asset_bridge.py on real temporary trees."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tools.testing import load_plugin

bridge_module = load_plugin("modules", "asset_bridge")


def params(**kwargs: object) -> dict[str, Any]:
    base: dict[str, Any] = {
        "action": "bridge",
        "root": None,
        "directory": "assets",
        "dest": None,
        "files": None,
        "fingerprint": None,
        "history": None,
        "keep": 5,
        "owner": None,
        "group": None,
        "mode": None,
    }
    base.update(kwargs)
    return base


def release(root: Path, name: str, deployed_at: str, files: dict[str, str]) -> Path:
    path = root / "releases" / name
    for relative, content in files.items():
        (path / relative).parent.mkdir(parents=True, exist_ok=True)
        (path / relative).write_text(content)
    (path / "manifest.json").write_text(json.dumps({"deployed_at": deployed_at}))
    return path


def bridged(dest: Path) -> dict[str, str]:
    top = dest / "assets"
    return {
        str(path.relative_to(top)): path.read_text() for path in top.rglob("*") if path.is_file()
    }


def test_bridge_is_the_union_of_the_finished_releases_and_follows_pruning(tmp_path: Path) -> None:
    root, dest = tmp_path, tmp_path / "bridge"
    one = release(root, "r1", "2026-01-01", {"assets/a-1.js": "a1", "index.html": "one"})
    release(root, "r2", "2026-01-02", {"assets/a-2.js": "a2", "assets/img/logo.svg": "svg"})
    (root / "releases" / "unfinished" / "assets").mkdir(parents=True)
    (root / "releases" / "unfinished" / "assets" / "x.js").write_text("x")

    result = bridge_module.run(params(root=str(root), dest=str(dest), mode="0755"), False)
    assert result["changed"]
    assert result["files"] == 3
    assert bridged(dest) == {"a-1.js": "a1", "a-2.js": "a2", "img/logo.svg": "svg"}
    # Hard links: no second copy of the bytes.
    assert (dest / "assets" / "a-1.js").stat().st_ino == (one / "assets" / "a-1.js").stat().st_ino
    assert oct((dest / "assets" / "img").stat().st_mode & 0o777) == "0o755"

    again = bridge_module.run(params(root=str(root), dest=str(dest)), False)
    assert not again["changed"], again

    for path in sorted(one.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    one.rmdir()
    pruned = bridge_module.run(params(root=str(root), dest=str(dest)), False)
    assert pruned["removed"] == ["a-1.js"]
    assert bridged(dest) == {"a-2.js": "a2", "img/logo.svg": "svg"}


def test_bridge_check_mode_changes_nothing_and_the_newest_release_wins(tmp_path: Path) -> None:
    root, dest = tmp_path, tmp_path / "bridge"
    release(root, "old", "2026-01-01", {"assets/same.js": "old"})
    release(root, "new", "2026-01-02", {"assets/same.js": "new"})
    predicted = bridge_module.run(params(root=str(root), dest=str(dest)), True)
    assert predicted["added"] == ["same.js"]
    assert not dest.exists()
    bridge_module.run(params(root=str(root), dest=str(dest)), False)
    assert bridged(dest) == {"same.js": "new"}


def expire(dest: Path, files: list[str], keep: int = 2) -> dict[str, Any]:
    for relative in files:
        (dest / relative).parent.mkdir(parents=True, exist_ok=True)
        (dest / relative).write_text(relative)
    return bridge_module.run(  # type: ignore[no-any-return]
        params(
            action="expire",
            dest=str(dest),
            files=files,
            fingerprint=json.dumps(sorted(files)),
            history=str(dest.parent / ".dist-files.json"),
            keep=keep,
        ),
        False,
    )


def test_expire_removes_a_file_only_after_keep_dists_lack_it(tmp_path: Path) -> None:
    dest = tmp_path / "dist"
    expire(dest, ["index.html", "assets/old.js"])
    (dest / "assets" / "old.js.gz").write_text("gz")
    assert expire(dest, ["index.html", "assets/new.js"])["removed"] == []
    assert (dest / "assets" / "old.js").exists()
    assert (dest / "assets" / "old.js.gz").exists()
    third = expire(dest, ["index.html", "assets/newer.js"])
    assert third["removed"] == ["assets/old.js", "assets/old.js.gz"]
    assert sorted(os.listdir(dest / "assets")) == ["new.js", "newer.js"]
    # The same dist again records nothing and removes nothing.
    assert not expire(dest, ["index.html", "assets/newer.js"])["changed"]


def test_expire_refuses_a_history_that_is_not_json(tmp_path: Path) -> None:
    (tmp_path / ".dist-files.json").write_text("{")
    with pytest.raises(ValueError, match="is not JSON"):
        expire(tmp_path / "dist", ["index.html"])
