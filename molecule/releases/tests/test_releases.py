"""Releases end to end, in order: v1 (converge), v2 under load, a v3 whose health check
fails (rolled back automatically, under load), rollback.yml back one release and to a named
one, the listing, one bad artifact per check, then a back-end-only and a front-end-only
redeploy under load. A browser tab opened before v2's deploy, and one opened on v2 before the
rollback, still render the lazily loaded dashboard of their own build afterwards. The tests
share the host's state and run in file order, each starting from what the one before left."""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from testinfra.host import Host

from tools.testing import (
    DASHBOARD_ROWS,
    MIXED_LOAD,
    LoadLoop,
    assert_zero_downtime,
    backend_variant,
    dist_variant,
    failing_health_edit,
    main_pid,
    network_address,
    open_dashboard,
    rebuilt_dist,
    recap_changed,
    run_playbook,
    run_status,
    self_signed_pem,
    serving_service,
    systemd_exposure,
    tab_on_home,
)

SCENARIO = Path(__file__).resolve().parent.parent
ROOT = SCENARIO.parent.parent
PLAYBOOKS = ROOT / "playbooks"
BACKEND_FACT = "/etc/ansible/facts.d/python_uv_webapp.fact"
FRONTEND_FACT = "/etc/ansible/facts.d/frontend_var_www_webapp_dist.fact"


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("releases")
    made = {
        "v2-backend": backend_variant(base, "v2", {"app/items.py": ("", "# v2\n")}),
        # Built again: its lazily loaded dashboard chunk has another name than v1's.
        "v2-dist": rebuilt_dist(base, "v2"),
        "v3-backend": backend_variant(base, "v3", failing_health_edit("v3")),
        "v3-dist": dist_variant(base, "v3"),
        # A dependency added to pyproject.toml without running uv lock.
        "stale-lock": backend_variant(
            base, "stale", {"pyproject.toml": ('"fastapi>=0.115",', '"fastapi>=0.115", "rich",')}
        ),
        "no-import": backend_variant(
            base, "noimport", {"app/main.py": ("import logging\n", "import logging\nimport nope\n")}
        ),
        "no-index": dist_variant(base, "noindex", index=False),
        "inline-script": dist_variant(base, "inline"),
        "v4-backend": backend_variant(base, "v4", {"app/items.py": ("", "# v4\n")}),
    }
    inline = made["inline-script"] / "index.html"
    inline.write_text(
        inline.read_text().replace("</head>", "<script>document.title = 'x'</script></head>")
    )
    made["archive"] = tar_gz(made["v2-backend"], base / "backend.tar.gz")
    # The front end of v5 ships as an archive with its checksum, as a CI job would.
    made["v5-dist-archive"] = tar_gz(dist_variant(base, "v5"), base / "dist-v5.tar.gz")
    corrupt = base / "corrupt.tar.gz"
    corrupt.write_bytes(b"\x1f\x8b\x08\x00 this is not a gzip stream" * 50)
    made["corrupt"] = corrupt
    return made


def tar_gz(directory: Path, archive: Path) -> Path:
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(directory, arcname=".")
    return archive


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def facts(host: Host) -> tuple[dict[str, Any], dict[str, Any]]:
    backend = json.loads(host.file(BACKEND_FACT).content_string)
    frontend = json.loads(host.file(FRONTEND_FACT).content_string)
    return backend, frontend


def answering(host: Host) -> tuple[str, str]:
    """The release /api/health reports and the marker comment of the index.html served."""
    health = json.loads(host.check_output("curl -sf --max-time 10 http://127.0.0.1/api/health"))
    index = host.check_output("curl -sf --max-time 10 http://127.0.0.1/")
    marker = re.search(r"<head><!-- (\w+) -->", index)
    return str(health["release"]), marker.group(1) if marker else "v1"


def deploy(host: Host, *extra: str, playbook: Path = SCENARIO / "converge.yml") -> str:
    result = run_playbook(playbook, host.backend.get_hostname(), *extra)
    return f"rc={result.returncode}\n{result.stdout}{result.stderr}"


@pytest.fixture
def load(host: Host) -> Iterator[LoadLoop]:
    """The bounded load loop inside the container, stopped at the end of the test."""
    loop = LoadLoop(host)
    yield loop
    host.run(f"touch {LoadLoop.STOP}")


