"""ORM settings, read as JSON from ONE environment variable, ``NOTES_DB``.

    NOTES_DB='{"url": "sqlite:///instance/notes.db", "echo": false}'

Both keys are optional. The default URL is relative: the database is written in
``instance/`` under the process's working directory, which must exist (the app
does not create it). An invalid value stops the import with a ``SettingsError``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass

ENV_VAR = "NOTES_DB"
DEFAULT_URL = "sqlite:///instance/notes.db"


class SettingsError(RuntimeError):
    """NOTES_DB is not a JSON object of the expected shape."""


@dataclass(frozen=True)
class DbSettings:
    url: str = DEFAULT_URL
    echo: bool = False


def load_db_settings(env: Mapping[str, str] | None = None) -> DbSettings:
    """Parse ``NOTES_DB`` from ``env`` (default: the process environment)."""
    env = os.environ if env is None else env
    raw = env.get(ENV_VAR, "").strip()
    if not raw:
        return DbSettings()
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SettingsError(f"{ENV_VAR} is not valid JSON ({exc}): {raw!r}") from exc
    if not isinstance(value, dict):
        raise SettingsError(f"{ENV_VAR} must be a JSON object, got: {raw!r}")
    unknown = sorted(set(value) - {"url", "echo"})
    if unknown:
        raise SettingsError(f"{ENV_VAR}: unknown keys {unknown} (known: url, echo)")
    url = value.get("url", DEFAULT_URL)
    echo = value.get("echo", False)
    if not isinstance(url, str) or not url:
        raise SettingsError(f"{ENV_VAR}: 'url' must be a non-empty string, got {url!r}")
    if not isinstance(echo, bool):
        raise SettingsError(f"{ENV_VAR}: 'echo' must be true or false, got {echo!r}")
    return DbSettings(url=url, echo=echo)


DB = load_db_settings()
