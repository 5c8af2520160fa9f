"""Unit tests for plugins/filter/tree_changes.py, fed with real ansible.builtin.find output
shapes (built here from the files of a temporary tree)."""

from __future__ import annotations

import grp
import hashlib
import importlib.util
import os
import pwd
import stat
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

FILTER_PATH = Path(__file__).resolve().parents[2] / "plugins" / "filter" / "tree_changes.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("tree_changes", FILTER_PATH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["tree_changes"] = module
    spec.loader.exec_module(module)
    return module


tc = _load()
ME = pwd.getpwuid(os.getuid()).pw_name
MY_GROUP = grp.getgrgid(os.getgid()).gr_name


def find(root: Path) -> dict[str, Any]:
    """What ansible.builtin.find (recurse, hidden, file_type=any, get_checksum) returns."""
    files: list[dict[str, Any]] = []
    if not root.is_dir():
        return {"files": [], "skipped_paths": {str(root): "not a directory"}}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        entry: dict[str, Any] = {
            "path": str(path),
            "mode": f"{stat.S_IMODE(st.st_mode):04o}",
            "isdir": stat.S_ISDIR(st.st_mode),
            "isreg": stat.S_ISREG(st.st_mode),
            "islnk": stat.S_ISLNK(st.st_mode),
            "uid": st.st_uid,
            "gid": st.st_gid,
            "pw_name": pwd.getpwuid(st.st_uid).pw_name,
            "gr_name": grp.getgrgid(st.st_gid).gr_name,
        }
        if stat.S_ISREG(st.st_mode):
            entry["checksum"] = hashlib.sha1(path.read_bytes()).hexdigest()  # noqa: S324
        files.append(entry)
    return {"files": files}


@pytest.fixture
def trees(tmp_path: Path) -> tuple[Path, Path]:
    src, dest = tmp_path / "src", tmp_path / "dest"
    for root in (src, dest):
        (root / "assets" / "img").mkdir(parents=True)
        (root / "index.html").write_text("<html>index</html>")
        (root / "assets" / "app-1.js").write_text("console.log(1)")
        (root / "assets" / "img" / "logo.svg").write_text("<svg/>")
    for path in dest.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return src, dest


def changes(src: Path, dest: Path, **overrides: str) -> dict[str, Any]:
    args = {"file_mode": "0644", "dir_mode": "0755", "owner": ME, "group": MY_GROUP}
    args.update(overrides)
    result: dict[str, Any] = tc.tree_changes(find(src), find(dest), str(src), str(dest), **args)
    return result


def test_identical_trees_have_no_changes(trees: tuple[Path, Path]) -> None:
    src, dest = trees
    assert changes(src, dest) == {"directories": [], "files": [], "unchanged": 5}


def test_an_empty_host_needs_everything_parents_first(trees: tuple[Path, Path]) -> None:
    src, dest = trees
    missing = dest.parent / "missing"
    result = changes(src, missing)
    assert result["directories"] == ["assets", "assets/img"]
    assert result["files"] == ["assets/app-1.js", "assets/img/logo.svg", "index.html"]
    assert result["unchanged"] == 0


def test_a_skipped_find_counts_as_an_empty_host(trees: tuple[Path, Path]) -> None:
    src, dest = trees
    skipped = {"changed": False, "skipped": True, "skip_reason": "Conditional result was False"}
    result = tc.tree_changes(find(src), skipped, str(src), str(dest), "0644", "0755", ME, MY_GROUP)
    assert len(result["files"]) == 3


def test_content_mode_and_owner_drift_are_found(trees: tuple[Path, Path]) -> None:
    src, dest = trees
    (dest / "index.html").write_text("<html>changed on the host</html>")
    (dest / "assets" / "app-1.js").chmod(0o600)
    (dest / "assets" / "img").chmod(0o700)
    result = changes(src, dest)
    assert result["files"] == ["assets/app-1.js", "index.html"]
    assert result["directories"] == ["assets/img"]
    other = changes(src, dest, owner="nobody-else")
    assert len(other["files"]) == 3
    assert len(other["directories"]) == 2


def test_numeric_owner_and_group(trees: tuple[Path, Path]) -> None:
    src, dest = trees
    same = changes(src, dest, owner=str(os.getuid()), group=str(os.getgid()))
    assert same["files"] == []
    other = changes(src, dest, owner=str(os.getuid() + 4242))
    assert len(other["files"]) == 3


def test_extra_files_on_the_host_are_left_alone(trees: tuple[Path, Path]) -> None:
    src, dest = trees
    (dest / "assets" / "app-0-old.js").write_text("old build")
    (dest / "assets" / "app-0-old.js").chmod(0o644)
    assert changes(src, dest)["files"] == []


def test_a_path_that_became_a_directory_is_replaced(trees: tuple[Path, Path]) -> None:
    src, dest = trees
    (dest / "index.html").unlink()
    (dest / "index.html").mkdir()
    assert changes(src, dest)["files"] == ["index.html"]


def test_links_in_the_source_are_always_copied(trees: tuple[Path, Path]) -> None:
    src, dest = trees
    (src / "robots.txt").symlink_to(src / "index.html")
    (dest / "robots.txt").write_text("<html>index</html>")
    (dest / "robots.txt").chmod(0o644)
    assert changes(src, dest)["files"] == ["robots.txt"]


def test_a_linked_directory_is_a_directory(tmp_path: Path) -> None:
    """find follows it (follow: true): entries below the link make it a directory."""
    source = {
        "files": [
            {"path": "/s/static", "islnk": True, "isdir": False, "isreg": False},
            {"path": "/s/static/a.css", "isreg": True, "checksum": "c1"},
        ]
    }
    result = tc.tree_changes(source, {"files": []}, "/s/", "/d", "0644", "0755", "root", "root")
    assert result == {"directories": ["static"], "files": ["static/a.css"], "unchanged": 0}


def test_the_filter_is_registered() -> None:
    assert tc.FilterModule().filters()["tree_changes"] is tc.tree_changes
