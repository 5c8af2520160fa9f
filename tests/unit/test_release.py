"""Unit tests for plugins/modules/release.py and plugins/filter/release_target.py on real
temporary release trees."""

from __future__ import annotations

import grp
import json
import os
import pwd
import re
import stat
from pathlib import Path
from typing import Any

import pytest

from tools.testing import load_plugin, run_module

rel = load_plugin("modules", "release")
rt = load_plugin("filter", "release_target")
ME = pwd.getpwuid(os.getuid()).pw_name
MY_GROUP = grp.getgrgid(os.getgid()).gr_name


def params(root: Path, **kwargs: object) -> dict[str, Any]:
    base: dict[str, Any] = {
        "root": str(root),
        "link": None,
        "action": "list",
        "release": None,
        "fingerprint": None,
        "owner": None,
        "group": None,
        "mode": None,
        "check": None,
        "error": None,
        "source": None,
        "manifest": None,
        "keep": 5,
        "facts_file": None,
    }
    return {**base, **kwargs}


def make(root: Path, name: str, deployed_at: str, finished: bool = True, **more: str) -> None:
    path = root / "releases" / name
    path.mkdir(parents=True)
    if finished:
        (path / "manifest.json").write_text(json.dumps({"deployed_at": deployed_at, **more}))


def manifest(root: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((root / "releases" / name / "manifest.json").read_text())
    return data


def serve(root: Path, name: str) -> None:
    (root / "current").symlink_to(f"releases/{name}")


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


# --- prepare ------------------------------------------------------------------------------


def prepare(
    root: Path, release: str, fingerprint: str, check_mode: bool = False, **kw: object
) -> dict[str, Any]:
    args = params(root, action="prepare", release=release, fingerprint=fingerprint, **kw)
    result: dict[str, Any] = rel.run(args, check_mode)
    return result


def test_prepare_is_needed_when_nothing_is_served(tmp_path: Path) -> None:
    root = tmp_path / "app"
    result = prepare(root, "r1", "sha-a", mode="0750", owner=ME, group=MY_GROUP)
    assert (result["needed"], result["changed"]) == (True, True)
    assert result["path"] == str(root / "releases" / "r1")
    assert (result["current"], result["before"], result["releases"]) == (None, None, [])
    assert (result["current_good"], result["last_good"]) == (False, None)
    for path in (root, root / "releases", root / "releases" / "r1"):
        st = path.stat()
        assert stat.S_IMODE(st.st_mode) == 0o750, path
        assert (st.st_uid, st.st_gid) == (os.getuid(), os.getgid()), path
    assert list((root / "releases" / "r1").iterdir()) == []


def test_prepare_is_not_needed_when_the_served_release_has_the_fingerprint(
    tmp_path: Path,
) -> None:
    make(tmp_path, "r1", "2026-01-01T00:00:00Z", fingerprint="sha-a")
    serve(tmp_path, "r1")
    result = prepare(tmp_path, "r2", "sha-a")
    assert (result["needed"], result["changed"]) == (False, False)
    assert result["current"] == "r1"
    assert result["path"] == str(tmp_path / "releases" / "r2")
    assert not (tmp_path / "releases" / "r2").exists()


def test_prepare_is_needed_for_another_fingerprint_or_none_recorded(tmp_path: Path) -> None:
    make(tmp_path, "r1", "2026-01-01T00:00:00Z", fingerprint="sha-a")
    make(tmp_path, "r2", "2026-01-02T00:00:00Z")
    serve(tmp_path, "r1")
    assert prepare(tmp_path, "r3", "sha-b")["needed"] is True
    (tmp_path / "current").unlink()
    serve(tmp_path, "r2")
    assert prepare(tmp_path, "r4", "sha-a")["needed"] is True
    assert (tmp_path / "releases" / "r3").is_dir()
    assert (tmp_path / "releases" / "r4").is_dir()


def test_prepare_leaves_existing_directories_as_they_are(tmp_path: Path) -> None:
    (tmp_path / "releases").mkdir(mode=0o700)
    (tmp_path / "releases").chmod(0o700)
    tmp_path.chmod(0o711)
    prepare(tmp_path, "r1", "sha-a", mode="0755", owner=str(os.getuid()), group=str(os.getgid()))
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o711
    assert stat.S_IMODE((tmp_path / "releases").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "releases" / "r1").stat().st_mode) == 0o755


