"""SQLAlchemy 2 models, engine and sessions. The schema itself is made by Alembic
(``alembic upgrade head``), never by ``create_all``.

Creating the engine does not connect: nothing is written at import. A relative
SQLite path is resolved against the working directory of the importing process.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from sqlalchemy import DateTime, String, Text, create_engine, func, inspect, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from .settings import DB


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Note(Base):
    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SeedRun(Base):
    """One row per run of ``python -m notes.seed``."""

    __tablename__ = "seed_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    ran_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


engine = create_engine(DB.url, echo=DB.echo)
SessionLocal = sessionmaker(engine, expire_on_commit=False)


def get_session() -> Iterator[Session]:
    """FastAPI dependency: one session per request."""
    with SessionLocal() as session:
        yield session


def count_notes() -> int:
    with SessionLocal() as session:
        return session.scalar(select(func.count()).select_from(Note)) or 0


def schema_revision() -> str | None:
    """The revision Alembic recorded in ``alembic_version``; None before any migration."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        revision: str | None = conn.execute(
            text("SELECT version_num FROM alembic_version")
        ).scalar()
        return revision
