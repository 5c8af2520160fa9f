"""The Content Security Policy, checked with a real browser: examples/uikit (Naive UI, which
injects its styles as <style> elements at run time, and vue-i18n) served by nginx on the HTTP
hosts (uikit.yml) and loaded in headless Chromium from the controller.

- Port 8081, the role's default policy: the page, a lazily loaded route and a deep link render
  with no problem at all (no console error, no CSP violation, no failed request).
- Port 8082, the same build with the former default (style-src 'self') as report-only: the
  browser reports the <style> elements that policy would block, and its reports land, with
  their JSON body, in the site's report log (nginx_gateway_facts.csp_report_log).
- The report location itself (curl in the container): 204 and never the app, one line per
  report, what is refused, the rate limit, the rotation, the facts, the validation.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from types import ModuleType

import pytest
from testinfra.host import Host

from tools import checklist
from tools.testing import load_plugin, network_address, parse_http, run_playbook, wait_until

testinfra_hosts = ["http"]

SCENARIO = Path(__file__).resolve().parent.parent
UIKIT_PORT = 8081
REPORT_PORT = 8082
REPORT_PATH = "/csp-report"
REPORT_LOG = "/var/log/nginx/uikit-report-csp-reports.log"
DEFAULT_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'self'"
)
# The role's default before this version: uikit.yml sends it as report-only on port 8082.
FORMER_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'self'"
)
# What examples/uikit shows (src/locales/en.js, fr.js): Naive UI components holding text
# from vue-i18n, interpolated, pluralised and switched to French at run time.
WELCOME = ".n-message:has-text('Welcome, nginx')"
TABLE_TAG = "#releases .n-data-table-td .n-tag:has-text('previous')"
SAVED = ".n-message:has-text('Saved 3 releases')"
ABOUT = "#about .n-alert:has-text('A lazily loaded route')"
ABOUT_FRENCH = "#about .n-alert:has-text('Une route chargée à la demande')"
# Naive UI's primary colour: its injected styles apply to the button.
PRIMARY_GREEN = "rgb(24, 160, 88)"


def browser() -> ModuleType:
    return load_plugin("module_utils", "browser")


def curl(host: Host, port: int, *args: str) -> checklist.Response:
    """curl -i in the container against one of the sites; the parsed response."""
    argv = ["curl", "-sS", "-i", "--max-time", "10", *args, f"http://127.0.0.1:{port}{REPORT_PATH}"]
    result = host.run(shlex.join(argv))
    assert result.rc == 0, result.stderr
    return parse_http(result.stdout)


def report_lines(host: Host) -> list[str]:
    return [line for line in host.file(REPORT_LOG).content_string.splitlines() if line]


def post_report(host: Host, body: str, *headers: str) -> checklist.Response:
    extra = [arg for header in headers for arg in ("-H", header)]
    return curl(
        host,
        REPORT_PORT,
        "-H",
        "Content-Type: application/csp-report",
        *extra,
        "--data-binary",
        body,
    )


def uuid(host: Host) -> str:
    return str(host.check_output("cat /proc/sys/kernel/random/uuid"))


# --- the headers -----------------------------------------------------------------------


def test_the_sites_send_the_default_policy_and_the_report_only_one(host: Host) -> None:
    for port in (UIKIT_PORT, REPORT_PORT):
        result = host.run(f"curl -sS -D - -o /dev/null http://127.0.0.1:{port}/about")
        response = parse_http(result.stdout)
        assert response.status == 200, result.stdout
        assert response.header("content-security-policy") == DEFAULT_POLICY, port
    uikit = parse_http(
        host.check_output(f"curl -sS -D - -o /dev/null http://127.0.0.1:{UIKIT_PORT}/")
    )
    assert uikit.header("content-security-policy-report-only") == ""
    report = parse_http(
        host.check_output(f"curl -sS -D - -o /dev/null http://127.0.0.1:{REPORT_PORT}/")
    )
    assert report.header("content-security-policy-report-only") == (
        f"{FORMER_POLICY}; report-uri {REPORT_PATH}"
    )


# --- in the browser ----------------------------------------------------------------------


def test_the_ui_library_renders_under_the_default_policy_with_no_problem(host: Host) -> None:
    address = network_address(host)
    with browser().Browser() as session:
        tab = session.open(f"http://{address}:{UIKIT_PORT}/", wait_for=WELCOME)
        assert tab.wait_for(TABLE_TAG), tab.problems()
        assert tab.problems() == []
        # Naive UI did inject its styles (else this test would prove nothing), and they apply.
        injected = tab.page.evaluate("document.querySelectorAll('head style').length")
        assert injected >= 3, injected
        colour = tab.page.evaluate(
            "getComputedStyle(document.querySelector('#save')).backgroundColor"
        )
        assert colour == PRIMARY_GREEN

        tab.click("#save", wait_for=SAVED)
        tab.click("#nav-about", wait_for=ABOUT)
        tab.click("#switch-language", wait_for=ABOUT_FRENCH)
        loaded = tab.page.evaluate("performance.getEntriesByType('resource').map((e) => e.name)")
        assert any("/assets/AboutView-" in url for url in loaded), loaded
        assert tab.problems() == []
        tab.close()

        # A deep link to the lazily loaded route: nginx's fallback to index.html, then its chunk.
        deep = session.open(f"http://{address}:{UIKIT_PORT}/about", wait_for=ABOUT)
        assert deep.problems() == []
        deep.close()


def test_the_former_policy_would_block_its_styles_and_the_browser_reports_land_in_the_log(
    host: Host,
) -> None:
    address = network_address(host)
    url = f"http://{address}:{REPORT_PORT}/"
    before = len(report_lines(host))
    with browser().Browser(report_only_csp=True) as session:
        tab = session.open(url, wait_for=WELCOME)
        assert tab.wait_for(TABLE_TAG), tab.problems()
        problems = tab.problems()
        # Report-only: nothing was blocked and the enforced default policy has nothing to say;
        # what the former policy would have blocked is Naive UI's <style> elements.
        assert problems, (
            "the former policy (style-src 'self') reports nothing: is the test meaningful?"
        )
        would_block = "CSP violation (report-only): style-src-elem blocked inline"
        assert all(problem.startswith(would_block) for problem in problems), problems

        def reports_arrived() -> bool:
            """The report log gained the browser's reports."""
            return len(report_lines(host)) > before

        wait_until(reports_arrived, timeout_s=15, interval_s=0.5)
        tab.close()

    entries = [json.loads(line) for line in report_lines(host)[before:]]
    reports = [json.loads(entry["body"])["csp-report"] for entry in entries]
    for entry in entries:
        assert entry["content_type"] == "application/csp-report", entry
        assert "HeadlessChrome" in entry["user_agent"], entry
    style_reports = [
        report
        for report in reports
        if report["effective-directive"] == "style-src-elem"
        and report["blocked-uri"] == "inline"
        and report["disposition"] == "report"
        and report["document-uri"] == url
    ]
    assert style_reports, reports
    assert style_reports[0]["original-policy"] == f"{FORMER_POLICY}; report-uri {REPORT_PATH}"
    assert "/assets/naive-ui-" in style_reports[0]["source-file"], style_reports[0]


