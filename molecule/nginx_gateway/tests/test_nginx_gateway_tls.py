"""HTTPS on the "tls" hosts (self-signed certificate): the Mozilla intermediate profile,
HTTP/2 with the directive of the installed nginx, the redirect, HSTS and the key's files.
Every client runs inside the container, against 127.0.0.1."""

from __future__ import annotations

import json
import shlex

import pytest
from testinfra.host import Host

from tools.testing import parse_http, sslyze_mozilla_intermediate

testinfra_hosts = ["tls"]

TLS_DIR = "/etc/nginx/tls/webapp"
SITE_AVAILABLE = "/etc/nginx/sites-available/webapp.conf"


def s_client(host: Host, *options: str) -> tuple[int, str]:
    """One handshake with openssl s_client against the host's port 443; (rc, output)."""
    argv = ["openssl", "s_client", "-connect", "127.0.0.1:443", "-servername", "localhost"]
    command = f"echo | timeout 10 {shlex.join([*argv, *options])} 2>&1"
    result = host.run(command)
    return result.rc, result.stdout


@pytest.mark.parametrize("protocol", ["-tls1_2", "-tls1_3"])
def test_tls_12_and_13_are_accepted(host: Host, protocol: str) -> None:
    rc, output = s_client(host, protocol)
    assert rc == 0, output
    version = "TLSv1.2" if protocol == "-tls1_2" else "TLSv1.3"
    assert f"New, {version}, Cipher is" in output, output


@pytest.mark.parametrize("protocol", ["-tls1_1", "-tls1"])
def test_tls_11_and_10_are_refused_by_the_server(host: Host, protocol: str) -> None:
    # SECLEVEL=0 lets this client offer the old protocol, so the refusal is the server's.
    rc, output = s_client(host, protocol, "-cipher", "DEFAULT@SECLEVEL=0")
    assert rc != 0, output
    assert "alert protocol version" in output, output


def test_a_cipher_outside_the_intermediate_profile_is_refused(host: Host) -> None:
    # Positive control first: the same key type with an AEAD suite of the profile.
    rc, output = s_client(host, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256")
    assert rc == 0, output
    rc, output = s_client(host, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA")
    assert rc != 0, output
    assert "handshake failure" in output, output


def test_http2_is_negotiated(host: Host) -> None:
    head = host.check_output("curl -sS -k --http2 --max-time 10 -I https://127.0.0.1/dashboard")
    assert str(head).startswith("HTTP/2 200"), head


@pytest.mark.parametrize("version", ["--http2", "--http1.1"])
def test_csp_reports_over_https_are_logged_with_their_body(host: Host, version: str) -> None:
    """The "tls" hosts send a report-only policy (molecule.yml): its reports, over HTTP/2 or
    HTTP/1.1, land in the site's report log with their body (nginx reads HTTP/2 bodies its
    own way)."""
    log = "/var/log/nginx/webapp-csp-reports.log"
    marker = "report-" + host.check_output("cat /proc/sys/kernel/random/uuid")
    body = json.dumps({"csp-report": {"document-uri": "https://localhost/", "marker": marker}})
    argv = ["curl", "-sS", "-k", version, "--max-time", "10", "-o", "/dev/null"]
    argv += ["-w", "%{http_code} %{http_version}", "-H", "Content-Type: application/csp-report"]
    argv += ["--data-binary", body]
    result = host.check_output(shlex.join([*argv, "https://127.0.0.1/csp-report"]))
    assert result == ("204 2" if version == "--http2" else "204 1.1"), result
    lines = [line for line in host.file(log).content_string.splitlines() if marker in line]
    assert len(lines) == 1, lines
    assert json.loads(lines[0])["body"] == body


def test_http2_directive_fits_the_installed_nginx(host: Host) -> None:
    """nginx 1.22 only knows `listen ... http2`; from 1.25.1 that form warns: `http2 on`."""
    version = host.run("nginx -v").stderr.strip().split("/")[-1]
    major, minor, patch = (int(part) for part in version.split(".")[:3])
    site = host.file(SITE_AVAILABLE).content_string
    if (major, minor, patch) >= (1, 25, 1):
        assert "http2 on;" in site
        assert "ssl http2" not in site
    else:
        assert "listen 443 ssl http2 default_server;" in site
        assert "http2 on;" not in site


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/", "https://127.0.0.1/"),
        ("/dashboard?tab=2", "https://127.0.0.1/dashboard?tab=2"),
        ("/api/echo", "https://127.0.0.1/api/echo"),
    ],
)
def test_http_is_redirected_to_https(host: Host, path: str, location: str) -> None:
    response = parse_http(host.check_output(f"curl -sS -i --max-time 10 http://127.0.0.1{path}"))
    assert response.status == 301
    assert response.header("location") == location
    assert response.header("x-content-type-options") == "nosniff"
    assert "script-src 'self'" in response.header("content-security-policy")


def test_hsts_is_sent_over_https(host: Host) -> None:
    head = parse_http(host.check_output("curl -sS -k -D - -o /dev/null https://127.0.0.1/"))
    assert head.header("strict-transport-security") == "max-age=63072000"


def test_tls_files_and_modes(host: Host) -> None:
    directory = host.file(TLS_DIR)
    assert directory.is_directory
    assert directory.user == "root"
    assert directory.mode == 0o700
    key = host.file(f"{TLS_DIR}/selfsigned.key")
    assert key.user == "root"
    assert key.mode == 0o600
    certificate = host.file(f"{TLS_DIR}/selfsigned.pem")
    assert certificate.mode == 0o644
    names = host.check_output(
        f"openssl x509 -in {TLS_DIR}/selfsigned.pem -noout -ext subjectAltName"
    )
    assert "DNS:gateway.example.test, DNS:localhost" in names


def test_served_certificate_is_the_self_signed_one(host: Host) -> None:
    served = host.check_output(
        "echo | openssl s_client -connect 127.0.0.1:443 2>/dev/null "
        "| openssl x509 -noout -fingerprint -sha256"
    )
    on_disk = host.check_output(
        f"openssl x509 -in {TLS_DIR}/selfsigned.pem -noout -fingerprint -sha256"
    )
    assert served == on_disk


def test_sslyze_finds_the_mozilla_intermediate_profile_met(host: Host) -> None:
    """sslyze from the controller to the host's address on the scenario's network; the
    self-signed certificate is its own trust anchor."""
    certificate = host.check_output(
        "echo | timeout 10 openssl s_client -connect 127.0.0.1:443 -servername "
        "gateway.example.test 2>/dev/null | openssl x509"
    )
    result = sslyze_mozilla_intermediate(host, "gateway.example.test", certificate)
    print(f"{host.backend.get_hostname()}: {result.stdout.strip()}")
    assert result.returncode == 0, result.stdout + result.stderr
