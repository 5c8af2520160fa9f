"""The seed's end-to-end checklist against site.yml's result, over HTTP through nginx."""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from testinfra.host import Host

from tools import checklist
from tools.testing import csp_problems, main_pid, parse_http, run_playbook

SCENARIO = Path(__file__).resolve().parent.parent
SITE_CONFIG = "/etc/nginx/sites-available/webapp.conf"


def test_index_serves_the_app(fetch: checklist.Fetch) -> None:
    assert checklist.check_index(fetch).passed


def test_dashboard_reload_gets_index_html(fetch: checklist.Fetch) -> None:
    assert checklist.check_deep_link(fetch).passed


def test_page_api_call_reaches_fastapi_through_nginx(fetch: checklist.Fetch) -> None:
    assert checklist.check_page_api_call(fetch).passed


def test_long_job_answers_202_and_completes_through_nginx(fetch: checklist.Fetch) -> None:
    result = checklist.check_job(fetch)
    assert result.passed
    assert result.data["job"]["progress"] == 100  # type: ignore[index]


def test_job_status_is_the_same_from_every_worker(host: Host, fetch: checklist.Fetch) -> None:
    """Concurrent polls spread over several workers, and every one of them knows the job."""
    started = fetch("POST", "/api/jobs", {"duration_s": 2}).json()
    assert isinstance(started, dict)
    polls = 48
    argv = ["curl", "-sS", "--parallel", "--parallel-max", "24"]
    argv += ["-w", "%{http_code} %header{x-served-by}\\n"]
    for _ in range(polls):
        argv += ["-o", "/dev/null", f"http://127.0.0.1{started['status_url']}"]
    answers = host.check_output(shlex.join(argv)).splitlines()
    assert len(answers) == polls
    assert {answer.split()[0] for answer in answers} == {"200"}
    workers = {answer.split()[1] for answer in answers}
    assert len(workers) > 1, f"all {polls} concurrent polls were answered by {workers}"


def test_api_misses_are_json_404s_not_the_spa(fetch: checklist.Fetch) -> None:
    response = fetch("GET", "/api/does-not-exist", None)
    assert response.status == 404
    assert checklist.APP_MARKER not in response.text
    assert response.header("content-type").startswith("application/json")


def test_missing_hashed_asset_is_a_real_404(fetch: checklist.Fetch) -> None:
    response = fetch("GET", "/assets/index-deadbeef.js", None)
    assert response.status == 404
    assert checklist.APP_MARKER not in response.text


def test_hashed_assets_are_immutable_and_index_is_not_cached(fetch: checklist.Fetch) -> None:
    index = fetch("GET", "/", None)
    assert "no-cache" in index.header("cache-control")
    asset = fetch("GET", checklist.main_script_path(index.text), None)
    assert "immutable" in asset.header("cache-control")
    assert "max-age=31536000" in asset.header("cache-control")


def test_hashed_assets_are_sent_precompressed(host: Host, fetch: checklist.Fetch) -> None:
    """frontend made NAME.js.gz and NAME.js.br beside the bundle; nginx (gzip_static,
    brotli_static) sends each as is to a client that accepts it."""
    script = checklist.main_script_path(fetch("GET", "/", None).text)
    installed = f"/var/www/webapp/dist{script}"
    gz = host.file(installed + ".gz")
    assert gz.is_file
    assert (gz.user, gz.group, gz.mode) == ("root", "root", 0o644)
    assert host.check_output(f"gzip -dc {installed}.gz | sha256sum") == host.check_output(
        f"sha256sum < {installed}"
    )
    sent = host.check_output(
        f"curl -sS -H 'Accept-Encoding: gzip' http://127.0.0.1{script} | sha256sum"
    )
    assert sent.split()[0] == gz.sha256sum, "not the file made at deploy"
    headers = host.check_output(
        f"curl -sS -D - -o /dev/null -H 'Accept-Encoding: gzip' http://127.0.0.1{script}"
    )
    assert "content-encoding: gzip" in headers.lower()
    br = host.file(installed + ".br")
    assert br.is_file
    assert (br.user, br.group, br.mode) == ("root", "root", 0o644)
    assert host.check_output(f"brotli -dc {installed}.br | sha256sum") == host.check_output(
        f"sha256sum < {installed}"
    )
    sent = host.check_output(
        f"curl -sS -H 'Accept-Encoding: br' http://127.0.0.1{script} | sha256sum"
    )
    assert sent.split()[0] == br.sha256sum, "not the .br made at deploy"
    headers = host.check_output(
        f"curl -sS -D - -o /dev/null -H 'Accept-Encoding: br' http://127.0.0.1{script}"
    )
    assert "content-encoding: br" in headers.lower()


