"""FastAPI application: ``uvicorn notes.main:app`` from the backend directory.

Importing this module opens ``activity.log`` in the working directory (appending): one
line per start of a worker and one per note created.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated

from fastapi import Depends, FastAPI, WebSocket, WebSocketDisconnect, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .db import Note, SeedRun, count_notes, get_session, schema_revision

activity = logging.getLogger("notes.activity")
activity.setLevel(logging.INFO)
_activity_file = logging.FileHandler("activity.log", encoding="utf-8")
_activity_file.setFormatter(logging.Formatter("%(message)s"))
activity.addHandler(_activity_file)

SessionDep = Annotated[Session, Depends(get_session)]


class NoteCreate(BaseModel):
    title: Annotated[str, Field(min_length=1, max_length=200)]
    body: Annotated[str, Field(max_length=10_000)] = ""


class NoteOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    body: str
    created_at: datetime


class SeedRuns(BaseModel):
    count: int


class SchemaRevision(BaseModel):
    revision: str | None


class Health(BaseModel):
    status: str = "ok"


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    activity.info("started pid=%d", os.getpid())
    yield


app = FastAPI(title="Notes", version="1.0.0", lifespan=lifespan)


@app.get("/health")
def health() -> Health:
    return Health()


@app.get("/api/notes")
def list_notes(session: SessionDep) -> list[NoteOut]:
    notes: Sequence[Note] = session.scalars(select(Note).order_by(Note.id)).all()
    return [NoteOut.model_validate(note) for note in notes]


@app.post("/api/notes", status_code=status.HTTP_201_CREATED)
def create_note(body: NoteCreate, session: SessionDep) -> NoteOut:
    note = Note(title=body.title, body=body.body)
    session.add(note)
    session.commit()
    session.refresh(note)
    activity.info("created note id=%d pid=%d", note.id, os.getpid())
    return NoteOut.model_validate(note)


@app.get("/api/seed-runs")
def seed_runs(session: SessionDep) -> SeedRuns:
    return SeedRuns(count=session.scalar(select(func.count()).select_from(SeedRun)) or 0)


@app.get("/api/schema")
def schema() -> SchemaRevision:
    return SchemaRevision(revision=schema_revision())


@app.websocket("/ws")
async def ws(websocket: WebSocket) -> None:
    """Sends ``{"notes": N}`` once, then echoes every text message."""
    await websocket.accept()
    await websocket.send_json({"notes": await asyncio.to_thread(count_notes)})
    try:
        while True:
            await websocket.send_text(await websocket.receive_text())
    except WebSocketDisconnect:
        return