def deploy_under_load(
    host: Host, load: LoadLoop, paths: str, artifacts: dict[str, str], name: str
) -> tuple[str, dict[str, Any]]:
    """Deploy the given artifacts under the mixed load (GETs of paths, POSTs creating jobs, a
    reconnecting WebSocket); print what it sent."""
    load.start(paths, **MIXED_LOAD)
    output = deploy(host, "-e", json.dumps(artifacts))
    report: dict[str, Any] = load.stop()
    print(f"{name}: {report['sent']} requests sent, {report['failed']} failed {report}")
    return output, report


def serving(host: Host) -> tuple[str, str, int]:
    """The Gunicorn instance serving (its service and its socket unit) and its master's pid."""
    service = serving_service(host, "webapp")
    return service, service.removesuffix(".service") + ".socket", main_pid(host, service)


def bind_of(service: str) -> str:
    """Where an instance of the example app listens (the gunicorn_instances filter's rule)."""
    return (
        "unix:/run/webapp/gunicorn-green.sock"
        if "@green" in service
        else "unix:/run/webapp/gunicorn.sock"
    )


def refused_release(output: str) -> str:
    found = re.search(r"\(refused: back end ([^,)\s]+)", output)
    assert found, output[-4000:]
    return found.group(1)


def test_check_mode_on_the_converged_host_changes_nothing(host: Host) -> None:
    output = deploy(host, "--check", "--diff")
    assert output.startswith("rc=0"), output[-4000:]
    assert recap_changed(output, host) == 0, output[-4000:]


def test_v1_serves_from_its_release(host: Host) -> None:
    backend, frontend = facts(host)
    assert len(backend["releases"]) == 1
    assert backend["current"] == frontend["current"]
    release_dir = f"/opt/webapp/releases/{backend['current']}"
    assert host.file("/opt/webapp/current").linked_to == release_dir
    assert host.file("/var/www/webapp/dist").is_symlink
    manifest = backend["releases"][0]
    assert re.fullmatch(r"[0-9a-f]{64}", manifest["uv_lock_sha256"])
    assert re.fullmatch(r"[0-9a-f]{64}", frontend["releases"][0]["fingerprint"])
    assert manifest["good_at"], "v1 passed the health gate"
    assert manifest["deployed_by"]
    assert answering(host) == (backend["current"], "v1")


def test_status_of_the_healthy_host_passes_and_shows_what_serves(host: Host) -> None:
    backend, frontend = facts(host)
    # A second TLS server nginx would load, with a certificate valid for a day.
    certificate, key = self_signed_pem("status.test")
    tls_conf = "/etc/nginx/conf.d/zz-status-tls.conf"
    pem = "/etc/nginx/zz-status-test.pem"
    host.run_expect([0], f"printf %s {shlex.quote(certificate + key)} > {pem}")
    server = (
        f"server {{ listen 127.0.0.1:8443 ssl; ssl_certificate {pem}; ssl_certificate_key {pem}; }}"
    )
    host.run_expect([0], f"echo {shlex.quote(server)} > {tls_conf}")
    try:
        rc, table, output = run_status(
            host.backend.get_hostname(), "-e", '{"deploy_status_certificate_days": 0}'
        )
    finally:
        host.run_expect([0], f"rm -f {tls_conf} {pem}")
    assert rc == 0, output[-4000:]
    print(table)
    row = next(line for line in table.splitlines() if line.startswith(host.backend.get_hostname()))
    assert re.search(
        rf"\s{backend['current']} good \[1, [0-9.]+ MB\]\s+{frontend['current']} good \[1, ", row
    ), row
    assert re.search(r"\s3/3 ok\s+3 active, 0 restarts\s+ok\s+0 days\s+0 tasks\s+-$", row), row
    assert table.endswith("no problem found")
    assert recap_changed(output, host) == 0, output[-4000:]
    assert not host.file("/run/lock/fullstack.webapp-deploy.json").exists


