"""The role used alone waits for a worker to answer, not only for the master to be active:
a module that does not import fails the run with the service's own journal."""

from __future__ import annotations

from pathlib import Path

from testinfra.host import Host

from tools.testing import run_playbook

SCENARIO = Path(__file__).resolve().parent.parent


def test_an_app_that_does_not_import_fails_the_role_with_its_journal(host: Host) -> None:
    name = host.backend.get_hostname()
    try:
        result = run_playbook(SCENARIO / "broken_app.yml", name)
        output = result.stdout + result.stderr
        assert result.returncode != 0, output[-4000:]
        assert "check 'workers booted' failed: no worker of webapp.service answered" in output
        assert "No module named 'nope'" in output, output[-4000:]
    finally:
        restored = run_playbook(SCENARIO / "converge.yml", name)
    assert restored.returncode == 0, restored.stdout[-4000:] + restored.stderr[-2000:]
    assert host.service("webapp.service").is_running
