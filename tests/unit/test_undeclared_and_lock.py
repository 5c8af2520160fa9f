"""Unit tests for the typo check (plugins/module_utils/variables.py, the
undeclared_variables lookup under ansible-playbook) and the deploy lock
(plugins/modules/deploy_lock.py) on real files, with real concurrent takers."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tools.testing import ROOT, load_plugin, run_local_playbook

variables = load_plugin("module_utils", "variables")
lock = load_plugin("modules", "deploy_lock")


def spec(role: str) -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
    assert isinstance(data, dict)
    return data


def test_declared_options_are_the_union_of_every_entry_point() -> None:
    declared = variables.declared_options(spec("deploy"))
    assert {"deploy_serial", "deploy_rollback_release", "deploy_lock_wait"} <= declared
    doc: dict[str, Any] = {
        "argument_specs": {
            "a": {"options": {"x_1": {}}},
            "b": {"options": {"x_2": {}}},
            "c": {},
        }
    }
    assert variables.declared_options(doc) == {"x_1", "x_2"}


def test_a_typo_gets_the_closest_declared_name_and_an_unrelated_name_none() -> None:
    declared = variables.declared_options(spec("gunicorn"))
    found = variables.undeclared(["gunicorn_worker", "gunicorn_workers", "gunicorn_flux"], declared)
    assert found == [("gunicorn_flux", None), ("gunicorn_worker", "gunicorn_workers")]
    frontend = variables.declared_options(spec("frontend"))
    assert variables.undeclared(["frontend_before"], frontend) == [("frontend_before", None)]


PLAYBOOK = """
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    gunicorn_worker: 1
    gunicorn_workers: 2
    gunicorn_facts: {}
    deploy_seria: 1
    names: "{{ query('ansible.builtin.varnames', '^(gunicorn|deploy)_') }}"
  tasks:
    - ansible.builtin.copy:
        dest: "{{ out }}"
        mode: "0644"
        content: "{{ {
          'fail': query('fullstack.webapp.undeclared_variables', *names,
                        roles=['gunicorn', 'deploy']),
          'warn': query('fullstack.webapp.undeclared_variables', *names, roles=['gunicorn'],
                        warn=['gunicorn']),
        } | to_json }}"
