"""Certificates from a real ACME server (Pebble): issuance on the primary gateway, its copy
on the second, a forced renewal reloaded by the same nginx master, a failed challenge that
leaves the old certificate serving, and the scanners' verdict on both gateways."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import pytest
import testinfra
from testinfra.host import Host

from tools.testing import (
    gixy_findings,
    main_pid,
    recap_changed,
    run_playbook,
    sslyze_mozilla_intermediate,
    systemd_exposure,
    wait_until,
)

testinfra_hosts = ["acme-gw1", "acme-gw2"]

SCENARIO = Path(__file__).resolve().parent.parent
NAMES = ["www.acme.test", "app.acme.test"]
SITE_CERTIFICATE = "/etc/nginx/tls/webapp/acme.pem"


def gateway(name: str) -> Host:
    return testinfra.get_host(f"ansible://{name}", ansible_inventory=_inventory())


def _inventory() -> str:
    return str(Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent)


def pebble_root(host: Host) -> str:
    """The root of the chain Pebble issues, from its management API (a new one each start)."""
    return str(host.check_output("curl -sS --max-time 10 https://acme-pebble:15000/roots/0"))


def served_certificate(host: Host, server_name: str = NAMES[0]) -> dict[str, str]:
    """Serial, issuer and names of the certificate the host's nginx serves on 443."""
    output = host.check_output(
        f"echo | timeout 10 openssl s_client -connect 127.0.0.1:443 -servername {server_name} "
        "2>/dev/null | openssl x509 -noout -serial -issuer -ext subjectAltName"
    )
    lines = [line.strip() for line in str(output).splitlines()]
    return {
        "serial": lines[0].split("=", 1)[1],
        # OpenSSL 3.0 (Debian 12) prints "CN = x", 3.5 (Debian 13) "CN=x".
        "issuer": lines[1].replace(" ", ""),
        "names": lines[-1],
    }


def converge(*extra_vars: dict[str, object]) -> tuple[int, str]:
    args = [arg for extra in extra_vars for arg in ("-e", json.dumps(extra))]
    result = run_playbook(SCENARIO / "converge.yml", "gateways", *args)
    return result.returncode, result.stdout + result.stderr


def test_both_gateways_serve_one_certificate_from_pebble() -> None:
    primary, secondary = gateway("acme-gw1"), gateway("acme-gw2")
    on_primary, on_secondary = served_certificate(primary), served_certificate(secondary)
    assert "Pebble" in on_primary["issuer"], on_primary
    assert all(f"DNS:{name}" in on_primary["names"] for name in NAMES), on_primary
    assert on_secondary == on_primary


@pytest.mark.parametrize("server_name", NAMES)
def test_the_chain_verifies_against_pebble_root(host: Host, server_name: str) -> None:
    """curl trusting only Pebble's root: the served chain (fullchain) verifies for each name,
    and HSTS is on by default with TLS."""
    host.run("install -d -m 0700 /root/acme-test")
    root_file = "/root/acme-test/pebble-root.pem"
    host.run(f"cat > {root_file} <<'EOF'\n{pebble_root(host)}\nEOF")
    result = host.run(
        shlex.join(
            [
                "curl", "-sS", "-o", "/dev/null", "-D", "-", "--max-time", "10",
                "--cacert", root_file, "--resolve", f"{server_name}:443:127.0.0.1",
                f"https://{server_name}/",
            ]
        )
    )  # fmt: skip
    assert result.rc == 0, result.stderr
    assert result.stdout.startswith("HTTP/2 200") or " 200" in result.stdout.splitlines()[0]
    assert "strict-transport-security: max-age=" in result.stdout.lower()


def test_the_second_gateway_passed_a_challenge_on() -> None:
    """Pebble reached app.acme.test at acme-gw2, which proxied the challenge to acme-gw1."""
    secondary = gateway("acme-gw2")
    log = secondary.check_output("cat /var/log/nginx/*access*.log")
    assert "/.well-known/acme-challenge/" in log
    assert not secondary.file("/etc/letsencrypt/live").exists


def test_certbot_renews_on_its_timer_through_the_hook() -> None:
    primary = gateway("acme-gw1")
    assert primary.service("certbot.timer").is_running
    renewal = primary.file("/etc/letsencrypt/renewal/webapp.conf").content_string
    assert "renew_hook = /etc/nginx/tls/webapp/acme-deploy-hook" in renewal


@pytest.mark.parametrize("name", testinfra_hosts)
def test_nginx_runs_sandboxed(name: str) -> None:
    exposure, report = systemd_exposure(gateway(name), "nginx.service")
    print(f"{name}: systemd-analyze security nginx.service: {exposure}")
    assert exposure <= 5.0, report[-3000:]


@pytest.mark.parametrize("name", testinfra_hosts)
def test_gixy_finds_nothing(name: str) -> None:
    findings = gixy_findings(gateway(name))
    assert findings == [], json.dumps(findings, indent=2)


@pytest.mark.parametrize("name", testinfra_hosts)
def test_sslyze_finds_mozilla_intermediate_met(name: str) -> None:
    host = gateway(name)
    result = sslyze_mozilla_intermediate(host, NAMES[0], pebble_root(host))
    print(f"{name}: {result.stdout.strip()}")
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_forced_renewal_is_served_by_the_same_masters() -> None:
    primary, secondary = gateway("acme-gw1"), gateway("acme-gw2")
    before = served_certificate(primary)["serial"]
    masters = {name: main_pid(gateway(name), "nginx.service") for name in testinfra_hosts}

    renewal = primary.run(
        "certbot renew --force-renewal --cert-name webapp --no-random-sleep-on-renew"
    )
    assert renewal.rc == 0, renewal.stdout + renewal.stderr
    wait_until(lambda: served_certificate(primary)["serial"] != before, timeout_s=20)
    assert main_pid(primary, "nginx.service") == masters["acme-gw1"]

    rc, output = converge()
    assert rc == 0, output[-3000:]
    assert served_certificate(secondary) == served_certificate(primary)
    assert served_certificate(secondary)["serial"] != before
    assert main_pid(secondary, "nginx.service") == masters["acme-gw2"]


def test_a_failed_challenge_keeps_the_old_certificate_and_says_why() -> None:
    """A name no gateway answers for: certbot's own reason is in the failure, and both
    gateways go on serving the certificate they had, from the same masters."""
    primary, secondary = gateway("acme-gw1"), gateway("acme-gw2")
    served = {name: served_certificate(gateway(name)) for name in testinfra_hosts}
    masters = {name: main_pid(gateway(name), "nginx.service") for name in testinfra_hosts}

    rc, output = converge({"nginx_gateway_acme_names": [*NAMES, "missing.acme.test"]})
    assert rc != 0
    assert "certbot could not obtain the certificate" in output
    assert "nginx_gateway_acme_names" in output
    assert "missing.acme.test" in output
    assert "Certbot failed to authenticate some domains" in output, output[-3000:]
    assert "acme-gw1 (nginx_gateway_acme_primary) holds a certificate for another request" in output

    for name, host in (("acme-gw1", primary), ("acme-gw2", secondary)):
        assert served_certificate(host) == served[name]
        assert main_pid(host, "nginx.service") == masters[name]

    rc, output = converge()
    assert rc == 0, output[-3000:]
    assert [recap_changed(output, gateway(name)) for name in testinfra_hosts] == [0, 0]
