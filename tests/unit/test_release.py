"""Unit tests for plugins/modules/release.py and plugins/filter/release_target.py on real
temporary release trees."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tools.testing import load_plugin

rel = load_plugin("modules", "release")
rt = load_plugin("filter", "release_target")


def params(root: Path, **kwargs: object) -> dict[str, Any]:
    base: dict[str, Any] = {
        "root": str(root),
        "link": None,
        "action": "list",
        "release": None,
        "manifest": None,
        "keep": 5,
        "facts_file": None,
    }
    return {**base, **kwargs}


def make(root: Path, name: str, deployed_at: str, finished: bool = True) -> None:
    path = root / "releases" / name
    path.mkdir(parents=True)
    if finished:
        (path / "manifest.json").write_text(json.dumps({"deployed_at": deployed_at}))


def test_order_comes_from_manifests_not_names_or_file_times(tmp_path: Path) -> None:
    make(tmp_path, "b", "2026-01-01T00:00:00Z")
    make(tmp_path, "a", "2026-01-02T00:00:00Z")
    make(tmp_path, "c", "2026-01-03T00:00:00Z", finished=False)
    os.utime(tmp_path / "releases" / "b", (0, 0))
    result = rel.run(params(tmp_path), check_mode=False)
    assert [m["release"] for m in result["releases"]] == ["b", "a"]
    assert result["current"] is None
    assert result["changed"] is False


def test_activate_switches_the_link_atomically_and_reports_the_previous(tmp_path: Path) -> None:
    make(tmp_path, "r1", "2026-01-01T00:00:00Z")
    make(tmp_path, "r2", "2026-01-02T00:00:00Z")
    facts = tmp_path / "facts.d" / "app.fact"
    first = rel.run(params(tmp_path, action="activate", release="r1"), check_mode=False)
    assert first["changed"] is True
    assert os.readlink(tmp_path / "current") == "releases/r1"
    second = rel.run(
        params(tmp_path, action="activate", release="r2", facts_file=str(facts)), check_mode=False
    )
    assert second["before"] == "r1"
    assert second["current"] == "r2"
    assert second["previous"] == "r1"
    served = json.loads((tmp_path / "releases" / "r2" / "manifest.json").read_text())
    assert served["served_at"]
    assert json.loads(facts.read_text())["current"] == "r2"
    again = rel.run(
        params(tmp_path, action="activate", release="r2", facts_file=str(facts)), check_mode=False
    )
    assert again["changed"] is False
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]


def test_activate_refuses_an_unfinished_release_and_a_real_directory(tmp_path: Path) -> None:
    make(tmp_path, "r1", "2026-01-01T00:00:00Z", finished=False)
    with pytest.raises(ValueError, match="not a finished release"):
        rel.run(params(tmp_path, action="activate", release="r1"), check_mode=False)
    make(tmp_path, "r2", "2026-01-02T00:00:00Z")
    (tmp_path / "dist").mkdir()
    link = str(tmp_path / "dist")
    with pytest.raises(ValueError, match="not a symbolic link"):
        rel.run(params(tmp_path, action="activate", release="r2", link=link), check_mode=False)


def test_check_mode_changes_nothing(tmp_path: Path) -> None:
    make(tmp_path, "r1", "2026-01-01T00:00:00Z")
    result = rel.run(params(tmp_path, action="activate", release="r1"), check_mode=True)
    assert result["changed"] is True
    assert not (tmp_path / "current").exists()


def test_prune_keeps_the_newest_and_the_served_one(tmp_path: Path) -> None:
    for day in range(1, 6):
        make(tmp_path, f"r{day}", f"2026-01-0{day}T00:00:00Z")
    make(tmp_path, "broken", "", finished=False)
    rel.run(params(tmp_path, action="activate", release="r1"), check_mode=False)
    result = rel.run(params(tmp_path, action="prune", keep=2), check_mode=False)
    assert sorted(result["removed"]) == ["broken", "r2", "r3"]
    assert sorted(os.listdir(tmp_path / "releases")) == ["r1", "r4", "r5"]


def test_record_writes_the_manifest_once(tmp_path: Path) -> None:
    make(tmp_path, "r1", "", finished=False)
    manifest = {"deployed_at": "2026-01-01T00:00:00Z", "uv_lock_sha256": "ab"}
    first = rel.run(params(tmp_path, action="record", release="r1", manifest=manifest), False)
    second = rel.run(params(tmp_path, action="record", release="r1", manifest=manifest), False)
    assert (first["changed"], second["changed"]) == (True, False)
    assert first["releases"][0]["uv_lock_sha256"] == "ab"
    with pytest.raises(ValueError, match="release must be"):
        rel.run(params(tmp_path, action="record", release="../x", manifest={}), False)


def side(current: str, *releases: tuple[str, str]) -> dict[str, Any]:
    manifests = [{"release": r, "deployed_at": t, "served_at": t} for r, t in releases]
    return {"current": current, "releases": manifests}


def test_release_target_goes_back_one_run_per_side() -> None:
    backend = side("r3", ("r1", "1"), ("r2", "2"), ("r3", "3"))
    frontend = side("r2", ("r1", "1"), ("r2", "2"))
    assert rt.release_target({"backend": backend, "frontend": frontend}) == {
        "backend": "r2",
        "frontend": "r2",
    }
    assert rt.release_target({"backend": backend, "frontend": frontend}, "r1") == {
        "backend": "r1",
        "frontend": "r1",
    }


def test_release_target_refuses_what_is_not_there() -> None:
    only = side("r1", ("r1", "1"))
    with pytest.raises(rt.AnsibleFilterError, match="nothing to go back to"):
        rt.release_target({"backend": only})
    with pytest.raises(rt.AnsibleFilterError, match="not on this host"):
        rt.release_target({"backend": only}, "r9")


def test_release_target_skips_a_release_never_served() -> None:
    backend = side("r3", ("r1", "1"), ("r2", "2"), ("r3", "3"))
    del backend["releases"][1]["served_at"]
    assert rt.release_target({"backend": backend}) == {"backend": "r1"}
    assert rt.release_target({"backend": backend}, "r2") == {"backend": "r2"}
