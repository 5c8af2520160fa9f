"""Helpers for the tests: the Molecule scenarios' testinfra tests and the unit tests."""

from __future__ import annotations

import importlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest
import testinfra
from testinfra.host import Host

from tools import checklist

if TYPE_CHECKING:
    from ansible_collections.fullstack.webapp.plugins.module_utils.browser import Tab

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_BACKEND = ROOT / "examples" / "app" / "backend"
EXAMPLE_FRONTEND = ROOT / "examples" / "app" / "frontend"
EXAMPLE_DIST = EXAMPLE_FRONTEND / "dist"
_NOT_SOURCE = shutil.ignore_patterns(".venv", "__pycache__", "node_modules", ".pytest_cache", "var")
COLLECTIONS = ROOT / ".cache" / "collections"
# deploy_lock_file's default.
DEPLOY_LOCK = "/run/lock/fullstack.webapp-deploy.json"
COLLECTION_PACKAGE = "ansible_collections.fullstack.webapp"


def collections_dir() -> Path:
    """ROOT/.cache/collections, holding ansible_collections/fullstack/webapp -> ROOT (what
    `make tools` makes; made here when it is missing), put on sys.path so that the plugins
    and their module_utils import through the collection's namespace, as under Ansible."""
    link = COLLECTIONS / "ansible_collections" / "fullstack" / "webapp"
    if not link.is_symlink() or link.resolve() != ROOT:
        if link.exists() and not link.is_symlink():
            raise RuntimeError(f"{link} should be a symbolic link to {ROOT}")
        link.parent.mkdir(parents=True, exist_ok=True)
        link.unlink(missing_ok=True)
        link.symlink_to(os.path.relpath(ROOT, link.parent))
    if str(COLLECTIONS) not in sys.path:
        sys.path.insert(0, str(COLLECTIONS))
    return COLLECTIONS


def load_plugin(kind: str, name: str) -> ModuleType:
    """plugins/KIND/NAME.py imported as ansible_collections.fullstack.webapp.plugins.KIND.NAME,
    for unit tests."""
    collections_dir()
    return importlib.import_module(f"{COLLECTION_PACKAGE}.plugins.{kind}.{name}")


