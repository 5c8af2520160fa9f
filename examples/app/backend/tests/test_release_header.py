"""X-Release: which release answered, on every HTTP answer and on the WebSocket handshake's."""

from __future__ import annotations

import os
import socket

import pytest
from app import main
from app.settings import Settings
from fastapi.testclient import TestClient


@pytest.fixture
def release(monkeypatch: pytest.MonkeyPatch) -> str:
    """The code runs from releases/<id>/app/app/ (RELEASE is read when the app is built)."""
    monkeypatch.setattr(main, "RELEASE", "20260102T030405Z")
    return "20260102T030405Z"


def test_every_answer_names_its_release(release: str, settings: Settings) -> None:
    app = main.create_app(settings)

    @app.get("/api/boom")
    async def boom() -> None:
        raise RuntimeError("kaboom")

    with TestClient(app, raise_server_exceptions=False) as client:
        answers = [
            client.get("/api/health"),
            client.get("/api/items?limit=1"),
            client.post("/api/jobs", json={"duration_s": 0.01}),
            client.get("/api/jobs/nope"),
            client.post("/api/jobs", json={"duration_s": -1}),
            client.get("/api/boom"),
        ]
    assert [answer.status_code for answer in answers] == [200, 200, 202, 404, 422, 500]
    served_by = f"{socket.gethostname()}/{os.getpid()}"
    for answer in answers:
        assert answer.headers.get_list("x-release") == [release], answer.request.url
        assert answer.headers.get_list("x-served-by") == [served_by], answer.request.url
    assert answers[0].json()["release"] == release


def test_no_release_header_outside_a_release(client: TestClient) -> None:
    response = client.get("/api/health")
    assert main.RELEASE is None
    assert "x-release" not in response.headers
    assert "x-served-by" in response.headers


def test_websocket_handshake_names_its_release(release: str, settings: Settings) -> None:
    with (
        TestClient(main.create_app(settings)) as client,
        client.websocket_connect("/api/ws") as websocket,
    ):
        assert (b"x-release", release.encode()) in (websocket.extra_headers or [])
        websocket.send_text("ping")
        assert websocket.receive_text() == "ping"


def test_websocket_handshake_without_a_release(client: TestClient) -> None:
    with client.websocket_connect("/api/ws") as websocket:
        assert not [header for header in websocket.extra_headers or [] if header[0] == b"x-release"]