def test_status_of_a_broken_host_fails_naming_the_unit_and_nginx(host: Host) -> None:
    broken_conf = "/etc/nginx/conf.d/zz-status-test.conf"
    service, socket, _ = serving(host)
    host.run_expect([0], f"systemctl stop {socket} {service}")
    host.run_expect([0], f"echo 'bogus_directive on;' > {broken_conf}")
    try:
        rc, table, output = run_status(host.backend.get_hostname())
    finally:
        host.run_expect([0], f"rm -f {broken_conf}")
        host.run_expect([0], f"systemctl start {socket}")
    print(table)
    assert rc == 2, output[-4000:]
    name = host.backend.get_hostname()
    problems = [
        line.removeprefix(f"{name}: ")
        for line in table.splitlines()
        if line.startswith(f"{name}: ")
    ]
    assert f"unit {socket} is inactive (dead)" in problems, table
    assert any(p.startswith(f"check 'Gunicorn on {bind_of(service)}' of ") for p in problems), table
    assert any(
        p.startswith("nginx -t failed: ") and 'unknown directive "bogus_directive"' in p
        for p in problems
    ), table
    drift = next(p for p in problems if p.startswith("a deploy would change "))
    assert drift.endswith(
        "1 task: fullstack.webapp.gunicorn : Enable and start the socket and the service"
    ), drift
    assert "fatal: [" in output
    assert f"unit {socket} is inactive (dead)" in output
    assert json.loads(host.check_output("curl -sf --max-time 10 http://127.0.0.1/api/health"))[
        "release"
    ]


def test_v2_deploys_under_load_without_a_failed_request(
    host: Host, artifacts: dict[str, Path], load: LoadLoop
) -> None:
    before, _ = facts(host)
    old_service, _, pid = serving(host)
    with tab_on_home(network_address(host)) as tab_on_v1:
        output, report = deploy_under_load(
            host,
            load,
            "/api/health,/,/api/items?limit=1",
            {
                "python_uv_app_src": str(artifacts["v2-backend"]),
                "frontend_dist_src": str(artifacts["v2-dist"]),
            },
            "v2 deploy",
        )
        assert output.startswith("rc=0"), output[-6000:]
        # The tab still holds v1's index.html: its dashboard chunk, which v2 does not have,
        # comes from the kept releases' assets.
        v1_chunk = open_dashboard(tab_on_v1)
        assert tab_on_v1.page.locator("section[data-build]").count() == 0
    assert not host.file(f"/var/www/webapp/dist/assets/{v1_chunk}").exists
    with tab_on_home(network_address(host)) as tab_on_v2:
        assert open_dashboard(tab_on_v2) != v1_chunk
        assert tab_on_v2.page.locator("section[data-build='v2']").count() == 1
    assert output.startswith("rc=0"), output[-6000:]
    backend, frontend = facts(host)
    assert backend["current"] != before["current"]
    assert frontend["current"] == backend["current"]
    # The other instance serves v2; the one that served v1 was stopped.
    service, _, new_pid = serving(host)
    assert service != old_service
    assert new_pid != pid
    assert not host.service(old_service).is_running
    assert_zero_downtime([host], "v2 (back end and front end)", report)
    assert set(report["releases"]) <= {before["current"], backend["current"]}, report
    for _ in range(20):
        assert answering(host) == (backend["current"], "v2")


def test_both_instances_share_the_hardening_and_the_socket_permissions(host: Host) -> None:
    """After v2 the other instance serves: the same sandbox and a socket of the same owner and
    mode as the first one's, and only the serving instance starts at boot."""
    service, socket, _ = serving(host)
    exposure, report = systemd_exposure(host, service)
    print(f"systemd-analyze security {service}: {exposure}")
    assert exposure <= 2.5, report[-3000:]
    path = bind_of(service).removeprefix("unix:")
    assert host.file(path).is_socket
    assert (host.file(path).user, host.file(path).group, host.file(path).mode) == (
        "root",
        "www-data",
        0o660,
    )
    idle = service.replace("@blue", "@other").replace("@green", "@blue").replace("@other", "@green")
    assert host.service(service).is_enabled
    assert host.service(socket).is_enabled
    assert not host.service(idle).is_enabled
    assert not host.service(idle).is_running
    assert host.file("/etc/webapp/serving-instance").content_string.strip() in service


def test_v3_fails_its_health_check_and_v2_is_put_back(
    host: Host, artifacts: dict[str, Path], load: LoadLoop
) -> None:
    v2, _ = facts(host)
    service, _, pid = serving(host)
    output, report = deploy_under_load(
        host,
        load,
        "/,/api/items?limit=1",
        {
            "python_uv_app_src": str(artifacts["v3-backend"]),
            "frontend_dist_src": str(artifacts["v3-dist"]),
        },
        "v3 deploy (rolled back)",
    )
    assert output.startswith("rc=2"), output[-6000:]
    # v3 ran in the idle instance, checked on its own socket before the switch.
    idle = service.replace("@blue", "@other").replace("@green", "@blue").replace("@other", "@green")
    failure = (
        f"health gate failed: Gunicorn on {bind_of(idle)} ({idle}, before the switch): "
        "GET /api/health answered 500"
    )
    assert failure in output, output[-6000:]
    assert "RuntimeError: v3" in output, "the gate's message shows the app's error from the journal"
    assert f"serving now: back end {v2['current']}, front end {v2['current']}" in output
    backend, frontend = facts(host)
    assert (backend["current"], frontend["current"]) == (v2["current"], v2["current"])
    # The refused v3 is removed: a rollback never picks it.
    assert [m["release"] for m in backend["releases"]] == [m["release"] for m in v2["releases"]]
    # v2's instance never stopped, and no request reached v3.
    assert serving(host) == (service, service.removesuffix(".service") + ".socket", pid)
    assert not host.service(idle).is_running
    assert_zero_downtime([host], "v3 refused", report, refused_release(output))
    assert answering(host) == (v2["current"], "v2")


