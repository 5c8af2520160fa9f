"""Background jobs whose state lives in SQLite.

``POST /api/jobs`` returns 202 at once and the job runs as an asyncio task in the
Gunicorn worker that accepted it. Its state is written to a SQLite database in
the state directory, so a poll answered by *any* worker process sees it.

All SQLite calls are blocking, so they run in a thread (``asyncio.to_thread``);
each call opens its own short-lived connection (WAL mode, short busy timeout).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import os
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .models import JobState

logger = logging.getLogger("app.jobs")

BUSY_TIMEOUT_S = 2.0
# Progress is written at least this often while a job runs; a queued or running
# job whose row has not been touched for STALE_AFTER_S lost its worker (killed,
# restarted) and is reported as failed.
MAX_STEP_S = 0.3
STALE_AFTER_S = 15.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id          TEXT PRIMARY KEY,
    status      TEXT NOT NULL,
    progress    INTEGER NOT NULL DEFAULT 0,
    result      TEXT,
    worker_pid  INTEGER NOT NULL,
    duration_s  REAL NOT NULL,
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL
)
"""


@dataclass(frozen=True)
class JobRecord:
    id: str
    status: JobState
    progress: int
    result: dict[str, Any] | None
    worker_pid: int
    duration_s: float
    created_at: float
    updated_at: float


class JobStore:
    """Job rows in ``<state_dir>/jobs.sqlite3``; sync methods plus async wrappers."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self._initialised = False

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        if not self._initialised:
            self.init_sync()
        conn = sqlite3.connect(self.db_path, timeout=BUSY_TIMEOUT_S)
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            with conn:  # one transaction: commit, or roll back on error
                yield conn
        finally:
            conn.close()

    # -- synchronous API (runs in a worker thread) -------------------------------

    def init_sync(self) -> None:
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.db_path, timeout=BUSY_TIMEOUT_S)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            conn.execute("PRAGMA journal_mode = WAL")
            with conn:
                conn.execute(_SCHEMA)
        finally:
            conn.close()
        self._initialised = True

    def create_sync(self, duration_s: float, worker_pid: int) -> JobRecord:
        now = time.time()
        job_id = uuid.uuid4().hex
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO jobs (id, status, progress, result, worker_pid, duration_s,"
                " created_at, updated_at) VALUES (?, 'queued', 0, NULL, ?, ?, ?, ?)",
                (job_id, worker_pid, duration_s, now, now),
            )
        return JobRecord(job_id, "queued", 0, None, worker_pid, duration_s, now, now)

    def update_sync(
        self,
        job_id: str,
        *,
        status: JobState,
        progress: int | None = None,
        result: dict[str, Any] | None = None,
    ) -> None:
        """Set status (and progress unless None, and result) and touch updated_at. A job that
        is done or failed stays so: a "running" update still in its thread when the job was
        cancelled (and marked failed) must not bring it back."""
        with self._connect() as conn:
            conn.execute(
                "UPDATE jobs SET status = ?, progress = COALESCE(?, progress), result = ?,"
                " updated_at = ? WHERE id = ? AND status NOT IN ('done', 'failed')",
                (
                    status,
                    progress,
                    None if result is None else json.dumps(result),
                    time.time(),
                    job_id,
                ),
            )

    def get_sync(self, job_id: str) -> JobRecord | None:
        with self._connect() as conn:
            row = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                return None
            record = _record(row)
            if record.status in ("queued", "running") and (
                time.time() - record.updated_at > STALE_AFTER_S
            ):
                # The worker that ran it is gone: report it failed, once and for all.
                result = {"error": "the worker running this job stopped"}
                conn.execute(
                    "UPDATE jobs SET status = 'failed', result = ?, updated_at = ?"
                    " WHERE id = ? AND updated_at = ?",
                    (json.dumps(result), time.time(), job_id, record.updated_at),
                )
                logger.error("job %s lost its worker (pid %s)", job_id, record.worker_pid)
                record = JobRecord(**{**record.__dict__, "status": "failed", "result": result})
            return record

    # -- async wrappers --------------------------------------------------------------

    async def init(self) -> None:
        await asyncio.to_thread(self.init_sync)

    async def create(self, duration_s: float) -> JobRecord:
        return await asyncio.to_thread(self.create_sync, duration_s, os.getpid())

    async def update(
        self,
        job_id: str,
        *,
        status: JobState,
        progress: int | None = None,
        result: dict[str, Any] | None = None,
    ) -> None:
        await asyncio.to_thread(
            self.update_sync, job_id, status=status, progress=progress, result=result
        )

    async def get(self, job_id: str) -> JobRecord | None:
        return await asyncio.to_thread(self.get_sync, job_id)


def _record(row: sqlite3.Row) -> JobRecord:
    raw = row["result"]
    return JobRecord(
        id=row["id"],
        status=row["status"],
        progress=row["progress"],
        result=None if raw is None else json.loads(raw),
        worker_pid=row["worker_pid"],
        duration_s=row["duration_s"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


class JobRunner:
    """Runs jobs as asyncio tasks in this worker process."""

    def __init__(self, store: JobStore) -> None:
        self.store = store
        # Strong references: the event loop only keeps weak ones to tasks.
        self._tasks: dict[str, asyncio.Task[None]] = {}

    async def submit(self, duration_s: float) -> JobRecord:
        record = await self.store.create(duration_s)
        task = asyncio.create_task(self._run(record.id, duration_s), name=f"job-{record.id}")
        self._tasks[record.id] = task
        task.add_done_callback(lambda _t: self._tasks.pop(record.id, None))
        logger.info("job %s queued (duration %.2f s)", record.id, duration_s)
        return record

    async def _run(self, job_id: str, duration_s: float) -> None:
        steps = max(1, math.ceil(duration_s / MAX_STEP_S))
        step_s = duration_s / steps
        started = time.monotonic()
        try:
            await self.store.update(job_id, status="running", progress=0)
            logger.info("job %s started in worker %d", job_id, os.getpid())
            digest = hashlib.sha256(job_id.encode())
            for step in range(1, steps + 1):
                await asyncio.sleep(step_s)  # stands in for real asynchronous work
                digest.update(step.to_bytes(4, "big"))
                if step < steps:
                    progress = step * 100 // steps
                    await self.store.update(job_id, status="running", progress=progress)
            result = {
                "duration_s": duration_s,
                "steps": steps,
                "elapsed_s": round(time.monotonic() - started, 3),
                "checksum": digest.hexdigest()[:16],
            }
            await self.store.update(job_id, status="done", progress=100, result=result)
            logger.info("job %s finished in %.2f s", job_id, result["elapsed_s"])
        except asyncio.CancelledError:
            logger.warning("job %s cancelled (worker shutting down)", job_id)
            await self._mark_failed(job_id, "cancelled: the worker shut down")
            raise
        except Exception:
            logger.exception("job %s failed", job_id)
            await self._mark_failed(job_id, "internal error")

    async def _mark_failed(self, job_id: str, error: str) -> None:
        try:
            # Shielded: this must complete even while the task is being cancelled.
            await asyncio.shield(
                self.store.update(job_id, status="failed", result={"error": error})
            )
        except Exception:
            logger.exception("could not mark job %s as failed", job_id)

    async def shutdown(self) -> None:
        """Cancel the jobs still running here (they are marked failed)."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
