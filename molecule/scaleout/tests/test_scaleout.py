"""Scale out, in order: the topology converge left (one gateway, two app servers on TCP),
requests spread over both app servers, a rolling deploy of v2 under load through the gateway
(a browser tab opened before it still renders its own build's lazily loaded route after it),
then one app server stopped under load and started again. The tests run against the gateway
(the verifier's only host) and reach the app servers with tools.testing.scenario_host; they
share the hosts' state and run in file order."""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from testinfra.host import Host

from tools.testing import (
    MIXED_LOAD,
    LoadLoop,
    assert_zero_downtime,
    backend_variant,
    failing_health_edit,
    main_pid,
    network_address,
    open_dashboard,
    rebuilt_dist,
    run_playbook,
    run_status,
    scenario_host,
    serving_service,
    tab_on_home,
    wait_until,
)

SCENARIO = Path(__file__).resolve().parent.parent
ROOT = SCENARIO.parent.parent
APP_SERVERS = ("scaleout-app1", "scaleout-app2")
BACKEND_FACT = "/etc/ansible/facts.d/python_uv_webapp.fact"
FRONTEND_FACT = "/etc/ansible/facts.d/frontend_var_www_webapp_dist.fact"
SITE = "/etc/nginx/sites-available/webapp.conf"
PATHS = "/api/health,/,/api/items?limit=1"


@pytest.fixture(scope="module")
def apps() -> dict[str, Host]:
    return {name: scenario_host(name) for name in APP_SERVERS}


def serving(app: Host) -> tuple[str, int]:
    """The Gunicorn instance serving on an app server and its port (blue on deploy_app_port,
    8000 here; green on the next)."""
    service = serving_service(app, "webapp")
    return service, 8001 if "@green" in service else 8000


def current(host: Host, fact: str) -> str:
    return str(json.loads(host.file(fact).content_string)["current"])


def health_hosts(host: Host, requests: int) -> Counter[str]:
    """Which app server answered each of `requests` GETs of /api/health through the gateway."""
    out = host.check_output(
        f"for i in $(seq {requests}); do "
        "curl -sf --max-time 10 http://127.0.0.1/api/health; echo; done"
    )
    return Counter(json.loads(line)["hostname"] for line in out.splitlines() if line.strip())


def test_gateway_balances_over_both_app_servers_on_tcp(host: Host, apps: dict[str, Host]) -> None:
    site = host.file(SITE).content_string
    targets = [f"{network_address(app)}:{serving(app)[1]}" for app in apps.values()]
    upstream = re.search(r"upstream webapp \{(.*?)\}", site, re.S)
    assert upstream is not None, site
    for target in targets:
        assert f"server {target} max_fails=1 fail_timeout=10s;" in upstream.group(1), site
    assert "keepalive 32;" in upstream.group(1)
    assert " down" not in upstream.group(1)
    assert host.service("nginx").is_running
    assert not host.file("/etc/systemd/system/webapp.service").exists
    for app, target in zip(apps.values(), targets, strict=True):
        assert app.socket(f"tcp://{target}").is_listening
        assert not app.socket("tcp://127.0.0.1:8000").is_listening
        assert app.service(serving(app)[0]).is_running
        assert not app.package("nginx").is_installed
        # The gateway's address is trusted for X-Forwarded-*.
        config = app.file("/etc/webapp/gunicorn.conf.py").content_string
        assert f'forwarded_allow_ips = "{network_address(host)}"' in config, config


def test_requests_through_the_gateway_reach_both_app_servers(host: Host) -> None:
    counts = health_hosts(host, 40)
    print(f"40 GETs of /api/health through the gateway answered by: {dict(counts)}")
    assert set(counts) == set(APP_SERVERS), counts
    assert min(counts.values()) >= 10, counts


def unique(name: str) -> str:
    """A name of its own on every run of the tests (verify may run again on the same hosts),
    so each deploy makes new releases."""
    return f"{name}-{time.time_ns()}"


