"""Runtime settings, read from environment variables (12-factor style).

| variable          | default                          | meaning                                   |
|-------------------|----------------------------------|-------------------------------------------|
| APP_VERSION       | 1.0.0                            | version reported by GET /api/health       |
| STATE_DIRECTORY   | (set by systemd StateDirectory=) | directory of the SQLite job database      |
| APP_STATE_DIR     | ./var                            | used when STATE_DIRECTORY is not set      |
| APP_SECRET_KEY    | random per process (warning)     | HMAC key for login tokens; REQUIRED with  |
|                   |                                  | more than one Gunicorn worker             |
| APP_TOKEN_TTL_S   | 43200 (12 h)                     | lifetime of a login token                 |
| APP_DOCS          | unset                            | "1" serves /api/docs and /api/openapi.json|
| APP_CORS_ORIGINS  | unset (no CORS headers)          | comma-separated origins allowed to call   |
|                   |                                  | the API cross-origin (development only:   |
|                   |                                  | e.g. http://localhost:5173)               |
| APP_LOG_*         | see logging_config.py            | log level and destination                 |
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_VERSION = "1.0.0"
DEFAULT_TOKEN_TTL_S = 12 * 3600


@dataclass(frozen=True)
class Settings:
    version: str
    state_dir: Path
    secret_key: bytes
    secret_key_generated: bool
    token_ttl_s: int
    docs_enabled: bool
    cors_origins: tuple[str, ...] = ()

    @property
    def db_path(self) -> Path:
        return self.state_dir / "jobs.sqlite3"


def _state_dir(env: Mapping[str, str]) -> Path:
    # systemd joins several StateDirectory= entries with ":"; the first one is ours.
    systemd_dir = env.get("STATE_DIRECTORY", "").split(":")[0]
    if systemd_dir:
        return Path(systemd_dir)
    return Path(env.get("APP_STATE_DIR") or "var")


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build the settings from ``env`` (default: the process environment).

    Nothing is created on disk here: the state directory is made when the
    application starts (see jobs.JobStore.init).
    """
    env = os.environ if env is None else env
    key = env.get("APP_SECRET_KEY", "")
    generated = not key
    secret = secrets.token_bytes(32) if generated else key.encode()
    ttl_raw = env.get("APP_TOKEN_TTL_S", "")
    return Settings(
        version=env.get("APP_VERSION") or DEFAULT_VERSION,
        state_dir=_state_dir(env),
        secret_key=secret,
        secret_key_generated=generated,
        token_ttl_s=int(ttl_raw) if ttl_raw else DEFAULT_TOKEN_TTL_S,
        docs_enabled=_truthy(env.get("APP_DOCS")),
        cors_origins=tuple(
            origin.strip().rstrip("/")
            for origin in env.get("APP_CORS_ORIGINS", "").split(",")
            if origin.strip()
        ),
    )
