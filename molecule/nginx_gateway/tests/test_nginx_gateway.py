"""fullstack.webapp.nginx_gateway alone: the SPA, the API and the nginx traps, over HTTP
inside each container (curl against 127.0.0.1)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from testinfra.host import Host

from tools import checklist
from tools.testing import parse_http, run_playbook

SCENARIO = Path(__file__).resolve().parent.parent
SITE_AVAILABLE = "/etc/nginx/sites-available/webapp.conf"
SITE_ENABLED = "/etc/nginx/sites-enabled/webapp.conf"
HEADERS_SNIPPET = "/etc/nginx/snippets/webapp-headers.conf"
INDEX_MARKER = "nginx-gateway-fixture-index"
ASSET = "/assets/app-abc123.js"
ASSET_MARKER = "nginx-gateway-fixture-asset"
SHARED_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "x-frame-options": "SAMEORIGIN",
}


def get(host: Host, path: str, *headers: str, body: bool = True) -> checklist.Response:
    """GET through the container's own nginx, with optional extra request headers."""
    argv = ["curl", "-sS", "--max-time", "10"]
    argv += ["-i"] if body else ["-D", "-", "-o", "/dev/null"]
    for header in headers:
        argv += ["-H", header]
    argv.append("http://127.0.0.1" + path)
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
    for path in (SITE_AVAILABLE, HEADERS_SNIPPET):
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
    leftovers = host.run("ls -a /etc/nginx/sites-available /etc/nginx/snippets | grep '~$'")
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


@pytest.mark.parametrize("path", ["/", "/dashboard", ASSET, "/api/echo", "/api/missing"])
def test_shared_headers_on_every_kind_of_response(host: Host, path: str) -> None:
    response = get(host, path)
    for name, value in SHARED_HEADERS.items():
        assert response.header(name) == value, f"{name} on {path}"


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
    assert headers["x-forwarded-proto"] == "http"
    # Connection "" : nothing asks the upstream to close the connection.
    assert "connection" not in headers


def test_upstream_connections_are_reused(host: Host) -> None:
    """keepalive + HTTP/1.1 + Connection "": fewer upstream connections than requests."""
    requests = 12
    ports = {upstream_echo(get(host, "/api/echo"))["client_port"] for _ in range(requests)}
    assert len(ports) < requests, ports


# --- check mode ----------------------------------------------------------------------


def test_check_mode_on_a_converged_host_changes_nothing(host: Host) -> None:
    name = host.backend.get_hostname()
    result = run_playbook(SCENARIO / "converge.yml", name, "--check", "--diff")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert changed_count(name, result.stdout) == 0, result.stdout[-4000:]
