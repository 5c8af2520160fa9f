"""Shared fixtures: every test gets its own state directory under tmp_path."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from app.logging_config import configure_logging
from app.main import create_app
from app.settings import Settings, load_settings
from fastapi.testclient import TestClient

APP_ENV_VARS = (
    "STATE_DIRECTORY",
    "APP_STATE_DIR",
    "APP_VERSION",
    "APP_SECRET_KEY",
    "APP_TOKEN_TTL_S",
    "APP_DOCS",
    "APP_CORS_ORIGINS",
    "APP_LOG_FILE",
    "APP_LOG_ROTATE_BYTES",
    "APP_LOG_BACKUPS",
    "APP_LOG_LEVEL",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No APP_* variable leaks in from the caller; state goes to tmp_path."""
    for name in APP_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("APP_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("APP_SECRET_KEY", "test-secret-key")
    yield
    configure_logging({})  # back to stderr, closing any log file a test opened


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def settings() -> Settings:
    return load_settings()


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def wait_for_job(client: TestClient, status_url: str, timeout_s: float = 10.0) -> dict[str, Any]:
    """Poll a job's status URL until it is done or failed; return the last body."""
    deadline = time.monotonic() + timeout_s
    while True:
        response = client.get(status_url)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"] in ("done", "failed") or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def run_sql(db_path: Path, statement: str, *params: object) -> list[Any]:
    """Run one statement on its own connection (commit, close); return all rows."""
    with closing(sqlite3.connect(db_path)) as conn, conn as transaction:
        return transaction.execute(statement, params).fetchall()
