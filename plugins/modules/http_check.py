#!/usr/bin/python
# Copyright: fullstack.webapp maintainers
# MIT License (see galaxy.yml)
"""GET a list of URLs, over TCP or a unix socket, and check their status codes."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: http_check
short_description: GET several URLs, on TCP or a unix socket, until each answers as expected
version_added: 0.2.0
description:
  - Sends a C(GET) to each check of O(checks) in turn, over TCP or over a unix socket, and
    compares the status code with the ones the check accepts. Redirects are not followed,
    a redirect is an answer like any other.
  - A check that does not answer as expected is tried again, O(retries) times, O(delay)
    seconds apart; the module fails when one never does, naming it, what it answered
    (or why nothing answered) and what was expected.
  - All checks run in one module run, where M(ansible.builtin.uri) needs one per URL (each
    costs a process on the host and a round trip); this is the health gate of the
    C(fullstack.webapp.deploy) role and the boot check of C(fullstack.webapp.gunicorn).
  - Read-only; it never changes anything, and runs in check mode too.
options:
  checks:
    description: The GETs, in order.
    type: list
    elements: dict
    required: true
    suboptions:
      url:
        description:
          - C(http://host:port/path) or C(https://...), or its start when O(checks[].path)
            is given. With O(checks[].unix_socket), only the path (and the host name, sent
            as C(Host)) is used.
        type: str
        required: true
      path:
        description: Appended to O(checks[].url) (for example C(/api/health)).
        type: str
        default: ""
      unix_socket:
        description: A unix socket to send the request to, instead of the URL's host and port.
        type: path
      host_header:
        description:
          - The C(Host) header to send instead of the URL's host, for example a site's server
            name when the host's nginx serves several sites; empty sends the URL's.
        type: str
        default: ""
      status:
        description: Status codes accepted; empty accepts any code below 500.
        type: list
        elements: int
        default: []
      name:
        description: What the check is, for the messages (for example C(nginx)).
        type: str
        default: ""
  retries:
    description: Retries of a check that does not answer as expected.
    type: int
    default: 0
  delay:
    description: Seconds between two tries.
    type: float
    default: 1
  timeout:
    description: Seconds a request may take (to connect, and between two reads).
    type: float
    default: 10
  validate_certs:
    description:
      - Verify the server's certificate over HTTPS (a check on the host itself reaches
        127.0.0.1, a name the certificate rarely holds).
    type: bool
    default: false
attributes:
  check_mode:
    description: Runs in check mode too; it only reads.
    support: full
  diff_mode:
    description: Nothing changes, so there is no diff.
    support: none
  platform:
    description: Hosts with unix sockets.
    support: full
    platforms: posix
author:
  - fullstack.webapp maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Check the app directly on its socket and through nginx
  fullstack.webapp.http_check:
    checks:
      - name: Gunicorn
        url: http://localhost
        path: /api/health
        unix_socket: /run/webapp/gunicorn.sock
      - name: nginx
        url: http://127.0.0.1/
        status: [200]
    retries: 3
    delay: 2
"""

RETURN = r"""
checks:
  description: One result per check, in order.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The check's O(checks[].name).
      type: str
    url:
      description: The URL of the GET.
      type: str
    status:
      description: The status code of the last answer, -1 when nothing answered.
      type: int
    ok:
      description: Whether the check answered as expected.
      type: bool
    attempts:
      description: How many GETs were sent.
      type: int
    error:
      description: Why nothing answered (the last try), or "".
      type: str
failed_check:
  description: The first check that failed (its result), when one did.
  returned: when a check failed
  type: dict
"""

import http.client
import socket
import ssl
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from ansible.module_utils.basic import AnsibleModule


class UnixHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to a unix socket (the Host header from the URL)."""

    def __init__(self, path: str, host: str, timeout: float) -> None:
        super().__init__(host, timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.socket_path)
        self.sock = sock


def get_status(check: dict[str, Any], timeout: float, validate_certs: bool) -> tuple[int, str]:
    """One GET: its status code and "", or -1 and why nothing answered."""
    parts = urlsplit(check["url"] + (check.get("path") or ""))
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host = parts.hostname or "localhost"
    connection: http.client.HTTPConnection
    if check.get("unix_socket"):
        connection = UnixHTTPConnection(check["unix_socket"], host, timeout)
    elif parts.scheme == "https":
        context = ssl.create_default_context()
        if not validate_certs:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        connection = http.client.HTTPSConnection(host, parts.port, timeout=timeout, context=context)
    else:
        connection = http.client.HTTPConnection(host, parts.port, timeout=timeout)
    try:
        headers = {"User-Agent": "fullstack.webapp.http_check"}
        if check.get("host_header"):
            headers["Host"] = check["host_header"]
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status, ""
    except (OSError, http.client.HTTPException) as exc:
        return -1, f"{type(exc).__name__}: {exc}".rstrip(": ")
    finally:
        connection.close()


def accepted(status: int, wanted: list[int]) -> bool:
    return status in wanted if wanted else 0 < status < 500


def expected_text(wanted: list[int]) -> str:
    return " or ".join(str(code) for code in wanted) if wanted else "an answer below 500"


def describe_failure(result: dict[str, Any], wanted: list[int]) -> str:
    answered = str(result["status"]) if result["status"] > 0 else f"nothing ({result['error']})"
    where = f"{result['name']}: " if result["name"] else ""
    path = urlsplit(result["url"]).path or "/"
    return f"{where}GET {path} answered {answered}, expected {expected_text(wanted)}"


def run_checks(
    checks: list[dict[str, Any]],
    retries: int,
    delay: float,
    timeout: float,
    validate_certs: bool,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[list[dict[str, Any]], str]:
    """Every check's result, and the message of the first that failed ("" when none did)."""
    results: list[dict[str, Any]] = []
    failure = ""
    for check in checks:
        wanted = list(check.get("status") or [])
        url = check["url"] + (check.get("path") or "")
        result: dict[str, Any] = {"name": check.get("name") or "", "url": url}
        for attempt in range(1, retries + 2):
            status, error = get_status(check, timeout, validate_certs)
            result.update(status=status, error=error, attempts=attempt)
            if accepted(status, wanted):
                break
            if attempt <= retries:
                sleep(delay)
        result["ok"] = accepted(result["status"], wanted)
        results.append(result)
        if not result["ok"] and not failure:
            failure = describe_failure(result, wanted)
    return results, failure


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "checks": {
                "type": "list",
                "elements": "dict",
                "required": True,
                "options": {
                    "url": {"type": "str", "required": True},
                    "path": {"type": "str", "default": ""},
                    "unix_socket": {"type": "path"},
                    "host_header": {"type": "str", "default": ""},
                    "status": {"type": "list", "elements": "int", "default": []},
                    "name": {"type": "str", "default": ""},
                },
            },
            "retries": {"type": "int", "default": 0},
            "delay": {"type": "float", "default": 1},
            "timeout": {"type": "float", "default": 10},
            "validate_certs": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    params = module.params
    if params["retries"] < 0 or params["delay"] < 0 or params["timeout"] <= 0:
        module.fail_json(msg="retries and delay must be at least 0 and timeout more than 0")
    results, failure = run_checks(
        params["checks"],
        params["retries"],
        params["delay"],
        params["timeout"],
        params["validate_certs"],
    )
    if failure:
        first = next(result for result in results if not result["ok"])
        module.fail_json(msg=failure, checks=results, failed_check=first)
    module.exit_json(changed=False, checks=results)


if __name__ == "__main__":
    main()
