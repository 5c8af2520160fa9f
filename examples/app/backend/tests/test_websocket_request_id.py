from __future__ import annotations

from fastapi.testclient import TestClient


def test_websocket_echoes_text(client: TestClient) -> None:
    with client.websocket_connect("/api/ws") as websocket:
        websocket.send_text("hello")
        assert websocket.receive_text() == "hello"
        websocket.send_text("again")
        assert websocket.receive_text() == "again"


def test_request_id_is_echoed(client: TestClient) -> None:
    response = client.get("/api/health", headers={"X-Request-ID": "abc-123-def-456"})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "abc-123-def-456"


def test_no_request_id_without_one(client: TestClient) -> None:
    response = client.get("/api/health")
    assert "x-request-id" not in response.headers
