"""One run at a time: while a deploy holds the host's lock, a second run stops naming it, a
third waits for it and then deploys; a lock left by a dead run is taken over once expired."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from testinfra.host import Host

from tools.testing import (
    DEPLOY_LOCK,
    backend_variant,
    recap_changed,
    run_playbook,
    start_playbook,
    wait_until,
)

SCENARIO = Path(__file__).resolve().parent.parent
LOCK = DEPLOY_LOCK


def test_a_second_run_stops_naming_the_holder_and_a_third_waits_its_turn(
    host: Host, tmp_path: Path
) -> None:
    name = host.backend.get_hostname()
    # A lock a failed earlier attempt of this test killed would be taken for the first run's.
    host.check_output(f"rm -f {LOCK}")
    first_code = backend_variant(tmp_path, "lock-a", {"app/items.py": ("", "# lock a\n")})
    third_code = backend_variant(tmp_path, "lock-c", {"app/items.py": ("", "# lock c\n")})
    first_log, third_log = tmp_path / "first.log", tmp_path / "third.log"
    first = start_playbook(
        first_log,
        SCENARIO / "converge.yml",
        name,
        "-e",
        json.dumps(
            {
                "python_uv_app_src": str(first_code),
                "deploy_release_id": "lock-a",
                # A slow migration: the lock is held long enough for the other two to come.
                "python_uv_pre_switch_commands": ["sleep 25"],
            }
        ),
    )
    third: subprocess.Popen[bytes] | None = None
    try:
        wait_until(lambda: host.file(LOCK).exists, timeout_s=300, interval_s=0.5)
        holder = json.loads(host.file(LOCK).content_string)
        assert holder["holder"]["release"] == "lock-a", holder
        third = start_playbook(
            third_log,
            SCENARIO / "converge.yml",
            name,
            "-e",
            json.dumps({"python_uv_app_src": str(third_code), "deploy_release_id": "lock-c"}),
        )
        second = run_playbook(SCENARIO / "converge.yml", name, "-e", "deploy_lock_wait=2")
        second_output = second.stdout + second.stderr
        assert second.returncode != 0, second_output[-4000:]
        refusal = " ".join(second_output.split())
        assert f"another run holds the deploy lock {LOCK}: " in refusal, second_output[-4000:]
        assert f"{name}, after waiting 2 s (deploy_lock_wait): another run holds" in refusal
        assert f"(release lock-a) since {holder['since']}. Nothing was changed." in refusal
        assert recap_changed(second_output, host) == 0, second_output[-4000:]
        assert first.wait(timeout=600) == 0, first_log.read_text()[-6000:]
        first_done = time.time()
        assert third.wait(timeout=600) == 0, third_log.read_text()[-6000:]
    finally:
        for run in (first, third):
            if run is not None and run.poll() is None:
                os.killpg(run.pid, signal.SIGKILL)
                run.wait()
                # The killed run's lock would stop the tests after this one.
                host.run(f"rm -f {LOCK}")
    waited = " ".join(third_log.read_text().split())
    assert "waiting up to 600 s (deploy_lock_wait): another run holds the deploy lock" in waited
    assert "(release lock-a) since " + holder["since"] in waited
    # The third run changed the code only after the first one had finished.
    items = host.file("/opt/webapp/app/app/items.py")
    assert "# lock c" in items.content_string
    assert items.mtime.timestamp() >= first_done - 1
    assert not host.file(LOCK).exists


def test_a_lock_left_by_a_dead_run_is_taken_over_once_expired(host: Host) -> None:
    dead = {
        "run": "dead-run",
        "since": "2026-01-01T00:00:00Z",
        "since_epoch": time.time() - 120,
        "holder": {"user": "ghost", "controller": "gone", "release": "dead"},
    }
    host.check_output(f"echo {json.dumps(json.dumps(dead))} > {LOCK}")
    name = host.backend.get_hostname()
    try:
        refused = run_playbook(SCENARIO / "converge.yml", name, "-e", "deploy_lock_wait=0")
        refusal = " ".join((refused.stdout + refused.stderr).split())
        assert refused.returncode != 0, refusal[-4000:]
        assert "ghost from gone (release dead) since 2026-01-01T00:00:00Z" in refusal
        taken = run_playbook(SCENARIO / "converge.yml", name, "-e", "deploy_lock_expiry=60")
        output = " ".join((taken.stdout + taken.stderr).split())
        assert taken.returncode == 0, output[-4000:]
        assert "took over the deploy lock" in output
        assert "left by ghost from gone (release dead)" in output
    finally:
        # Never leave the planted lock to the tests after this one.
        host.run(f"grep -q dead-run {LOCK} && rm -f {LOCK}")
    # That run put the scenario's own code back, for the tests after this file.
    assert "# lock c" not in host.file("/opt/webapp/app/app/items.py").content_string
    assert not host.file(LOCK).exists
