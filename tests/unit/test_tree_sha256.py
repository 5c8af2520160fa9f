"""Unit tests for plugins/filter/tree_sha256.py: the same digest as the Jinja the roles
used (rendered by ansible's own Templar), on real temporary trees."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from tools.testing import load_plugin

ts = load_plugin("filter", "tree_sha256")

# The Jinja the fingerprint was computed with: a plain loop, and the namespace form of
# roles/frontend/vars/main.yml and roles/python_uv/vars/main.yml.
JINJA_LOOP = (
    "{% for f in result.files | sort(attribute='path') %}"
    "{{ f.checksum }} {{ f.path | relpath(base) }}\n{% endfor %}"
)
JINJA_NAMESPACE = (
    "{% set ns = namespace(text='') %}"
    "{%- for f in result.files | sort(attribute='path') %}"
    "{%- set ns.text = ns.text ~ f.checksum ~ ' ' ~ (f.path | relpath(base)) ~ '\\n' %}"
    "{%- endfor %}{{ ns.text | hash('sha256') }}"
)


def render(expression: str, **variables: object) -> str:
    rendered = Templar(loader=DataLoader(), variables=variables).template(
        trust_as_template(expression)
    )
    assert isinstance(rendered, str)
    return rendered


def jinja(expression: str, result: dict[str, Any], base: str) -> str:
    return render(expression, result=result, base=base)


def jinja_sha256(result: dict[str, Any], base: str) -> str:
    """What the roles' Jinja gives, in both its forms."""
    digest = render("{{ text | hash('sha256') }}", text=jinja(JINJA_LOOP, result, base))
    assert digest == jinja(JINJA_NAMESPACE, result, base)
    return digest


def find(root: Path) -> dict[str, Any]:
    """What ansible.builtin.find (recurse, hidden, file_type=file, follow, get_checksum)
    returns for a directory: its files, in the file system's order."""
    files = []
    for path in root.rglob("*"):
        if path.is_file():
            checksum = hashlib.sha1(path.read_bytes()).hexdigest()  # noqa: S324 - find's
            files.append({"path": str(path), "checksum": checksum, "isreg": True})
    return {"changed": False, "examined": len(files), "files": files, "matched": len(files)}


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    root = tmp_path / "dist"
    (root / "assets" / "img").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html>")
    (root / "Index.html").write_text("<!doctype html><title>capital</title>")
    (root / "assets" / "app-1.js").write_text("console.log(1)")
    (root / "assets" / "App-2.css").write_text("a{}")
    (root / "assets" / "img" / "logo é.svg").write_text("<svg/>")
    (root / ".hidden").write_text("x")
    return root


def test_same_digest_as_the_roles_jinja(dist: Path) -> None:
    result = find(dist)
    assert ts.tree_sha256(result, str(dist)) == jinja_sha256(result, str(dist))
    assert ts.tree_sha256(result, str(dist) + "/") == jinja_sha256(result, str(dist) + "/")


def test_sorted_as_jinja_sorts_ignoring_case(dist: Path) -> None:
    result = find(dist)
    for files in (result["files"], list(reversed(result["files"]))):
        shuffled = {**result, "files": files}
        assert ts.tree_sha256(shuffled, str(dist)) == jinja_sha256(shuffled, str(dist))
    names = [line.split(" ", 1)[1] for line in jinja(JINJA_LOOP, result, str(dist)).splitlines()]
    # Case-sensitive, App-2.css would come first.
    assert names[1:3] == ["assets/app-1.js", "assets/App-2.css"]


def test_a_hand_computed_digest() -> None:
    result = {
        "files": [{"path": "/b/z/y.txt", "checksum": "22"}, {"path": "/b/x", "checksum": "11"}]
    }
    expected = hashlib.sha256(b"11 x\n22 z/y.txt\n").hexdigest()
    assert ts.tree_sha256(result, "/b") == expected
    assert ts.tree_sha256({"files": []}, "/b") == hashlib.sha256(b"").hexdigest()


def test_content_names_and_files_change_the_digest(dist: Path) -> None:
    before = ts.tree_sha256(find(dist), str(dist))
    (dist / "assets" / "app-1.js").write_text("console.log(2)")
    changed = ts.tree_sha256(find(dist), str(dist))
    (dist / "assets" / "app-1.js").rename(dist / "assets" / "app-3.js")
    renamed = ts.tree_sha256(find(dist), str(dist))
    assert len({before, changed, renamed}) == 3


def test_a_symlinked_base_is_not_resolved(tmp_path: Path, dist: Path) -> None:
    link = tmp_path / "current"
    link.symlink_to(dist)
    through_link = find(link)
    assert all(f["path"].startswith(str(link) + "/") for f in through_link["files"])
    # Through the link as find was given it: the same lines as the real directory's.
    assert ts.tree_sha256(through_link, str(link)) == ts.tree_sha256(find(dist), str(dist))
    # The real directory as base of paths found through the link: ../current/..., as relpath.
    other = ts.tree_sha256(through_link, str(dist))
    assert other == jinja_sha256(through_link, str(dist))
    assert other != ts.tree_sha256(through_link, str(link))
    assert (
        jinja(JINJA_LOOP, through_link, str(dist)).splitlines()[0].endswith(" ../current/.hidden")
    )


def test_a_skipped_find_or_missing_checksums_are_refused() -> None:
    with pytest.raises(ts.AnsibleFilterError, match="was the find skipped"):
        ts.tree_sha256({"changed": False, "skipped": True}, "/b")
    with pytest.raises(ts.AnsibleFilterError, match="/b/x has no checksum"):
        ts.tree_sha256({"files": [{"path": "/b/x"}]}, "/b")
    with pytest.raises(ts.AnsibleFilterError, match="needs the directory"):
        ts.tree_sha256({"files": []}, "")


def test_registered_as_a_filter() -> None:
    assert ts.FilterModule().filters() == {"tree_sha256": ts.tree_sha256}