def test_prepare_in_check_mode_creates_nothing(tmp_path: Path) -> None:
    root = tmp_path / "app"
    result = prepare(root, "r1", "sha-a", check_mode=True, owner="no-such-user-yet")
    assert (result["needed"], result["changed"]) == (True, True)
    assert not root.exists()
    make(tmp_path, "r1", "2026-01-01T00:00:00Z", fingerprint="sha-a")
    serve(tmp_path, "r1")
    again = prepare(tmp_path, "r2", "sha-a", check_mode=True)
    assert (again["needed"], again["changed"]) == (False, False)


def test_prepare_refuses_an_id_of_a_finished_release(tmp_path: Path) -> None:
    make(tmp_path, "r1", "2026-01-01T00:00:00Z", fingerprint="sha-a")
    serve(tmp_path, "r1")
    message = (
        f"check 'release id' failed: release r1 already exists under {tmp_path}/releases "
        "with other content; give it a new id"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        prepare(tmp_path, "r1", "sha-b")
    assert manifest(tmp_path, "r1")["fingerprint"] == "sha-a"


def test_prepare_replaces_an_unfinished_directory_of_the_same_id(tmp_path: Path) -> None:
    make(tmp_path, "r1", "", finished=False)
    (tmp_path / "releases" / "r1" / "half-built").write_text("x")
    result = prepare(tmp_path, "r1", "sha-a", mode="0750")
    assert result["changed"] is True
    assert list((tmp_path / "releases" / "r1").iterdir()) == []
    assert stat.S_IMODE((tmp_path / "releases" / "r1").stat().st_mode) == 0o750


def test_prepare_refuses_a_bad_id_a_bad_mode_or_an_unknown_owner(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="release must be a release id"):
        prepare(tmp_path, "../x", "sha-a", check_mode=True)
    with pytest.raises(ValueError, match="octal mode"):
        prepare(tmp_path, "r1", "sha-a", mode="rwx")
    with pytest.raises(LookupError, match="no-such-user-here"):
        prepare(tmp_path, "r1", "sha-a", owner="no-such-user-here")
    assert not (tmp_path / "releases").exists()
    with pytest.raises(ValueError, match="needs fingerprint"):
        rel.run(params(tmp_path, action="prepare", release="r1"), check_mode=False)
    (tmp_path / "releases").mkdir()
    (tmp_path / "releases" / "r1").symlink_to(tmp_path)
    with pytest.raises(ValueError, match="not a directory"):
        prepare(tmp_path, "r1", "sha-a")


# --- refuse -------------------------------------------------------------------------------


def refuse(
    root: Path, release: str, check_mode: bool = False, **kw: object
) -> tuple[str, dict[str, Any]]:
    """The message and the result that action refuse fails with."""
    args = {"check": "Check: the source unpacks", "error": " tar:\n  bad\tfile \n", **kw}
    with pytest.raises(rel.Refused) as caught:
        rel.run(params(root, action="refuse", release=release, **args), check_mode)
    assert str(caught.value) == caught.value.msg
    return caught.value.msg, caught.value.result


def test_refuse_removes_the_release_and_fails_naming_the_check(tmp_path: Path) -> None:
    make(tmp_path, "r1", "2026-01-01T00:00:00Z")
    make(tmp_path, "r2", "2026-01-02T00:00:00Z")
    serve(tmp_path, "r1")
    facts = tmp_path / "facts.d" / "app.fact"
    msg, result = refuse(tmp_path, "r2", source="/srv/build/app", facts_file=str(facts))
    assert msg == (
        "release r2 of /srv/build/app refused: check 'the source unpacks' failed: "
        "tar: bad file; the serving release r1 is untouched"
    )
    assert result["removed"] == ["r2"]
    assert result["changed"] is True
    assert [m["release"] for m in result["releases"]] == ["r1"]
    assert sorted(os.listdir(tmp_path / "releases")) == ["r1"]
    written = json.loads(facts.read_text())
    assert [m["release"] for m in written["releases"]] == ["r1"]
    assert written["current"] == "r1"


def test_refuse_an_unfinished_release_with_nothing_served(tmp_path: Path) -> None:
    make(tmp_path, "r1", "", finished=False)
    msg, _ = refuse(tmp_path, "r1", check="uv sync --locked succeeds", error="")
    assert msg == (
        "release r1 refused: check 'uv sync --locked succeeds' failed: ; "
        "the serving release (none) is untouched"
    )
    assert not (tmp_path / "releases" / "r1").exists()


def test_refuse_never_removes_the_served_release(tmp_path: Path) -> None:
    make(tmp_path, "r1", "2026-01-01T00:00:00Z")
    serve(tmp_path, "r1")
    msg, result = refuse(tmp_path, "r1")
    assert result["removed"] == []
    assert result["changed"] is False
    assert "the serving release r1 is untouched" in msg
    assert (tmp_path / "releases" / "r1" / "manifest.json").is_file()


def test_refuse_in_check_mode_removes_nothing_and_fails(tmp_path: Path) -> None:
    make(tmp_path, "r1", "2026-01-01T00:00:00Z")
    _, result = refuse(tmp_path, "r1", check_mode=True)
    assert result["removed"] == ["r1"]
    assert (tmp_path / "releases" / "r1").is_dir()


def test_refuse_of_a_bad_or_missing_id_removes_nothing(tmp_path: Path) -> None:
    make(tmp_path, "r1", "2026-01-01T00:00:00Z")
    assert refuse(tmp_path, "..", check="release id")[1]["removed"] == []
    assert refuse(tmp_path, "r9")[1]["removed"] == []
    assert (tmp_path / "releases" / "r1").is_dir()


def test_main_fails_a_refused_release_with_the_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make(tmp_path, "r1", "", finished=False)
    args = {"root": str(tmp_path), "action": "refuse", "release": "r1"}
    result = run_module(rel, {**args, "check": "index.html", "error": "no index.html"}, capsys)
    assert result["failed"] is True
    assert result["msg"] == (
        "release r1 refused: check 'index.html' failed: no index.html; "
        "the serving release (none) is untouched"
    )
    assert result["removed"] == ["r1"]
    missing = run_module(rel, args, capsys)
    assert missing["failed"] is True
    assert "missing: check, error" in missing["msg"]


def test_main_prepares_in_check_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = {"root": str(tmp_path / "app"), "action": "prepare", "release": "r1"}
    result = run_module(rel, {**args, "fingerprint": "sha-a", "_ansible_check_mode": True}, capsys)
    assert (result["needed"], result["changed"]) == (True, True)
    assert not (tmp_path / "app").exists()
    assert "missing: fingerprint" in run_module(rel, args, capsys)["msg"]


# --- mark_good, current_good, last_good ---------------------------------------------------


def test_mark_good_records_good_at_once_and_checked_at_each_time(tmp_path: Path) -> None:
    make(tmp_path, "r1", "2026-01-01T00:00:00Z")
    facts = tmp_path / "facts.d" / "app.fact"
    args = params(tmp_path, action="mark_good", release="r1", facts_file=str(facts))
    assert rel.run(args, check_mode=True)["changed"] is True
    assert "good_at" not in manifest(tmp_path, "r1")
    first = rel.run(args, check_mode=False)
    good_at = manifest(tmp_path, "r1")["good_at"]
    checked = manifest(tmp_path, "r1")["checked_at"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", good_at)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", checked)
    assert first["changed"] is True
    assert first["releases"][0]["good_at"] == good_at
    assert json.loads(facts.read_text())["releases"][0]["good_at"] == good_at
    second = rel.run(args, check_mode=False)
    assert second["changed"] is True
    assert manifest(tmp_path, "r1")["good_at"] == good_at
    assert manifest(tmp_path, "r1")["checked_at"] > checked


def test_mark_good_refuses_an_unfinished_release(tmp_path: Path) -> None:
    make(tmp_path, "r1", "", finished=False)
    with pytest.raises(ValueError, match="release r1 is not a finished release"):
        rel.run(params(tmp_path, action="mark_good", release="r1"), check_mode=False)


def test_current_good_and_last_good(tmp_path: Path) -> None:
    make(tmp_path, "r1", "2026-01-01T00:00:00Z", good_at="2026-01-01T00:01:00Z")
    make(tmp_path, "r2", "2026-01-02T00:00:00Z", good_at="2026-01-02T00:01:00Z")
    make(tmp_path, "r3", "2026-01-03T00:00:00Z")
    make(tmp_path, "r4", "2026-01-04T00:00:00Z", good_at="2026-01-04T00:01:00Z")
    nothing_served = rel.run(params(tmp_path), check_mode=False)
    assert (nothing_served["current_good"], nothing_served["last_good"]) == (False, "r4")
    serve(tmp_path, "r3")
    r3 = rel.run(params(tmp_path), check_mode=False)
    assert (r3["current"], r3["current_good"], r3["last_good"]) == ("r3", False, "r4")
    (tmp_path / "current").unlink()
    serve(tmp_path, "r4")
    r4 = rel.run(params(tmp_path), check_mode=False)
    assert (r4["current_good"], r4["last_good"]) == (True, "r2")


def test_last_good_is_the_release_rolled_back_to(tmp_path: Path) -> None:
    """After a rollback from r2 to r1 passed its gate, r1 is what a failing r3 goes back to."""
    make(tmp_path, "r1", "2026-01-01T00:00:00Z", good_at="2026-01-01T00:01:00Z")
    make(tmp_path, "r2", "2026-01-02T00:00:00Z", good_at="2026-01-02T00:01:00Z")
    make(tmp_path, "r3", "2026-01-03T00:00:00Z")
    serve(tmp_path, "r1")
    rel.run(params(tmp_path, action="mark_good", release="r1"), check_mode=False)
    (tmp_path / "current").unlink()
    serve(tmp_path, "r3")
    assert rel.run(params(tmp_path), check_mode=False)["last_good"] == "r1"
    (tmp_path / "current").unlink()
    serve(tmp_path, "r1")
    assert rel.run(params(tmp_path), check_mode=False)["last_good"] == "r2"


def test_prune_keeps_the_newest_good_release(tmp_path: Path) -> None:
    make(tmp_path, "r1", "2026-01-01T00:00:00Z", good_at="2026-01-01T00:01:00Z")
    make(tmp_path, "r2", "2026-01-02T00:00:00Z", good_at="2026-01-02T00:01:00Z")
    for day in range(3, 7):
        make(tmp_path, f"r{day}", f"2026-01-0{day}T00:00:00Z")
    serve(tmp_path, "r6")
    result = rel.run(params(tmp_path, action="prune", keep=2), check_mode=False)
    assert sorted(result["removed"]) == ["r1", "r3", "r4"]
    assert sorted(os.listdir(tmp_path / "releases")) == ["r2", "r5", "r6"]
    assert result["last_good"] == "r2"


def side(current: str, *releases: tuple[str, str]) -> dict[str, Any]:
    manifests = [
        {"release": r, "deployed_at": t, "served_at": t, "good_at": t} for r, t in releases
    ]
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


def test_release_target_skips_a_release_that_failed_its_health_gate() -> None:
    backend = side("r3", ("r1", "1"), ("r2", "2"), ("r3", "3"))
    del backend["releases"][1]["good_at"]  # served, then refused by the health gate
    assert rt.release_target({"backend": backend}) == {"backend": "r1"}
    assert rt.release_target({"backend": backend}, "r2") == {"backend": "r2"}


def test_release_target_needs_good_at_not_served_at() -> None:
    backend = side("r2", ("r1", "1"), ("r2", "2"))
    del backend["releases"][0]["good_at"]
    with pytest.raises(rt.AnsibleFilterError, match="no release passed its health gate before r2"):
        rt.release_target({"backend": backend})
    backend["releases"][0]["good_at"] = "1"
    del backend["releases"][0]["served_at"]
    assert rt.release_target({"backend": backend}) == {"backend": "r1"}


def test_release_target_with_good_releases_on_one_side_only() -> None:
    # The front end changed in r2 (refused by its health gate, put back), the back end did
    # not: going back one run from r3 skips r2 on both sides.
    backend = side("r3", ("r1", "1"), ("r3", "3"))
    frontend = side("r3", ("r1", "1"), ("r2", "2"), ("r3", "3"))
    del frontend["releases"][1]["good_at"]
    assert rt.release_target({"backend": backend, "frontend": frontend}) == {
        "backend": "r1",
        "frontend": "r1",
    }
