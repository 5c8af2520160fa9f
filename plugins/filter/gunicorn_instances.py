# Copyright: fullstack.webapp maintainers
# MIT License (see galaxy.yml)
"""The gunicorn_instances filter: the units and listeners of a Gunicorn service's instances."""

from __future__ import annotations

DOCUMENTATION = r"""
---
name: gunicorn_instances
short_description: The units and listening addresses of a Gunicorn service's instances
version_added: 0.3.0
description:
  - With O(blue_green) false, one instance named C("") runs as C(NAME.service) on
    C(NAME.socket), listening on the bind given.
  - With O(blue_green), two instances C(blue) and C(green) run as C(NAME@blue.service) and
    C(NAME@green.service), each on its own socket unit. C(blue) listens on the bind given;
    C(green) on the same unix socket path with C(-green) before its C(.sock) extension, or on
    the next TCP port.
  - For each, how a client on the same host reaches it (an nginx upstream server, where a
    wildcard address is reached on loopback) and the base URL of an HTTP check.
positional: _input, blue_green
options:
  _input:
    description: The service's base name (C(NAME)).
    type: str
    required: true
  bind:
    description: C(unix:/path) or C(host:port), as Gunicorn's C(bind).
    type: str
    required: true
  blue_green:
    description: Two alternating instances instead of one.
    type: bool
    default: false
"""

RETURN = r"""
_value:
  description:
    - Instance name to C(service), C(socket), C(bind), C(listen_stream) (the socket unit's
      C(ListenStream)), C(upstream), C(url), C(unix_socket) (C("") for TCP) and C(port)
      (0 for a unix socket).
  type: dict
"""

from ansible.errors import AnsibleFilterError  # noqa: E402

_WILDCARDS = {"0.0.0.0": "127.0.0.1", "*": "127.0.0.1", "[::]": "[::1]"}  # noqa: S104


def instance_bind(bind: str, instance: str) -> str:
    """The bind of ``instance``: green moves to ``PATH-green.sock`` or to the next port."""
    if instance != "green":
        return bind
    if bind.startswith("unix:"):
        if bind.endswith(".sock"):
            return f"{bind.removesuffix('.sock')}-green.sock"
        return f"{bind}-green"
    host, port = bind.rsplit(":", 1)
    if not port.isdigit() or int(port) >= 65535:
        raise AnsibleFilterError(f"{bind!r} has no TCP port below 65535 for the green instance")
    return f"{host}:{int(port) + 1}"


def describe(service_name: str, bind: str, instance: str) -> dict[str, str | int]:
    unit = f"{service_name}@{instance}" if instance else service_name
    bind = instance_bind(bind, instance)
    if bind.startswith("unix:"):
        path = bind.removeprefix("unix:")
        return {
            "service": f"{unit}.service",
            "socket": f"{unit}.socket",
            "bind": bind,
            "listen_stream": path,
            "upstream": bind,
            "url": "http://localhost",
            "unix_socket": path,
            "port": 0,
        }
    host, port = bind.rsplit(":", 1)
    upstream = f"{_WILDCARDS.get(host, host)}:{port}"
    return {
        "service": f"{unit}.service",
        "socket": f"{unit}.socket",
        "bind": bind,
        "listen_stream": bind,
        "upstream": upstream,
        "url": f"http://{upstream}",
        "unix_socket": "",
        "port": int(port),
    }


def gunicorn_instances(
    service_name: str, bind: str, blue_green: bool = False
) -> dict[str, dict[str, str | int]]:
    names = ["blue", "green"] if blue_green else [""]
    return {name: describe(service_name, bind, name) for name in names}


class FilterModule:
    def filters(self) -> dict[str, object]:
        return {"gunicorn_instances": gunicorn_instances}
