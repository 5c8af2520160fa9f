"""Unit tests for plugins/modules/web_path_access.py.

The tests run as root here, so os.access() would always say yes: they pass the
credentials of a nobody-like user (or of the file owner) to the module's logic instead.
"""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tools.testing import load_plugin, run_module

wpa = load_plugin("modules", "web_path_access")

NOBODY_UID = 65534
NOBODY_GID = 65534


def nobody(*extra_gids: int) -> object:
    return wpa.Identity(name="nobody", uid=NOBODY_UID, gids=frozenset({NOBODY_GID, *extra_gids}))


@pytest.fixture
def base() -> Iterator[Path]:
    """A world-traversable directory under /tmp (pytest's tmp_path sits in a 0700 dir)."""
    path = Path(tempfile.mkdtemp(prefix="wpa-", dir="/tmp"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        for root, dirs, _files in os.walk(path):
            for name in dirs:
                os.chmod(os.path.join(root, name), 0o700)
        shutil.rmtree(path)


def make_dist(root: Path, dir_mode: int = 0o755, file_mode: int = 0o644) -> Path:
    dist = root / "www" / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>t</title>\n")
    (dist / "assets" / "app-abc123.js").write_text("console.log(1)\n")
    for path in (dist / "index.html", dist / "assets" / "app-abc123.js"):
        path.chmod(file_mode)
    for path in (root / "www", dist, dist / "assets"):
        path.chmod(dir_mode)
    return dist


# --- pure helpers -------------------------------------------------------------------


def test_prefixes() -> None:
    assert wpa.prefixes("/") == ["/"]
    assert wpa.prefixes("/a/b/") == ["/", "/a", "/a/b"]


def test_lookup_identity_by_name_and_uid() -> None:
    root = wpa.lookup_identity("root")
    assert root.uid == 0
    assert 0 in root.gids
    assert wpa.lookup_identity("0").name == "root"


def test_lookup_identity_unknown_user() -> None:
    with pytest.raises(LookupError, match="does not exist"):
        wpa.lookup_identity("no-such-user-wpa")


def test_validate_files() -> None:
    assert wpa.validate_files(["index.html", "assets/app.js"]) is None
    assert wpa.validate_files(["/etc/passwd"]) is not None
    assert wpa.validate_files(["../x"]) is not None
    assert wpa.validate_files([""]) is not None


# --- permission logic ---------------------------------------------------------------


def test_readable_dist_passes(base: Path) -> None:
    dist = make_dist(base)
    report = wpa.check_access(nobody(), str(dist), ["index.html", "assets/app-abc123.js"])
    assert report.ok, report.problem
    paths = [c.path for c in report.checked]
    assert paths[0] == "/"
    assert str(dist) in paths
    assert str(dist / "index.html") in paths
    assert all(c.allowed for c in report.checked)


def test_blocking_parent_is_named_with_mode_owner_and_fix(base: Path) -> None:
    dist = make_dist(base)
    (base / "www").chmod(0o700)
    report = wpa.check_access(nobody(), str(dist), ["index.html"])
    assert not report.ok
    assert report.blocked is not None
    assert report.blocked.path == str(base / "www")
    assert "mode 0700" in (report.problem or "")
    assert f"owner {pwd.getpwuid(os.getuid()).pw_name}:" in (report.problem or "")
    assert report.fix == f"chmod o+x {base / 'www'}"
    assert f"Fix: chmod o+x {base / 'www'}" in (report.problem or "")
    # Nothing below the blocker was checked.
    assert report.checked[-1].path == str(base / "www")


def test_read_without_search_still_blocks(base: Path) -> None:
    dist = make_dist(base)
    (base / "www").chmod(0o744)  # r for others, no x: listing works, traversal does not
    report = wpa.check_access(nobody(), str(dist), ["index.html"])
    assert report.blocked is not None
    assert report.blocked.path == str(base / "www")


def test_unreadable_file_is_named(base: Path) -> None:
    dist = make_dist(base)
    (dist / "index.html").chmod(0o640)
    report = wpa.check_access(nobody(), str(dist), ["index.html"])
    assert report.blocked is not None
    assert report.blocked.path == str(dist / "index.html")
    assert report.blocked.kind == "file"
    assert report.fix == f"chmod o+r {dist / 'index.html'}"
    assert "cannot read (r)" in (report.problem or "")


def test_unreadable_subdirectory_of_a_file(base: Path) -> None:
    dist = make_dist(base)
    (dist / "assets").chmod(0o750)
    report = wpa.check_access(nobody(), str(dist), ["index.html", "assets/app-abc123.js"])
    assert report.blocked is not None
    assert report.blocked.path == str(dist / "assets")


def test_owner_class_wins_over_other(base: Path) -> None:
    """The owner's bits apply to the owner even when 'other' would allow more."""
    dist = make_dist(base)
    owner_uid = os.getuid()
    if owner_uid == 0:  # root bypasses the bits: hand the directory to another uid
        owner_uid = 4242
        os.chown(base / "www", owner_uid, -1)
    (base / "www").chmod(0o075)
    owner = wpa.Identity(name="owner", uid=owner_uid, gids=frozenset({NOBODY_GID}))
    report = wpa.check_access(owner, str(dist), ["index.html"])
    assert report.blocked is not None
    assert report.blocked.path == str(base / "www")
    assert report.fix == f"chmod u+x {base / 'www'}"


def test_group_class_grants_through_supplementary_group(base: Path) -> None:
    dist = make_dist(base)
    group = (base / "www").stat().st_gid
    (base / "www").chmod(0o750)
    assert not wpa.check_access(nobody(), str(dist), ["index.html"]).ok
    report = wpa.check_access(nobody(group), str(dist), ["index.html"])
    assert report.ok, report.problem


def test_group_class_wins_over_other(base: Path) -> None:
    dist = make_dist(base)
    group = (base / "www").stat().st_gid
    (base / "www").chmod(0o705)  # others may pass, the group may not
    report = wpa.check_access(nobody(group), str(dist), ["index.html"])
    assert report.blocked is not None
    assert report.fix == f"chmod g+x {base / 'www'}"


def test_root_passes_restrictive_modes(base: Path) -> None:
    dist = make_dist(base, dir_mode=0o700, file_mode=0o600)
    (base / "www").chmod(0o000)
    root = wpa.Identity(name="root", uid=0, gids=frozenset({0}))
    report = wpa.check_access(root, str(dist), ["index.html"])
    assert report.ok, report.problem


def test_symlink_target_directories_are_checked(base: Path) -> None:
    private = base / "private"
    dist = make_dist(private)
    private.chmod(0o700)
    link = base / "public-dist"
    link.symlink_to(dist)
    report = wpa.check_access(nobody(), str(link), ["index.html"])
    assert report.blocked is not None
    assert report.blocked.path == str(private)


def test_symlinked_file_target_is_checked(base: Path) -> None:
    dist = make_dist(base)
    secret = base / "secret"
    secret.mkdir(mode=0o700)
    secret.chmod(0o700)
    target = secret / "index.html"
    target.write_text("x")
    target.chmod(0o644)
    (dist / "index.html").unlink()
    (dist / "index.html").symlink_to(target)
    report = wpa.check_access(nobody(), str(dist), ["index.html"])
    assert report.blocked is not None
    assert report.blocked.path == str(secret)


def test_missing_path_is_reported(base: Path) -> None:
    report = wpa.check_access(nobody(), str(base / "nope" / "dist"), ["index.html"])
    assert report.problem == f"{base / 'nope'} does not exist"
    assert report.blocked is None


def test_missing_file_is_reported(base: Path) -> None:
    dist = make_dist(base)
    report = wpa.check_access(nobody(), str(dist), ["missing.html"])
    assert report.problem == f"{dist / 'missing.html'} does not exist"


def test_directory_in_place_of_file(base: Path) -> None:
    dist = make_dist(base)
    report = wpa.check_access(nobody(), str(dist), ["assets"])
    assert report.problem == f"{dist / 'assets'} is not a regular file"


def test_file_in_place_of_directory(base: Path) -> None:
    dist = make_dist(base)
    report = wpa.check_access(nobody(), str(dist / "index.html" / "x"))
    assert report.problem is not None
    assert "does not exist" in report.problem or "not a directory" in report.problem


def test_path_may_be_a_file(base: Path) -> None:
    dist = make_dist(base)
    assert wpa.check_access(nobody(), str(dist / "index.html")).ok
    (dist / "index.html").chmod(0o600)
    report = wpa.check_access(nobody(), str(dist / "index.html"))
    assert report.blocked is not None
    assert report.blocked.kind == "file"


def test_checked_entries_serialise(base: Path) -> None:
    dist = make_dist(base)
    report = wpa.check_access(nobody(), str(dist), ["index.html"])
    entry = report.checked[-1].as_dict()
    assert entry == {
        "path": str(dist / "index.html"),
        "kind": "file",
        "mode": "0644",
        "owner": report.checked[-1].owner_text,
        "needs": "r",
        "allowed": True,
    }


# --- the module entry point ---------------------------------------------------------


def test_main_success(base: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dist = make_dist(base)
    result = run_module(wpa, {"path": str(dist), "user": "nobody", "files": ["index.html"]}, capsys)
    assert not result.get("failed")
    assert result["changed"] is False
    assert result["user"] == "nobody"
    assert result["checked"][-1]["path"] == str(dist / "index.html")


def test_main_blocked(base: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dist = make_dist(base)
    (base / "www").chmod(0o700)
    result = run_module(wpa, {"path": str(dist), "user": "nobody", "files": ["index.html"]}, capsys)
    assert result["failed"] is True
    assert str(base / "www") in result["msg"]
    assert result["blocked_by"] == {
        "path": str(base / "www"),
        "mode": "0700",
        "owner": result["blocked_by"]["owner"],
        "fix": f"chmod o+x {base / 'www'}",
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"path": "relative/dist", "user": "nobody"}, "must be an absolute path"),
        ({"path": "/", "user": "no-such-user-wpa"}, "does not exist"),
        ({"path": "/", "user": "nobody", "files": ["../etc/passwd"]}, "without '..'"),
    ],
)
def test_main_rejects_bad_arguments(
    args: dict[str, Any], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_module(wpa, args, capsys)
    assert result["failed"] is True
    assert message in result["msg"]