def run_local_playbook(
    directory: Path, playbook: str, extra: Mapping[str, object]
) -> subprocess.CompletedProcess[str]:
    """A playbook's text run on localhost (connection local) by this environment's
    ansible-playbook, with this checkout as the collection and extra as -e."""
    (directory / "play.yml").write_text(playbook)
    command = shutil.which("ansible-playbook", path=str(Path(sys.executable).parent))
    command = command or "ansible-playbook"
    variables = {"ansible_python_interpreter": sys.executable, **extra}
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(collections_dir()), "ANSIBLE_NOCOLOR": "1"}
    return subprocess.run(
        [
            command or "ansible-playbook",
            "-i",
            "localhost,",
            "-e",
            json.dumps(variables),
            "play.yml",
        ],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def run_module(
    module: ModuleType, args: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> dict[str, Any]:
    """The JSON result of a module's main() run with args, as Ansible would pass them."""
    testing = pytest.importorskip("ansible.module_utils.testing")
    with testing.patch_module_args(args), pytest.raises(SystemExit):
        module.main()
    result: dict[str, Any] = json.loads(capsys.readouterr().out)
    return result


def curl_fetch(host: Host, base_url: str = "http://127.0.0.1") -> checklist.Fetch:
    """A checklist.Fetch that runs curl inside the container, against its own nginx."""

    def fetch(method: str, path: str, body: dict[str, object] | None) -> checklist.Response:
        argv = ["curl", "-sS", "-i", "--max-time", "10", "-X", method]
        if body is not None:
            argv += ["-H", "Content-Type: application/json", "--data", json.dumps(body)]
        argv.append(base_url + path)
        result = host.run(shlex.join(argv))
        assert result.rc == 0, f"curl {method} {path} failed: {result.stderr}"
        return parse_http(result.stdout)

    return fetch


def parse_http(raw: str) -> checklist.Response:
    head, _, body = raw.partition("\r\n\r\n")
    lines = head.split("\r\n")
    status = int(lines[0].split()[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return checklist.Response(status, headers, body.encode())


def _playbook_command(playbook: Path, limit: str, *extra: str) -> list[str]:
    inventory = Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent
    return ["ansible-playbook", "-i", str(inventory), "--limit", limit, str(playbook), *extra]


_PLAIN_OUTPUT = {
    "ANSIBLE_FORCE_COLOR": "0",
    "ANSIBLE_NOCOLOR": "1",
    "ANSIBLE_CALLBACK_RESULT_FORMAT": "json",
}


def run_playbook(playbook: Path, limit: str, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run a real ansible-playbook against the scenario's inventory, as Molecule does."""
    return subprocess.run(
        _playbook_command(playbook, limit, *extra),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, **_PLAIN_OUTPUT},
    )


def run_status(limit: str, *extra: str) -> tuple[int, str, str]:
    """playbooks/status.yml on the hosts of limit: its exit status, the table it showed and
    its whole output."""
    result = run_playbook(ROOT / "playbooks" / "status.yml", limit, *extra)
    output = result.stdout + result.stderr
    shown = re.search(r'"msg": ("HOST(?:[^"\\]|\\.)*")', output)
    assert shown is not None, output[-4000:]
    return result.returncode, str(json.loads(shown.group(1))), output


def start_playbook(log: Path, playbook: Path, limit: str, *extra: str) -> subprocess.Popen[bytes]:
    """run_playbook in the background, its output (both streams) written to log: a pipe
    nobody reads while the test does something else would block the run once full."""
    with log.open("wb") as output:
        return subprocess.Popen(
            _playbook_command(playbook, limit, *extra),
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, **_PLAIN_OUTPUT},
            # Its own process group: a test can kill the run with its workers (os.killpg).
            start_new_session=True,
        )


def run_ad_hoc(limit: str, module: str, args: str) -> subprocess.CompletedProcess[str]:
    """`ansible LIMIT -b -m MODULE -a ARGS` against the scenario's inventory, as a user
    would run a documented one-off command."""
    inventory = Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent
    return subprocess.run(
        ["ansible", "-i", str(inventory), limit, "-b", "-m", module, "-a", args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, **_PLAIN_OUTPUT},
    )


def http_status(
    host: Host, path: str, base_url: str = "http://127.0.0.1", max_time_s: float = 10
) -> int:
    """Status of one GET through the container's own gateway; 0 when nothing answered."""
    argv = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", str(max_time_s)]
    result = host.run(shlex.join([*argv, base_url + path]))
    code = result.stdout.strip()
    return int(code) if code.isdigit() else 0


def main_pid(host: Host, unit: str) -> int:
    """systemd's MainPID of a unit (0 when it has no running main process)."""
    return int(host.check_output(f"systemctl show --property=MainPID --value {shlex.quote(unit)}"))


def systemd_exposure(host: Host, unit: str) -> tuple[float, str]:
    """`systemd-analyze security`'s overall exposure of a unit (0 safest, 10 least), and its
    whole report."""
    report = str(host.check_output(f"systemd-analyze security --no-pager {shlex.quote(unit)}"))
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", report)
    assert match is not None, report[-500:]
    return float(match.group(1)), report


def wait_until(condition: Callable[[], bool], timeout_s: float, interval_s: float = 0.2) -> float:
    """Seconds until condition() held; raises TimeoutError after timeout_s."""
    started = time.monotonic()
    while True:
        if condition():
            return time.monotonic() - started
        if time.monotonic() - started > timeout_s:
            raise TimeoutError(f"not true after {timeout_s} s: {condition.__doc__ or condition}")
        time.sleep(interval_s)


def self_signed_pem(common_name: str) -> tuple[str, str]:
    """A new self-signed certificate and its unencrypted key (PEM text), valid for a day."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(common_name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode(), key_pem.decode()


class _PageResources(HTMLParser):
    """Collects what a Content-Security-Policy of 'self' scripts and styles would block."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self._inline: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if "style" in attributes:
            self.problems.append(f"inline style attribute on <{tag}>")
        self.problems += [
            f"inline handler {name} on <{tag}>" for name in attributes if name.startswith("on")
        ]
        url = attributes.get("src") if tag == "script" else attributes.get("href")
        if tag == "script" and url is None:
            self._inline = "script"
        elif tag == "style":
            self._inline = "style"
        elif tag in ("script", "link") and url is not None and not _same_origin(url):
            self.problems.append(f"<{tag}> from another origin: {url}")

    def handle_endtag(self, tag: str) -> None:
        if tag == self._inline:
            self._inline = None

    def handle_data(self, data: str) -> None:
        if self._inline is not None and data.strip():
            self.problems.append(f"inline <{self._inline}>: {data.strip()[:60]}")


def _same_origin(url: str) -> bool:
    return not url.startswith("//") and "://" not in url and not url.startswith("data:")


def csp_problems(html: str) -> list[str]:
    """Inline scripts, styles and handlers, and scripts or stylesheets from another origin,
    in a page: what "script-src 'self'; style-src 'self'" would block."""
    parser = _PageResources()
    parser.feed(html)
    parser.close()
    return parser.problems


class LoadLoop:
    """tools/loadgen.py run in the background inside a test container: start() it, do
    something, then stop() it for its report (sent, failed, counts, releases, hosts). The
    loop stops by itself after max_seconds."""

    STOP = "/tmp/loadgen.stop"  # noqa: S108 - inside the test container
    OUT = "/tmp/loadgen.out"  # noqa: S108 - inside the test container

    def __init__(self, host: Host, max_seconds: int = 300) -> None:
        self.host = host
        self.max_seconds = max_seconds
        name = host.backend.get_hostname()
        subprocess.run(
            ["docker", "cp", str(ROOT / "tools" / "loadgen.py"), f"{name}:/tmp/loadgen.py"],
            check=True,
        )

    def start(self, paths: str) -> None:
        self.host.check_output(f"rm -f {self.STOP} {self.OUT}")
        self.host.check_output(
            f"setsid nohup python3 /tmp/loadgen.py {shlex.quote(paths)} {self.STOP} "
            f"{self.max_seconds} > {self.OUT} 2>&1 < /dev/null &"
        )
        time.sleep(1)

    def stop(self) -> dict[str, object]:
        self.host.check_output(f"touch {self.STOP}")
        for _ in range(150):
            out = self.host.run(f"cat {self.OUT}").stdout.strip()
            if out:
                report = json.loads(out)
                assert isinstance(report, dict), out
                return report
            time.sleep(0.2)
        raise AssertionError("the load loop did not report")


def backend_variant(
    base: Path,
    name: str,
    edit: dict[str, tuple[str, str]],
    source: Path = EXAMPLE_BACKEND,
    add: dict[str, str] | None = None,
) -> Path:
    """A copy of a back end (the example app's by default) with text replaced in some files
    (relative path: old, new; each old text must be there) and files added (relative path:
    text)."""
    dest = base / name / "backend"
    shutil.copytree(source, dest, ignore=_NOT_SOURCE)
    for relative, (old, new) in edit.items():
        path = dest / relative
        text = path.read_text()
        assert old in text, f"{old!r} not in {path}"
        path.write_text(text.replace(old, new, 1))
    for relative, text in (add or {}).items():
        (dest / relative).write_text(text)
    return dest


_HEALTH_ROUTE = "    async def health() -> HealthResponse:\n"


def failing_health_edit(message: str) -> dict[str, tuple[str, str]]:
    """The edit for backend_variant that makes the example's /api/health raise
    RuntimeError(message): an app that imports and starts, and fails its health check."""
    raising = f'        raise RuntimeError("{message}")\n'
    return {"app/main.py": (_HEALTH_ROUTE, _HEALTH_ROUTE + raising)}


def dist_variant(base: Path, name: str, index: bool = True) -> Path:
    """A copy of the built front end whose index.html says which variant it is (or, with
    index=False, has no index.html)."""
    dest = base / name / "dist"
    shutil.copytree(EXAMPLE_DIST, dest)
    index_html = dest / "index.html"
    if index:
        index_html.write_text(index_html.read_text().replace("<head>", f"<head><!-- {name} -->"))
    else:
        index_html.unlink()
    return dest


def rebuilt_dist(base: Path, name: str) -> Path:
    """The example front end built again (vite, with the checkout's node_modules) from a
    copy whose dashboard route, a lazily loaded chunk, carries data-build="NAME": its chunk
    and the entry chunk that imports it get new hashed names, as in a real new release. Its
    index.html carries the marker comment of dist_variant."""
    source = base / name / "frontend"
    shutil.copytree(EXAMPLE_FRONTEND, source, ignore=shutil.ignore_patterns("node_modules", "dist"))
    (source / "node_modules").symlink_to(EXAMPLE_FRONTEND / "node_modules")
    view = source / "src" / "views" / "DashboardView.vue"
    text = view.read_text()
    assert '<section class="card">' in text, "DashboardView.vue changed: update rebuilt_dist"
    view.write_text(
        text.replace('<section class="card">', f'<section class="card" data-build="{name}">', 1)
    )
    subprocess.run(
        ["npm", "run", "build", "--silent"], cwd=source, check=True, capture_output=True, text=True
    )
    index_html = source / "dist" / "index.html"
    index_html.write_text(index_html.read_text().replace("<head>", f"<head><!-- {name} -->"))
    return source / "dist"


# The example app's home page links to its dashboard, a route loaded lazily (its own chunk,
# assets/DashboardView-HASH.js), which renders the items the API returns.
DASHBOARD_LINK = "nav a[href='/dashboard']"
DASHBOARD_ROWS = "#items tbody tr"


@contextmanager
def tab_on_home(address: str) -> Iterator[Tab]:
    """A real browser tab (headless Chromium) on the example app's home page, through nginx at
    address; asserts it loaded with no problem. Kept open while the with-block runs."""
    browser = load_plugin("module_utils", "browser")
    with browser.Browser() as session:
        tab = session.open(f"http://{address}/", wait_for=DASHBOARD_LINK)
        assert tab.problems() == [], tab.problems()
        yield tab


def open_dashboard(tab: Tab) -> str:
    """Follow the dashboard link in tab (the router loads the route's chunk of the tab's own
    build) and assert that it renders the API's items with no problem: no console error, no
    CSP violation, no 404. Returns the name of the chunk the tab loaded."""
    tab.clear()
    tab.click(DASHBOARD_LINK, wait_for=DASHBOARD_ROWS)
    assert tab.problems() == [], tab.problems()
    loaded = tab.page.evaluate("performance.getEntriesByType('resource').map((e) => e.name)")
    chunks = sorted({url.rsplit("/", 1)[-1] for url in loaded if "/assets/DashboardView-" in url})
    assert len(chunks) == 1, loaded
    return str(chunks[0])


def host_fingerprint(host: Host, paths: str, units: str) -> str:
    """Every file's type, mode, owner, link target and content under paths (shell words),
    and the units' main processes: equal before and after a run that changed nothing."""
    return str(
        host.check_output(
            f"find {paths} -printf '%y %m %u:%g %p %l\\n' 2>/dev/null | sort; "
            f"find {paths} -type f -exec sha256sum {{}} + 2>/dev/null | sort; "
            f"systemctl show --property=Id --property=MainPID {units}"
        )
    )


def recap_changed(output: str, host: Host) -> int:
    """changed= of the host in an ansible-playbook run's recap."""
    name = re.escape(host.backend.get_hostname())
    recap = re.search(rf"{name}\s*:\s*ok=\d+\s+changed=(\d+)", output)
    assert recap is not None, output[-3000:]
    return int(recap.group(1))


def nginx_configuration(host: Host) -> str:
    """What the host's nginx loads, every include resolved (`nginx -T`, in the dump form
    gixy-ng parses)."""
    dump = host.run("nginx -T")
    assert dump.rc == 0, f"nginx -T failed: {dump.stderr}"
    return str(dump.stdout)


def gixy_findings(host: Host) -> list[dict[str, Any]]:
    """gixy-ng's findings on the configuration the host's nginx loads."""
    gixy = Path(sys.executable).with_name("gixy")
    with tempfile.TemporaryDirectory() as directory:
        config = Path(directory) / "nginx-T.conf"
        config.write_text(nginx_configuration(host))
        result = subprocess.run(
            [str(gixy), "--format", "json", str(config)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert result.stdout.strip().startswith("["), f"gixy failed: {result.stderr}"
    findings: list[dict[str, Any]] = json.loads(result.stdout)
    return findings


def scenario_host(name: str) -> Host:
    """Another instance of the scenario than the verifier's host, by its inventory name."""
    inventory = str(Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent)
    return testinfra.get_host(f"ansible://{name}", ansible_inventory=inventory)


def network_address(host: Host) -> str:
    """The host's address on the scenario's Docker network."""
    return str(host.check_output("hostname -I")).split()[0]


def sslyze_mozilla_intermediate(
    host: Host, server_name: str, ca_pem: str, port: int = 443
) -> subprocess.CompletedProcess[str]:
    """sslyze's scan of the host's HTTPS port (at its address on the scenario's network, for
    server_name), checked against Mozilla's "intermediate" profile with ca_pem as the trust
    anchor of the certificate path. rc 0 means compliant; stdout says what is not."""
    address = network_address(host)
    sslyze = Path(sys.executable).with_name("sslyze")
    with tempfile.TemporaryDirectory() as directory:
        ca_file = Path(directory) / "ca.pem"
        ca_file.write_text(ca_pem)
        return subprocess.run(
            [
                str(sslyze),
                "--quiet",
                "--mozilla_config=intermediate",
                "--certinfo_ca_file",
                str(ca_file),
                f"{server_name}:{port}{{{address}}}",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )


def test_gixy_finds_nothing_in_the_loaded_configuration(host: Host) -> None:
    """Shared by every scenario with an nginx_gateway host (imported by its test_*_scanners.py):
    gixy-ng finds nothing in what nginx loads, site and http level alike."""
    findings = gixy_findings(host)
    assert findings == [], json.dumps(findings, indent=2)
