import os
from pathlib import Path

from fastapi.testclient import TestClient


def test_health_at_root(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/api/health").status_code == 404


def test_create_and_list(client: TestClient, workdir: Path) -> None:
    assert client.get("/api/notes").json() == []
    response = client.post("/api/notes", json={"title": "Hello", "body": "World"})
    assert response.status_code == 201, response.text
    note = response.json()
    assert note["title"] == "Hello"
    assert note["body"] == "World"
    assert isinstance(note["id"], int)
    assert note["created_at"]
    assert client.get("/api/notes").json() == [note]
    log = (workdir / "activity.log").read_text().splitlines()
    assert log == [f"started pid={os.getpid()}", f"created note id={note['id']} pid={os.getpid()}"]


def test_invalid_note(client: TestClient) -> None:
    assert client.post("/api/notes", json={"title": ""}).status_code == 422
    assert client.post("/api/notes", json={"body": "no title"}).status_code == 422


def test_seed_runs_none_yet(client: TestClient) -> None:
    assert client.get("/api/seed-runs").json() == {"count": 0}


def test_docs_and_openapi(client: TestClient) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/health", "/api/notes", "/api/seed-runs", "/api/schema"} <= set(paths)


def test_websocket(client: TestClient) -> None:
    client.post("/api/notes", json={"title": "one"})
    with client.websocket_connect("/ws") as ws:
        assert ws.receive_json() == {"notes": 1}
        ws.send_text("ping")
        assert ws.receive_text() == "ping"
