"""Changing certificates on an HTTPS host: a new certificate is reloaded (same nginx
master, new certificate served), and a key that does not belong to its certificate is
refused, naming the variable, before anything on the host changes."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from testinfra.host import Host

from tools.testing import main_pid, run_playbook, self_signed_pem

# One HTTPS host is enough for the reload and the refusal (the role's tasks are the same on
# both); Debian 12 has the older HTTP/2 form.
testinfra_hosts = ["nginx-gateway-tls-debian12"]

SCENARIO = Path(__file__).resolve().parent.parent
TLS_DIR = "/etc/nginx/tls/webapp"
# What a run may change; a refused run must leave all of it as it was.
WATCHED = "/etc/nginx /var/www/acme /etc/systemd/system/nginx.service.d /root/tls-on-host"


def fingerprint(host: Host) -> str:
    return str(
        host.check_output(
            f"find {WATCHED} -printf '%y %m %u:%g %p %l\\n' 2>/dev/null | sort; "
            f"find {WATCHED} -type f -exec sha256sum {{}} + | sort"
        )
    )


def served_sha256(host: Host) -> str:
    """SHA-256 fingerprint of the certificate nginx serves on 443 (hex, lower case)."""
    output = host.check_output(
        "echo | timeout 10 openssl s_client -connect 127.0.0.1:443 2>/dev/null "
        "| openssl x509 -noout -fingerprint -sha256"
    )
    return str(output).split("=", 1)[1].replace(":", "").lower()


def sha256_of(pem: str) -> str:
    return x509.load_pem_x509_certificate(pem.encode()).fingerprint(hashes.SHA256()).hex()


def converge(host: Host, *extra_vars: dict[str, object]) -> tuple[int, str]:
    args = [arg for extra in extra_vars for arg in ("-e", json.dumps(extra))]
    result = run_playbook(SCENARIO / "gateway.yml", host.backend.get_hostname(), *args)
    return result.returncode, result.stdout + result.stderr


def files_from(directory: Path, name: str, certificate: str, key: str) -> dict[str, object]:
    (directory / f"{name}.pem").write_text(certificate)
    (directory / f"{name}.key").write_text(key)
    (directory / f"{name}.key").chmod(0o600)
    return {
        "nginx_gateway_tls_mode": "files",
        "nginx_gateway_tls_certificate": str(directory / f"{name}.pem"),
        "nginx_gateway_tls_certificate_key": str(directory / f"{name}.key"),
    }


@pytest.fixture
def back_to_self_signed(host: Host) -> Iterator[None]:
    """After the test, converge with the scenario's own variables (self-signed) again: the
    copies of the certificate and key it no longer uses are removed."""
    yield
    rc, output = converge(host)
    assert rc == 0, output[-3000:]
    assert not host.file(f"{TLS_DIR}/certificate.key").exists
    assert not host.file(f"{TLS_DIR}/certificate.pem").exists


@pytest.mark.usefixtures("back_to_self_signed")
def test_a_new_certificate_is_reloaded_not_restarted(host: Host, tmp_path: Path) -> None:
    pid_before = main_pid(host, "nginx")
    first_cert, first_key = self_signed_pem("first.example.test")
    rc, output = converge(host, files_from(tmp_path, "first", first_cert, first_key))
    assert rc == 0, output[-3000:]
    assert "PRIVATE KEY" not in output
    assert served_sha256(host) == sha256_of(first_cert)
    key = host.file(f"{TLS_DIR}/certificate.key")
    assert (key.user, key.mode) == ("root", 0o600)

    second_cert, second_key = self_signed_pem("second.example.test")
    rc, output = converge(host, files_from(tmp_path, "second", second_cert, second_key))
    assert rc == 0, output[-3000:]
    assert re.search(r"RUNNING HANDLER \[[^\]]*Reload nginx\]", output), output[-3000:]
    assert served_sha256(host) == sha256_of(second_cert)
    assert main_pid(host, "nginx") == pid_before, "nginx must be reloaded, not restarted"
    leftovers = host.run(f"ls -a {TLS_DIR} | grep '~$'")
    assert leftovers.stdout == "", leftovers.stdout


def test_a_key_of_another_certificate_from_the_controller_is_refused(
    host: Host, tmp_path: Path
) -> None:
    certificate, _ = self_signed_pem("mismatch.example.test")
    _, other_key = self_signed_pem("other.example.test")
    before = fingerprint(host)
    pid_before = main_pid(host, "nginx")
    served_before = served_sha256(host)

    rc, output = converge(host, files_from(tmp_path, "mismatch", certificate, other_key))

    assert rc != 0, output[-3000:]
    assert "nginx_gateway_tls_certificate_key" in output, output[-3000:]
    assert "does not belong to the certificate" in output, output[-3000:]
    assert "PRIVATE KEY" not in output
    assert fingerprint(host) == before
    assert main_pid(host, "nginx") == pid_before
    assert served_sha256(host) == served_before


def test_a_key_of_another_certificate_on_the_host_is_refused(host: Host) -> None:
    make_pair = (
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
        "-subj /CN={name} -keyout /root/tls-on-host/{name}.key -out /root/tls-on-host/{name}.pem"
    )
    assert host.run("install -d -m 0700 /root/tls-on-host").rc == 0
    for name in ("cert", "other"):
        assert host.run(make_pair.format(name=name) + " 2>/dev/null").rc == 0
    try:
        before = fingerprint(host)
        pid_before = main_pid(host, "nginx")
        rc, output = converge(
            host,
            {
                "nginx_gateway_tls_mode": "files",
                "nginx_gateway_tls_files_on_host": True,
                "nginx_gateway_tls_certificate": "/root/tls-on-host/cert.pem",
                "nginx_gateway_tls_certificate_key": "/root/tls-on-host/other.key",
            },
        )
        assert rc != 0, output[-3000:]
        assert "nginx_gateway_tls_certificate_key (/root/tls-on-host/other.key)" in output
        assert "does not belong to the certificate" in output, output[-3000:]
        assert "PRIVATE KEY" not in output
        assert fingerprint(host) == before
        assert main_pid(host, "nginx") == pid_before
    finally:
        host.run(f"rm -rf {shlex.quote('/root/tls-on-host')}")