def new_backend(base: Path, name: str, broken_health: bool = False) -> Path:
    edit = {"app/items.py": ("", f"# {unique(name)}\n")}
    if broken_health:
        edit.update(failing_health_edit(name))
    return backend_variant(base, name, edit)


def deploy_under_load(
    host: Host, what: str, playbook: Path, **variables: str
) -> tuple[int, str, dict[str, Any]]:
    """Run `playbook` over the whole topology while a load loop on the gateway sends requests;
    the exit status, the output and the load loop's report, printed with `what`."""
    extra = ["-e", json.dumps(variables)] if variables else []
    load = LoadLoop(host)
    load.start(PATHS, **MIXED_LOAD)
    started = time.monotonic()
    try:
        result = run_playbook(playbook, "all", *extra)
    finally:
        report: dict[str, Any] = load.stop()
    print(
        f"{what} ({time.monotonic() - started:.0f} s): {report['sent']} requests sent, "
        f"{report['failed']} failed; answered by {report['hosts']}; releases {report['releases']}"
    )
    return result.returncode, result.stdout + result.stderr, report


def test_rolling_deploy_under_load_fails_no_request(
    host: Host, apps: dict[str, Host], tmp_path: Path
) -> None:
    before = {name: current(app, BACKEND_FACT) for name, app in apps.items()}
    ran_before = {name: pre_switch_runs(app) for name, app in apps.items()}
    v2 = unique("v2")
    with tab_on_home(network_address(host)) as tab_on_v1:
        returncode, output, report = deploy_under_load(
            host,
            "rolling deploy of v2",
            SCENARIO / "converge.yml",
            python_uv_app_src=str(new_backend(tmp_path, "v2")),
            frontend_dist_src=str(rebuilt_dist(tmp_path, v2)),
        )
        assert returncode == 0, output[-6000:]
        # A tab opened before the deploy renders its own build's lazily loaded dashboard.
        v1_chunk = open_dashboard(tab_on_v1)
        assert tab_on_v1.page.locator(f"section[data-build='{v2}']").count() == 0
    assert not host.file(f"/var/www/webapp/dist/assets/{v1_chunk}").exists
    with tab_on_home(network_address(host)) as tab_on_v2:
        assert open_dashboard(tab_on_v2) != v1_chunk
    after = {name: current(app, BACKEND_FACT) for name, app in apps.items()}
    for name in apps:
        assert after[name] != before[name]
    assert_taken_out_one_at_a_time(output)
    # python_uv_pre_switch_commands: once per deploy, on the first app server only.
    assert ran_before["scaleout-app1"] >= 1, "the converge ran them"
    assert {name: pre_switch_runs(app) for name, app in apps.items()} == {
        "scaleout-app1": ran_before["scaleout-app1"] + 1,
        "scaleout-app2": 0,
    }
    assert len(set(after.values())) == 1
    assert current(host, FRONTEND_FACT) == next(iter(after.values()))
    assert " down" not in host.file(SITE).content_string
    assert_zero_downtime(apps.values(), "rolling deploy over two app servers", report)
    assert set(report["hosts"]) == set(APP_SERVERS), report
    assert set(report["releases"]) <= set(before.values()) | set(after.values()), report
    assert "<!-- v2-" in host.check_output("curl -sf http://127.0.0.1/")


def pre_switch_runs(app: Host) -> int:
    """How many times the scenario's pre-switch command ran on an app server."""
    return len(app.run("cat /var/lib/webapp/pre-switch.log").stdout.split())


