"""Every test runs in a working directory of its own (tmp_path, with ``instance/``), like
the deployed app, and imports the ``notes`` package afresh there: the engine's SQLite path
and ``activity.log`` are resolved against the working directory at import."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest
from alembic import command
from alembic.config import Config
from fastapi.testclient import TestClient

BACKEND = Path(__file__).resolve().parents[1]


def forget_notes() -> None:
    """Close what an earlier import opened and drop the modules, so the next import
    starts over in the current working directory."""
    activity = logging.getLogger("notes.activity")
    for handler in list(activity.handlers):
        activity.removeHandler(handler)
        handler.close()
    db = sys.modules.get("notes.db")
    if db is not None:
        db.engine.dispose()
    for name in [name for name in sys.modules if name == "notes" or name.startswith("notes.")]:
        del sys.modules[name]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.delenv("NOTES_DB", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "instance").mkdir()
    forget_notes()
    yield tmp_path
    forget_notes()


def alembic_config() -> Config:
    config = Config(str(BACKEND / "alembic.ini"))
    config.set_main_option("script_location", str(BACKEND / "migrations"))
    config.attributes["configure_logger"] = False
    return config


@pytest.fixture
def migrate(workdir: Path) -> Callable[[str], None]:
    """``migrate("head")``: alembic upgrade in the working directory."""

    def upgrade(revision: str = "head") -> None:
        command.upgrade(alembic_config(), revision)

    return upgrade


def run_seed(cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m notes.seed``, as the deploy runs it: a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "notes.seed"],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(BACKEND), "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        check=False,
    )


def import_main() -> ModuleType:
    import notes.main

    return notes.main


@pytest.fixture
def client(migrate: Callable[[str], None]) -> Iterator[TestClient]:
    migrate("head")
    with TestClient(import_main().app) as test_client:
        yield test_client
