"""Metrics, scraped for real after the scale-out tests (tests/test_scaleout.py): on the
gateway, nginx's stub_status read by prometheus-nginx-exporter (loopback) and the access log
read by mtail (the gateway's private address); on each app server, the app's own /metrics on
Gunicorn's private address (prometheus_client in multiprocess mode, gunicorn_metrics). Traffic
sent through the gateway moves the counters; a request held open makes a worker busy; none of
it is reachable through the public site, and the loopback ones not from another host."""

from __future__ import annotations

import re
import shlex

import pytest
from testinfra.host import Host

from tools.testing import network_address, scenario_host, serving_service, wait_until

APP_SERVERS = ("scaleout-app1", "scaleout-app2")
EXPORTER = "http://127.0.0.1:9113/metrics"
STUB_STATUS = "http://127.0.0.1:8079/stub_status"
HOLDER_PID = "/tmp/metrics-holder.pid"  # noqa: S108 - inside the test container


@pytest.fixture(scope="module")
def apps() -> dict[str, Host]:
    return {name: scenario_host(name) for name in APP_SERVERS}


def app_port(app: Host) -> int:
    """The port of the Gunicorn instance serving on an app server (blue 8000, green 8001):
    the app's /metrics is where that instance listens."""
    return 8001 if "@green" in serving_service(app, "webapp") else 8000


def scrape(host: Host, url: str) -> str:
    """One GET of a metrics page with curl inside `host`."""
    return str(host.check_output(f"curl -sf --max-time 5 {shlex.quote(url)}"))


def value(text: str, name: str, **labels: str) -> float:
    """The sum of the samples of metric `name` whose labels include `labels` (0 when none)."""
    total = 0.0
    for line in text.splitlines():
        match = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+)$", line)
        if match is None or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(3) or ""))
        if all(found.get(key) == wanted for key, wanted in labels.items()):
            total += float(match.group(4))
    return total


def status_code(host: Host, url: str) -> str:
    """curl's status code (000 when nothing answered) and exit status, from inside `host`."""
    result = host.run(
        f"curl -s -o /dev/null -w '%{{http_code}}' --max-time 3 {shlex.quote(url)}; echo \" $?\""
    )
    return str(result.stdout).strip()


def test_exporters_listen_where_they_are_told_only(host: Host) -> None:
    private = network_address(host)
    assert host.service("prometheus-nginx-exporter").is_running
    assert host.service("mtail").is_running
    assert host.socket("tcp://127.0.0.1:9113").is_listening
    assert host.socket("tcp://127.0.0.1:8079").is_listening
    assert host.socket(f"tcp://{private}:3903").is_listening
    for port in (9113, 8079, 3903):
        assert not host.socket(f"tcp://0.0.0.0:{port}").is_listening
        assert not host.socket(f"tcp://:::{port}").is_listening
    assert "Active connections:" in scrape(host, STUB_STATUS)
    # The Debian conffiles are untouched: the drop-ins set the listeners.
    assert 'ARGS=""' in host.file("/etc/default/prometheus-nginx-exporter").content_string


