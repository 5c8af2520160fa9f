import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

from alembic.script import ScriptDirectory
from conftest import alembic_config, import_main, run_seed
from fastapi.testclient import TestClient


def tables(db: Path) -> set[str]:
    with closing(sqlite3.connect(db)) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {name for (name,) in rows}


def test_upgrade_head_creates_tables(workdir: Path, migrate: Callable[[str], None]) -> None:
    migrate("head")
    assert {"notes", "seed_runs", "alembic_version"} <= tables(workdir / "instance/notes.db")


def test_schema_revision_before_and_after(workdir: Path, migrate: Callable[[str], None]) -> None:
    with TestClient(import_main().app) as client:
        assert client.get("/api/schema").json() == {"revision": None}
        migrate("0001")
        assert client.get("/api/schema").json() == {"revision": "0001"}
        # Later revisions (0002_*.py, ...) may be added: head is whatever the last one is.
        migrate("head")
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        assert client.get("/api/schema").json() == {"revision": head}


def test_seed_needs_the_migration(workdir: Path) -> None:
    result = run_seed(workdir)
    assert result.returncode == 1
    assert "alembic upgrade head" in result.stdout


def test_seed_twice(workdir: Path, migrate: Callable[[str], None]) -> None:
    migrate("head")
    first, second = run_seed(workdir), run_seed(workdir)
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert "inserted 3 notes" in first.stdout
    assert "inserted 0 notes" in second.stdout
    with TestClient(import_main().app) as client:
        notes = client.get("/api/notes").json()
        assert [note["title"] for note in notes] == ["Welcome", "Migrations", "Seed"]
        assert client.get("/api/seed-runs").json() == {"count": 2}
