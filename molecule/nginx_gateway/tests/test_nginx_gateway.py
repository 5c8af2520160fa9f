"""fullstack.webapp.nginx_gateway alone: the SPA, the API and the nginx traps, inside each
container (curl against 127.0.0.1): over HTTP on the HTTP hosts, over HTTPS on the "tls"
hosts (whose HTTP port only redirects; tests/test_nginx_gateway_tls.py)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from testinfra.host import Host

from tools import checklist
from tools.testing import csp_problems, nginx_configuration, parse_http, run_playbook, wait_until

SCENARIO = Path(__file__).resolve().parent.parent
SITE_AVAILABLE = "/etc/nginx/sites-available/webapp.conf"
SITE_ENABLED = "/etc/nginx/sites-enabled/webapp.conf"
HEADERS_SNIPPET = "/etc/nginx/snippets/webapp-headers.conf"
HTTP_CONF = "/etc/nginx/conf.d/webapp-http.conf"
ACCESS_LOG = "/var/log/nginx/access.log"
INDEX_MARKER = "nginx-gateway-fixture-index"
ASSET = "/assets/app-abc123.js"
ASSET_MARKER = "nginx-gateway-fixture-asset"
SHARED_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "x-frame-options": "SAMEORIGIN",
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
        "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'"
    ),
}
# The "tls" hosts (molecule.yml): HSTS on by default (two years), and an API rate limit of 10r/s.
HSTS = "max-age=63072000"
WEBSOCKET_HANDSHAKE = (
    "Connection: Upgrade",
    "Upgrade: websocket",
    "Sec-WebSocket-Version: 13",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
)


def is_tls(host: Host) -> bool:
    return "-tls-" in host.backend.get_hostname()


def base_url(host: Host) -> str:
    return "https://127.0.0.1" if is_tls(host) else "http://127.0.0.1"


def curl(host: Host) -> list[str]:
    """curl against the host's own site; -k: the "tls" hosts' certificate is self-signed."""
    return ["curl", "-sS", "--max-time", "10", *(["-k"] if is_tls(host) else [])]


def get(host: Host, path: str, *headers: str, body: bool = True) -> checklist.Response:
    """GET through the container's own nginx, with optional extra request headers."""
    argv = curl(host)
    argv += ["-i"] if body else ["-D", "-", "-o", "/dev/null"]
    for header in headers:
        argv += ["-H", header]
    argv.append(base_url(host) + path)
    result = host.run(shlex.join(argv))
    assert result.rc == 0, f"curl {path} failed: {result.stderr}"
    return parse_http(result.stdout)


def changed_count(name: str, stdout: str) -> int:
    """changed= of a host in an ansible-playbook recap (colour codes removed)."""
    plain = re.sub(r"\x1b\[[0-9;]*m", "", stdout)
    recap = re.search(rf"{re.escape(name)}\s*:\s*ok=\d+\s+changed=(\d+)", plain)
    assert recap is not None, plain[-2000:]
    return int(recap.group(1))


def upstream_echo(response: checklist.Response) -> dict[str, Any]:
    data = response.json()
    assert isinstance(data, dict), response.text
    assert data.get("upstream") == "fake-api", response.text
    return data


# --- the service and its files -------------------------------------------------------


def test_nginx_is_installed_enabled_and_running(host: Host) -> None:
    assert host.package("nginx").is_installed
    service = host.service("nginx")
    assert service.is_enabled
    assert service.is_running


def test_nginx_config_test_is_clean(host: Host) -> None:
    result = host.run("nginx -t")
    assert result.rc == 0, result.stderr
    assert "test is successful" in result.stderr
    assert "[warn]" not in result.stderr, result.stderr


def test_site_files(host: Host) -> None:
    for path in (SITE_AVAILABLE, HEADERS_SNIPPET, HTTP_CONF):
        config = host.file(path)
        assert config.is_file
        assert config.user == "root"
        assert config.mode == 0o644
    enabled = host.file(SITE_ENABLED)
    assert enabled.is_symlink
    assert enabled.linked_to == SITE_AVAILABLE


def test_default_site_is_gone(host: Host) -> None:
    assert not host.file("/etc/nginx/sites-enabled/default").exists


def test_no_backup_copies_are_left_behind(host: Host) -> None:
    leftovers = host.run(
        "ls -a /etc/nginx/sites-available /etc/nginx/snippets /etc/nginx/conf.d | grep '~$'"
    )
    assert leftovers.stdout == "", leftovers.stdout


def test_upstream_has_keepalive_and_http11(host: Host) -> None:
    site = host.file(SITE_AVAILABLE).content_string
    assert re.search(r"upstream webapp \{\s*server 127\.0\.0\.1:8000;\s*keepalive 32;", site), site
    assert "proxy_http_version 1.1;" in site
    assert 'proxy_set_header Connection "";' in site


# --- the SPA -------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/index.html", "/dashboard", "/users/42/edit", "/apiary"])
def test_spa_routes_get_index_html_never_cached(host: Host, path: str) -> None:
    response = get(host, path)
    assert response.status == 200
    assert INDEX_MARKER in response.text
    assert response.header("cache-control") == "no-cache"