def test_traffic_moves_the_nginx_counters(host: Host) -> None:
    mtail = f"http://{network_address(host)}:3903/metrics"
    before_exporter = scrape(host, EXPORTER)
    before_mtail = scrape(host, mtail)
    assert value(before_exporter, "nginx_up") == 1, before_exporter
    host.check_output(
        "for i in $(seq 20); do curl -sf -o /dev/null --max-time 10 http://127.0.0.1/api/health; "
        "done; curl -sf -o /dev/null --max-time 10 'http://127.0.0.1/api/items?limit=1'; "
        "curl -s -o /dev/null --max-time 10 http://127.0.0.1/scenario-503"
    )

    def counted() -> bool:
        """mtail has read the 22 requests from the access log"""
        after = scrape(host, mtail)
        return (
            value(after, "nginx_gateway_requests_total", status="503")
            >= value(before_mtail, "nginx_gateway_requests_total", status="503") + 1
            and value(after, "nginx_gateway_requests_total", status="200")
            >= value(before_mtail, "nginx_gateway_requests_total", status="200") + 21
        )

    wait_until(counted, timeout_s=15, interval_s=0.5)
    after_exporter = scrape(host, EXPORTER)
    after_mtail = scrape(host, mtail)

    def delta(before: str, after: str, name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    requests = delta(before_exporter, after_exporter, "nginx_http_requests_total")
    ok = delta(before_mtail, after_mtail, "nginx_gateway_requests_total", status="200")
    errors = sum(
        delta(before_mtail, after_mtail, "nginx_gateway_requests_total", status=str(code))
        for code in range(500, 600)
    )
    upstream = delta(before_mtail, after_mtail, "nginx_gateway_upstream_seconds_count")
    upstream_sum = delta(before_mtail, after_mtail, "nginx_gateway_upstream_seconds_sum")
    timed = delta(before_mtail, after_mtail, "nginx_gateway_request_seconds_count")
    print(
        f"22 requests through the gateway: nginx_http_requests_total +{requests:.0f}, "
        f"nginx_gateway_requests_total 200 +{ok:.0f} and 5xx +{errors:.0f}, "
        f"upstream times +{upstream:.0f} (sum +{upstream_sum:.4f} s)"
    )
    # The exporter also counts the stub_status reads (its own scrapes).
    assert requests >= 22, (before_exporter, after_exporter)
    assert ok >= 21, after_mtail
    assert errors == 1, after_mtail
    assert upstream >= 21, after_mtail
    assert upstream_sum > 0, after_mtail
    assert timed >= 22, after_mtail


def test_the_app_metrics_count_requests_and_busy_workers(host: Host, apps: dict[str, Host]) -> None:
    urls = {
        name: f"http://{network_address(app)}:{app_port(app)}/metrics" for name, app in apps.items()
    }
    before = {name: scrape(host, url) for name, url in urls.items()}
    for name, text in before.items():
        workers = re.search(
            r"^workers = (\d+)$",
            apps[name].file("/etc/webapp/gunicorn.conf.py").content_string,
            re.M,
        )
        assert workers is not None
        assert value(text, "app_workers") == int(workers.group(1)), text
        assert value(text, "app_workers_busy") == 0, text
    host.check_output(
        "for i in $(seq 20); do "
        "curl -sf -o /dev/null --max-time 10 http://127.0.0.1/api/health; done"
    )
    after = {name: scrape(host, url) for name, url in urls.items()}
    answered = {
        name: value(after[name], "app_requests_total", status="200")
        - value(before[name], "app_requests_total", status="200")
        for name in urls
    }
    print(f"20 GETs of /api/health through the gateway, app_requests_total 200: {answered}")
    assert sum(answered.values()) >= 20, answered
    assert all(count >= 1 for count in answered.values()), answered

    # A request held open (its body never completes) keeps one worker of app1 busy.
    app1 = network_address(apps["scaleout-app1"])
    port = app_port(apps["scaleout-app1"])
    holder = (
        f"import socket, time; s = socket.create_connection(({app1!r}, {port})); "
        "s.sendall(b'POST /api/jobs HTTP/1.1\\r\\nHost: t\\r\\nContent-Type: application/json"
        "\\r\\nContent-Length: 100\\r\\n\\r\\n{'); time.sleep(20)"
    )
    host.check_output(
        f"setsid nohup timeout 30 python3 -c {shlex.quote(holder)} >/dev/null 2>&1 < /dev/null & "
        f"echo $! > {HOLDER_PID}"
    )
    try:

        def busy() -> bool:
            """app1 reports one busy worker and one request in progress"""
            text = scrape(host, urls["scaleout-app1"])
            return (
                value(text, "app_workers_busy") == 1
                and value(text, "app_requests_in_progress") == 1
            )

        waited = wait_until(busy, timeout_s=10, interval_s=0.5)
        print(f"a request held open on scaleout-app1: app_workers_busy 1 after {waited:.1f} s")
    finally:
        host.run(f"kill $(cat {HOLDER_PID})")

    def idle() -> bool:
        """app1 reports no busy worker once the client went away"""
        return value(scrape(host, urls["scaleout-app1"]), "app_workers_busy") == 0

    wait_until(idle, timeout_s=10, interval_s=0.5)


def test_metrics_are_not_public(host: Host, apps: dict[str, Host]) -> None:
    gateway = network_address(host)
    app1 = apps["scaleout-app1"]
    # Through the public site: the SPA's page, never a metrics page.
    for path in ("/metrics", "/stub_status", "/api/metrics"):
        page = host.run(f"curl -s --max-time 5 http://127.0.0.1{path}").stdout
        assert "app_requests_total" not in page, path
        assert "Active connections" not in page, path
        assert "nginx_" not in page, path
    # From another host of the network: the loopback listeners refuse (curl exit 7).
    for port in (9113, 8079):
        assert status_code(app1, f"http://{gateway}:{port}/") == "000 7", port
    # mtail on the private address answers the private network (where Prometheus scrapes).
    assert status_code(app1, f"http://{gateway}:3903/metrics") == "200 0"
