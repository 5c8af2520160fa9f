from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from app import jobs
from app.jobs import JobStore
from app.main import create_app
from app.settings import Settings, load_settings
from conftest import run_sql, wait_for_job
from fastapi.testclient import TestClient


def test_job_accepted_then_done(client: TestClient) -> None:
    response = client.post("/api/jobs", json={"duration_s": 0.2})
    assert response.status_code == 202
    created = response.json()
    assert created["status"] == "queued"
    assert created["status_url"] == f"/api/jobs/{created['id']}"
    assert response.headers["location"] == created["status_url"]

    first = client.get(created["status_url"]).json()
    assert first["status"] in ("queued", "running")
    assert 0 <= first["progress"] < 100
    assert first["result"] is None

    final = wait_for_job(client, created["status_url"])
    assert final["status"] == "done"
    assert final["progress"] == 100
    assert final["id"] == created["id"]
    assert final["worker_pid"] == os.getpid()
    assert final["result"]["duration_s"] == 0.2
    assert final["result"]["elapsed_s"] >= 0.2
    assert set(final) == {"id", "status", "progress", "result", "worker_pid"}


def test_post_does_not_wait_for_the_job(client: TestClient) -> None:
    started = time.monotonic()
    response = client.post("/api/jobs", json={"duration_s": 10})
    assert response.status_code == 202
    assert time.monotonic() - started < 2.0, "POST /api/jobs must answer at once"
    assert client.get(response.json()["status_url"]).json()["status"] in ("queued", "running")


def test_progress_is_reported(client: TestClient) -> None:
    created = client.post("/api/jobs", json={"duration_s": 1.0}).json()
    seen: set[int] = set()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        body = client.get(created["status_url"]).json()
        seen.add(body["progress"])
        if body["status"] == "done":
            break
        time.sleep(0.05)
    assert 100 in seen
    assert any(0 < progress < 100 for progress in seen), seen


def test_default_duration_and_empty_body(client: TestClient, state_dir: Path) -> None:
    cases: list[dict[str, Any]] = [{"json": {}}, {}]
    for kwargs in cases:
        response = client.post("/api/jobs", **kwargs)
        assert response.status_code == 202, response.text
        job_id = response.json()["id"]
        rows = run_sql(
            state_dir / "jobs.sqlite3", "SELECT duration_s FROM jobs WHERE id = ?", job_id
        )
        (duration,) = rows[0]
        assert duration == 3.0


def test_state_is_shared_through_sqlite(settings: Settings) -> None:
    """A job accepted by one app (worker) is visible to another app on the same file."""
    with (
        TestClient(create_app(settings)) as worker_a,
        TestClient(create_app(load_settings())) as worker_b,
    ):
        created = worker_a.post("/api/jobs", json={"duration_s": 0.2}).json()
        seen_by_b = worker_b.get(created["status_url"])
        assert seen_by_b.status_code == 200
        assert seen_by_b.json()["status"] in ("queued", "running")
        final = wait_for_job(worker_b, created["status_url"])
        assert final["status"] == "done"
        assert final["progress"] == 100

    # ... and a plain sqlite3 connection reads the same row from the file.
    rows = run_sql(
        settings.db_path, "SELECT status, progress, result FROM jobs WHERE id = ?", created["id"]
    )
    status, progress, result = rows[0]
    assert (status, progress) == ("done", 100)
    assert json.loads(result)["steps"] >= 1


def test_job_written_by_another_process_is_served(client: TestClient, settings: Settings) -> None:
    other = JobStore(settings.db_path)
    record = other.create_sync(duration_s=5.0, worker_pid=424242)
    other.update_sync(record.id, status="running", progress=40)
    body = client.get(f"/api/jobs/{record.id}").json()
    assert body == {
        "id": record.id,
        "status": "running",
        "progress": 40,
        "result": None,
        "worker_pid": 424242,
    }


def test_database_uses_wal(client: TestClient, settings: Settings) -> None:
    client.get("/api/health")
    ((mode,),) = run_sql(settings.db_path, "PRAGMA journal_mode")
    assert mode == "wal"


def test_state_dir_is_created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "deep" / "er" / "state"
    monkeypatch.setenv("APP_STATE_DIR", str(target))
    with TestClient(create_app()):
        assert (target / "jobs.sqlite3").is_file()


def test_unknown_job_404(client: TestClient) -> None:
    response = client.get("/api/jobs/does-not-exist")
    assert response.status_code == 404
    assert response.json() == {"detail": "Job not found"}


@pytest.mark.parametrize(
    "payload",
    [
        {"duration_s": 0},
        {"duration_s": -1},
        {"duration_s": 30.5},
        {"duration_s": "soon"},
        {"duration_s": None},
        {"duration_s": 1, "extra": True},
        [1, 2],
    ],
)
def test_bad_job_request_422(client: TestClient, payload: object) -> None:
    response = client.post("/api/jobs", json=payload)
    assert response.status_code == 422, response.text
    assert isinstance(response.json()["detail"], list)


def test_stale_job_reported_failed(client: TestClient, settings: Settings) -> None:
    store = JobStore(settings.db_path)
    record = store.create_sync(duration_s=5.0, worker_pid=999999)
    old = time.time() - jobs.STALE_AFTER_S - 1
    run_sql(settings.db_path, "UPDATE jobs SET status = 'running', updated_at = ?", old)
    body = client.get(f"/api/jobs/{record.id}").json()
    assert body["status"] == "failed"
    assert "error" in body["result"]


def test_a_finished_job_is_never_set_back_to_running(settings: Settings) -> None:
    store = JobStore(settings.db_path)
    store.init_sync()
    record = store.create_sync(duration_s=5.0, worker_pid=os.getpid())
    store.update_sync(record.id, status="failed", result={"error": "cancelled"})
    store.update_sync(record.id, status="running", progress=0)
    finished = store.get_sync(record.id)
    assert finished is not None
    assert finished.status == "failed"


def test_shutdown_marks_running_jobs_failed(settings: Settings) -> None:
    with TestClient(create_app(settings)) as worker:
        created = worker.post("/api/jobs", json={"duration_s": 20}).json()
    # The worker stopped while the job ran: another worker reports it as failed.
    with TestClient(create_app(load_settings())) as other:
        body = other.get(created["status_url"]).json()
    assert body["status"] == "failed"
    assert "shut down" in body["result"]["error"]
