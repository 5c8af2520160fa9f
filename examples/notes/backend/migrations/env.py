"""Alembic environment: the URL comes from NOTES_DB (notes.settings), like the app's."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from notes.db import Base
from notes.settings import DB
from sqlalchemy import create_engine

config = context.config
# Callers that configure logging themselves (the tests) set attributes["configure_logger"].
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def run_migrations_offline() -> None:
    """``alembic upgrade head --sql``: print the SQL instead of running it."""
    context.configure(
        url=DB.url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(DB.url)
    with engine.connect() as connection:
        # Batch mode: SQLite can only alter a table by copying it.
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