def assert_taken_out_one_at_a_time(output: str) -> None:
    """One batch per app server (deploy_serial 1): each one's new instance started and checked,
    the gateway moved to it, then its old instance stopped, before the next one starts."""
    steps = re.findall(
        r"\[(scaleout-app\d)\] => \{\s*\"msg\": \"\d+ MiB free for \d+ more workers"
        r"|TASK \[[^\]\n]*?(Move the gateways to the new instances)"
        r"|\[(scaleout-app\d)\] => \{\s*\"msg\": \"webapp@\w+\.service stopped after",
        output,
    )
    events = [
        f"{started} starts its new instance" if started else moved or f"{stopped} stops its old one"
        for started, moved, stopped in steps
    ]
    assert events == [
        "scaleout-app1 starts its new instance",
        "Move the gateways to the new instances",
        "scaleout-app1 stops its old one",
        "scaleout-app2 starts its new instance",
        "Move the gateways to the new instances",
        "scaleout-app2 stops its old one",
    ], output[-6000:]


def test_a_failing_batch_stops_the_rollout_under_load(
    host: Host, apps: dict[str, Host], tmp_path: Path
) -> None:
    """v3's /api/health fails on the first app server's new instance, before the gateway
    moves to it: that instance is stopped, the second app server is never touched, the
    gateway keeps its upstream and its front end; no request fails or reaches v3."""
    before = {name: current(app, BACKEND_FACT) for name, app in apps.items()}
    frontend = current(host, FRONTEND_FACT)
    returncode, output, report = deploy_under_load(
        host,
        "v3 refused by the first batch",
        SCENARIO / "converge.yml",
        python_uv_app_src=str(new_backend(tmp_path, "v3", True)),
    )
    assert returncode != 0, output[-6000:]
    failed = re.findall(r"fatal: \[(scaleout-app\d)\]", output)
    assert set(failed) == {"scaleout-app1"}, output[-6000:]
    site = host.file(SITE).content_string
    assert re.search(
        r"health gate failed: Gunicorn on [0-9.]+:800[01] \(webapp@\w+\.service, before the "
        r"switch\): GET /api/health answered 500",
        output,
    ), output[-6000:]
    assert f"put back and serving now: back end {before['scaleout-app1']}" in output
    assert "RuntimeError: v3" in output, "the app's error from the journal"
    refused = re.search(r"\(refused: back end ([^,)\s]+)", output)
    assert refused, output[-6000:]
    for untouched in ("scaleout-app2", "scaleout-gw1"):
        stopped = f"the rollout stopped after scaleout-app1 failed: {untouched} is left as it is"
        assert stopped in output, output[-6000:]
    assert {name: current(app, BACKEND_FACT) for name, app in apps.items()} == before
    assert current(host, FRONTEND_FACT) == frontend
    assert host.file(SITE).content_string == site, "the gateway's upstream never moved"
    assert_zero_downtime(apps.values(), "v3 refused by the first app server", report, refused[1])
    assert set(health_hosts(host, 10)) == set(APP_SERVERS)


def test_an_app_server_stopped_under_load_then_started_again(
    host: Host, apps: dict[str, Host]
) -> None:
    lost = apps["scaleout-app2"]
    service, port = serving(lost)
    units = f"{service.removesuffix('.service')}.socket {service}"
    host.check_output("truncate -s 0 /var/log/nginx/error.log")
    load = LoadLoop(host)
    try:
        # Under load, the app server goes away (its listening socket closed: refused at once).
        load.start(PATHS)
        lost.check_output(f"systemctl stop {units}")
        time.sleep(6)
        losing: dict[str, Any] = load.stop()
        # While it is down, everything goes to the other one.
        load.start(PATHS)
        time.sleep(5)
        down: dict[str, Any] = load.stop()
    finally:
        lost.check_output(f"systemctl start {units}")
    print(
        f"scaleout-app2 stopped under load: {losing['sent']} requests sent, "
        f"{losing['failed']} failed; answered by {losing['hosts']}"
    )
    print(
        f"scaleout-app2 down: {down['sent']} requests sent, {down['failed']} failed; "
        f"answered by {down['hosts']}"
    )
    errors = host.file("/var/log/nginx/error.log").content_string
    upstream = re.escape(f"http://{network_address(lost)}:{port}/")
    refused = re.findall(rf"connect\(\) failed .* upstream: \"{upstream}", errors)
    print(f"nginx's error log: {len(refused)} failed connections to scaleout-app2 in 11 s")
    # Marked failed: each nginx worker (one per CPU here; no shared zone) tries it again once
    # per fail_timeout (10 s), not on every request.
    assert 1 <= len(refused) <= 6, errors[-3000:]
    for report in (losing, down):
        assert report["failed"] == 0, report
        assert report["sent"] > 50, report
    assert set(down["hosts"]) == {"scaleout-app1"}, down

    # Started again (above): nginx tries it again after fail_timeout (10 s).
    waited = wait_until(
        lambda: "scaleout-app2" in health_hosts(host, 4), timeout_s=30, interval_s=1
    )
    load.start(PATHS)
    time.sleep(5)
    back: dict[str, Any] = load.stop()
    print(
        f"scaleout-app2 started again (back in the gateway's rotation after {waited:.1f} s): "
        f"{back['sent']} requests sent, {back['failed']} failed; answered by {back['hosts']}"
    )
    assert back["failed"] == 0, back
    assert set(back["hosts"]) == set(APP_SERVERS), back


