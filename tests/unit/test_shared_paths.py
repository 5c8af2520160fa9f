"""Unit tests for plugins/modules/shared_paths.py on a real temporary tree: a release's
shipped files seed the shared copies once, later releases link to them, nothing shared is
ever overwritten."""

from __future__ import annotations

import grp
import os
import pwd
from pathlib import Path
from typing import Any

import pytest

from tools.testing import load_plugin, run_module

sp = load_plugin("modules", "shared_paths")
ME = pwd.getpwuid(os.getuid()).pw_name
MY_GROUP = grp.getgrgid(os.getgid()).gr_name
PATHS = ["instance/", "activity.log", "app/logs/"]


def release(root: Path, name: str, ships: bool) -> Path:
    app = root / "releases" / name / "app"
    (app / "app").mkdir(parents=True)
    if ships:
        (app / "instance").mkdir()
        (app / "instance" / "seed.db").write_text(f"shipped by {name}")
        (app / "activity.log").write_text(f"log of {name}\n")
    return app


def share(
    app: Path, shared: Path, capsys: pytest.CaptureFixture[str], **extra: object
) -> dict[str, Any]:
    args = {
        "app_dir": str(app),
        "shared_dir": str(shared),
        "paths": PATHS,
        "owner": ME,
        "group": MY_GROUP,
        **extra,
    }
    return run_module(sp, args, capsys)


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    path = tmp_path / "shared"
    path.mkdir()
    return path


def test_the_first_release_seeds_and_a_later_one_links(
    tmp_path: Path, shared: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    v1 = release(tmp_path, "v1", ships=True)
    result = share(v1, shared, capsys)
    assert result["changed"] is True
    assert result["seeded"] == ["instance/", "activity.log"]
    assert result["created"] == ["app/logs/"]
    for entry in PATHS:
        link = v1 / entry.rstrip("/")
        assert link.is_symlink()
        assert os.readlink(link) == str(shared / entry.rstrip("/"))
    assert (shared / "instance" / "seed.db").read_text() == "shipped by v1"
    assert (shared / "app" / "logs").is_dir()
    # The app writes through the links; the next release ships its own copies again.
    (v1 / "activity.log").write_text("written by the app\n")
    v2 = release(tmp_path, "v2", ships=True)
    result = share(v2, shared, capsys)
    assert result["discarded"] == ["instance/", "activity.log"]
    assert result["seeded"] == []
    assert (shared / "activity.log").read_text() == "written by the app\n"
    assert (shared / "instance" / "seed.db").read_text() == "shipped by v1"
    assert (v2 / "instance").is_symlink()


def test_a_second_run_changes_nothing(
    tmp_path: Path, shared: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = release(tmp_path, "v1", ships=False)
    assert share(app, shared, capsys)["created"] == PATHS
    again = share(app, shared, capsys)
    assert again["changed"] is False
    assert again["linked"] == []


def test_check_mode_reports_and_changes_nothing(
    tmp_path: Path, shared: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = release(tmp_path, "v1", ships=True)
    result = share(app, shared, capsys, _ansible_check_mode=True)
    assert result["changed"] is True
    assert result["seeded"] == ["instance/", "activity.log"]
    assert not (app / "instance").is_symlink()
    assert list(shared.iterdir()) == []


@pytest.mark.parametrize("bad", ["/etc/passwd", "../escape", "a/../../b", "./x", ""])
def test_a_path_outside_the_app_is_refused(
    tmp_path: Path, shared: Path, capsys: pytest.CaptureFixture[str], bad: str
) -> None:
    app = release(tmp_path, "v1", ships=False)
    result = share(app, shared, capsys, paths=[bad])
    assert result["failed"] is True
    assert "must be a relative path" in result["msg"]
