"""Unit tests for plugins/filter/listen_address_problem.py: metrics listeners that must not
be public."""

from __future__ import annotations

import pytest

from tools.testing import load_plugin

lap = load_plugin("filter", "listen_address_problem")


@pytest.mark.parametrize(
    "value",
    [
        "127.0.0.1:9113",
        "127.0.0.53:3903",
        "localhost:8000",
        "[::1]:9113",
        "10.0.1.5:9113",
        "172.16.0.1:3903",
        "172.31.255.254:8000",
        "192.168.1.10:9113",
        "[fd12:3456::1]:9113",
    ],
)
def test_loopback_and_private_addresses_are_fine(value: str) -> None:
    assert lap.listen_address_problem(value) == ""


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("0.0.0.0:9113", "every address"),
        ("[::]:9113", "every address"),
        ("203.0.113.7:9113", "is neither loopback"),
        ("172.32.0.1:9113", "is neither loopback"),
        ("[2001:db8::1]:9113", "is neither loopback"),
        ("metrics.example.com:9113", "not an IP address"),
        (":9113", "not ADDRESS:PORT"),
        ("127.0.0.1", "not ADDRESS:PORT"),
        ("::1:9113", "not ADDRESS:PORT"),
        ("127.0.0.1:0", "between 1 and 65535"),
        ("127.0.0.1:70000", "between 1 and 65535"),
        ("127.0.0.1:http", "between 1 and 65535"),
    ],
)
def test_public_wildcard_and_malformed_listeners_are_refused(value: str, reason: str) -> None:
    assert reason in lap.listen_address_problem(value)


def test_split_listen() -> None:
    assert lap.split_listen("[::1]:9113") == ("::1", "9113")
    assert lap.split_listen("10.0.0.1:3903") == ("10.0.0.1", "3903")
