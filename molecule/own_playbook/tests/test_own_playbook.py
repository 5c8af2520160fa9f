"""The deploy role in a playbook of a user's own, with only the README's variables: a first
deploy, a re-run, refusals before any change, a release refused by the gate and put back,
a rollback, an interrupted deploy checked by the next run, and no secret in a -vvv run.
The tests share the host's state and run in file order."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from testinfra.host import Host

from tools import checklist
from tools.bench_hosts import strategy_env
from tools.testing import (
    DEPLOY_LOCK,
    backend_variant,
    dist_variant,
    failing_health_edit,
    host_fingerprint,
    recap_changed,
    run_ad_hoc,
    run_playbook,
    start_playbook,
)

SCENARIO = Path(__file__).resolve().parent.parent
SECRET = "own-playbook-not-a-real-secret-7d1e"  # noqa: S105 - the test value in molecule.yml
BACKEND_FACT = "/etc/ansible/facts.d/python_uv_shop.fact"
FRONTEND_FACT = "/etc/ansible/facts.d/frontend_var_www_shop_dist.fact"
WATCHED = "/opt/shop /etc/nginx /etc/shop /var/www/shop /etc/systemd/system/shop.*"
UNITS = "nginx.service shop.service"


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("own")
    return {
        "v2-backend": backend_variant(base, "v2", {"app/items.py": ("", "# v2\n")}),
        "v2-dist": dist_variant(base, "v2"),
        "bad-backend": backend_variant(base, "bad", failing_health_edit("bad")),
        "bad-dist": dist_variant(base, "bad"),
        "v3-backend": backend_variant(base, "v3", {"app/items.py": ("", "# v3\n")}),
    }


def deploy(
    host: Host,
    *extra: str,
    playbook: str = "converge.yml",
    environment: dict[str, str] | None = None,
) -> tuple[int, str]:
    result = run_playbook(
        SCENARIO / playbook, host.backend.get_hostname(), *extra, environment=environment
    )
    return result.returncode, result.stdout + result.stderr


def with_artifacts(artifacts: dict[str, Path], version: str) -> tuple[str, str]:
    return "-e", json.dumps(
        {
            "python_uv_app_src": str(artifacts[f"{version}-backend"]),
            "frontend_dist_src": str(artifacts[f"{version}-dist"]),
        }
    )


def facts(host: Host) -> tuple[dict[str, Any], dict[str, Any]]:
    backend = json.loads(host.file(BACKEND_FACT).content_string)
    frontend = json.loads(host.file(FRONTEND_FACT).content_string)
    return backend, frontend


def serving(host: Host) -> str:
    health = json.loads(host.check_output("curl -sf --max-time 10 http://127.0.0.1/api/health"))
    return str(health["release"])


def good(manifests: list[dict[str, Any]]) -> list[str]:
    return [m["release"] for m in manifests if m.get("good_at")]


@pytest.fixture
def fetch(host: Host) -> checklist.Fetch:
    from tools.testing import curl_fetch

    return curl_fetch(host)


def test_the_first_deploy_serves_the_shop(host: Host, fetch: checklist.Fetch) -> None:
    assert checklist.check_index(fetch).passed
    assert checklist.check_page_api_call(fetch).passed
    backend, frontend = facts(host)
    assert host.file("/opt/shop/current").linked_to == f"/opt/shop/releases/{backend['current']}"
    assert host.file("/var/www/shop/dist").is_symlink
    assert good(backend["releases"]) == [backend["current"]]
    assert good(frontend["releases"]) == [frontend["current"]]
    assert serving(host) == backend["current"]


def test_a_role_variable_set_in_the_inventory_is_respected(host: Host) -> None:
    """site.yml used to set nginx_gateway_site_name from python_uv_app_name over the inventory."""
    assert host.file("/etc/nginx/sites-enabled/shop-gateway.conf").is_symlink
    assert not host.file("/etc/nginx/sites-enabled/shop.conf").exists
    site = host.file("/etc/nginx/sites-available/shop-gateway.conf").content_string
    assert "upstream shop-gateway" in site


# Numbers given as name=value on the command line reach the roles as strings. These are the
# values the run has anyway, so the re-run must still change nothing.
NUMBERS_AS_KEY_VALUE = (
    "deploy_app_port=8000 deploy_upstream_max_fails=1 deploy_max_fail_percentage=0 "
    "deploy_health_retries=3 deploy_csp_reports_max=-1 gunicorn_graceful_timeout=30 "
    "gunicorn_worker_memory_mb=256 gunicorn_boot_timeout=60 gunicorn_drain_timeout=10 "
    "python_uv_release_keep=5 frontend_release_keep=5"
)


def test_a_rerun_changes_nothing_and_still_checks_the_app(host: Host) -> None:
    code, output = deploy(host, "-e", NUMBERS_AS_KEY_VALUE)
    assert code == 0, output[-4000:]
    assert recap_changed(output, host) == 0, output[-4000:]
    assert "Health gate" in output


@pytest.mark.parametrize(
    ("variable", "message"),
    [
        ("fullstack_webapp_releases", "fullstack_webapp_releases is now deploy_releases"),
        ("python_uv_release_activate", "python_uv_release_activate is set by the deploy role"),
    ],
)
def test_old_and_owned_variables_are_refused_before_any_change(
    host: Host, variable: str, message: str
) -> None:
    before = host_fingerprint(host, WATCHED, UNITS)
    code, output = deploy(host, "-e", json.dumps({variable: True}))
    assert code != 0, output[-4000:]
    assert message in output, output[-4000:]
    assert host_fingerprint(host, WATCHED, UNITS) == before


def test_a_number_out_of_range_given_as_key_value_is_refused_by_name(host: Host) -> None:
    before = host_fingerprint(host, WATCHED, UNITS)
    code, output = deploy(host, "-e", "deploy_health_retries=-1")
    assert code != 0, output[-4000:]
    assert "deploy_health_retries and deploy_health_delay at least 0" in output, output[-4000:]
    assert "not supported between" not in output, output[-4000:]
    assert host_fingerprint(host, WATCHED, UNITS) == before


def test_a_verbose_deploy_shows_no_secret(host: Host, artifacts: dict[str, Path]) -> None:
    """A new release (its import check runs) at -vvv: the app's settings stay out of the
    output and of the command lines (the check reads the environment file)."""
    code, output = deploy(host, "-vvv", *with_artifacts(artifacts, "v2"))
    assert code == 0, output[-4000:]
    assert "the application imports as its user" in output
    assert SECRET not in output
    assert SECRET in host.file("/etc/shop/shop.env").content_string
    backend, _ = facts(host)
    assert len(good(backend["releases"])) == 2
    assert serving(host) == backend["current"]


def test_a_release_refused_by_the_gate_is_put_back(host: Host, artifacts: dict[str, Path]) -> None:
    v2, v2_frontend = facts(host)
    code, output = deploy(host, *with_artifacts(artifacts, "bad"))
    assert code != 0, output[-4000:]
    assert "health gate failed" in output, output[-4000:]
    put_back = f"back end {v2['current']}, front end {v2_frontend['current']}"
    assert f"put back and serving now: {put_back}" in output, output[-4000:]
    assert "RuntimeError: bad" in output
    backend, frontend = facts(host)
    assert (backend["current"], frontend["current"]) == (v2["current"], v2_frontend["current"])
    assert [m["release"] for m in backend["releases"]] == [m["release"] for m in v2["releases"]]
    assert serving(host) == v2["current"]


def test_rollback_goes_back_one_release(host: Host) -> None:
    v2, _ = facts(host)
    v1 = v2["releases"][0]["release"]
    code, output = deploy(host, playbook="rollback.yml")
    assert code == 0, output[-4000:]
    assert facts(host)[0]["current"] == v1
    assert serving(host) == v1


def start_deploy(host: Host, *extra: str) -> subprocess.Popen[bytes]:
    """ansible-playbook in its own process group, as run_playbook runs it, not waited for."""
    return start_playbook(
        Path(os.devnull), SCENARIO / "converge.yml", host.backend.get_hostname(), *extra
    )


@pytest.fixture
def stopped_controller() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_an_interrupted_deploy_is_checked_by_the_next_run(
    host: Host, artifacts: dict[str, Path], stopped_controller: list[subprocess.Popen[bytes]]
) -> None:
    """The controller dies right after the switch to a broken release: that release serves,
    unchecked, and the run's deploy lock stays. Once the lock is removed with the README's
    command, the next run (same artifacts, so no new release) runs the gate on it, and puts
    back the last release that passed one."""
    before, _ = facts(host)
    process = start_deploy(host, *with_artifacts(artifacts, "bad"))
    stopped_controller.append(process)
    deadline = time.monotonic() + 300
    while host.file("/opt/shop/current").linked_to == f"/opt/shop/releases/{before['current']}":
        assert process.poll() is None, "the deploy ended before it switched"
        assert time.monotonic() < deadline, "the deploy did not switch within 300 s"
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    interrupted, _ = facts(host)
    assert interrupted["current"] != before["current"]
    assert interrupted["current"] not in good(interrupted["releases"])
    left = json.loads(host.file(DEPLOY_LOCK).content_string)
    assert left["holder"]["release"] == interrupted["current"], left

    code, output = deploy(host, *with_artifacts(artifacts, "bad"), "-e", "deploy_lock_wait=0")
    assert code != 0, output[-4000:]
    assert f"(release {interrupted['current']}) since {left['since']}" in " ".join(output.split())
    removed = run_ad_hoc(
        host.backend.get_hostname(), "ansible.builtin.file", f"path={DEPLOY_LOCK} state=absent"
    )
    assert removed.returncode == 0, removed.stdout + removed.stderr
    code, output = deploy(host, *with_artifacts(artifacts, "bad"))
    assert code != 0, output[-4000:]
    assert "health gate failed" in output, output[-4000:]
    assert f"put back and serving now: back end {before['current']}" in output, output[-4000:]
    backend, _ = facts(host)
    assert backend["current"] == before["current"]
    assert interrupted["current"] not in [m["release"] for m in backend["releases"]]
    assert serving(host) == before["current"]


def test_the_listing_marks_the_releases_that_passed_the_gate(host: Host) -> None:
    code, output = deploy(host, playbook="../../playbooks/releases.yml")
    assert code == 0, output[-4000:]
    backend, _ = facts(host)
    assert f"* {backend['current']}" in output, output[-3000:]
    assert "good" in output


def test_mitogen_deploys_a_new_release_and_a_rerun_changes_nothing(
    host: Host, artifacts: dict[str, Path], tmp_path: Path
) -> None:
    """The same playbook under Mitogen's strategy (README, "Faster runs with Mitogen"):
    Ansible's `docker` connection, which Mitogen replaces with its own, deploys a new back
    end through the gate; a re-run changes nothing. Ansible refuses a strategy it cannot
    load, so a run that passes ran under Mitogen's."""
    before, _ = facts(host)
    mitogen = strategy_env("mitogen")
    # The host's connection by its short name, in an inventory read after Molecule's (an
    # extra variable would also apply to the tasks delegated to the controller).
    short_name = tmp_path / "mitogen-inventory.yml"
    short_name.write_text(
        json.dumps(
            {"all": {"hosts": {host.backend.get_hostname(): {"ansible_connection": "docker"}}}}
        )
    )
    run_args = ("-i", str(short_name), "-e", json.dumps(
        {"python_uv_app_src": str(artifacts["v3-backend"])}))  # fmt: skip
    code, output = deploy(host, *run_args, environment=mitogen)
    assert code == 0, output[-4000:]
    assert "strategy plugins not included in ansible.builtin" in " ".join(output.split())
    assert "Health gate" in output
    backend, _ = facts(host)
    assert backend["current"] != before["current"]
    assert serving(host) == backend["current"]
    code, output = deploy(host, *run_args, environment=mitogen)
    assert code == 0, output[-4000:]
    assert recap_changed(output, host) == 0, output[-4000:]