# --- the report location -----------------------------------------------------------------


def test_a_report_is_one_line_with_its_body_and_never_reaches_the_app(host: Host) -> None:
    request_id = "molecule-csp-" + uuid(host)
    # Quotes, a line break and non-ASCII text: still one line, the body as it was sent.
    body = (
        '{"csp-report": {"document-uri": "http://x/", "script-sample": "a \\"q\\" é"}}\nsecond line'
    )
    before = len(report_lines(host))

    response = post_report(host, body, f"X-Request-ID: {request_id}")

    assert response.status == 204, response.text
    assert response.text == ""
    assert "fake-api" not in response.text
    assert response.header("content-security-policy") == DEFAULT_POLICY
    assert response.header("x-content-type-options") == "nosniff"
    lines = report_lines(host)
    assert len(lines) == before + 1, lines[before:]
    entry = json.loads(lines[-1])
    assert entry["request_id"] == request_id
    assert entry["body"] == body
    assert entry["content_type"] == "application/csp-report"
    log = host.file(REPORT_LOG)
    assert (log.user, log.group, log.mode) == ("www-data", "adm", 0o640)
    access = host.check_output(
        f"grep -F -- {shlex.quote('request_id=' + request_id)} /var/log/nginx/access.log"
    )
    assert f'"POST {REPORT_PATH} HTTP/1.1" 204 ' in access, access


