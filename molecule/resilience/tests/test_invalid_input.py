"""Bad input is refused, naming the variable, before anything on the host changes."""

from __future__ import annotations

import json
import re
from pathlib import Path

from testinfra.host import Host

from tools.testing import (
    backend_variant,
    dist_variant,
    host_fingerprint,
    recap_changed,
    run_playbook,
    self_signed_pem,
)

SCENARIO = Path(__file__).resolve().parent.parent
CASES = 21

# What a run may change: the app's code, the gateway's, the app's and the units' files, the
# web root, the log rotation and journal settings, and the running processes (their MainPIDs).
WATCHED = (
    "/opt/webapp /etc/nginx /etc/webapp /var/www/webapp /etc/logrotate.d "
    "/etc/systemd/journald.conf.d /etc/systemd/system/nginx.service.d /etc/systemd/system/webapp.*"
)
UNITS = "nginx.service webapp.service"


def fingerprint(host: Host) -> str:
    return host_fingerprint(host, WATCHED, UNITS)


def test_bad_variables_are_refused_naming_them_and_change_nothing(
    host: Host, tmp_path: Path
) -> None:
    certificate, _ = self_signed_pem("resilience.example.test")
    _, other_key = self_signed_pem("other.example.test")
    (tmp_path / "certificate.pem").write_text(certificate)
    (tmp_path / "other.key").write_text(other_key)
    before = fingerprint(host)
    assert re.search(r"MainPID=[1-9]", before), before
    name = host.backend.get_hostname()
    result = run_playbook(
        SCENARIO / "invalid_input.yml", name, "-e", f"resilience_tls_dir={tmp_path}"
    )
    output = result.stdout + result.stderr
    shown = output.rfind('"resilience_refusals": {')
    refusals: dict[str, str] = {}
    if shown >= 0:
        refusals, _ = json.JSONDecoder().raw_decode(output, shown + len('"resilience_refusals": '))
        for case, message in refusals.items():
            print(f"{case}: {message}")
    assert result.returncode == 0, output[-6000:]
    assert "did you mean gunicorn_workers?" in refusals["gunicorn_worker=1"]
    assert (
        "did you mean nginx_gateway_server_names?"
        in refusals["nginx_gateway_server_name=a typo of server_names"]
    )
    recap = re.search(rf"{re.escape(name)}\s*:\s*ok=\d+\s+changed=(\d+).*?rescued=(\d+)", output)
    assert recap is not None, output[-2000:]
    assert recap.group(2) == str(CASES), f"{recap.group(2)} of {CASES} cases were refused"
    assert recap.group(1) == "0", output[-6000:]
    assert fingerprint(host) == before


def test_a_bad_front_end_with_a_new_back_end_stops_the_run_before_any_change(
    host: Host, tmp_path: Path
) -> None:
    """site.yml checks every input of every role first: the new back end is not installed
    because the front end that comes with it has no index.html."""
    before = fingerprint(host)
    new_backend = backend_variant(tmp_path, "v2", {"app/items.py": ("", "# v2\n")})
    no_index = dist_variant(tmp_path, "noindex", index=False)
    variables = {"python_uv_app_src": str(new_backend), "frontend_dist_src": str(no_index)}
    result = run_playbook(
        SCENARIO / "converge.yml", host.backend.get_hostname(), "-e", json.dumps(variables)
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-4000:]
    assert "check 'index.html' failed" in output, output[-4000:]
    assert recap_changed(output, host) == 0, output[-4000:]
    assert fingerprint(host) == before


def test_a_misspelled_variable_stops_site_yml_with_the_closest_name(host: Host) -> None:
    """A typo of any role's prefix, and of the deploy role's, is refused before any host
    changes (it used to be ignored: the default worker count deployed without a word)."""
    before = fingerprint(host)
    typos = {"gunicorn_worker": 1, "deploy_seria": 1}
    result = run_playbook(
        SCENARIO / "converge.yml", host.backend.get_hostname(), "-e", json.dumps(typos)
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-4000:]
    assert (
        "gunicorn_worker is not a variable of the gunicorn role (did you mean gunicorn_workers?)"
        in output
    )
    assert (
        "deploy_seria is not a variable of the deploy role (did you mean deploy_serial?)" in output
    )
    assert recap_changed(output, host) == 0, output[-4000:]
    assert fingerprint(host) == before


def test_deploy_undeclared_variables_warn_only_warns(host: Host) -> None:
    before = fingerprint(host)
    variables = {"gunicorn_worker": 1, "deploy_undeclared_variables": "warn"}
    result = run_playbook(
        SCENARIO / "converge.yml", host.backend.get_hostname(), "-e", json.dumps(variables)
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    warned = " ".join(output.split())
    assert (
        "[WARNING]: gunicorn_worker is not a variable of the gunicorn role (did you mean" in warned
    )
    assert recap_changed(output, host) == 0, output[-4000:]
    assert fingerprint(host) == before