def test_rollback_rolls_back_over_the_app_servers_then_the_gateway(
    host: Host, apps: dict[str, Host]
) -> None:
    """playbooks/rollback.yml on the whole topology, under load: each app server goes back one
    release out of the gateway's upstream, then the gateway's front end, behind the gate."""
    serving = {name: current(app, BACKEND_FACT) for name, app in apps.items()}
    releases = json.loads(apps["scaleout-app1"].file(BACKEND_FACT).content_string)["releases"]
    order = [m["release"] for m in releases]
    previous = order[order.index(serving["scaleout-app1"]) - 1]
    returncode, output, report = deploy_under_load(
        host, "rollback.yml over the topology", ROOT / "playbooks" / "rollback.yml"
    )
    assert returncode == 0, output[-6000:]
    assert_taken_out_one_at_a_time(output)
    assert {name: current(app, BACKEND_FACT) for name, app in apps.items()} == {
        name: previous for name in apps
    }
    assert current(host, FRONTEND_FACT) == previous
    assert " down" not in host.file(SITE).content_string
    assert_zero_downtime(apps.values(), "rollback over two app servers", report)
    assert set(report["hosts"]) == set(APP_SERVERS), report


# Without status.yml's check-mode pass: after a rollback a deploy would rightly change things.
STATUS_WITHOUT_DRIFT = ("-e", '{"deploy_status_drift": false}')


def test_status_over_the_topology_and_hosts_that_disagree(
    host: Host, apps: dict[str, Host]
) -> None:
    """status.yml: one row per host, each with the side it serves; then app2's back end
    switched by hand to another release: every host fails naming the disagreement."""
    serving = current(apps["scaleout-app1"], BACKEND_FACT)
    rc, table, output = run_status("all", *STATUS_WITHOUT_DRIFT)
    print(table)
    assert rc == 0, output[-4000:]
    rows = {line.split()[0]: line for line in table.split("\n\n")[0].splitlines()[1:]}
    assert set(rows) == {"scaleout-gw1", *APP_SERVERS}, table
    for name in APP_SERVERS:
        # The back end only, its checks straight to Gunicorn all passing.
        assert re.match(
            rf"{name}\s+{serving} good \[\d+, [0-9.]+ MB\]\s+-\s+(\d+)/\1 ok", rows[name]
        )
    # The front end only, its checks through nginx passing, and nginx -t.
    assert re.match(
        r"scaleout-gw1\s+-\s+\S+ good \[\d+, .*\s(\d+)/\1 ok\s.*\sok\s", rows["scaleout-gw1"]
    )
    assert table.endswith("no problem found")

    app2 = apps["scaleout-app2"]
    releases = json.loads(app2.file(BACKEND_FACT).content_string)["releases"]
    other = next(m["release"] for m in releases if m["release"] != serving)
    app2.run_expect([0], f"ln -sfn releases/{other} /opt/webapp/current")
    try:
        rc, table, output = run_status("all", *STATUS_WITHOUT_DRIFT)
    finally:
        app2.run_expect([0], f"ln -sfn releases/{serving} /opt/webapp/current")
    print(table)
    assert rc == 2, output[-4000:]
    disagreement = (
        f"the hosts serve different back end releases: scaleout-app1 {serving}, "
        f"scaleout-app2 {other}"
    )
    for name in ("scaleout-gw1", *APP_SERVERS):
        assert f"{name}: {disagreement}" in table, table
    assert re.search(r"fatal: \[scaleout-gw1\]", output), output[-4000:]


