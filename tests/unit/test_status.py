"""Unit tests for what playbooks/status.yml reports (plugins/module_utils/status.py) and for
the task_changes callback under a real ansible-playbook."""

from __future__ import annotations

import base64
import datetime
import json
from pathlib import Path
from typing import Any

import pytest

from tools.testing import load_plugin, run_local_playbook, self_signed_pem

status = load_plugin("module_utils", "status")


def registered(*results: dict[str, Any]) -> dict[str, Any]:
    return {"results": list(results)}


def inputs(**overrides: object) -> dict[str, Any]:
    """What the status entry point registers on a healthy host with releases and TLS."""
    certificate, _ = self_signed_pem("www.example.test")
    base: dict[str, Any] = {
        "host": "web-1",
        "releases": registered(
            {
                "item": {"name": "back end"},
                "current": "R2",
                "releases": [{"release": "R1", "good_at": "x"}, {"release": "R2", "good_at": "y"}],
            },
            {"item": {"name": "front end"}, "current": "R2", "releases": [{"release": "R2"}]},
        ),
        "disk": registered(
            {"item": {"name": "back end"}, "rc": 0, "stdout": "52428800\t/opt/webapp/releases"},
            {"item": {"name": "front end"}, "rc": 0, "stdout": "2048\t/var/www/webapp/releases"},
        ),
        "in_releases": True,
        "checks": {
            "checks": [
                {"name": "nginx", "url": "http://127.0.0.1/api/health", "status": 200, "ok": True}
            ]
        },
        "units": registered(
            *(
                {
                    "item": unit,
                    "status": {
                        "LoadState": "loaded",
                        "ActiveState": "active",
                        "SubState": "running",
                        "NRestarts": "1",
                    },
                }
                for unit in ("webapp.socket", "webapp.service", "nginx.service")
            )
        ),
        "nginx": {"rc": 0, "stdout": "", "stderr": "syntax is ok"},
        "certificates": registered(
            {
                "item": "/etc/nginx/tls/site.pem",
                "content": base64.b64encode(certificate.encode()).decode(),
            }
        ),
        "lock": {"failed": True, "msg": "file not found"},
        "drift": {
            "enabled": True,
            "rc": 0,
            "output": "",
            "findings": {"changed": [], "failed": []},
        },
        "certificate_days": 0,
    }
    base.update(overrides)
    return base


def test_a_healthy_host_has_no_problem_and_one_row() -> None:
    summary = status.summarize(**inputs())
    assert summary["problems"] == []
    assert summary["sides"]["back end"] == {
        "serving": "R2",
        "releases": 2,
        "good": True,
        "bytes": 52428800,
    }
    assert summary["sides"]["front end"]["good"] is False
    assert summary["certificates"][0]["days"] == 0  # valid for a day, less a few minutes
    assert summary["drift"] == []
    report = status.report([summary])
    header, row = report["table"].splitlines()[:2]
    assert header.split()[:3] == ["HOST", "BACK", "END"]
    assert row.split()[:4] == ["web-1", "R2", "good", "[2,"]
    assert "50.0 MB]" in row
    assert "3 active, 3 restarts" in row
    assert "0 tasks" in row
    assert report["table"].endswith("no problem found")
    assert report["problems"] == {"web-1": []}


def test_each_broken_part_is_a_problem_that_names_it() -> None:
    broken = inputs(
        checks={
            "checks": [
                {"name": "nginx", "url": "http://127.0.0.1/api/health", "status": 502, "ok": False}
            ]
        },
        units=registered(
            {
                "item": "webapp.service",
                "status": {"LoadState": "loaded", "ActiveState": "failed", "SubState": "failed"},
            },
            {
                "item": "ghost.service",
                "status": {"LoadState": "not-found", "ActiveState": "inactive"},
            },
        ),
        nginx={
            "rc": 1,
            "stderr": (
                'nginx: [emerg] unknown directive "bogus"\nnginx: configuration file test failed'
            ),
        },
        certificate_days=30,
        lock={
            "content": base64.b64encode(
                b'{"user": "alice", "controller": "laptop", "since": "T0"}'
            ).decode()
        },
        drift={
            "enabled": True,
            "rc": 2,
            "output": "",
            "findings": {"changed": ["Start Gunicorn"], "failed": ["Copy: boom"]},
        },
    )
    problems = status.summarize(**broken)["problems"]
    assert problems == [
        "check 'nginx' of http://127.0.0.1/api/health failed: status 502",
        "unit webapp.service is failed (failed)",
        "unit ghost.service is not-found",
        'nginx -t failed: nginx: [emerg] unknown directive "bogus"'
        " | nginx: configuration file test failed",
        "certificate /etc/nginx/tls/site.pem expires in 0 days"
        " (deploy_status_certificate_days: 30)",
        "the check-mode pass of the deploy failed: Copy: boom",
        "a deploy would change 1 task: Start Gunicorn",
    ]
    row = status.report([status.summarize(**broken)])["table"].splitlines()[1]
    assert "alice from laptop since T0" in row
    assert "webapp.service failed, ghost.service inactive, 0 restarts" in row


def test_a_host_the_check_mode_pass_never_reached_is_a_problem_with_its_output() -> None:
    summary = status.summarize(
        **inputs(
            drift={
                "enabled": True,
                "rc": 4,
                "output": "PLAY\nfatal: [web-1]: UNREACHABLE!",
                "findings": None,
            }
        )
    )
    assert summary["problems"] == [
        "the check-mode pass of the deploy reported nothing for this host (exit 4):"
        " PLAY | fatal: [web-1]: UNREACHABLE!"
    ]
    assert status.summarize(**inputs(drift={"enabled": False}))["drift"] is None


def test_hosts_that_serve_different_releases_disagree() -> None:
    first = status.summarize(**inputs())
    second = status.summarize(**inputs(host="web-2"))
    second["sides"]["back end"]["serving"] = "R1"
    report = status.report([first, second])
    disagreement = "the hosts serve different back end releases: web-1 R2, web-2 R1"
    assert report["problems"] == {"web-1": [disagreement], "web-2": [disagreement]}
    assert f"web-2: {disagreement}" in report["table"]


def test_certificate_days_left_counts_whole_days() -> None:
    certificate, _ = self_signed_pem("a.test")
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=3)
    assert status.certificate_days_left(certificate, later) == -3
    with pytest.raises(ValueError, match="PEM"):
        status.certificate_days_left("not a certificate")


CALLBACK_PLAYBOOK = """
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Changes
      ansible.builtin.command: "true"
    - name: Changes on some items
      ansible.builtin.command: "true"
      changed_when: item > 1
      loop: [1, 2, 3]
    - name: Unchanged
      ansible.builtin.command: "true"
      changed_when: false
    - name: Fails but ignored
      ansible.builtin.command: "false"
      ignore_errors: true
    - name: Fails
      ansible.builtin.fail:
        msg: broken here
"""


def test_the_task_changes_callback_lists_changed_and_failed_tasks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "changes.json"
    monkeypatch.setenv("ANSIBLE_CALLBACKS_ENABLED", "fullstack.webapp.task_changes")
    monkeypatch.setenv("FULLSTACK_WEBAPP_TASK_CHANGES_FILE", str(out))
    run = run_local_playbook(tmp_path, CALLBACK_PLAYBOOK, {})
    assert run.returncode == 2, run.stdout + run.stderr
    assert json.loads(out.read_text()) == {
        "localhost": {
            "changed": ["Changes", "Changes on some items"],
            "failed": ["Fails: broken here"],
            "unreachable": False,
        }
    }
