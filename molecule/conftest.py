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
from tools.testing import zero_downtime_summary as pytest_terminal_summary  # noqa: E402, F401


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "first_platform: run on the scenario's first host only (its hosts sorted by name). For "
        "the slow tests of a scenario with one host per platform that exercise the collection's "
        "own logic (deploys, gates, refusals): the platform's packages are covered by the "
        "converge, the idempotence run and the other tests on every host.",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the first_platform tests of every host but the first."""
    deselected = [
        item
        for item in items
        if item.get_closest_marker("first_platform") is not None
        and getattr(item, "callspec", None) is not None
        and item.callspec.indices.get("_testinfra_host", 0) > 0  # type: ignore[attr-defined]
    ]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if item not in deselected]


@pytest.fixture
def fetch(host: Host) -> checklist.Fetch:
    """Send HTTP requests to the container's own gateway (curl inside the container)."""
    return testing.curl_fetch(host)


@pytest.fixture
def run_in_host(host: Host) -> Callable[[str], str]:
    def run(command: str) -> str:
        return str(host.check_output(command))

    return run
