"""The seed's end-to-end checklist, run over HTTP through nginx.

The checks only need a way to send one HTTP request (``Fetch``), so the same code runs
from the controller against the demo's published port (``urllib``) and from the Molecule
tests inside a container (``curl`` through testinfra).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

APP_MARKER = 'name="app" content="fullstack-webapp-example"'


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")

    def json(self) -> object:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


Fetch = Callable[[str, str, "dict[str, object] | None"], Response]
"""fetch(method, path, json_body) -> Response, for a path on the gateway."""


@dataclass
class CheckResult:
    name: str
    passed: bool
    detail: str = ""
    data: dict[str, object] = field(default_factory=dict)


class CheckFailed(AssertionError):
    pass


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def check_index(fetch: Fetch) -> CheckResult:
    response = fetch("GET", "/", None)
    _expect(response.status == 200, f"GET / answered {response.status}")
    _expect(APP_MARKER in response.text, "GET / is not the example app's index.html")
    return CheckResult("front-end entry: / serves the app's index.html", True)


def check_deep_link(fetch: Fetch) -> CheckResult:
    response = fetch("GET", "/dashboard", None)
    _expect(response.status == 200, f"GET /dashboard answered {response.status}")
    _expect(APP_MARKER in response.text, "GET /dashboard did not get index.html (try_files)")
    return CheckResult("refresh: /dashboard reloads to index.html with 200", True)


def main_script_path(index_html: str) -> str:
    match = re.search(r'<script[^>]+src="(/assets/[^"]+\.js)"', index_html)
    if match is None:
        raise CheckFailed("index.html references no /assets/*.js module")
    return match.group(1)


def check_page_api_call(fetch: Fetch) -> CheckResult:
    """The page's bundle calls /api on its own origin, and /api reaches FastAPI."""
    script = main_script_path(fetch("GET", "/", None).text)
    bundle = fetch("GET", script, None)
    _expect(bundle.status == 200, f"GET {script} answered {bundle.status}")
    _expect("/api" in bundle.text, f"{script} does not call /api")
    _expect("127.0.0.1:8000" not in bundle.text, f"{script} holds the development API URL")
    health = fetch("GET", "/api/health", None)
    _expect(health.status == 200, f"GET /api/health answered {health.status}")
    payload = health.json()
    _expect(
        isinstance(payload, dict) and payload.get("status") == "ok",
        f"GET /api/health returned {health.text[:200]!r}",
    )
    assert isinstance(payload, dict)
    return CheckResult(
        "API: the page's /api call reaches FastAPI through nginx",
        True,
        f"version {payload.get('version')}, worker pid {payload.get('pid')}",
        {"health": payload},
    )


def check_job(fetch: Fetch, duration_s: float = 1.0, timeout_s: float = 30.0) -> CheckResult:
    """A long job answers 202 at once and completes, polled through the gateway."""
    started = fetch("POST", "/api/jobs", {"duration_s": duration_s})
    _expect(
        started.status == 202, f"POST /api/jobs answered {started.status}: {started.text[:200]}"
    )
    job = started.json()
    _expect(isinstance(job, dict) and "status_url" in job, f"POST /api/jobs returned {job!r}")
    assert isinstance(job, dict)
    status_url = str(job["status_url"])
    deadline = time.monotonic() + timeout_s
    status: dict[str, object] = {}
    while time.monotonic() < deadline:
        poll = fetch("GET", status_url, None)
        _expect(poll.status == 200, f"GET {status_url} answered {poll.status}")
        body = poll.json()
        assert isinstance(body, dict)
        status = body
        if status.get("status") in {"done", "failed"}:
            break
        time.sleep(0.2)
    _expect(status.get("status") == "done", f"job {job['id']} ended as {status!r}")
    return CheckResult(
        "long job: 202 + task id, completed through nginx",
        True,
        f"job {job['id']} done",
        {"job": status},
    )


CHECKS: tuple[Callable[[Fetch], CheckResult], ...] = (
    check_index,
    check_deep_link,
    check_page_api_call,
    check_job,
)


def run_checklist(fetch: Fetch) -> list[CheckResult]:
    results: list[CheckResult] = []
    for check in CHECKS:
        try:
            results.append(check(fetch))
        except (CheckFailed, ValueError, OSError) as error:
            name = (check.__doc__ or check.__name__).strip().splitlines()[0]
            results.append(CheckResult(name, False, str(error)))
    return results


Run = Callable[[str], str]
"""run(shell_command) -> stdout, on the host that runs the stack."""


def expected_workers(vcpus: int, memory_mb: int, worker_memory_mb: int = 256) -> int:
    """The gunicorn role's default: 2 x vCPUs + 1, capped by memory, at least 1."""
    return min(2 * vcpus + 1, max(1, memory_mb // worker_memory_mb))


def serving_unit_command(service: str) -> str:
    """A shell command printing the Gunicorn service that serves: NAME.service, or the active
    one of NAME@blue and NAME@green (deploy_switch blue_green); nothing when none runs."""
    return (
        f"systemctl list-units --state=active --plain --no-legend '{service}.service' "
        f"'{service}@*.service' | awk 'NR == 1 {{print $1}}'"
    )


def check_gunicorn_processes(run: Run, service: str) -> CheckResult:
    """Gunicorn runs as 1 master plus exactly the computed number of workers (of the serving
    instance)."""
    unit = run(serving_unit_command(service)).strip() or f"{service}.service"
    main_pid = int(run(f"systemctl show --property=MainPID --value {unit}").strip())
    _expect(main_pid > 0, f"{unit} has no main process")
    workers = [pid for pid in run(f"pgrep -P {main_pid} || true").split() if pid]
    vcpus = int(run("nproc").strip())
    memory_kb = int(run("awk '/^MemTotal:/ {print $2}' /proc/meminfo").strip())
    expected = expected_workers(vcpus, memory_kb // 1024)
    _expect(
        len(workers) == expected,
        f"master {main_pid} has {len(workers)} workers, expected {expected}",
    )
    return CheckResult(
        "back end: gunicorn master + workers under systemd",
        True,
        f"master {main_pid} + {len(workers)} workers",
    )


def check_nginx_config(run: Run) -> CheckResult:
    """nginx -t is clean."""
    output = run("nginx -t 2>&1")
    _expect("test is successful" in output, f"nginx -t: {output.strip()}")
    return CheckResult("gateway: nginx -t is clean", True)
