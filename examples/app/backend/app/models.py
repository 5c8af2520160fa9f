"""Pydantic models: the JSON contract between the back end and the front end.

Schema first: these models are defined before any business logic and every route
declares its request and response model with them.
"""

import hashlib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

JobState = Literal["queued", "running", "done", "failed"]


class HealthResponse(BaseModel):
    status: Literal["ok"] = "ok"
    version: str
    pid: int
    hostname: str
    # The release directory this code runs from (.../releases/<id>/app), else null.
    release: str | None = None


class Item(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int = Field(ge=1)
    name: str
    price: float = Field(ge=0)
    quantity: int = Field(ge=0)
    tags: list[str]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def total(self) -> float:
        return round(self.price * self.quantity, 2)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def sku(self) -> str:
        digest = hashlib.blake2s(f"{self.id}:{self.name}".encode(), digest_size=6)
        return digest.hexdigest().upper()


class ItemsResponse(BaseModel):
    count: int
    items: list[Item]


class JobCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    duration_s: float = Field(default=3.0, gt=0, le=30, allow_inf_nan=False)


class JobCreated(BaseModel):
    id: str
    status: Literal["queued"] = "queued"
    status_url: str


class JobStatus(BaseModel):
    id: str
    status: JobState
    progress: int = Field(ge=0, le=100)
    result: dict[str, object] | None = None
    worker_pid: int


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)


class TokenResponse(BaseModel):
    token: str


class MeResponse(BaseModel):
    username: str


class ErrorResponse(BaseModel):
    detail: str
