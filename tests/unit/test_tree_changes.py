"""Unit tests for plugins/filter/tree_changes.py, fed with real ansible.builtin.find output
shapes (built here from the files of a temporary tree)."""

from __future__ import annotations

import grp
import hashlib
import os
import pwd
import stat
from pathlib import Path
from typing import Any

import pytest

from tools.testing import load_plugin

tc = load_plugin("filter", "tree_changes")
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
            "xusr": bool(st.st_mode & stat.S_IXUSR),
            "size": st.st_size,
            "mtime": st.st_mtime,
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
    result = changes(src, dest)
    assert (result["directories"], result["files"], result["unchanged"]) == ([], [], 5)
    assert result["executables"] == []
    assert result["archive_mode"] == "u=rwX,g=rX,o=rX"


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
    assert result["directories"] == ["static"]
    assert result["files"] == ["static/a.css"]


def test_roots_with_dot_dot_are_normalised_like_find_does(trees: tuple[Path, Path]) -> None:
    """find reports /x/y/../src/f as /x/src/f: a root given with '..' must still match."""
    src, dest = trees
    (dest / "index.html").write_text("changed")
    detour_src = f"{src.parent}/nowhere/../{src.name}/"
    detour_dest = f"{dest.parent}/./{dest.name}"
    result = tc.tree_changes(
        find(src), find(dest), detour_src, detour_dest, "0644", "0755", ME, MY_GROUP
    )
    assert result["files"] == ["index.html"]
    assert result["unchanged"] == 4


def test_the_filter_is_registered() -> None:
    assert tc.FilterModule().filters()["tree_changes"] is tc.tree_changes


def test_executable_files_keep_their_x_when_asked(trees: tuple[Path, Path]) -> None:
    src, dest = trees
    (src / "assets" / "run.sh").write_text("#!/bin/sh\n")
    (src / "assets" / "run.sh").chmod(0o755)
    (dest / "assets" / "run.sh").write_text("#!/bin/sh\n")
    (dest / "assets" / "run.sh").chmod(0o755)
    plain = changes(src, dest)
    assert plain["files"] == ["assets/run.sh"]  # 0755 is not file_mode 0644
    assert plain["executables"] == ["assets/run.sh"]
    kept = changes(src, dest, executable_mode="0755")
    assert kept["files"] == []
    assert kept["executables"] == []
    (dest / "assets" / "run.sh").chmod(0o644)
    assert changes(src, dest, executable_mode="0755")["files"] == ["assets/run.sh"]


@pytest.mark.parametrize(
    ("file_mode", "dir_mode", "executable_mode", "expected"),
    [
        ("0644", "0755", None, "u=rwX,g=rX,o=rX"),
        ("0640", "0750", "0750", "u=rwX,g=rX,o="),
        ("0600", "0700", None, "u=rwX,g=,o="),
        ("0600", "0755", None, ""),  # a directory's r for others that files lack
        ("0755", "0755", None, ""),  # files with x: X cannot tell them from the others
        ("0640", "0750", "0700", ""),  # X gives executables the directories' x
        ("0644", "02755", None, ""),
        ("rw", "0755", None, ""),
    ],
)
def test_archive_mode(
    file_mode: str, dir_mode: str, executable_mode: str | None, expected: str
) -> None:
    assert tc.archive_mode(file_mode, dir_mode, executable_mode) == expected


# --- precompress_targets ---------------------------------------------------------------

pt = load_plugin("filter", "precompress_targets")
TEXT = ["js", "css", "svg"]


@pytest.fixture
def dists(tmp_path: Path) -> tuple[Path, Path]:
    src, dest = tmp_path / "src", tmp_path / "dest"
    for root in (src, dest):
        (root / "assets").mkdir(parents=True)
        (root / "index.html").write_text("<html>" + "x" * 400 + "</html>")
        (root / "assets" / "app-1.js").write_text("console.log(1);" * 40)
        (root / "assets" / "tiny-2.css").write_text("a{}")
        (root / "assets" / "logo-3.png").write_bytes(b"\x89PNG" * 200)
    for path in dest.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return src, dest


def targets(src: Path, dest: Path, copied: list[str], **overrides: str) -> list[str]:
    args = {"mode": "0644", "owner": ME, "group": MY_GROUP, **overrides}
    result: list[str] = pt.precompress_targets(
        find(src), find(dest), str(src), str(dest), copied, TEXT, **args
    )
    return result


def gzip_beside(path: Path) -> None:
    gz = path.with_name(path.name + ".gz")
    gz.write_bytes(b"compressed")
    gz.chmod(0o644)
    stat_result = path.stat()
    os.utime(gz, ns=(stat_result.st_atime_ns, stat_result.st_mtime_ns))


def test_text_assets_without_gz_are_compressed(dists: tuple[Path, Path]) -> None:
    src, dest = dists
    # index.html is outside assets/, tiny-2.css is under 256 bytes, the png is not text
    assert targets(src, dest, []) == ["assets/app-1.js"]


