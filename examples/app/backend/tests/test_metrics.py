"""GET /metrics in prometheus_client's multiprocess mode (what gunicorn_metrics sets up), in a
process of its own: prometheus_client chooses its mode once, when it is imported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from app.main import create_app
from fastapi.testclient import TestClient

BACKEND = Path(__file__).resolve().parent.parent

SCRIPT = """
from fastapi.testclient import TestClient
from app.main import create_app
from app.metrics import Metrics

with TestClient(create_app()) as client:
    for _ in range(3):
        assert client.get("/api/health").status_code == 200
    assert client.get("/api/jobs/nope").status_code == 404
    extra = Metrics()
    extra.started()
    busy = client.get("/metrics")
    extra.finished("GET", 200, 0.01)
    idle = client.get("/metrics")
print(busy.headers["content-type"])
print(busy.text)
print("=====")
print(idle.text)
"""


def metric(text: str, name: str) -> float:
    values = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name)]
    assert values, f"{name} not in {text}"
    return sum(values)


def test_metrics_count_requests_and_busy_workers(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom")}
    (tmp_path / "prom").mkdir()
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=BACKEND,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    content_type, rest = out.split("\n", 1)
    busy, idle = rest.split("=====", 1)
    assert content_type.startswith("text/plain")
    assert metric(busy, 'app_requests_total{method="GET",status="200"}') == 3
    assert metric(busy, 'app_requests_total{method="GET",status="404"}') == 1
    assert metric(busy, "app_request_duration_seconds_count") == 4
    # The scrape is not counted, and the one request in progress makes the worker busy.
    assert metric(busy, "app_requests_in_progress") == 1
    assert metric(busy, "app_workers_busy") == 1
    assert metric(idle, "app_workers_busy") == 0
    assert metric(idle, "app_requests_in_progress") == 0
    assert metric(idle, 'app_requests_total{method="GET",status="200"}') == 4
    assert metric(idle, "app_workers") >= 1


def test_no_metrics_without_the_multiprocess_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    with TestClient(create_app()) as client:
        assert client.get("/metrics").status_code == 404