def test_app_servers_without_their_gateway_are_refused(host: Host, apps: dict[str, Host]) -> None:
    """--limit to an app server: its new instance would listen where the gateway, left out,
    never moves; the run stops before any change."""
    before = {name: (current(app, BACKEND_FACT), serving(app)) for name, app in apps.items()}
    result = run_playbook(SCENARIO / "converge.yml", "scaleout-app1")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-4000:]
    assert "the gateways scaleout-gw1 are not in this run (--limit)" in output, output[-4000:]
    assert "Nothing was changed." in output
    assert {
        name: (current(app, BACKEND_FACT), serving(app)) for name, app in apps.items()
    } == before


def test_a_run_without_one_app_server_keeps_it_where_it_serves(
    host: Host, apps: dict[str, Host], tmp_path: Path
) -> None:
    """--limit the gateway and app1: app2, outside the run, stays in the gateway's upstream
    on the port of the instance it serves (found by asking its green port), and answers."""
    left_out = apps["scaleout-app2"]
    # After the rollback app2 serves from green (8001): the port the gateway must keep.
    assert serving(left_out)[1] == 8001
    member = f"server {network_address(left_out)}:{serving(left_out)[1]} "
    assert member in host.file(SITE).content_string
    result = run_playbook(
        SCENARIO / "converge.yml",
        "scaleout-gw1,scaleout-app1",
        "-e",
        json.dumps({"python_uv_app_src": str(new_backend(tmp_path, "v5"))}),
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert member in host.file(SITE).content_string, host.file(SITE).content_string
    assert set(health_hosts(host, 20)) == set(APP_SERVERS)


def test_rolling_deploy_without_releases_under_load(
    host: Host, apps: dict[str, Host], tmp_path: Path
) -> None:
    """The same rolling deploy with the code replaced in place (deploy_releases off on the
    app servers, in their host variables): each app server's new instance runs the new code,
    is checked, then served. The gateway keeps its releases, and its front end does not
    change."""
    pids = {name: main_pid(app, serving(app)[0]) for name, app in apps.items()}
    host_vars = Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent / "host_vars"
    host_vars.mkdir(exist_ok=True)
    for name in APP_SERVERS:
        (host_vars / f"{name}.yml").write_text("deploy_releases: false\n")
    try:
        returncode, output, report = deploy_under_load(
            host,
            "rolling deploy of v4 in place",
            SCENARIO / "converge.yml",
            python_uv_app_src=str(new_backend(tmp_path, "v4")),
        )
    finally:
        for name in APP_SERVERS:
            (host_vars / f"{name}.yml").unlink()
    assert returncode == 0, output[-6000:]
    assert_taken_out_one_at_a_time(output)
    for name, app in apps.items():
        assert main_pid(app, serving(app)[0]) != pids[name]
        assert "# v4-" in app.file("/opt/webapp/app/app/items.py").content_string
    assert " down" not in host.file(SITE).content_string
    assert_zero_downtime(apps.values(), "rolling deploy in place (no releases)", report)
    assert set(report["hosts"]) == set(APP_SERVERS), report
