"""Fixtures shared by every scenario's testinfra tests (pytest finds this file from the
scenario's tests directory, since the repository root holds the pytest configuration)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from testinfra.host import Host

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tools import checklist, testing  # noqa: E402


@pytest.fixture
def fetch(host: Host) -> checklist.Fetch:
    """Send HTTP requests to the container's own gateway (curl inside the container)."""
    return testing.curl_fetch(host)


@pytest.fixture
def run_in_host(host: Host) -> Callable[[str], str]:
    def run(command: str) -> str:
        return str(host.check_output(command))

    return run
