"""Default data, as a command to run ONCE per deploy, after ``alembic upgrade head``:

    python -m notes.seed

Inserts the default notes only when the ``notes`` table is empty, and always records
the run in ``seed_runs``. The app does not seed at startup: with several workers,
each would run it at the same moment.
"""

from __future__ import annotations

import sys

from sqlalchemy import func, inspect, select

from .db import Note, SeedRun, SessionLocal, engine

DEFAULT_NOTES = (
    ("Welcome", "This is the notes admin app."),
    ("Migrations", "The schema is managed by Alembic: alembic upgrade head."),
    ("Seed", "These notes were inserted by python -m notes.seed."),
)


def seed() -> int:
    """Run the seed; return how many notes it inserted."""
    with SessionLocal.begin() as session:
        empty = session.scalar(select(func.count()).select_from(Note)) == 0
        if empty:
            session.add_all(Note(title=title, body=body) for title, body in DEFAULT_NOTES)
        session.add(SeedRun())
    return len(DEFAULT_NOTES) if empty else 0


def main() -> int:
    with engine.connect() as conn:
        missing = [t for t in ("notes", "seed_runs") if not inspect(conn).has_table(t)]
    if missing:
        print(f"notes.seed: tables {missing} missing: run `alembic upgrade head` first")
        return 1
    inserted = seed()
    print(f"notes.seed: inserted {inserted} notes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