def test_a_current_gz_is_left_alone_unless_the_file_was_copied(dists: tuple[Path, Path]) -> None:
    src, dest = dists
    gzip_beside(dest / "assets" / "app-1.js")
    assert targets(src, dest, []) == []
    assert targets(src, dest, ["assets/app-1.js", "index.html"]) == ["assets/app-1.js"]


def test_a_stale_or_foreign_gz_is_made_again(dists: tuple[Path, Path]) -> None:
    src, dest = dists
    asset = dest / "assets" / "app-1.js"
    gzip_beside(asset)
    os.utime(asset.with_name("app-1.js.gz"), (1, 1))
    assert targets(src, dest, []) == ["assets/app-1.js"]
    gzip_beside(asset)
    asset.with_name("app-1.js.gz").chmod(0o600)
    assert targets(src, dest, []) == ["assets/app-1.js"]
    gzip_beside(asset)
    asset.with_name("app-1.js.gz").chmod(0o644)
    assert targets(src, dest, [], owner="someone-else") == ["assets/app-1.js"]


def test_no_extensions_turns_it_off(dists: tuple[Path, Path]) -> None:
    src, dest = dists
    result = pt.precompress_targets(
        find(src), find(dest), str(src), str(dest), [], [], "0644", ME, MY_GROUP
    )
    assert result == []


def test_extensions_may_carry_a_dot_and_other_directories(dists: tuple[Path, Path]) -> None:
    src, dest = dists
    result = pt.precompress_targets(
        find(src), find(dest), str(src), str(dest), [], [".HTML"], "0644", ME, MY_GROUP,
        directory="", min_size=1,
    )  # fmt: skip
    assert result == ["index.html"]
    assert pt.FilterModule().filters()["precompress_targets"] is pt.precompress_targets


def brotli_beside(path: Path, *, whole_seconds: bool) -> None:
    """A NAME.br as Debian's brotli makes it: the file's mode and owner, and its time (1.0.9,
    Debian 12: to the second only)."""
    br = path.with_name(path.name + ".br")
    br.write_bytes(b"brotli")
    br.chmod(0o644)
    mtime_ns = path.stat().st_mtime_ns
    if whole_seconds:
        mtime_ns -= mtime_ns % 1_000_000_000
    os.utime(br, ns=(mtime_ns, mtime_ns))


def test_brotli_copies_are_looked_for_beside_the_gzip_ones(dists: tuple[Path, Path]) -> None:
    src, dest = dists
    asset = dest / "assets" / "app-1.js"
    os.utime(asset, ns=(1_700_000_000_250_000_000, 1_700_000_000_250_000_000))
    gzip_beside(asset)
    # A current .gz says nothing about the .br.
    assert targets(src, dest, []) == []
    assert targets(src, dest, [], suffix=".br") == ["assets/app-1.js"]
    brotli_beside(asset, whole_seconds=False)
    assert targets(src, dest, [], suffix=".br") == []
    assert targets(src, dest, ["assets/app-1.js"], suffix=".br") == ["assets/app-1.js"]


def test_a_br_stamped_to_the_second_is_current_but_a_gz_is_not(dists: tuple[Path, Path]) -> None:
    """brotli 1.0.9 copies the file's time to the second: a re-run must find that .br
    current (or every run would compress again), while .gz keeps the exact comparison."""
    src, dest = dists
    asset = dest / "assets" / "app-1.js"
    os.utime(asset, ns=(1_700_000_000_250_000_000, 1_700_000_000_250_000_000))
    brotli_beside(asset, whole_seconds=True)
    assert targets(src, dest, [], suffix=".br") == []
    gz = asset.with_name("app-1.js.gz")
    gz.write_bytes(b"compressed")
    gz.chmod(0o644)
    os.utime(gz, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    assert targets(src, dest, []) == ["assets/app-1.js"]
    # Another second, a mode or an owner of its own: made again.
    os.utime(asset.with_name("app-1.js.br"), (1_699_999_999, 1_699_999_999))
    assert targets(src, dest, [], suffix=".br") == ["assets/app-1.js"]
    brotli_beside(asset, whole_seconds=True)
    asset.with_name("app-1.js.br").chmod(0o600)
    assert targets(src, dest, [], suffix=".br") == ["assets/app-1.js"]
    asset.with_name("app-1.js.br").chmod(0o644)
    assert targets(src, dest, [], suffix=".br", owner="someone-else") == ["assets/app-1.js"]


def test_excluded_paths_are_left_out_on_both_sides(trees: tuple[Path, Path]) -> None:
    """The paths a role links to shared copies: never copied, and reported when shipped."""
    src, dest = trees
    (src / "instance").mkdir()
    (src / "instance" / "seed.db").write_text("seed")
    (src / "activity.log").write_text("log")
    result = tc.tree_changes(
        find(src),
        find(dest),
        str(src),
        str(dest),
        "0644",
        "0755",
        ME,
        MY_GROUP,
        None,
        ["instance/", "activity.log", "never/shipped"],
    )
    assert result["directories"] == []
    assert result["files"] == []
    assert result["excluded"] == ["activity.log", "instance/"]
