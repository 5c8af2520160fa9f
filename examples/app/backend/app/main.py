"""FastAPI application: ``gunicorn app.main:app -k uvicorn_worker.UvicornWorker``.

Every route is ``async def``; blocking work (SQLite) runs via ``asyncio.to_thread``.
Long work is never awaited in a request: POST /api/jobs answers 202 at once.
"""

import logging
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

from fastapi import (
    Body,
    Depends,
    FastAPI,
    HTTPException,
    Query,
    Request,
    Response,
    WebSocket,
    WebSocketDisconnect,
    status,
)
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import auth, metrics
from .items import build_items
from .jobs import JobRunner, JobStore
from .logging_config import configure_logging
from .models import (
    ErrorResponse,
    HealthResponse,
    ItemsResponse,
    JobCreate,
    JobCreated,
    JobStatus,
    LoginRequest,
    MeResponse,
    TokenResponse,
)
from .settings import Settings, load_settings

logger = logging.getLogger("app")

_bearer = HTTPBearer(auto_error=False)


def release_of(module_file: str) -> str | None:
    """The release id when the code runs from ``.../releases/<id>/app/app/`` (links resolved,
    so ``current/app`` gives the release it pointed to when this process imported it)."""
    release_dir = Path(module_file).resolve().parents[2]
    return release_dir.name if release_dir.parent.name == "releases" else None


RELEASE = release_of(__file__)


def identity_headers() -> list[tuple[bytes, bytes]]:
    """``X-Served-By: <hostname>/<pid>`` and, when the code runs from a release directory,
    ``X-Release: <release id>``: which host, worker and release answered."""
    headers = [(b"x-served-by", f"{socket.gethostname()}/{os.getpid()}".encode())]
    if RELEASE is not None:
        headers.append((b"x-release", RELEASE.encode()))
    return headers


class ServedByMiddleware:
    """Adds ``X-Served-By: <hostname>/<pid>`` and ``X-Release: <release id>`` (when there is
    one) to every response, so operators and tests can see which host, which Gunicorn worker
    and which release answered. Pure ASGI: no per-request task."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.headers = identity_headers()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], *self.headers]
            await send(message)

        await self.app(scope, receive, send_with_header)


class RequestIdMiddleware:
    """Echoes the request's ``X-Request-ID`` (set by nginx: the client's or its own id, also
    in nginx's access log) in the response, and logs it with each API error, so one id ties
    a browser's request to nginx's and the app's logs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = dict(scope["headers"]).get(b"x-request-id")
        if request_id is None:
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})["request_id"] = request_id.decode("latin-1")

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id)]
            await send(message)

        await self.app(scope, receive, send_with_header)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Application factory; tests build several apps sharing one state directory."""
    configure_logging()
    settings = load_settings() if settings is None else settings
    if settings.secret_key_generated:
        logger.warning(
            "APP_SECRET_KEY is not set: using a random key for this process only; "
            "login tokens will not work across several workers or restarts"
        )
    store = JobStore(settings.db_path)
    runner = JobRunner(store)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await store.init()
        logger.info(
            "worker %d started: version %s, job database %s",
            os.getpid(),
            settings.version,
            store.db_path.absolute(),
        )
        yield
        await runner.shutdown()
        logger.info("worker %d stopped", os.getpid())

    app = FastAPI(
        title="fullstack.webapp example API",
        version=settings.version,
        lifespan=lifespan,
        docs_url="/api/docs" if settings.docs_enabled else None,
        redoc_url=None,
        openapi_url="/api/openapi.json" if settings.docs_enabled else None,
    )
    app.state.settings = settings
    app.add_middleware(ServedByMiddleware)
    app.add_middleware(RequestIdMiddleware)
    if metrics.enabled():
        # Outermost: counts every request (errors too) and answers GET /metrics.
        app.add_middleware(metrics.MetricsMiddleware)
    if settings.cors_origins:
        # Development only (Vite dev server on another origin); in production nginx
        # serves the front end and /api on one origin, so no CORS is needed.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.state.jobs = runner

    @app.exception_handler(Exception)
    async def unhandled_error(request: Request, exc: Exception) -> JSONResponse:
        # ERROR with the stack trace; Starlette re-raises afterwards, so the
        # server's own error log records it as well.
        logger.error(
            "unhandled error on %s %s (request id %s)",
            request.method,
            request.url.path,
            getattr(request.state, "request_id", "-"),
            exc_info=exc,
        )
        # Sent by Starlette's outermost middleware, around ServedByMiddleware: the same
        # headers are added here so that a 500 says who answered too.
        return JSONResponse(
            {"detail": "Internal Server Error"},
            status_code=500,
            headers={name.decode(): value.decode() for name, value in identity_headers()},
        )

    @app.get("/api/health")
    async def health() -> HealthResponse:
        return HealthResponse(
            version=settings.version,
            pid=os.getpid(),
            hostname=socket.gethostname(),
            release=RELEASE,
        )

    @app.get("/api/items")
    async def list_items(
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> ItemsResponse:
        items = build_items(limit)
        return ItemsResponse(count=len(items), items=items)

    @app.post(
        "/api/jobs",
        status_code=status.HTTP_202_ACCEPTED,
        responses={422: {"description": "Invalid duration"}},
    )
    async def create_job(
        response: Response,
        body: Annotated[JobCreate | None, Body()] = None,
    ) -> JobCreated:
        duration_s = (body or JobCreate()).duration_s
        record = await runner.submit(duration_s)
        status_url = f"/api/jobs/{record.id}"
        response.headers["Location"] = status_url
        return JobCreated(id=record.id, status_url=status_url)

    @app.get("/api/jobs/{job_id}", responses={404: {"model": ErrorResponse}})
    async def get_job(job_id: str) -> JobStatus:
        record = await store.get(job_id)
        if record is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail="Job not found")
        return JobStatus(
            id=record.id,
            status=record.status,
            progress=record.progress,
            result=record.result,
            worker_pid=record.worker_pid,
        )

    @app.websocket("/api/ws")
    async def echo(websocket: WebSocket) -> None:
        """Echoes every text message: the push channel the seed's polling could become. The
        handshake's answer says which release accepted it (X-Release), as HTTP answers do."""
        await websocket.accept(
            headers=None if RELEASE is None else [(b"x-release", RELEASE.encode())]
        )
        try:
            while True:
                await websocket.send_text(await websocket.receive_text())
        except WebSocketDisconnect:
            return

    @app.post("/api/login")
    async def login(body: LoginRequest) -> TokenResponse:
        token = auth.make_token(settings.secret_key, body.username, settings.token_ttl_s)
        logger.info("login: %s", body.username)
        return TokenResponse(token=token)

    async def current_user(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> str:
        username = (
            None
            if credentials is None
            else auth.verify_token(settings.secret_key, credentials.credentials)
        )
        if username is None:
            detail = "Not authenticated" if credentials is None else "Invalid or expired token"
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                detail=detail,
                headers={"WWW-Authenticate": "Bearer"},
            )
        return username

    @app.get("/api/me", responses={401: {"model": ErrorResponse}})
    async def me(username: Annotated[str, Depends(current_user)]) -> MeResponse:
        return MeResponse(username=username)

    return app


app = create_app()
