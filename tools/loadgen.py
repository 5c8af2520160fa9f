"""A bounded, steady HTTP load loop, copied into a test container and run there against
nginx on loopback: ``python3 loadgen.py PATHS STOP_FILE MAX_SECONDS [PORT [HOST]]``.

GETs the comma-separated PATHS in turn, one connection per request (what a new browser
tab does), until STOP_FILE exists or MAX_SECONDS passed, then prints one JSON object: the
requests sent, those that failed (a connection error, a timeout or a status other than
200), the count per path and status, and the releases and host names /api/health reported.
HOST (default 127.0.0.1) is where the requests go. Standard library only: the container has
nothing else.
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import time


def one(host: str, port: int, path: str) -> tuple[str, dict[str, str | None]]:
    """The status (or the error's name) of one GET, and the release and host name
    /api/health reports (empty for other paths)."""
    connection = http.client.HTTPConnection(host, port, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
    except (OSError, http.client.HTTPException) as exc:
        return type(exc).__name__, {}
    finally:
        connection.close()
    health: dict[str, str | None] = {}
    if response.status == 200 and path.startswith("/api/health"):
        data = json.loads(body)
        health = {"release": data.get("release"), "hostname": data.get("hostname")}
    return str(response.status), health


def main(argv: list[str]) -> int:
    paths = argv[1].split(",")
    stop_file = argv[2]
    max_seconds = float(argv[3])
    port = int(argv[4]) if len(argv) > 4 else 80
    host = argv[5] if len(argv) > 5 else "127.0.0.1"
    counts: dict[str, int] = {}
    releases: dict[str, int] = {}
    hosts: dict[str, int] = {}
    sent = failed = 0
    started = time.monotonic()
    while not os.path.exists(stop_file) and time.monotonic() - started < max_seconds:
        path = paths[sent % len(paths)]
        status, health = one(host, port, path)
        sent += 1
        failed += status != "200"
        key = f"{path} {status}"
        counts[key] = counts.get(key, 0) + 1
        release = health.get("release")
        if release is not None:
            releases[release] = releases.get(release, 0) + 1
        hostname = health.get("hostname")
        if hostname is not None:
            hosts[hostname] = hosts.get(hostname, 0) + 1
        time.sleep(0.01)
    report = {
        "sent": sent,
        "failed": failed,
        "counts": counts,
        "releases": releases,
        "hosts": hosts,
    }
    print(json.dumps(report, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