def test_rollback_goes_back_one_release_under_load(host: Host, load: LoadLoop) -> None:
    backend, _ = facts(host)
    v1 = backend["releases"][0]["release"]
    with tab_on_home(network_address(host)) as tab_on_v2:
        load.start("/api/health,/,/api/items?limit=1", **MIXED_LOAD)
        output = deploy(host, playbook=PLAYBOOKS / "rollback.yml")
        report = load.stop()
        assert output.startswith("rc=0"), output[-6000:]
        # Back on v1, a tab opened on v2 still renders v2's dashboard.
        open_dashboard(tab_on_v2)
        assert tab_on_v2.page.locator("section[data-build='v2']").count() == 1
    print(f"rollback.yml to v1: {report['sent']} requests sent, {report['failed']} failed")
    assert output.startswith("rc=0"), output[-6000:]
    assert_zero_downtime([host], "rollback to v1", report)
    assert facts(host)[0]["current"] == v1
    assert answering(host) == (v1, "v1")


def test_rollback_to_a_named_release_and_the_listing(host: Host) -> None:
    backend, _ = facts(host)
    v2 = backend["releases"][1]["release"]
    output = deploy(
        host, "-e", f"deploy_rollback_release={v2}", playbook=PLAYBOOKS / "rollback.yml"
    )
    assert output.startswith("rc=0"), output[-6000:]
    assert answering(host) == (v2, "v2")
    listing = deploy(host, playbook=PLAYBOOKS / "releases.yml")
    assert listing.startswith("rc=0"), listing[-3000:]
    assert f"* {v2}" in listing, listing[-3000:]
    for manifest in backend["releases"]:
        assert manifest["release"] in listing


def test_the_browser_check_and_the_csp_reports_refuse_what_a_browser_would_see(
    host: Host, artifacts: dict[str, Path]
) -> None:
    """deploy_browser_check loads / and /dashboard in Chromium on the controller during the
    gate; deploy_csp_reports_max counts the reports of a report-only policy."""
    backend, frontend = facts(host)
    browser = {
        "deploy_browser_check": True,
        "deploy_browser_check_url": f"http://{network_address(host)}",
        "deploy_browser_check_paths": ["/", "/dashboard"],
        "deploy_browser_check_wait_for": {"/dashboard": DASHBOARD_ROWS},
    }
    # A policy the app breaks, report-only: nothing is blocked, but the gate counts the reports.
    strict = {"nginx_gateway_content_security_policy_report_only": "default-src 'none'"}
    output = deploy(host, "-e", json.dumps({**browser, **strict, "deploy_csp_reports_max": 0}))
    assert output.startswith("rc=2"), output[-6000:]
    assert "Content Security Policy violation reports" in output, output[-6000:]
    assert "more than deploy_csp_reports_max (0)" in output, output[-6000:]
    # A front end whose inline script the policy blocks: refused, the last good one put back.
    output = deploy(
        host,
        "-e",
        json.dumps({**browser, "frontend_dist_src": str(artifacts["inline-script"])}),
    )
    assert output.startswith("rc=2"), output[-6000:]
    assert "health gate failed: browser check" in output, output[-6000:]
    assert "CSP violation: script-src-elem blocked inline" in output, output[-6000:]
    assert facts(host)[1]["current"] == frontend["current"]
    assert answering(host) == (backend["current"], "v2")
    headers = host.check_output("curl -sI --max-time 10 http://127.0.0.1/").lower()
    assert "content-security-policy-report-only" not in headers, headers


def serving_state(host: Host) -> str:
    return str(
        host.check_output(
            "readlink /opt/webapp/current /var/www/webapp/dist; ls /opt/webapp/releases "
            "/var/www/webapp/releases; "
            "systemctl show -p Id -p MainPID 'webapp@*.service' nginx.service"
        )
    )


