"""Unit tests for plugins/modules/path_facts.py and plugins/filter/path_matches.py: the
module's report of a real temporary tree, and the filter's verdict on that report."""

from __future__ import annotations

import grp
import hashlib
import os
import pwd
from pathlib import Path
from typing import Any

import pytest

from tools.testing import load_plugin, run_module

pf = load_plugin("modules", "path_facts")
pm = load_plugin("filter", "path_matches")
ME = pwd.getpwuid(os.getuid()).pw_name
MY_GROUP = grp.getgrgid(os.getgid()).gr_name
CONTENT = "[Service]\nExecStart=/bin/true\n"


@pytest.fixture
def tree(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "conf").mkdir(mode=0o750)
    (tmp_path / "conf").chmod(0o750)
    unit = tmp_path / "conf" / "app.service"
    unit.write_text(CONTENT)
    unit.chmod(0o640)
    (tmp_path / "uv").symlink_to("/opt/uv/venv/bin/uv")
    return {
        "dir": str(tmp_path / "conf"),
        "file": str(unit),
        "link": str(tmp_path / "uv"),
        "missing": str(tmp_path / "nothing" / "here"),
    }


def facts(tree: dict[str, str]) -> dict[str, Any]:
    return {"changed": False, "paths": {p: pf.describe(p) for p in tree.values()}}


# --- the module ---------------------------------------------------------------------------


def test_describe_reports_each_kind(tree: dict[str, str]) -> None:
    directory = pf.describe(tree["dir"])
    assert directory["type"] == "directory"
    assert directory["mode"] == "0750"
    assert directory["owner"] == ME
    assert directory["group"] == MY_GROUP
    assert "checksum" not in directory
    file = pf.describe(tree["file"])
    assert file["type"] == "file"
    assert file["mode"] == "0640"
    assert file["checksum"] == hashlib.sha1(CONTENT.encode()).hexdigest()  # noqa: S324
    assert "checksum" not in pf.describe(tree["file"], checksum=False)
    link = pf.describe(tree["link"])
    assert link == {**link, "exists": True, "type": "link", "target": "/opt/uv/venv/bin/uv"}
    assert pf.describe(tree["missing"]) == {"exists": False, "type": "absent"}
    assert pf.describe(tree["file"] + "/below-a-file") == {"exists": False, "type": "absent"}


def test_main_reports_every_path(tree: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    result = run_module(pf, {"paths": list(tree.values())}, capsys)
    assert result["changed"] is False
    assert set(result["paths"]) == set(tree.values())
    assert result["paths"][tree["missing"]]["exists"] is False


def test_main_refuses_relative_paths(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_module(pf, {"paths": ["etc/webapp"]}, capsys)
    assert result["failed"] is True
    assert "must be absolute" in result["msg"]


# --- the filter ---------------------------------------------------------------------------


def test_matches_when_everything_asked_for_is_there(tree: dict[str, str]) -> None:
    state = facts(tree)
    assert pm.path_matches(state, tree["dir"], "directory", "0750", ME, MY_GROUP)
    assert pm.path_matches(state, tree["file"], mode="0640", owner=ME, content=CONTENT)
    assert pm.path_matches(state, tree["file"], owner=str(os.getuid()), group=str(os.getgid()))
    assert pm.path_matches(state, tree["link"], "link", target="/opt/uv/venv/bin/uv")
    assert pm.path_matches(state, tree["missing"], "absent")


@pytest.mark.parametrize(
    ("key", "kwargs"),
    [
        ("dir", {"state": "file"}),
        ("dir", {"state": "directory", "mode": "0755"}),
        ("file", {"owner": "someone-else"}),
        ("file", {"group": str(os.getgid() + 4242)}),
        ("file", {"content": CONTENT + "# changed\n"}),
        ("file", {"checksum": "0" * 40}),
        ("file", {"mode": "not-octal"}),
        ("link", {"state": "link", "target": "/usr/bin/uv"}),
        ("missing", {"state": "directory"}),
        ("file", {"state": "absent"}),
    ],
)
def test_any_difference_means_no_match(
    tree: dict[str, str], key: str, kwargs: dict[str, str]
) -> None:
    assert not pm.path_matches(facts(tree), tree[key], **kwargs)


def test_an_unknown_path_or_a_skipped_probe_never_matches(tree: dict[str, str]) -> None:
    assert not pm.path_matches(facts(tree), "/not/probed", "absent")
    skipped = {"changed": False, "skipped": True}
    assert not pm.path_matches(skipped, tree["file"])


def test_the_filter_is_registered() -> None:
    assert pm.FilterModule().filters()["path_matches"] is pm.path_matches
