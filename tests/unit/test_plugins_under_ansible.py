"""The plugins run by ansible-playbook itself (connection local): a module and filters
that import plugins/module_utils through the collection, as they do on real hosts."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from tools.testing import run_local_playbook

PLAYBOOK = """
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - fullstack.webapp.path_facts:
        paths: [/etc]
      register: etc
    - ansible.builtin.find:
        paths: "{{ tree }}"
        recurse: true
        file_type: file
        get_checksum: true
      register: found
    - fullstack.webapp.release:
        root: "{{ root }}"
        action: prepare
        release: r1
        fingerprint: "{{ found | fullstack.webapp.tree_sha256(tree) }}"
        mode: "0750"
      register: prepared
    - ansible.builtin.copy:
        dest: "{{ out }}"
        mode: "0644"
        content: "{{ {
          'etc_is_a_directory': etc | fullstack.webapp.path_matches('/etc', 'directory'),
          'etc_uid': etc.paths['/etc'].uid,
          'files': (found | fullstack.webapp.tree_changes({}, tree, '/nowhere',
                    '0644', '0755', '0', '0')).files,
          'sha256': found | fullstack.webapp.tree_sha256(tree),
          'prepared': prepared.path,
        } | to_json }}"
"""


def test_modules_and_filters_import_module_utils_under_ansible(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "assets").mkdir(parents=True)
    (tree / "index.html").write_text("<!doctype html>")
    (tree / "assets" / "app.js").write_text("console.log(1)")
    out = tmp_path / "out.json"
    variables = {"tree": str(tree), "root": str(tmp_path / "app"), "out": str(out)}
    run = run_local_playbook(tmp_path, PLAYBOOK, variables)
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(out.read_text())
    assert result["etc_is_a_directory"] is True
    assert result["etc_uid"] == os.stat("/etc").st_uid
    assert result["files"] == ["assets/app.js", "index.html"]
    lines = "".join(
        f"{hashlib.sha1(path.read_bytes()).hexdigest()} {path.relative_to(tree)}\n"  # noqa: S324
        for path in (tree / "assets" / "app.js", tree / "index.html")
    )
    assert result["sha256"] == hashlib.sha256(lines.encode()).hexdigest()
    assert result["prepared"] == str(tmp_path / "app" / "releases" / "r1")
    assert (tmp_path / "app" / "releases" / "r1").is_dir()