"""


def test_the_lookup_names_the_typo_under_ansible(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    run = run_local_playbook(tmp_path, PLAYBOOK, {"out": str(out)})
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(out.read_text())
    assert result["fail"] == [
        "deploy_seria is not a variable of the deploy role (did you mean deploy_serial?): "
        "rename or remove it, or set deploy_undeclared_variables: warn",
        "gunicorn_worker is not a variable of the gunicorn role (did you mean gunicorn_workers?): "
        "rename or remove it, or set gunicorn_undeclared_variables: warn",
    ]
    assert result["warn"] == []
    warnings = " ".join((run.stdout + run.stderr).split())
    typo = "gunicorn_worker is not a variable of the gunicorn role (did you mean gunicorn_workers?)"
    assert typo in warnings


def params(path: Path, run_id: str, **kwargs: object) -> dict[str, Any]:
    base: dict[str, Any] = {
        "path": str(path),
        "action": "acquire",
        "run": run_id,
        "holder": {"user": f"user-{run_id}", "controller": "laptop", "release": f"r-{run_id}"},
        "wait": 0,
        "expiry": 7200,
        "record": "",
        "expect": {},
        "save": {},
    }
    base.update(kwargs)
    return base


def test_a_second_run_is_refused_with_the_holder_named(tmp_path: Path) -> None:
    path = tmp_path / "lock" / "deploy.json"
    first = lock.run(params(path, "a"), check_mode=False)
    assert first["lock"]["run"] == "a"
    assert first["changed"] is False
    assert lock.run(params(path, "a"), check_mode=False)["lock"]["since"] == first["lock"]["since"]
    with pytest.raises(RuntimeError) as refused:
        lock.run(params(path, "b", wait=1), check_mode=False)
    message = str(refused.value)
    assert "user-a from laptop (release r-a) since " + first["lock"]["since"] in message
    assert "; waited 1 s. Nothing was changed." in message
    assert json.loads(path.read_text())["run"] == "a"


def test_a_waiting_run_takes_the_lock_once_the_holder_releases_it(tmp_path: Path) -> None:
    path = tmp_path / "deploy.json"
    lock.run(params(path, "a"), check_mode=False)
    release = params(path, "a", action="release")
    releaser = threading.Timer(1.5, lambda: lock.run(release, check_mode=False))
    releaser.start()
    started = time.monotonic()
    taken = lock.run(params(path, "b", wait=30), check_mode=False)
    releaser.join()
    assert taken["lock"]["run"] == "b"
    assert taken["waited_for"].startswith("user-a from laptop (release r-a) since ")
    assert 1.0 <= taken["waited"] <= 10
    assert time.monotonic() - started >= 1.0


def test_release_removes_only_this_runs_lock(tmp_path: Path) -> None:
    path = tmp_path / "deploy.json"
    lock.run(params(path, "a"), check_mode=False)
    lock.run(params(path, "b", action="release"), check_mode=False)
    assert json.loads(path.read_text())["run"] == "a"
    lock.run(params(path, "a", action="release"), check_mode=False)
    assert not path.exists()


def test_a_left_behind_lock_is_taken_over_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "deploy.json"
    left = {"run": "dead", "since_epoch": time.time() - 100, "holder": {"user": "bob"}}
    path.write_text(json.dumps(left))
    warnings: list[str] = []
    taken = lock.run(params(path, "b", expiry=60), check_mode=False, warn=warnings.append)
    assert taken["taken_over"]["run"] == "dead"
    assert json.loads(path.read_text())["run"] == "b"
    assert len(warnings) == 1
    assert "left by bob" in warnings[0]


def test_a_garbled_lock_counts_as_held_until_it_expires(tmp_path: Path) -> None:
    path = tmp_path / "deploy.json"
    path.write_text("{half")
    with pytest.raises(RuntimeError, match="unknown from an unknown controller"):
        lock.run(params(path, "b"), check_mode=False)
    os.utime(path, (time.time() - 100, time.time() - 100))
    assert lock.run(params(path, "b", expiry=60), check_mode=False)["lock"]["run"] == "b"


def test_check_mode_neither_takes_nor_waits(tmp_path: Path) -> None:
    path = tmp_path / "deploy.json"
    lock.run(params(path, "a", wait=600), check_mode=True)
    assert not path.exists()
    lock.run(params(path, "a"), check_mode=False)
    warnings: list[str] = []
    seen = lock.run(params(path, "b", wait=600), check_mode=True, warn=warnings.append)
    assert seen["lock"]["run"] == "a"
    assert "user-a from laptop" in warnings[0]
    # Another run's lock: nothing of the record is read, and the result says so.
    assert (seen["unchanged"], seen["drift"]) == ([], {})


def test_concurrent_takers_never_both_hold_it(tmp_path: Path) -> None:
    path = tmp_path / "deploy.json"
    path.write_text(json.dumps({"run": "dead", "since_epoch": 0, "holder": {}}))
    holders: list[str] = []

    def take(run_id: str) -> None:
        try:
            lock.run(params(path, run_id), check_mode=False)
        except RuntimeError:
            return
        holders.append(run_id)

    threads = [threading.Thread(target=take, args=(f"t{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(holders) == 1
    assert json.loads(path.read_text())["run"] == holders[0]


def systemctl_says(states: dict[str, str]) -> Callable[[list[str]], tuple[int, str, str]]:
    """run_command answering `systemctl is-active -- UNITS` as systemctl prints it."""

    def run_command(argv: list[str]) -> tuple[int, str, str]:
        assert argv[:3] == ["systemctl", "is-active", "--"]
        lines = [states.get(unit, "inactive") for unit in argv[3:]]
        return (0 if all(line == "active" for line in lines) else 3), "\n".join(lines) + "\n", ""

    return run_command


def test_the_record_holds_until_a_part_changes_and_is_consumed_by_the_next_run(
    tmp_path: Path,
) -> None:
    path, record = tmp_path / "deploy.json", tmp_path / "var" / "record.json"
    (tmp_path / "etc" / "conf.d").mkdir(parents=True)
    (tmp_path / "etc" / "conf.d" / "site.conf").write_text("server {}")
    (tmp_path / "app.env").write_text("A=1")
    parts = {
        "gateway": {
            "fingerprint": "f1",
            "watch": [str(tmp_path / "etc")],
            "active": ["nginx.service"],
        },
        "backend": {
            "fingerprint": "b1",
            "watch": [str(tmp_path / "app.env"), str(tmp_path / "gone.conf")],
            "active": ["app@blue.service"],
            "inactive": ["app@green.service"],
        },
    }
    running = systemctl_says({"nginx.service": "active", "app@blue.service": "active"})

    def take(
        run_id: str, check_mode: bool = False, states: dict[str, str] | None = None
    ) -> dict[str, Any]:
        taken: dict[str, Any] = lock.run(
            params(path, run_id, record=str(record), expect=parts),
            check_mode=check_mode,
            run_command=systemctl_says(states) if states else running,
        )
        if not check_mode:
            lock.run(params(path, run_id, action="release", record=str(record), save=parts), False)
        return taken

    first = take("a")
    assert first["unchanged"] == []
    assert first["drift"] == {
        "backend": "no record of a good run",
        "gateway": "no record of a good run",
    }
    assert record.exists()
    assert take("b")["unchanged"] == ["backend", "gateway"]
    assert take("c", check_mode=True)["unchanged"] == ["backend", "gateway"]
    assert record.exists(), "check mode consumes nothing"

    (tmp_path / "etc" / "conf.d" / "site.conf").write_text("server { listen 81; }")
    changed = take("d")
    assert changed["unchanged"] == ["backend"]
    assert changed["drift"] == {"gateway": f"changed on the host: {tmp_path / 'etc'}"}

    stopped = take("e", states={"nginx.service": "active", "app@blue.service": "failed"})
    assert stopped["drift"] == {"backend": "not running: app@blue.service"}
    both = take(
        "f",
        states={
            "nginx.service": "active",
            "app@blue.service": "active",
            "app@green.service": "active",
        },
    )
    assert both["drift"] == {"backend": "running: app@green.service"}

    parts["backend"]["fingerprint"] = "b2"
    assert take("g")["drift"] == {"backend": "its inputs changed"}

    # A run that takes the lock and does not record (failed, rolled back) leaves no record.
    lock.run(params(path, "h", record=str(record)), check_mode=False, run_command=running)
    lock.run(params(path, "h", action="release", record=str(record)), check_mode=False)
    assert not record.exists()
    # Another run's lock: no record read, none deleted.
    lock.run(params(path, "i", record=str(record)), check_mode=False, run_command=running)
    record.write_text("{}")
    with pytest.raises(RuntimeError):
        lock.run(params(path, "j", record=str(record), expect=parts), False, run_command=running)
    assert record.exists()


source_fingerprint = load_plugin("lookup", "source_fingerprint")


def test_the_source_fingerprint_of_an_archive_and_through_links(tmp_path: Path) -> None:
    archive = tmp_path / "app.tar.gz"
    archive.write_bytes(b"v1")
    first = source_fingerprint.fingerprint(str(archive), [])
    archive.write_bytes(b"v2")
    assert source_fingerprint.fingerprint(str(archive), []) != first
    (tmp_path / "tree").mkdir()
    (tmp_path / "shared.py").write_text("x = 1")
    os.symlink(tmp_path / "shared.py", tmp_path / "tree" / "linked.py")
    as_link = source_fingerprint.fingerprint(str(tmp_path / "tree"), [])
    followed = source_fingerprint.fingerprint(str(tmp_path / "tree"), [], follow=True)
    (tmp_path / "shared.py").write_text("x = 2")
    assert source_fingerprint.fingerprint(str(tmp_path / "tree"), []) == as_link
    assert source_fingerprint.fingerprint(str(tmp_path / "tree"), [], follow=True) != followed


def test_the_source_fingerprint_moves_with_sources_and_command_only(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "App.vue").write_text("<template>v1</template>")
    (tmp_path / "package-lock.json").write_text("{}")
    for ignored in ("node_modules/vite", "dist/assets", "sub/node_modules"):
        (tmp_path / ignored).mkdir(parents=True)
    ignore = ["node_modules", ".git", "dist"]
    first = source_fingerprint.fingerprint(str(tmp_path), ignore, "npm run build")
    (tmp_path / "node_modules" / "vite" / "index.js").write_text("changed")
    (tmp_path / "dist" / "assets" / "app.js").write_text("built")
    (tmp_path / "sub" / "node_modules" / "x.js").write_text("nested")
    assert source_fingerprint.fingerprint(str(tmp_path), ignore, "npm run build") == first
    assert source_fingerprint.fingerprint(str(tmp_path), ignore, "npm run build:prod") != first
    (tmp_path / "package-lock.json").write_text('{"lockfileVersion": 3}')
    second = source_fingerprint.fingerprint(str(tmp_path), ignore, "npm run build")
    assert second != first
    (tmp_path / "src" / "App.vue").write_text("<template>v2</template>")
    assert source_fingerprint.fingerprint(str(tmp_path), ignore, "npm run build") != second
    os.symlink("src", tmp_path / "linked")
    assert source_fingerprint.fingerprint(str(tmp_path), ignore, "npm run build") not in (
        first,
        second,
    )
    # A relative path is left out as well as a name.
    assert source_fingerprint.fingerprint(str(tmp_path), ["node_modules", "src"]) == (
        source_fingerprint.fingerprint(str(tmp_path), ["node_modules", "src", "nothing/here"])
    )