def test_what_is_not_a_report_is_refused_and_not_logged(host: Host) -> None:
    before = len(report_lines(host))
    assert curl(host, REPORT_PORT).status == 403  # GET
    assert curl(host, REPORT_PORT, "-X", "PUT", "--data-binary", "{}").status == 403
    too_large = host.run(
        f"head -c 70000 /dev/zero | tr '\\0' x | curl -sS -o /dev/null -w '%{{http_code}}' "
        f"--data-binary @- http://127.0.0.1:{REPORT_PORT}{REPORT_PATH}"
    )
    assert too_large.stdout == "413", too_large.stdout
    # The site without report-only has no such location: a POST there is the SPA's, not logged.
    assert curl(host, UIKIT_PORT, "--data-binary", "{}").status == 405
    assert len(report_lines(host)) == before


def test_reports_are_rate_limited_per_client(host: Host) -> None:
    before = len(report_lines(host))
    target = f"http://127.0.0.1:{REPORT_PORT}{REPORT_PATH}"
    config = f'url = "{target}"\noutput = "/dev/null"\n' * 120
    argv = [
        "curl",
        "-sS",
        "--max-time",
        "20",
        "--data-binary",
        "{}",
        "-K",
        "-",
        "-w",
        "%{http_code}\n",
    ]
    codes = str(host.check_output(f"printf %s {shlex.quote(config)} | {shlex.join(argv)}")).split()
    # 10r/s with a burst of 50: 120 reports at once meet 429s, and only the others are logged.
    assert set(codes) == {"204", "429"}, codes
    assert codes.count("204") >= 50, codes
    assert len(report_lines(host)) == before + codes.count("204")

    def accepted_again() -> bool:
        """A report is accepted again."""
        return post_report(host, "{}").status == 204

    wait_until(accepted_again, timeout_s=15, interval_s=0.5)


def test_the_report_log_is_rotated_with_nginxs_own(host: Host) -> None:
    """Debian's /etc/logrotate.d/nginx (/var/log/nginx/*.log) rotates it, and nginx writes the
    next report to the new file."""
    assert post_report(host, '{"before": "rotation"}').status == 204
    result = host.run("logrotate -f /etc/logrotate.d/nginx")
    assert result.rc == 0, result.stderr
    assert '"before": "rotation"' in host.file(f"{REPORT_LOG}.1").content_string.replace('\\"', '"')
    marker = "after-rotation-" + uuid(host)

    def logged_in_the_new_file() -> bool:
        """The report sent after the rotation is in the new log."""
        assert post_report(host, json.dumps({"marker": marker})).status == 204
        return marker in host.file(REPORT_LOG).content_string

    wait_until(logged_in_the_new_file, timeout_s=10, interval_s=1)
    log = host.file(REPORT_LOG)
    assert (log.user, log.group, log.mode) == ("www-data", "adm", 0o640)


# --- facts and validation (the role's own logic: one host) ---------------------------------


@pytest.mark.first_platform
def test_the_facts_name_the_report_log_only_when_report_only_is_on(host: Host) -> None:
    result = run_playbook(SCENARIO / "csp_facts.yml", host.backend.get_hostname())
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert f"csp_report_log with report-only: {REPORT_LOG}" in output, output[-3000:]
    assert "csp_report_log without: []" in output, output[-3000:]


@pytest.mark.first_platform
def test_report_settings_that_cannot_work_are_refused_before_any_change(host: Host) -> None:
    watched = (
        "find /etc/nginx /var/log/nginx -name '*.conf' -o -name '*csp*' | sort | xargs sha256sum"
    )
    before = host.check_output(watched)
    bad = {
        "nginx_gateway_content_security_policy_report_only": "default-src 'self'; report-uri https://x.test/r",
        "nginx_gateway_csp_report_path": "/api/csp",
        "nginx_gateway_csp_report_max_body_size": "0",
    }
    result = run_playbook(
        SCENARIO / "gateway.yml", host.backend.get_hostname(), "-e", json.dumps(bad)
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    for name in bad:
        assert f"{name} must" in output, (name, output[-3000:])
    assert "the role adds" in output, output[-3000:]
    assert host.check_output(watched) == before
