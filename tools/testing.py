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
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypedDict

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
# One JSON line per deploy under load (deploy_figures), for the README's table.
ZERO_DOWNTIME_RESULTS = ROOT / ".cache" / "results" / "zero-downtime.jsonl"
# The example app's job database on a deployed host: <state directory>/jobs.sqlite3
# (app/settings.py), the state directory being the Gunicorn unit's StateDirectory=NAME,
# /var/lib/NAME (roles/gunicorn), exported to the app as $STATE_DIRECTORY.
JOBS_DB = "/var/lib/webapp/jobs.sqlite3"


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


def run_playbook(
    playbook: Path, limit: str, *extra: str, environment: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a real ansible-playbook against the scenario's inventory, as Molecule does;
    `environment` is added to the run's (e.g. another strategy)."""
    return subprocess.run(
        _playbook_command(playbook, limit, *extra),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, **_PLAIN_OUTPUT, **(environment or {})},
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
    something, then stop() it for its report (sent, failed, counts, releases, hosts for the
    GETs; kinds, releases_by_kind, longest_ms, started_at, stopped_at: see tools/loadgen.py).
    The loop stops by itself after max_seconds."""

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

    def start(self, paths: str, post: str | None = None, websocket: str | None = None) -> None:
        """GET paths (comma-separated) in turn; with post, also POST jobs to that path (e.g.
        /api/jobs); with websocket, also keep a WebSocket to that path (e.g. /api/ws)
        echoing."""
        flags = [] if post is None else ["--post", post]
        flags += [] if websocket is None else ["--websocket", websocket]
        self.host.check_output(f"rm -f {self.STOP} {self.OUT}")
        self.host.check_output(
            f"setsid nohup python3 /tmp/loadgen.py {shlex.quote(paths)} {self.STOP} "
            f"{self.max_seconds} {shlex.join(flags)} > {self.OUT} 2>&1 < /dev/null &"
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


class PostCheck(TypedDict):
    """Whether the load's POSTs ran exactly once: what check_posts_exactly_once found."""

    answered: int  # distinct ids the load got 202 for
    created: int  # job rows created in the window, all hosts together
    lost: list[str]  # answered 202, in no host's database
    duplicated: int  # rows beyond the answered ids found: run twice, or run though it failed
    unexpected: list[str]  # ids of rows in the window that no 202 answered
    no_database: list[str]  # hosts without the database file


# Run by python3 on a back-end host (standard library only): the ids of the job rows created
# in [since, until] (no upper bound when until is ""), or null when the database is missing.
_JOBS_CREATED = """
import json, os, sqlite3, sys
db, since, until = sys.argv[1], float(sys.argv[2]), sys.argv[3]
if not os.path.exists(db):
    print("null")
    sys.exit(0)
connection = sqlite3.connect(db, timeout=10)
connection.execute("PRAGMA query_only = ON")
query, bounds = "SELECT id FROM jobs WHERE created_at >= ?", [since]
if until:
    query, bounds = query + " AND created_at <= ?", [since, float(until)]
print(json.dumps([row[0] for row in connection.execute(query, bounds)]))
connection.close()
"""


def _jobs_created_argv(db_path: str, since: float, until: float | None) -> list[str]:
    return ["-c", _JOBS_CREATED, db_path, repr(since), "" if until is None else repr(until)]


def _parse_jobs(output: str) -> list[str] | None:
    rows = json.loads(output)
    assert rows is None or isinstance(rows, list), output
    return None if rows is None else [str(row) for row in rows]


def jobs_created(
    host: Host, db_path: str = JOBS_DB, since: float = 0.0, until: float | None = None
) -> list[str] | None:
    """The ids of the jobs created on host since `since` (epoch seconds, the host's clock)
    and until `until` (no bound when None), read with the host's python3 and sqlite3; None
    when the database does not exist. Run as the owner of the database when run as root, so
    that a -wal or -shm file it makes is the app's own."""
    read = shlex.join(["python3", *_jobs_created_argv(db_path, since, until)])
    db = shlex.quote(db_path)
    result = host.run(
        f'if [ "$(id -u)" = 0 ] && [ -e {db} ]; '
        f'then runuser -u "$(stat -c %U {db})" -- {read}; else {read}; fi'
    )
    assert result.rc == 0, f"reading {db_path} failed: {result.stderr}"
    return _parse_jobs(result.stdout)


def jobs_created_locally(
    db_path: Path, since: float = 0.0, until: float | None = None
) -> list[str] | None:
    """jobs_created on a database of this machine (the same reader, run by this Python)."""
    result = subprocess.run(
        [sys.executable, *_jobs_created_argv(str(db_path), since, until)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return _parse_jobs(result.stdout)


def exactly_once(answered: Iterable[str], created: Mapping[str, Sequence[str] | None]) -> PostCheck:
    """The ids the load got 202 for against the job rows each host (name: ids, None for no
    database) created in the load's window."""
    distinct = set(answered)
    found = Counter(job_id for rows in created.values() for job_id in rows or ())
    return {
        "answered": len(distinct),
        "created": sum(found.values()),
        "lost": sorted(distinct - found.keys()),
        "duplicated": sum(found.values()) - len(distinct & found.keys()),
        "unexpected": sorted(found.keys() - distinct),
        "no_database": sorted(name for name, rows in created.items() if rows is None),
    }


def check_posts_exactly_once(
    hosts: Iterable[Host],
    ids: Iterable[str],
    *,
    since: float,
    until: float | None = None,
    db_path: str = JOBS_DB,
) -> PostCheck:
    """Whether each POST the load got 202 for (ids: its report's kinds.post.ids) created one
    job, once, on one of the back-end hosts, and no other job was created meanwhile: the
    rows of db_path created since `since` (the report's started_at; same clock) until
    `until` (no bound by default: a POST whose client gave up may still run late). Run it
    right after the load stopped, before anything else POSTs jobs."""
    created = {
        host.backend.get_hostname(): jobs_created(host, db_path, since, until) for host in hosts
    }
    return exactly_once(ids, created)


_SESSION_FIGURES: list[dict[str, Any]] = []


def deploy_figures(
    name: str,
    report: Mapping[str, Any],
    post_check: Mapping[str, Any] | None,
    refused_release: str | None = None,
    *,
    results: Path = ZERO_DOWNTIME_RESULTS,
) -> dict[str, Any]:
    """One deploy's figures from the load's report and check_posts_exactly_once's result
    (None when the POSTs were not checked): requests sent and failed per kind, POSTs lost
    and duplicated, answers from refused_release (a release that must not have served: the
    count is over all kinds, 0 when None), the longest wait. Appended as a JSON line to
    results (ROOT/.cache/results/zero-downtime.jsonl) and returned."""
    kinds = report.get("kinds") or {
        "get": {"sent": report["sent"], "failed": report["failed"]},
    }
    get, post, ws = (kinds.get(kind, {}) for kind in ("get", "post", "websocket"))
    releases: Counter[str] = Counter()
    for counts in (report.get("releases_by_kind") or {}).values():
        releases.update(counts)
    record: dict[str, Any] = {
        "deploy": name,
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "get_sent": get.get("sent", 0),
        "get_failed": get.get("failed", 0),
        "post_sent": post.get("sent", 0),
        "post_failed": post.get("failed", 0),
        "post_lost": None if post_check is None else len(post_check["lost"]),
        "post_duplicated": None if post_check is None else post_check["duplicated"],
        "ws_connections": ws.get("connections", 0),
        "ws_server_closes": ws.get("server_closes", 0),
        "ws_messages": ws.get("messages", 0),
        "ws_failed": ws.get("failed", 0),
        "refused_release": refused_release,
        "from_refused_release": 0 if refused_release is None else releases[refused_release],
        "longest_ms": report.get("longest_ms", 0.0),
        "longest_ms_by_kind": {
            kind: figures.get("longest_ms", 0.0) for kind, figures in kinds.items()
        },
        "releases": dict(sorted(releases.items())),
    }
    results.parent.mkdir(parents=True, exist_ok=True)
    with results.open("a") as lines:
        lines.write(json.dumps(record, sort_keys=True) + "\n")
    _SESSION_FIGURES.append(record)
    return record


def read_figures(results: Path = ZERO_DOWNTIME_RESULTS) -> list[dict[str, Any]]:
    """The records deploy_figures appended to results, oldest first."""
    if not results.exists():
        return []
    return [json.loads(line) for line in results.read_text().splitlines() if line.strip()]


_FIGURE_COLUMNS = (
    ("deploy", "deploy"),
    ("GET sent", "get_sent"),
    ("GET failed", "get_failed"),
    ("POST sent", "post_sent"),
    ("POST failed", "post_failed"),
    ("POST lost", "post_lost"),
    ("POST dup", "post_duplicated"),
    ("WebSocket connections", "ws_connections"),
    ("WebSocket server closes", "ws_server_closes"),
    ("WebSocket messages", "ws_messages"),
    ("WebSocket failed", "ws_failed"),
    ("from refused release", "from_refused_release"),
    ("longest wait ms", "longest_ms"),
)


def figures_table(records: Iterable[Mapping[str, Any]]) -> str:
    """deploy_figures' records as a Markdown table, one row per deploy ("-" where a figure
    was not measured: POSTs not checked, no refused release named)."""

    def cell(record: Mapping[str, Any], key: str) -> str:
        value = record.get(key)
        if key == "from_refused_release" and record.get("refused_release") is None:
            value = None
        text = "-" if value is None else str(value)
        return text.replace("|", "\\|")

    header = [title for title, _ in _FIGURE_COLUMNS]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" if key == "deploy" else "--:" for _, key in _FIGURE_COLUMNS) + "|",
    ]
    lines += [
        "| " + " | ".join(cell(record, key) for _, key in _FIGURE_COLUMNS) + " |"
        for record in records
    ]
    return "\n".join(lines) + "\n"


def zero_downtime_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The table of the deploys this test session measured (deploy_figures), at the end of
    pytest's report. A pytest_terminal_summary hook as it is: in a conftest.py,
    ``from tools.testing import zero_downtime_summary as pytest_terminal_summary``."""
    if not _SESSION_FIGURES:
        return
    terminalreporter.write_sep("-", f"zero downtime: {len(_SESSION_FIGURES)} deploys measured")
    for line in figures_table(_SESSION_FIGURES).splitlines():
        terminalreporter.write_line(line)
    terminalreporter.write_line(f"(also appended to {ZERO_DOWNTIME_RESULTS})")


MIXED_LOAD = {"post": "/api/jobs", "websocket": "/api/ws"}


def assert_zero_downtime(
    backends: Iterable[Host],
    name: str,
    report: Mapping[str, Any],
    refused_release: str | None = None,
) -> dict[str, Any]:
    """A deploy's figures (deploy_figures) from the mixed load's report, with its POSTs checked
    exactly once on the back ends' job databases; fails unless the load ran (GETs, POSTs and
    WebSocket messages) and no request of any kind failed, no POST was lost or duplicated and
    no answer came from refused_release."""
    kinds = report["kinds"]
    check = check_posts_exactly_once(
        backends, kinds["post"]["ids"], since=report["started_at"], until=report["stopped_at"]
    )
    record = deploy_figures(name, report, check, refused_release)
    print(f"{name}: {json.dumps(record, sort_keys=True)}")
    problems = [
        f"{key} = {record[key]}"
        for key in ("get_failed", "post_failed", "ws_failed", "post_lost", "post_duplicated")
        if record[key] != 0
    ]
    if record["from_refused_release"]:
        problems.append(f"{record['from_refused_release']} answers from {refused_release}")
    if check["no_database"]:
        problems.append(f"no job database on {check['no_database']}")
    for key, least in (("get_sent", 51), ("post_sent", 10), ("ws_messages", 10)):
        if record[key] < least:
            problems.append(f"only {record[key]} {key}: the load did not run")
    shown = {
        kind: {k: v for k, v in figures.items() if k != "ids"} for kind, figures in kinds.items()
    }
    assert not problems, f"{name}: {'; '.join(problems)}; {record}; {shown}"
    return record


_INSTANCES = ("blue", "green")


def pick_serving_service(
    name: str, template: bool, states: Mapping[str, str], recorded: str | None
) -> str:
    """serving_service's choice: states are systemctl is-active's answers for
    "blue.service", "green.service", "blue.socket" and "green.socket"; recorded is
    /etc/NAME/serving-instance's content (None without the file)."""
    if not template:
        return f"{name}.service"
    for unit in ("service", "socket"):  # a socket-activated instance may not have started yet
        active = [i for i in _INSTANCES if states.get(f"{i}.{unit}") == "active"]
        if len(active) == 1:
            return f"{name}@{active[0]}.service"
        if active:  # both: a switch is under way; the recorded one serves
            break
    instance = recorded if recorded in _INSTANCES else "blue"  # the role's default: blue
    return f"{name}@{instance}.service"


def serving_service(host: Host, name: str) -> str:
    """The systemd service of app `name` serving now on host: NAME@blue.service or
    NAME@green.service when the app runs as blue/green instances (the active one; when both
    are active, during a switch, the one /etc/NAME/serving-instance names), else
    NAME.service."""
    unit = shlex.quote(name)
    output = host.check_output(
        f"if systemctl cat -- {unit}@.service >/dev/null 2>&1"
        f" || [ -e /etc/systemd/system/{unit}@.service ]; then echo template=yes; fi; "
        "for i in blue green; do for t in service socket; do "
        f'echo "$i.$t=$(systemctl is-active {unit}@$i.$t 2>/dev/null)"; done; done; '
        f"[ -r /etc/{unit}/serving-instance ] && "
        f'echo "recorded=$(cat /etc/{unit}/serving-instance)"; true'
    )
    facts = dict(line.partition("=")[::2] for line in str(output).splitlines() if "=" in line)
    recorded = facts.get("recorded")
    return pick_serving_service(
        name,
        facts.get("template") == "yes",
        facts,
        None if recorded is None else recorded.strip(),
    )


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