def test_the_real_build_works_under_the_content_security_policy(fetch: checklist.Fetch) -> None:
    """The Vite build's index.html has no inline script or style and loads only this
    origin's files: what the gateway's default policy allows."""
    index = fetch("GET", "/", None)
    policy = index.header("content-security-policy")
    assert "script-src 'self'" in policy
    assert "style-src 'self'" in policy
    assert csp_problems(index.text) == []
    for path in ("/dashboard", checklist.main_script_path(index.text), "/api/health"):
        assert fetch("GET", path, None).header("content-security-policy") == policy, path


def test_websocket_upgrade_reaches_fastapi_through_nginx(host: Host) -> None:
    """101 from Uvicorn through nginx; curl then waits on the open socket until --max-time
    (exit code 28), which is the expected end here."""
    argv = ["curl", "-sS", "--http1.1", "--max-time", "3", "-D", "-", "-o", "/dev/null"]
    for header in (
        "Connection: Upgrade",
        "Upgrade: websocket",
        "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    ):
        argv += ["-H", header]
    result = host.run(shlex.join([*argv, "http://127.0.0.1/api/ws"]))
    assert result.rc in (0, 28), result.stderr
    response = parse_http(result.stdout)
    assert response.status == 101, result.stdout
    assert response.header("sec-websocket-accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_request_id_is_logged_by_nginx_and_reaches_the_app(host: Host) -> None:
    request_id = "fullstack-" + host.check_output("cat /proc/sys/kernel/random/uuid")
    headers = host.check_output(
        f"curl -sS -D - -o /dev/null -H 'X-Request-ID: {request_id}' http://127.0.0.1/api/health"
    )
    # The app echoes the X-Request-ID nginx passed it.
    assert f"x-request-id: {request_id}" in headers.lower()
    logged = host.check_output(f"grep -F 'request_id={request_id} ' /var/log/nginx/access.log")
    assert '"GET /api/health ' in logged


def test_gunicorn_master_and_computed_workers(
    host: Host, run_in_host: Callable[[str], str]
) -> None:
    facts = host.ansible("setup", "gather_subset=hardware")["ansible_facts"]
    expected = checklist.expected_workers(
        facts["ansible_processor_vcpus"], facts["ansible_memtotal_mb"]
    )
    result = checklist.check_gunicorn_processes(run_in_host, "webapp")
    assert result.passed, result.detail
    assert f"+ {expected} workers" in result.detail


def test_nginx_config_is_clean(run_in_host: Callable[[str], str]) -> None:
    assert checklist.check_nginx_config(run_in_host).passed


@pytest.mark.first_platform
def test_check_mode_on_a_converged_host_changes_nothing(host: Host) -> None:
    name = host.backend.get_hostname()
    result = run_playbook(SCENARIO / "converge.yml", name, "--check", "--diff")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    recap = re.search(rf"{re.escape(name)}\s*:\s*ok=\d+\s+changed=(\d+)", result.stdout)
    assert recap is not None, result.stdout[-2000:]
    assert recap.group(1) == "0", result.stdout[-4000:]


@pytest.mark.first_platform
def test_broken_directive_fails_the_run_and_the_old_config_keeps_serving(
    host: Host, fetch: checklist.Fetch
) -> None:
    name = host.backend.get_hostname()
    before = hashlib.sha256(host.file(SITE_CONFIG).content).hexdigest()
    result = run_playbook(SCENARIO / "broken_gateway.yml", name)
    assert result.returncode != 0, "a broken nginx directive must fail the run"
    output = result.stdout + result.stderr
    assert 'unknown directive "this_is_not_a_directive"' in output, output[-3000:]
    assert "nginx -t" in output, output[-3000:]
    assert hashlib.sha256(host.file(SITE_CONFIG).content).hexdigest() == before
    assert host.run("nginx -t").rc == 0
    assert checklist.check_index(fetch).passed
    assert checklist.check_page_api_call(fetch).passed


@pytest.mark.first_platform
def test_a_new_build_is_served_at_once_after_a_redeploy(host: Host, tmp_path: Path) -> None:
    """nginx keeps index.html open (open_file_cache); the redeploy must not leave the previous
    build served from that cache: the frontend role reloads nginx after changing the dist."""
    name = host.backend.get_hostname()
    dist = tmp_path / "dist"
    shutil.copytree(SCENARIO.parent.parent / "examples" / "app" / "frontend" / "dist", dist)
    index = dist / "index.html"
    index.write_text(index.read_text().replace("<head>", "<head><!-- rebuilt -->", 1))
    for _ in range(10):  # the current index.html, now in the cache of each nginx worker
        assert "rebuilt" not in host.check_output("curl -sf --max-time 10 http://127.0.0.1/")
    master = main_pid(host, "nginx.service")
    extra = json.dumps({"frontend_dist_src": str(dist)})
    result = run_playbook(SCENARIO / "converge.yml", name, "-e", extra)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert main_pid(host, "nginx.service") == master, "nginx was restarted, not reloaded"
    for path in ["/", "/dashboard"] * 5:
        page = host.check_output(f"curl -sf --max-time 10 http://127.0.0.1{path}")
        assert "<!-- rebuilt -->" in page, f"{path} still serves the previous build"
