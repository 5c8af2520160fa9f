"""`make demo`: deploy the example app with site.yml to a local systemd container.

Starts (or reuses) the container named in inventories/demo, publishes its port 80 on
127.0.0.1, runs site.yml against it, then runs the seed's checklist through nginx and
prints the URL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from tools import checklist, hostprep

ROOT = Path(__file__).resolve().parent.parent
CONTAINER = "fullstack-webapp-demo"
IMAGE = os.environ.get("FULLSTACK_DEMO_IMAGE", "fullstack-webapp/debian:12")
PORT = int(os.environ.get("FULLSTACK_DEMO_PORT", "8080"))


def log(message: str) -> None:
    print(f"[demo] {message}", flush=True)


def container_running() -> bool:
    result = subprocess.run(
        ["docker", "inspect", "-f", "{{.State.Running}}", CONTAINER],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() == "true"


def start_container() -> None:
    if container_running():
        log(f"reusing the running container {CONTAINER}")
        return
    subprocess.run(["docker", "rm", "-f", CONTAINER], capture_output=True, check=False)
    log(f"starting {CONTAINER} from {IMAGE}, port 80 published on 127.0.0.1:{PORT}")
    subprocess.run(
        ["docker", "run", "-d", "--name", CONTAINER, "--hostname", CONTAINER,
         *hostprep.SYSTEMD_CONTAINER_ARGS, "-p", f"127.0.0.1:{PORT}:80",
         IMAGE, "/lib/systemd/systemd"],
        check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    subprocess.run(
        ["docker", "exec", CONTAINER, "systemctl", "is-system-running", "--wait"],
        check=False,
        stdout=subprocess.DEVNULL,
    )


def run_site() -> None:
    log("running site.yml against inventories/demo")
    subprocess.run(
        ["ansible-playbook", "-i", "inventories/demo", "site.yml"],
        cwd=ROOT,
        check=True,
    )


def http_fetch(base_url: str) -> checklist.Fetch:
    def fetch(method: str, path: str, body: dict[str, object] | None) -> checklist.Response:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - a loopback URL built here
            base_url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"} if data else {},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310
                return checklist.Response(
                    reply.status, {k.lower(): v for k, v in reply.headers.items()}, reply.read()
                )
        except urllib.error.HTTPError as error:
            return checklist.Response(
                error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()
            )

    return fetch


def docker_exec(command: str) -> str:
    return subprocess.run(
        ["docker", "exec", CONTAINER, "sh", "-c", command],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def main() -> int:
    hostprep.main([])
    start_container()
    run_site()
    url = f"http://127.0.0.1:{PORT}"
    results = checklist.run_checklist(http_fetch(url))
    results.append(checklist.check_gunicorn_processes(docker_exec, "webapp"))
    results.append(checklist.check_nginx_config(docker_exec))
    print()
    for result in results:
        mark = "PASS" if result.passed else "FAIL"
        detail = f" ({result.detail})" if result.detail else ""
        print(f"  [{mark}] {result.name}{detail}")
    print()
    if not all(result.passed for result in results):
        log("the checklist failed")
        return 1
    log(f"the example app is served through nginx at {url}/  (dashboard: {url}/dashboard)")
    log(f"stop it with: docker rm -f {CONTAINER}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
