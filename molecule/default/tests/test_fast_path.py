"""deploy_fast_path: a run skips the parts that are as the last good run left them, applies
those that changed on the host, and still runs the health gate, which fails the run when the
app does not answer; a failed run leaves no record behind."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from testinfra.host import Host

from tools.testing import recap_changed, run_playbook, serving_service

SCENARIO = Path(__file__).resolve().parent.parent
RECORD = "/var/lib/fullstack.webapp/deploy-record.json"
SITE = "/etc/nginx/sites-available/webapp.conf"
pytestmark = pytest.mark.first_platform


def fast_deploy(host: Host, **variables: object) -> tuple[int, str]:
    result = run_playbook(
        SCENARIO / "converge.yml",
        host.backend.get_hostname(),
        "-e",
        json.dumps({"deploy_fast_path": True, **variables}),
    )
    return result.returncode, result.stdout + result.stderr


def parts_said(output: str) -> str:
    """What the run said it skipped and applied (one line)."""
    said = re.search(r'"msg": "(skipped: [^"]*)"', output)
    assert said is not None, output[-4000:]
    return said.group(1)


def tasks_run(output: str, host: Host) -> int:
    name = re.escape(host.backend.get_hostname())
    recap = re.search(rf"{name}\s*:\s*ok=(\d+)\s+changed=(\d+).*?skipped=(\d+)", output)
    assert recap is not None, output[-3000:]
    return sum(int(count) for count in recap.groups())


def test_the_fast_path_skips_what_is_unchanged_and_repairs_what_changed(host: Host) -> None:
    code, output = fast_deploy(host)
    assert code == 0, output[-4000:]
    assert parts_said(output).startswith("skipped: none;"), parts_said(output)
    whole_run = tasks_run(output, host)
    assert host.file(RECORD).exists

    code, output = fast_deploy(host)
    assert code == 0, output[-4000:]
    assert parts_said(output) == "skipped: backend, frontend, gateway; applied: none"
    assert recap_changed(output, host) == 0, output[-4000:]
    assert "Health gate" in output
    assert tasks_run(output, host) < whole_run / 2, (tasks_run(output, host), whole_run)

    site = host.file(SITE).content_string
    host.check_output(f"echo '# changed by hand' >> {SITE}")
    code, output = fast_deploy(host)
    assert code == 0, output[-4000:]
    assert parts_said(output) == (
        "skipped: backend, frontend; applied: gateway (changed on the host: /etc/nginx)"
    )
    assert host.file(SITE).content_string == site


def test_the_fast_path_still_fails_when_the_app_does_not_answer(host: Host) -> None:
    """Its units active and its files as recorded, but its processes stopped: the gate fails
    the run, which leaves no record, so the next run applies every part."""
    code, output = fast_deploy(host)
    assert code == 0, output[-4000:]
    assert host.file(RECORD).exists
    service = serving_service(host, "webapp")
    host.check_output(f"systemctl kill --signal=SIGSTOP {service}")
    try:
        code, output = fast_deploy(host, deploy_health_retries=0, deploy_health_timeout=3)
    finally:
        host.check_output(f"systemctl kill --signal=SIGCONT {service}")
    assert code != 0, output[-4000:]
    assert parts_said(output).startswith("skipped: backend, frontend, gateway;")
    assert "health gate failed: Gunicorn on unix:/run/webapp/" in output, output[-4000:]
    assert f"{service}'s journal ends with" in output, output[-4000:]
    assert not host.file(RECORD).exists

    code, output = fast_deploy(host)
    assert code == 0, output[-4000:]
    assert parts_said(output).startswith("skipped: none;"), parts_said(output)
