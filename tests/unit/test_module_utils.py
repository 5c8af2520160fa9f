"""Unit tests for plugins/module_utils, imported through the collection's namespace as the
modules and filters import them."""

from __future__ import annotations

import grp
import os
import pwd
import sys

import pytest

from tools.testing import COLLECTIONS, ROOT, load_plugin

ids = load_plugin("module_utils", "posix_ids")
paths = load_plugin("module_utils", "paths")
ME = pwd.getpwuid(os.getuid()).pw_name
MY_GROUP = grp.getgrgid(os.getgid()).gr_name


def test_plugins_import_through_the_collection_namespace() -> None:
    assert ids.__name__ == "ansible_collections.fullstack.webapp.plugins.module_utils.posix_ids"
    assert str(COLLECTIONS) in sys.path
    link = COLLECTIONS / "ansible_collections" / "fullstack" / "webapp"
    assert link.is_symlink()
    assert link.resolve() == ROOT
    path_matches = load_plugin("filter", "path_matches")
    assert path_matches.same_id is ids.same_id


def test_names_of_ids_and_ids_of_names() -> None:
    assert ids.user_name(os.getuid()) == ME
    assert ids.group_name(os.getgid()) == MY_GROUP
    assert ids.uid_of(ME) == os.getuid()
    assert ids.gid_of(MY_GROUP) == os.getgid()
    assert ids.uid_of("4242") == 4242
    assert ids.gid_of("4242") == 4242


def test_ids_without_a_name_are_given_as_numbers() -> None:
    unnamed = next(n for n in range(54321, 65000) if n not in {p.pw_uid for p in pwd.getpwall()})
    assert ids.user_name(unnamed) == str(unnamed)
    unnamed = next(n for n in range(54321, 65000) if n not in {g.gr_gid for g in grp.getgrall()})
    assert ids.group_name(unnamed) == str(unnamed)


def test_unknown_names_are_refused() -> None:
    with pytest.raises(LookupError, match="user 'no-such-user-here'"):
        ids.uid_of("no-such-user-here")
    with pytest.raises(LookupError, match="group 'no-such-group-here'"):
        ids.gid_of("no-such-group-here")


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [("alice", True), ("bob", False), ("1000", True), (1000, True), ("1001", False)],
)
def test_same_id_compares_a_name_or_a_number(wanted: object, expected: bool) -> None:
    entry = {"pw_name": "alice", "uid": 1000}
    assert ids.same_id(entry, wanted, "pw_name", "uid") is expected


@pytest.mark.parametrize(
    ("path", "root", "expected"),
    [
        ("/srv/dist/a/b.js", "/srv/dist", "a/b.js"),
        ("/srv/dist/a/b.js", "/srv/dist/", "a/b.js"),
        ("/srv/dist/a/b.js", "/srv/x/../dist", "a/b.js"),
        ("/srv/dist", "/srv/dist", None),
        ("/srv/distant/a", "/srv/dist", None),
        ("/etc/passwd", "/", "etc/passwd"),
    ],
)
def test_relative_to(path: str, root: str, expected: str | None) -> None:
    assert paths.relative_to(path, root) == expected


def test_files_below_keys_find_entries_by_relative_path() -> None:
    result = {"files": [{"path": "/srv/dist/a.js"}, {"path": "/srv/dist"}, {"path": "/elsewhere"}]}
    assert paths.files_below(result, "/srv/dist/") == {"a.js": {"path": "/srv/dist/a.js"}}
    assert paths.files_below({"skipped": True}, "/srv/dist") == {}
