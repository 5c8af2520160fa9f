from __future__ import annotations

import time
from pathlib import Path

import pytest
from app import auth
from app.main import create_app
from app.settings import load_settings
from fastapi.testclient import TestClient


def login(client: TestClient, username: str) -> str:
    response = client.post("/api/login", json={"username": username})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"token"}
    token: str = body["token"]
    return token


def test_login_then_me(client: TestClient) -> None:
    token = login(client, "alice")
    response = client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json() == {"username": "alice"}


def test_unicode_username(client: TestClient) -> None:
    token = login(client, "Zoë 🚀")
    me = client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json() == {"username": "Zoë 🚀"}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": "Bearer abc.def"},
        {"Authorization": "Basic YWxpY2U6c2VjcmV0"},
    ],
)
def test_me_unauthorized(client: TestClient, headers: dict[str, str]) -> None:
    response = client.get("/api/me", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"
    assert response.headers["www-authenticate"] == "Bearer"
    assert isinstance(response.json()["detail"], str)


def test_tampered_token_rejected(client: TestClient) -> None:
    token = login(client, "alice")
    payload, _dot, signature = token.partition(".")
    forged = auth.make_token(b"some other key", "admin", 3600).partition(".")[0]
    for bad in (f"{forged}.{signature}", f"{payload}.{signature[:-2]}xx"):
        response = client.get("/api/me", headers={"Authorization": f"Bearer {bad}"})
        assert response.status_code == 401


def test_expired_token_rejected(client: TestClient) -> None:
    key = b"test-secret-key"
    token = auth.make_token(key, "alice", ttl_s=60, now=time.time() - 120)
    assert auth.verify_token(key, token) is None
    response = client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid or expired token"}


def test_token_valid_across_workers_with_shared_key() -> None:
    with (
        TestClient(create_app(load_settings())) as worker_a,
        TestClient(create_app(load_settings())) as worker_b,
    ):
        token = login(worker_a, "bob")
        me = worker_b.get("/api/me", headers={"Authorization": f"Bearer {token}"})
        assert me.json() == {"username": "bob"}


def test_random_key_without_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    log_file = tmp_path / "app.log"
    monkeypatch.setenv("APP_LOG_FILE", str(log_file))
    monkeypatch.delenv("APP_SECRET_KEY")
    with TestClient(create_app()) as worker_a, TestClient(create_app()) as worker_b:
        token = login(worker_a, "carol")
        me_a = worker_a.get("/api/me", headers={"Authorization": f"Bearer {token}"})
        assert me_a.json() == {"username": "carol"}
        # Another process has another random key: the token is not valid there.
        me_b = worker_b.get("/api/me", headers={"Authorization": f"Bearer {token}"})
        assert me_b.status_code == 401
    log = log_file.read_text()
    assert "WARNING" in log
    assert "APP_SECRET_KEY is not set" in log
    assert "INFO" in log
    assert "login: carol" in log
    assert load_settings({}).secret_key_generated
    assert not load_settings({"APP_SECRET_KEY": "x"}).secret_key_generated


@pytest.mark.parametrize(
    "payload",
    [{}, {"username": ""}, {"username": "x" * 65}, {"username": 42}, {"user": "alice"}],
)
def test_login_validation(client: TestClient, payload: dict[str, object]) -> None:
    assert client.post("/api/login", json=payload).status_code == 422