def test_hashed_asset_is_cached_for_a_year(host: Host) -> None:
    response = get(host, ASSET)
    assert response.status == 200
    assert ASSET_MARKER in response.text
    assert response.header("cache-control") == "public, max-age=31536000, immutable"
    assert "javascript" in response.header("content-type")


@pytest.mark.parametrize("path", ["/assets/x-zzz.js", "/assets/", "/assets/deep/missing.css"])
def test_missing_asset_is_a_real_404(host: Host, path: str) -> None:
    response = get(host, path)
    assert response.status == 404
    assert INDEX_MARKER not in response.text


def test_server_header_has_no_version(host: Host) -> None:
    for path in ("/", ASSET, "/api/echo", "/assets/x-zzz.js"):
        assert get(host, path).header("server") == "nginx", path


def test_javascript_is_gzipped_on_request(host: Host) -> None:
    response = get(host, ASSET, "Accept-Encoding: gzip", body=False)
    assert response.header("content-encoding") == "gzip"
    assert "accept-encoding" in response.header("vary").lower()
    plain = get(host, ASSET)
    assert plain.header("content-encoding") == ""


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/index.html",
        "/dashboard",
        ASSET,
        "/assets/x-zzz.js",
        "/api",
        "/api/echo",
        "/api/missing",
        "/api/ws",
        "/.well-known/acme-challenge/missing",
    ],
)
def test_shared_headers_on_every_kind_of_response(host: Host, path: str) -> None:
    response = get(host, path)
    for name, value in SHARED_HEADERS.items():
        assert response.header(name) == value, f"{name} on {path}"
    assert response.header("strict-transport-security") == (HSTS if is_tls(host) else "")


def test_index_html_loads_only_same_origin_scripts_and_styles(host: Host) -> None:
    """What the Content-Security-Policy allows: no inline script or style, no other origin."""
    response = get(host, "/")
    assert "script-src 'self'" in response.header("content-security-policy")
    assert csp_problems(response.text) == []


# --- the API -------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api", "/api/echo", "/api/echo/deeper?x=1"])
def test_api_reaches_the_upstream_with_the_path_unchanged(host: Host, path: str) -> None:
    response = get(host, path)
    assert response.status == 200
    data = upstream_echo(response)
    assert data["path"] == path
    assert response.header("content-type") == "application/json"


def test_api_miss_is_the_upstreams_404_not_the_spa(host: Host) -> None:
    response = get(host, "/api/does-not-exist")
    assert response.status == 404
    assert INDEX_MARKER not in response.text
    assert upstream_echo(response)["detail"] == "Not Found"


def test_proxy_headers_reach_the_upstream(host: Host) -> None:
    data = upstream_echo(get(host, "/api/echo", "Host: app.example.test"))
    headers = data["headers"]
    assert data["version"] == "HTTP/1.1"
    assert headers["host"] == "app.example.test"
    assert headers["x-real-ip"] == "127.0.0.1"
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-forwarded-proto"] == ("https" if is_tls(host) else "http")
    # Connection "" : nothing asks the upstream to close the connection.
    assert "connection" not in headers


def test_upstream_connections_are_reused(host: Host) -> None:
    """keepalive + HTTP/1.1 + Connection "": fewer upstream connections than requests."""
    requests = 12
    ports = {upstream_echo(get(host, "/api/echo"))["client_port"] for _ in range(requests)}
    assert len(ports) < requests, ports


# --- request ids, WebSocket, rate limit, ACME ----------------------------------------


def access_log_lines(host: Host, needle: str) -> list[str]:
    log = host.run(f"grep -F -- {shlex.quote(needle)} {ACCESS_LOG}")
    return [line for line in log.stdout.splitlines() if line]


def test_client_request_id_is_logged_and_passed_to_the_app(host: Host) -> None:
    request_id = "molecule-" + host.check_output("cat /proc/sys/kernel/random/uuid")
    data = upstream_echo(get(host, "/api/echo/rid", f"X-Request-ID: {request_id}"))
    assert data["headers"]["x-request-id"] == request_id
    lines = access_log_lines(host, f"request_id={request_id} ")
    assert len(lines) == 1, lines
    assert '"GET /api/echo/rid ' in lines[0]


