"""Logging set-up: stdlib ``logging`` only, never ``print``.

Handler selection (environment variables):

* default: a StreamHandler on stderr. Under systemd, journald stores and
  rotates it, so nothing can fill the disk.
* ``APP_LOG_FILE=/path/app.log``: a ``WatchedFileHandler``. Several Gunicorn
  worker processes may append to the same file safely, and the file is reopened
  when logrotate (installed by the collection) moves it away.
* ``APP_LOG_FILE`` plus ``APP_LOG_ROTATE_BYTES=N``: a ``RotatingFileHandler``
  rotating at N bytes and keeping ``APP_LOG_BACKUPS`` files (default 5).
  For single-process development use only: with several worker processes each
  one would rotate the file on its own and lose or mix up lines.

``APP_LOG_LEVEL`` sets the level (default INFO).
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from collections.abc import Mapping
from pathlib import Path

LOGGER_NAME = "app"
LOG_FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"
_HANDLER_MARK = "_webapp_example_handler"


def build_handler(env: Mapping[str, str]) -> logging.Handler:
    """Return the handler selected by the environment (see module docstring)."""
    log_file = env.get("APP_LOG_FILE", "").strip()
    if not log_file:
        return logging.StreamHandler(sys.stderr)
    path = Path(log_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    rotate_bytes = env.get("APP_LOG_ROTATE_BYTES", "").strip()
    if rotate_bytes:
        # Single-process development use only (see the module docstring);
        # production with several workers uses WatchedFileHandler + logrotate.
        return logging.handlers.RotatingFileHandler(
            path,
            maxBytes=int(rotate_bytes),
            backupCount=int(env.get("APP_LOG_BACKUPS", "").strip() or "5"),
            encoding="utf-8",
        )
    return logging.handlers.WatchedFileHandler(path, encoding="utf-8")


def log_level(env: Mapping[str, str]) -> int:
    name = env.get("APP_LOG_LEVEL", "").strip().upper() or "INFO"
    level = logging.getLevelName(name)
    return level if isinstance(level, int) else logging.INFO


def configure_logging(env: Mapping[str, str] | None = None) -> logging.Logger:
    """Configure the ``app`` logger; safe to call more than once.

    Only the ``app`` logger tree is configured (propagation off), so Gunicorn's
    and Uvicorn's own loggers keep the handlers Gunicorn gives them.
    """
    env = os.environ if env is None else env
    logger = logging.getLogger(LOGGER_NAME)
    for old in [h for h in logger.handlers if getattr(h, _HANDLER_MARK, False)]:
        logger.removeHandler(old)
        old.close()
    handler = build_handler(env)
    setattr(handler, _HANDLER_MARK, True)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    logger.addHandler(handler)
    logger.setLevel(log_level(env))
    logger.propagate = False
    return logger
