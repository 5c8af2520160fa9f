# Copyright: fullstack.webapp maintainers
# MIT License (see galaxy.yml)
"""The listen_address_problem filter: is ADDRESS:PORT on loopback or a private network?"""

from __future__ import annotations

import ipaddress
from typing import Any

DOCUMENTATION = r"""
---
name: listen_address_problem
short_description: Why an ADDRESS:PORT is not a loopback or private listener, or nothing
version_added: 0.1.0
description:
  - Checks a listen address such as C(127.0.0.1:9113), C(10.0.1.5:3903) or C([::1]:9113)
    for an endpoint that must not be public (metrics). The address must be loopback
    (C(127.0.0.0/8), C(::1)) or private (C(10.0.0.0/8), C(172.16.0.0/12), C(192.168.0.0/16),
    C(fc00::/7)), and the port between 1 and 65535.
  - C(localhost) is taken as loopback. A wildcard (C(0.0.0.0), C(::)), any other host name
    (it may resolve to anything) and a public address are refused.
  - Returns an empty string when the value is fine, otherwise one sentence saying why.
positional: _input
options:
  _input:
    description: The listen address, C(ADDRESS:PORT) (an IPv6 address in brackets).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Refuse a public metrics listener
  ansible.builtin.assert:
    that:
      - (exporter_listen | fullstack.webapp.listen_address_problem) == ''
"""

RETURN = r"""
_value:
  description: Empty when the address is loopback or private, otherwise the reason.
  type: str
"""

_PRIVATE = tuple(
    ipaddress.ip_network(net)
    for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
)


def split_listen(value: str) -> tuple[str, str]:
    """('127.0.0.1', '9113') from '127.0.0.1:9113', ('::1', '9113') from '[::1]:9113'."""
    text = str(value).strip()
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
        return (host, port) if sep else ("", "")
    host, sep, port = text.rpartition(":")
    return (host, port) if sep and ":" not in host else ("", "")


def listen_address_problem(value: object) -> str:
    host, port = split_listen(str(value))
    if not host or not port:
        return f"{str(value)!r} is not ADDRESS:PORT (an IPv6 address in brackets: [::1]:9113)"
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        return f"the port of {str(value)!r} is not between 1 and 65535"
    if host == "localhost":
        return ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return (
            f"{host!r} is not an IP address (a name may resolve to a public address): "
            "give a loopback or private address"
        )
    if address.is_unspecified:
        return f"{host} listens on every address, the public ones too"
    if address.is_loopback or any(address in net for net in _PRIVATE):
        return ""
    return (
        f"{host} is neither loopback (127.0.0.0/8, ::1) nor private (10.0.0.0/8, "
        "172.16.0.0/12, 192.168.0.0/16, fc00::/7)"
    )


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"listen_address_problem": listen_address_problem}