@pytest.mark.parametrize(
    ("case", "check"),
    [
        ("checksum", "check 'archive checksum' failed"),
        ("corrupt", "check 'the source unpacks' failed"),
        ("no-index", "check 'index.html' failed"),
        ("dist-checksum", "check 'archive checksum' failed: frontend_dist_src"),
        ("dist-corrupt", "check 'archive unpacks' failed: frontend_dist_src"),
        ("stale-lock", "check 'uv sync --locked succeeds"),
        ("no-import", "check 'the application imports as its user, in the service's sandbox'"),
    ],
)
def test_a_bad_artifact_stops_the_run_and_leaves_the_serving_release(
    host: Host, artifacts: dict[str, Path], case: str, check: str
) -> None:
    # The other side is what serves (v2), so only the bad artifact differs.
    serving_artifacts = {
        "python_uv_app_src": str(artifacts["v2-backend"]),
        "frontend_dist_src": str(artifacts["v2-dist"]),
    }
    extra: dict[str, str] = (
        serving_artifacts
        | {
            "checksum": {
                "python_uv_app_src": str(artifacts["archive"]),
                "python_uv_app_src_sha256": "0" * 64,
            },
            "corrupt": {"python_uv_app_src": str(artifacts["corrupt"])},
            "no-index": {"frontend_dist_src": str(artifacts["no-index"])},
            "dist-checksum": {
                "frontend_dist_src": str(artifacts["v5-dist-archive"]),
                "frontend_dist_src_sha256": "0" * 64,
            },
            "dist-corrupt": {"frontend_dist_src": str(artifacts["corrupt"])},
            "stale-lock": {"python_uv_app_src": str(artifacts["stale-lock"])},
            "no-import": {"python_uv_app_src": str(artifacts["no-import"])},
        }[case]
    )
    assert answering(host)[1] == "v2"
    before = serving_state(host)
    serving = answering(host)
    output = deploy(host, "-e", json.dumps(extra))
    print(f"{case}: {re.findall(r'check .[^;]*', output)[:1]}")
    assert not output.startswith("rc=0"), output[-4000:]
    assert check in output, output[-6000:]
    assert "is untouched" in output or "othing on the host was changed" in output
    assert serving_state(host) == before
    assert answering(host) == serving


def test_a_back_end_only_redeploy_under_load_fails_no_request(
    host: Host, artifacts: dict[str, Path], load: LoadLoop
) -> None:
    backend_before, frontend_before = facts(host)
    _, _, pid = serving(host)
    output, report = deploy_under_load(
        host,
        load,
        "/api/health,/,/api/items?limit=1",
        {
            "python_uv_app_src": str(artifacts["v4-backend"]),
            "frontend_dist_src": str(artifacts["v2-dist"]),
        },
        "back-end-only redeploy (v4)",
    )
    assert output.startswith("rc=0"), output[-6000:]
    backend, frontend = facts(host)
    assert backend["current"] != backend_before["current"]
    assert frontend == frontend_before, "the front end was not to move"
    assert serving(host)[2] != pid
    assert_zero_downtime([host], "back end only (v4)", report)
    for _ in range(20):
        assert answering(host) == (backend["current"], "v2")


def test_a_front_end_only_redeploy_under_load_fails_no_request(
    host: Host, artifacts: dict[str, Path], load: LoadLoop
) -> None:
    backend_before, frontend_before = facts(host)
    _, _, pid = serving(host)
    archive = artifacts["v5-dist-archive"]
    output, report = deploy_under_load(
        host,
        load,
        "/,/dashboard,/api/health",
        {
            "python_uv_app_src": str(artifacts["v4-backend"]),
            "frontend_dist_src": str(archive),
            "frontend_dist_src_sha256": sha256(archive),
        },
        "front-end-only redeploy (v5, an archive with its checksum)",
    )
    assert output.startswith("rc=0"), output[-6000:]
    backend, frontend = facts(host)
    assert backend == backend_before, "the back end was not to move"
    assert frontend["current"] != frontend_before["current"]
    assert frontend["releases"][-1]["archive_sha256"] == sha256(archive)
    assert serving(host)[2] == pid, "Gunicorn was restarted for a front-end change"
    assert_zero_downtime([host], "front end only (v5)", report)
    for _ in range(20):
        assert answering(host) == (backend["current"], "v5")
