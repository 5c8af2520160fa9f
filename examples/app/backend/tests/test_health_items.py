from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from app.main import create_app, release_of
from app.settings import load_settings
from fastapi import FastAPI
from fastapi.testclient import TestClient


def test_health(client: TestClient) -> None:
    response = client.get("/api/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["version"] == "1.0.0"
    assert body["pid"] == os.getpid()
    assert isinstance(body["hostname"], str)
    assert body["hostname"]
    assert set(body) == {"status", "version", "pid", "hostname", "release"}
    assert body["release"] is None


def test_release_of_resolves_the_current_link(tmp_path: Path) -> None:
    code = tmp_path / "releases" / "20260101T000000Z" / "app" / "app"
    code.mkdir(parents=True)
    (code / "main.py").touch()
    (tmp_path / "current").symlink_to("releases/20260101T000000Z")
    assert release_of(str(tmp_path / "current" / "app" / "app" / "main.py")) == "20260101T000000Z"
    assert release_of(str(tmp_path / "elsewhere" / "app" / "app" / "main.py")) is None


def test_health_version_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_VERSION", "2.3.4-test")
    with TestClient(create_app()) as client:
        assert client.get("/api/health").json()["version"] == "2.3.4-test"


def test_items_default(client: TestClient) -> None:
    response = client.get("/api/items")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 50
    assert len(body["items"]) == 50
    first = body["items"][0]
    assert {"id", "name", "price", "quantity", "tags", "total", "sku"} <= set(first)
    assert first["total"] == round(first["price"] * first["quantity"], 2)
    totals = [item["total"] for item in body["items"]]
    assert totals == sorted(totals, reverse=True)
    assert len({item["id"] for item in body["items"]}) == 50


@pytest.mark.parametrize("limit", [1, 10, 500])
def test_items_limit(client: TestClient, limit: int) -> None:
    body = client.get("/api/items", params={"limit": limit}).json()
    assert body["count"] == limit
    assert len(body["items"]) == limit


def test_items_are_deterministic(client: TestClient) -> None:
    first = client.get("/api/items?limit=20").json()
    second = client.get("/api/items?limit=20").json()
    assert first == second


@pytest.mark.parametrize("limit", ["0", "501", "-1", "ten"])
def test_items_bad_limit(client: TestClient, limit: str) -> None:
    response = client.get("/api/items", params={"limit": limit})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "limit"]


@pytest.mark.parametrize("path", ["/api/nope", "/api/jobs", "/api/items/1", "/index.html"])
def test_unknown_paths_give_json_404_or_405(client: TestClient, path: str) -> None:
    response = client.get(path)
    # GET /api/jobs exists only as POST: 405; the others are unknown: 404.
    assert response.status_code == (405 if path == "/api/jobs" else 404)
    assert response.headers["content-type"] == "application/json"
    assert "detail" in response.json()


def test_docs_disabled_by_default(client: TestClient) -> None:
    for path in ("/docs", "/redoc", "/openapi.json", "/api/docs", "/api/openapi.json"):
        assert client.get(path).status_code == 404, path


def test_docs_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_DOCS", "1")
    with TestClient(create_app(load_settings())) as client:
        assert client.get("/api/docs").status_code == 200
        schema = client.get("/api/openapi.json").json()
        assert "/api/jobs/{job_id}" in schema["paths"]
        assert client.get("/docs").status_code == 404


def test_module_level_app() -> None:
    from app.main import app

    assert isinstance(app, FastAPI)
    paths = {getattr(route, "path", "") for route in app.routes}
    assert {"/api/health", "/api/items", "/api/jobs", "/api/jobs/{job_id}"} <= paths
    assert {"/api/login", "/api/me"} <= paths


def test_all_routes_are_async() -> None:
    import inspect

    from fastapi.routing import APIRoute

    app = create_app(load_settings())
    routes = [route for route in app.routes if isinstance(route, APIRoute)]
    assert routes
    for route in routes:
        assert inspect.iscoroutinefunction(route.endpoint), route.path


def test_no_cors_by_default(client: TestClient) -> None:
    response = client.get("/api/health", headers={"Origin": "http://localhost:5173"})
    assert "access-control-allow-origin" not in response.headers


def test_cors_for_dev_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_CORS_ORIGINS", "http://localhost:5173, http://127.0.0.1:5173/")
    with TestClient(create_app()) as client:
        preflight = client.options(
            "/api/me",
            headers={
                "Origin": "http://127.0.0.1:5173",
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "http://127.0.0.1:5173"
        response = client.get("/api/health", headers={"Origin": "http://localhost:5173"})
        assert response.headers["access-control-allow-origin"] == "http://localhost:5173"
        other = client.get("/api/health", headers={"Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_every_response_names_the_host_and_worker(client: TestClient) -> None:
    expected = f"{socket.gethostname()}/{os.getpid()}"
    assert client.get("/api/health").headers["x-served-by"] == expected
    assert client.get("/api/nope").headers["x-served-by"] == expected


def test_health_names_the_host_that_answered(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Behind a gateway balancing over several app servers, /api/health tells which one
    answered: the host name, read on each request."""
    assert client.get("/api/health").json()["hostname"] == socket.gethostname()
    monkeypatch.setattr(socket, "gethostname", lambda: "app-2.internal")
    body = client.get("/api/health").json()
    assert body["hostname"] == "app-2.internal"
    assert body["status"] == "ok"
