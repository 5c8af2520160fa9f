"""Changing the gateway: a good change is reloaded (never restarted), a directive nginx
rejects fails the run and leaves the last good configuration on disk and in service."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from testinfra.host import Host

from tools.testing import run_playbook

# Over HTTP; the "tls" hosts' changes: tests/test_nginx_gateway_tls_changes.py.
testinfra_hosts = ["http"]

SCENARIO = Path(__file__).resolve().parent.parent
SITE_AVAILABLE = "/etc/nginx/sites-available/webapp.conf"
HEADERS_SNIPPET = "/etc/nginx/snippets/webapp-headers.conf"
NGINX_CONF = "/etc/nginx/nginx.conf"
INDEX_MARKER = "nginx-gateway-fixture-index"


def sha256(host: Host, path: str) -> str:
    return hashlib.sha256(host.file(path).content).hexdigest()


def main_pid(host: Host) -> str:
    return str(host.check_output("systemctl show -p MainPID --value nginx"))


def index_status(host: Host) -> tuple[str, str]:
    code = host.check_output("curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1/")
    body = host.check_output("curl -s http://127.0.0.1/dashboard")
    return str(code), str(body)


def changed_count(name: str, stdout: str) -> int:
    """changed= of a host in an ansible-playbook recap (colour codes removed)."""
    plain = re.sub(r"\x1b\[[0-9;]*m", "", stdout)
    recap = re.search(rf"{re.escape(name)}\s*:\s*ok=\d+\s+changed=(\d+)", plain)
    assert recap is not None, plain[-2000:]
    return int(recap.group(1))


def assert_the_last_good_configuration_serves(host: Host, pid_before: str) -> None:
    """After a refused run: the configuration on disk passes nginx -t, the same master
    serves the fixture's index, and no backup copy is left behind."""
    check = host.run("nginx -t")
    assert check.rc == 0, check.stderr
    assert main_pid(host) == pid_before
    code, body = index_status(host)
    assert code == "200"
    assert INDEX_MARKER in body
    directories = "/etc/nginx /etc/nginx/sites-available /etc/nginx/snippets"
    leftovers = host.run(f"ls -a {directories} | grep '~$'")
    assert leftovers.stdout == "", leftovers.stdout


def test_broken_directive_fails_and_the_last_good_config_keeps_serving(host: Host) -> None:
    name = host.backend.get_hostname()
    site_before = sha256(host, SITE_AVAILABLE)
    headers_before = sha256(host, HEADERS_SNIPPET)
    pid_before = main_pid(host)

    result = run_playbook(SCENARIO / "broken.yml", name)

    output = result.stdout + result.stderr
    assert result.returncode != 0, "a directive nginx rejects must fail the run"
    assert "nginx -t" in output, output[-3000:]
    assert "this_is_not_a_directive" in output, output[-3000:]
    assert "previous configuration" in output, output[-3000:]
    assert sha256(host, SITE_AVAILABLE) == site_before
    assert sha256(host, HEADERS_SNIPPET) == headers_before
    assert "this_is_not_a_directive" not in host.file(SITE_AVAILABLE).content_string
    assert_the_last_good_configuration_serves(host, pid_before)


def test_a_good_change_is_reloaded_not_restarted(host: Host) -> None:
    name = host.backend.get_hostname()
    pid_before = main_pid(host)
    try:
        result = run_playbook(
            SCENARIO / "gateway.yml", name, "-e", "nginx_gateway_client_max_body_size=1k"
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
        assert changed_count(name, result.stdout) > 0
        assert "client_max_body_size 1k;" in host.file(SITE_AVAILABLE).content_string
        assert main_pid(host) == pid_before, "nginx must be reloaded, not restarted"
        # The reloaded configuration is live: a 2 KiB body is now too large.
        status = host.check_output(
            "head -c 2048 /dev/zero | curl -s -o /dev/null -w '%{http_code}' "
            "--data-binary @- http://127.0.0.1/api/echo"
        )
        assert status == "413"
    finally:
        restore = run_playbook(SCENARIO / "gateway.yml", name)
    assert restore.returncode == 0, restore.stdout[-3000:]
    assert "client_max_body_size 10m;" in host.file(SITE_AVAILABLE).content_string
    assert main_pid(host) == pid_before


def test_web_root_nginx_cannot_read_fails_naming_the_directory(host: Host) -> None:
    """The seed's 403: nginx_gateway_check_web_root turns it into a failed run."""
    name = host.backend.get_hostname()
    site_before = sha256(host, SITE_AVAILABLE)
    assert host.run("chmod 0700 /var/www/webapp").rc == 0
    try:
        result = run_playbook(SCENARIO / "gateway.yml", name)
    finally:
        assert host.run("chmod 0755 /var/www/webapp").rc == 0
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert "cannot traverse (search, x) /var/www/webapp: mode 0700" in output, output[-3000:]
    assert "chmod o+x /var/www/webapp" in output, output[-3000:]
    assert sha256(host, SITE_AVAILABLE) == site_before


def test_check_mode_shows_turning_https_on_and_changes_nothing(host: Host) -> None:
    name = host.backend.get_hostname()
    tree = "find /etc/nginx /var/www/acme -printf '%y %m %p\\n' | sort"
    before = host.check_output(tree), sha256(host, SITE_AVAILABLE), main_pid(host)
    result = run_playbook(
        SCENARIO / "gateway.yml",
        name,
        "--check",
        "--diff",
        "-e",
        "nginx_gateway_tls_mode=selfsigned",
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert changed_count(name, result.stdout) > 0
    assert "+    listen 443 ssl" in output, output[-3000:]
    assert "+        return 301 https://$host$request_uri;" in output, output[-3000:]
    assert (host.check_output(tree), sha256(host, SITE_AVAILABLE), main_pid(host)) == before
    assert not host.file("/etc/nginx/tls").exists


def test_an_http_level_nginx_rejects_is_put_back(host: Host) -> None:
    """nginx.conf goes through the same render, nginx -t, restore path as the site: a user
    that does not exist fails the run quoting nginx, and the previous file keeps serving."""
    name = host.backend.get_hostname()
    nginx_conf_before = sha256(host, NGINX_CONF)
    pid_before = main_pid(host)
    bad_user = {"nginx_gateway_user": "no-such-user", "nginx_gateway_check_web_root": False}

    result = run_playbook(SCENARIO / "gateway.yml", name, "-e", json.dumps(bad_user))

    output = result.stdout + result.stderr
    assert result.returncode != 0, "an nginx.conf nginx rejects must fail the run"
    assert "nginx -t" in output, output[-3000:]
    assert 'getpwnam("no-such-user")' in output, output[-3000:]
    assert sha256(host, NGINX_CONF) == nginx_conf_before
    assert "no-such-user" not in host.file(NGINX_CONF).content_string
    assert_the_last_good_configuration_serves(host, pid_before)
