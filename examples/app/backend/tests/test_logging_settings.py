# The handler's exact class is what these tests check: a FileHandler, and pytest's own
# capture handler, are StreamHandlers too.
# pylint: disable=unidiomatic-typecheck
from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

import pytest
from app.logging_config import build_handler, configure_logging, log_level
from app.main import create_app
from app.settings import load_settings
from conftest import wait_for_job
from fastapi.testclient import TestClient


def test_default_handler_is_stderr() -> None:
    handler = build_handler({})
    assert type(handler) is logging.StreamHandler
    assert handler.stream is sys.stderr


def test_log_file_uses_watched_file_handler(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "app.log"
    handler = build_handler({"APP_LOG_FILE": str(path)})
    try:
        assert type(handler) is logging.handlers.WatchedFileHandler
        assert Path(handler.baseFilename) == path
        assert path.parent.is_dir()
    finally:
        handler.close()


def test_rotate_bytes_uses_rotating_file_handler(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    handler = build_handler({"APP_LOG_FILE": str(path), "APP_LOG_ROTATE_BYTES": "1048576"})
    try:
        assert isinstance(handler, logging.handlers.RotatingFileHandler)
        assert handler.maxBytes == 1048576
        assert handler.backupCount == 5
    finally:
        handler.close()
    handler = build_handler(
        {"APP_LOG_FILE": str(path), "APP_LOG_ROTATE_BYTES": "100", "APP_LOG_BACKUPS": "2"}
    )
    try:
        assert isinstance(handler, logging.handlers.RotatingFileHandler)
        assert handler.backupCount == 2
    finally:
        handler.close()


def test_rotate_bytes_alone_is_ignored() -> None:
    handler = build_handler({"APP_LOG_ROTATE_BYTES": "100"})
    assert type(handler) is logging.StreamHandler


@pytest.mark.parametrize(
    ("value", "level"),
    [("", logging.INFO), ("debug", logging.DEBUG), ("WARNING", logging.WARNING), ("nope", 20)],
)
def test_log_level(value: str, level: int) -> None:
    assert log_level({"APP_LOG_LEVEL": value}) == level


def test_configure_logging_is_idempotent(tmp_path: Path) -> None:
    env = {"APP_LOG_FILE": str(tmp_path / "app.log"), "APP_LOG_LEVEL": "WARNING"}
    configure_logging(env)
    logger = configure_logging(env)
    assert logger.name == "app"
    # pytest adds its own capture handlers; ours is replaced, not added twice.
    ours = [h for h in logger.handlers if isinstance(h, logging.handlers.WatchedFileHandler)]
    assert len(ours) == 1
    assert not [h for h in logger.handlers if type(h) is logging.StreamHandler]
    assert logger.level == logging.WARNING
    assert logger.propagate is False
    logger.warning("hello %s", "file")
    assert "WARNING" in (tmp_path / "app.log").read_text()


def test_key_paths_logged(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    log_file = tmp_path / "app.log"
    monkeypatch.setenv("APP_LOG_FILE", str(log_file))
    with TestClient(create_app()) as client:
        created = client.post("/api/jobs", json={"duration_s": 0.1}).json()
        assert wait_for_job(client, created["status_url"])["status"] == "done"
        client.post("/api/login", json={"username": "dave"})
    log = log_file.read_text()
    assert f"job {created['id']} started" in log
    assert f"job {created['id']} finished" in log
    assert "login: dave" in log


def test_unhandled_error_logged_with_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    log_file = tmp_path / "app.log"
    monkeypatch.setenv("APP_LOG_FILE", str(log_file))
    app = create_app()

    @app.get("/api/boom")
    async def boom() -> None:
        raise RuntimeError("kaboom")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/api/boom")
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal Server Error"}
    log = log_file.read_text()
    assert "ERROR" in log
    assert "unhandled error on GET /api/boom" in log
    assert "Traceback (most recent call last)" in log
    assert "RuntimeError: kaboom" in log


def test_failed_job_logged_with_traceback(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    log_file = tmp_path / "app.log"
    monkeypatch.setenv("APP_LOG_FILE", str(log_file))
    app = create_app()
    store = app.state.jobs.store
    real_update = store.update_sync

    def flaky_update(job_id: str, **kwargs: object) -> None:
        if kwargs.get("status") == "done":
            raise OSError("disk on fire")
        real_update(job_id, **kwargs)

    monkeypatch.setattr(store, "update_sync", flaky_update)
    with TestClient(app) as client:
        created = client.post("/api/jobs", json={"duration_s": 0.1}).json()
        body = wait_for_job(client, created["status_url"])
    assert body["status"] == "failed"
    assert body["result"] == {"error": "internal error"}
    log = log_file.read_text()
    assert f"job {created['id']} failed" in log
    assert "OSError: disk on fire" in log


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, Path("var")),
        ({"APP_STATE_DIR": "/srv/state"}, Path("/srv/state")),
        ({"STATE_DIRECTORY": "/var/lib/webapp", "APP_STATE_DIR": "/srv"}, Path("/var/lib/webapp")),
        ({"STATE_DIRECTORY": "/var/lib/a:/var/lib/b"}, Path("/var/lib/a")),
    ],
)
def test_state_dir_selection(env: dict[str, str], expected: Path) -> None:
    settings = load_settings(env)
    assert settings.state_dir == expected
    assert settings.db_path == expected / "jobs.sqlite3"


def test_settings_defaults() -> None:
    settings = load_settings({})
    assert settings.version == "1.0.0"
    assert settings.docs_enabled is False
    assert settings.token_ttl_s == 12 * 3600
    assert len(settings.secret_key) == 32
    assert load_settings({"APP_DOCS": "1", "APP_VERSION": "9"}).docs_enabled is True
