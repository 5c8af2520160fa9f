"""The health gate in place (deploy_releases off): an app that cannot import or cannot start
fails the run with its own error, an app without /api/health passes, and a run that changes
nothing still checks the app. The broken apps are deployed one over the other (each run
deploys its own code), and the example app is put back once, after the app without
/api/health (CI time: a deploy each, not three)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from testinfra.host import Host

from tools.testing import (
    EXAMPLE_BACKEND,
    EXAMPLE_DIST,
    backend_variant,
    http_status,
    network_address,
    recap_changed,
    run_playbook,
    serving_service,
)

SCENARIO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.first_platform


def deploy(host: Host, **variables: object) -> tuple[int, str]:
    result = run_playbook(
        SCENARIO / "converge.yml", host.backend.get_hostname(), "-e", json.dumps(variables)
    )
    return result.returncode, result.stdout + result.stderr


@pytest.fixture
def restore_example(host: Host) -> object:
    """After the test, the example app deployed again and answering."""
    yield None
    code, output = deploy(
        host, python_uv_app_src=str(EXAMPLE_BACKEND), frontend_dist_src=str(EXAMPLE_DIST)
    )
    assert code == 0, output[-4000:]
    assert http_status(host, "/api/health") == 200


LIFESPAN = "    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:\n"
BROKEN_APPS = {
    "fails at import": (
        {"app/main.py": ("import logging\n", "import logging\nimport nope\n")},
        "No module named 'nope'",
    ),
    # Like a third-party app that writes in its working directory: the unit's read-only file
    # system makes its start-up fail, after its module imported fine.
    "fails at start-up": (
        {"app/main.py": (LIFESPAN, LIFESPAN + '        Path("startup.marker").write_text("x")\n')},
        "Read-only file system: 'startup.marker'",
    ),
}


@pytest.mark.parametrize("case", BROKEN_APPS)
def test_a_broken_app_fails_the_run_with_its_error(host: Host, tmp_path: Path, case: str) -> None:
    edits, app_error = BROKEN_APPS[case]
    broken = backend_variant(tmp_path, case.replace(" ", "-"), edits)
    code, output = deploy(host, python_uv_app_src=str(broken), gunicorn_boot_timeout=10)
    assert code != 0, output[-4000:]
    assert "check 'workers booted' failed" in output, output[-4000:]
    assert app_error in output, output[-4000:]
    assert "in place (deploy_releases is off): there is no previous release to go back to" in output


@pytest.mark.usefixtures("restore_example")
def test_an_app_without_api_health_passes_the_default_gate(host: Host, tmp_path: Path) -> None:
    """Like a third-party app with its own routes: no /api/health (a 404 from the app) is an
    answer, so the default gate lets it through and checks that it answers."""
    own_routes = backend_variant(
        tmp_path,
        "nohealth",
        {"app/main.py": ('@app.get("/api/health")', '@app.get("/api/status")')},
    )
    code, output = deploy(host, python_uv_app_src=str(own_routes))
    assert code == 0, output[-4000:]
    assert "Health gate" in output
    assert http_status(host, "/api/health") == 404
    assert http_status(host, "/api/status") == 200


def test_a_run_that_changes_nothing_still_checks_the_app(host: Host) -> None:
    """The gate runs on every run: a no-change run fails when the app does not answer.
    The run that passes also has the gate's browser check on (no run of its own): / and the
    dashboard, its items rendered, loaded by Chromium on the controller, the site's name
    (deploy_browser_check_url) mapped to the container's address."""
    code, output = deploy(
        host,
        deploy_browser_check=True,
        deploy_browser_check_url="http://webapp.test",
        deploy_browser_check_resolve=network_address(host),
        deploy_browser_check_paths=["/", "/dashboard"],
        deploy_browser_check_wait_for={"/dashboard": "#items tbody tr"},
    )
    assert code == 0, output[-4000:]
    assert recap_changed(output, host) == 0, output[-4000:]
    assert "Health gate" in output
    name = re.escape(host.backend.get_hostname())
    for task in ("Check that the controller can run the browser", "Load the pages in a browser"):
        ran = re.search(rf"TASK \[[^\n]*{task}[^\n]*\n+ok: \[{name}(?: -> localhost)?\]", output)
        assert ran is not None, f"{task} did not run: {output[-4000:]}"
    service = serving_service(host, "webapp")
    units = f"{service.removesuffix('.service')}.socket {service}"
    bind = "gunicorn-green.sock" if "@green" in service else "gunicorn.sock"
    host.check_output(f"systemctl stop {units}")
    try:
        code, output = deploy(host, gunicorn_service_state="stopped")
        assert code != 0, output[-4000:]
        expected = f"health gate failed: Gunicorn on unix:/run/webapp/{bind}"
        assert expected in output, output[-4000:]
    finally:
        host.check_output(f"systemctl start {units}")
    assert http_status(host, "/api/health") == 200