@pytest.mark.parametrize("client_header", [None, "X-Request-ID: not an id!"])
def test_nginx_makes_a_request_id_when_the_client_has_none(
    host: Host, client_header: str | None
) -> None:
    path = "/api/echo/rid-" + host.check_output("cat /proc/sys/kernel/random/uuid")
    data = upstream_echo(get(host, path, *([client_header] if client_header else [])))
    request_id = data["headers"]["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id), request_id
    lines = access_log_lines(host, f'"GET {path} ')
    assert len(lines) == 1, lines
    assert f"request_id={request_id} " in lines[0]


def test_websocket_upgrade_reaches_the_upstream(host: Host) -> None:
    """101 from the upstream through nginx; curl then waits on the open socket until
    --max-time (exit code 28), which is the expected end here."""
    argv = [*curl(host), "--http1.1", "--max-time", "3", "-D", "-", "-o", "/dev/null"]
    for header in (*WEBSOCKET_HANDSHAKE, "X-Request-ID: molecule-websocket-1"):
        argv += ["-H", header]
    result = host.run(shlex.join([*argv, base_url(host) + "/api/ws"]))
    assert result.rc in (0, 28), result.stderr
    response = parse_http(result.stdout)
    assert response.status == 101, result.stdout
    assert response.header("upgrade").lower() == "websocket"
    assert response.header("sec-websocket-accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert response.header("x-request-id-seen") == "molecule-websocket-1"


def test_websocket_path_keeps_keepalive_for_plain_requests(host: Host) -> None:
    """A request without Upgrade sends the upstream no Connection header (map default "")."""
    response = get(host, "/api/ws")
    assert response.status == 404
    assert "connection" not in upstream_echo(response)["headers"]


def api_burst(host: Host, requests: int) -> list[str]:
    """Status codes of a burst of requests to the API, sent by one curl (one connection)."""
    config = f'url = "{base_url(host)}/api/echo"\noutput = "/dev/null"\n' * requests
    argv = [*curl(host), "-K", "-", "-w", "%{http_code}\n"]
    output = host.check_output(f"printf %s {shlex.quote(config)} | {shlex.join(argv)}")
    return str(output).split()


def test_api_rate_limit_answers_429_only_when_on(host: Host) -> None:
    codes = api_burst(host, 100)
    assert len(codes) == 100
    if is_tls(host):
        # 10r/s with a burst of 20: a burst of 100 within a few seconds meets 429s.
        assert codes.count("429") > 0, codes
        assert codes.count("200") >= 20, codes
        assert set(codes) == {"200", "429"}, codes

        def api_answers_again() -> bool:
            return get(host, "/api/echo").status == 200

        wait_until(api_answers_again, timeout_s=10, interval_s=0.5)
    else:
        assert set(codes) == {"200"}, "no rate limit by default"


def test_acme_challenge_is_served_over_http_before_any_redirect(host: Host) -> None:
    token = "molecule-token-" + host.check_output("cat /proc/sys/kernel/random/uuid")
    directory = "/var/www/acme/.well-known/acme-challenge"
    assert host.run(f"mkdir -p {directory} && echo {token}.key > {directory}/{token}").rc == 0
    try:
        result = host.run(
            f"curl -sS -i --max-time 10 http://127.0.0.1/.well-known/acme-challenge/{token}"
        )
    finally:
        host.run("rm -rf /var/www/acme/.well-known")
    response = parse_http(result.stdout)
    assert response.status == 200, result.stdout
    assert response.text.strip() == f"{token}.key"
    assert response.header("content-type") == "text/plain"
    assert response.header("x-content-type-options") == "nosniff"


# --- check mode ----------------------------------------------------------------------


def test_check_mode_on_a_converged_host_changes_nothing(host: Host) -> None:
    name = host.backend.get_hostname()
    result = run_playbook(SCENARIO / "converge.yml", name, "--check", "--diff")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert changed_count(name, result.stdout) == 0, result.stdout[-4000:]


def test_the_http_level_is_the_roles_own(host: Host) -> None:
    nginx_conf = host.file("/etc/nginx/nginx.conf").content_string
    assert "Ansible managed" in nginx_conf
    # What Debian's file has that is still needed: the modules and the includes.
    for line in (
        "include /etc/nginx/modules-enabled/*.conf;",
        "include /etc/nginx/mime.types;",
        "include /etc/nginx/conf.d/*.conf;",
        "include /etc/nginx/sites-enabled/*;",
    ):
        assert line in nginx_conf, line
    assert re.search(r"^\s*server_tokens off;", nginx_conf, re.MULTILINE)


def test_no_tls_protocol_below_1_2_anywhere(host: Host) -> None:
    protocols = re.findall(r"^\s*ssl_protocols\s+([^;]+);", nginx_configuration(host), re.M)
    assert protocols, "no ssl_protocols at the http level"
    for value in protocols:
        assert set(value.split()) <= {"TLSv1.2", "TLSv1.3"}, value


def test_worker_rlimit_nofile_is_at_least_twice_worker_connections(host: Host) -> None:
    loaded = nginx_configuration(host)
    rlimit = re.search(r"^\s*worker_rlimit_nofile\s+(\d+);", loaded, re.MULTILINE)
    connections = re.search(r"^\s*worker_connections\s+(\d+);", loaded, re.MULTILINE)
    assert rlimit is not None
    assert connections is not None
    assert int(rlimit.group(1)) >= 2 * int(connections.group(1))
    # The limit reaches the workers: the kernel's view of one of them.
    worker = host.check_output("pgrep -u www-data -x nginx | head -1")
    limits = host.check_output(f"grep 'Max open files' /proc/{worker}/limits")
    assert int(limits.split()[3]) >= int(rlimit.group(1)), limits
