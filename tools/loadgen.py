"""A bounded, steady load of three kinds, copied into a test container and run there against
nginx on loopback::

    python3 loadgen.py PATHS STOP_FILE MAX_SECONDS [PORT [HOST]]
                       [--post PATH [--post-body JSON]] [--websocket PATH] [--timeout S]

Until STOP_FILE exists or MAX_SECONDS passed, one thread each (all at once):

* GETs the comma-separated PATHS in turn (none when PATHS is empty), one connection per
  request (what a new browser tab does). A GET fails on a connection error, a timeout or a
  status other than 200.
* With ``--post PATH``: POSTs the JSON ``--post-body`` (default ``{"duration_s": 0.05}``) to
  PATH, one connection per request, and records the ``id`` of every 202 answer. A POST fails
  on a connection error, a timeout or a status other than 202.
* With ``--websocket PATH``: one WebSocket (RFC 6455, this module's own minimal client) that
  sends a text message every 50 ms and checks its echo. When the server closes it (a close
  frame or the end of the stream: an old Gunicorn instance stopping gracefully) it reconnects
  at once; a message the closed connection never echoed is sent again on the new one. A
  failure is a handshake that fails (no connection, no 101, a wrong Sec-WebSocket-Accept) or
  a message whose echo never came (even after a reconnect) or differed.

Then it prints one JSON object: for the GETs (as before) ``sent``, ``failed``, ``counts``
(per path and status) and the ``releases`` and ``hosts`` /api/health reported; ``kinds``
with each kind's figures (``get``: sent, failed, longest_ms; ``post``: sent, failed,
longest_ms, ids, counts per status; ``websocket``: connections, server_closes, messages,
failed, longest_ms, sent, resent, close_codes, counts per failure); ``releases_by_kind``,
the X-Release header of every answer (GET, POST, WebSocket handshake) counted per release;
``longest_ms``, the longest any single request (GET, POST, handshake, echo round trip)
took; ``started_at`` and ``stopped_at`` (epoch seconds, this host's clock). HOST (default
127.0.0.1) is where the requests go. Standard library only: the container has nothing else.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import http.client
import json
import math
import os
import secrets
import select
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

DEFAULT_POST_BODY = '{"duration_s": 0.05}'
# Paced so that the load measures the deploy without taking the 2 cores it runs on from it.
GET_PAUSE_S = 0.03
POST_PAUSE_S = 0.05
WS_INTERVAL_S = 0.05
# A failed handshake is retried after this pause (a server close is followed at once).
WS_RETRY_S = 0.1
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_HEAD = 65536

OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


@dataclass
class Tally:
    """One kind's figures; each kind's thread has its own, read once it has stopped."""

    sent: int = 0
    failed: int = 0
    longest_s: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    releases: dict[str, int] = field(default_factory=dict)

    def took(self, seconds: float) -> None:
        self.longest_s = max(self.longest_s, seconds)

    def release(self, release: str | None) -> None:
        if release is not None:
            self.releases[release] = self.releases.get(release, 0) + 1

    def count(self, key: str) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1


@dataclass
class GetTally(Tally):
    health_releases: dict[str, int] = field(default_factory=dict)
    hosts: dict[str, int] = field(default_factory=dict)

    def health(self, body: bytes) -> None:
        """Count the release and host name an /api/health answer reports."""
        try:
            data = json.loads(body)
        except ValueError:
            return
        if not isinstance(data, dict):
            return
        for counts, value in (
            (self.health_releases, data.get("release")),
            (self.hosts, data.get("hostname")),
        ):
            if isinstance(value, str):
                counts[value] = counts.get(value, 0) + 1


@dataclass
class PostTally(Tally):
    ids: list[str] = field(default_factory=list)


@dataclass
class SocketTally(Tally):
    connections: int = 0
    server_closes: int = 0
    messages: int = 0
    resent: int = 0
    close_codes: dict[str, int] = field(default_factory=dict)


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


# -- HTTP -------------------------------------------------------------------------------


def request(
    host: str, port: int, method: str, path: str, body: bytes | None, timeout: float
) -> tuple[str, bytes, str | None]:
    """The status (or the error's name), the body and the X-Release header of one request on
    a connection of its own."""
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    headers = {} if body is None else {"Content-Type": "application/json"}
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
    except (OSError, http.client.HTTPException) as exc:
        return type(exc).__name__, b"", None
    finally:
        connection.close()
    return str(response.status), data, response.getheader("X-Release")


def get_loop(
    host: str, port: int, paths: list[str], timeout: float, stop: threading.Event, tally: GetTally
) -> None:
    while not stop.is_set():
        path = paths[tally.sent % len(paths)]
        started = time.monotonic()
        status, body, release = request(host, port, "GET", path, None, timeout)
        tally.took(time.monotonic() - started)
        tally.sent += 1
        tally.failed += status != "200"
        tally.count(f"{path} {status}")
        tally.release(release)
        if status == "200" and path.startswith("/api/health"):
            tally.health(body)
        stop.wait(GET_PAUSE_S)


def post_loop(
    host: str,
    port: int,
    path: str,
    body: bytes,
    timeout: float,
    stop: threading.Event,
    tally: PostTally,
) -> None:
    while not stop.is_set():
        started = time.monotonic()
        status, answer, release = request(host, port, "POST", path, body, timeout)
        tally.took(time.monotonic() - started)
        tally.sent += 1
        tally.count(status)
        tally.release(release)
        job_id = None
        if status == "202":
            try:
                job_id = json.loads(answer).get("id")
            except (ValueError, AttributeError):
                job_id = None
        if isinstance(job_id, str):
            tally.ids.append(job_id)
        else:
            tally.failed += 1
        stop.wait(POST_PAUSE_S)


# -- WebSocket --------------------------------------------------------------------------


class HandshakeError(Exception):
    """The server did not upgrade the connection; release is its X-Release header, if any."""

    def __init__(self, reason: str, release: str | None = None) -> None:
        super().__init__(reason)
        self.release = release


class ServerClosed(Exception):
    """The server closed the connection: code is the close frame's status code, "none" for a
    close frame without one, "eof" for the end of the stream, "reset" for a reset."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def accept_key(key: str) -> str:
    """The Sec-WebSocket-Accept a server must answer to key (RFC 6455, 4.2.2)."""
    return base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest()).decode()  # noqa: S324


def encode_frame(opcode: int, payload: bytes, mask: bytes | None = None) -> bytes:
    """One final frame as a client sends it: masked (with a new random key unless given)."""
    mask = secrets.token_bytes(4) if mask is None else mask
    length = len(payload)
    if length < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    return head + mask + _masked(payload, mask)


def _masked(payload: bytes, mask: bytes) -> bytes:
    return bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))


class WebSocket:
    """A minimal RFC 6455 client over a connected socket: text messages out (masked), any
    frames in (unmasked from a server, fragmented or not); it answers pings and closes."""

    def __init__(self, sock: socket.socket, buffered: bytes = b"") -> None:
        self.sock = sock
        self.buffer = buffered
        self.closed = False

    @classmethod
    def connect(
        cls, host: str, port: int, path: str, timeout: float
    ) -> tuple[WebSocket, str | None]:
        """The open WebSocket and the X-Release header of the handshake's answer; raises
        HandshakeError (an OSError when nothing answered)."""
        sock = socket.create_connection((host, port), timeout=timeout)
        try:
            key = base64.b64encode(secrets.token_bytes(16)).decode()
            authority = host if port == 80 else f"{host}:{port}"  # as http.client sends it
            sock.sendall(
                (
                    f"GET {path} HTTP/1.1\r\nHost: {authority}\r\nUpgrade: websocket\r\n"
                    f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                    "Sec-WebSocket-Version: 13\r\n\r\n"
                ).encode()
            )
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = sock.recv(4096)
                if not chunk:
                    raise HandshakeError("connection closed during the handshake")
                head += chunk
                if len(head) > MAX_HEAD:
                    raise HandshakeError("handshake answer too long")
            head, _, rest = head.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            release = headers.get("x-release")
            status = lines[0].split(" ")
            if len(status) < 2 or status[1] != "101":
                raise HandshakeError(f"status {' '.join(status[1:2]) or '?'}", release)
            if headers.get("upgrade", "").lower() != "websocket":
                raise HandshakeError("no Upgrade: websocket", release)
            if headers.get("sec-websocket-accept") != accept_key(key):
                raise HandshakeError("wrong Sec-WebSocket-Accept", release)
        except BaseException:
            sock.close()
            raise
        return cls(sock, rest), release

    def send_text(self, text: str) -> None:
        self._send(OP_TEXT, text.encode())

    def _send(self, opcode: int, payload: bytes) -> None:
        try:
            self.sock.sendall(encode_frame(opcode, payload))
        except (BrokenPipeError, ConnectionResetError) as exc:
            self._gone()
            raise ServerClosed("reset") from exc

    def _gone(self) -> None:
        self.closed = True
        self.sock.close()

    def _read(self, size: int, deadline: float) -> bytes:
        while len(self.buffer) < size:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no frame in time")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError as exc:
                self._gone()
                raise ServerClosed("reset") from exc
            if not chunk:
                self._gone()
                raise ServerClosed("eof")
            self.buffer += chunk
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def _frame(self, deadline: float) -> tuple[bool, int, bytes]:
        first, second = self._read(2, deadline)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._read(2, deadline))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._read(8, deadline))
        mask = self._read(4, deadline) if second & 0x80 else None
        payload = self._read(length, deadline)
        if mask is not None:
            payload = _masked(payload, mask)
        return bool(first & 0x80), first & 0x0F, payload

    def receive(self, timeout: float, control: bool = False) -> str | None:
        """The next text message (None for a binary one) within timeout; answers pings on
        the way, and returns None after one when control is set (the server's keep-alive
        pings come at any time). Raises ServerClosed (after answering a close frame) or
        TimeoutError."""
        deadline = time.monotonic() + timeout
        parts: list[bytes] = []
        kind = OP_TEXT
        while True:
            final, opcode, payload = self._frame(deadline)
            if opcode in (OP_PING, OP_PONG):
                if opcode == OP_PING:
                    self._send(OP_PONG, payload)
                if control and not parts:
                    return None
            elif opcode == OP_CLOSE:
                code = str(struct.unpack("!H", payload[:2])[0]) if len(payload) >= 2 else "none"
                with contextlib.suppress(OSError):  # the closing handshake: echo its code
                    self.sock.sendall(encode_frame(OP_CLOSE, payload[:2]))
                self._gone()
                raise ServerClosed(code)
            elif opcode in (OP_TEXT, OP_BINARY, OP_CONTINUATION):
                if opcode != OP_CONTINUATION:
                    kind, parts = opcode, []
                parts.append(payload)
                if final:
                    return b"".join(parts).decode() if kind == OP_TEXT else None

    def idle(self, seconds: float, stop: threading.Event) -> list[str | None]:
        """Wait seconds (less once stop is set), answering pings; the messages that arrived
        meanwhile (none expected). Raises ServerClosed as soon as the server closes."""
        deadline = time.monotonic() + seconds
        arrived: list[str | None] = []
        while not stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if not self.buffer:
                readable, _, _ = select.select([self.sock], [], [], min(left, 0.05))
                if not readable:
                    continue
            message = self.receive(timeout=max(left, 5.0), control=True)
            if message is not None:
                arrived.append(message)
        return arrived

    def close(self, timeout: float = 1.0) -> None:
        """The closing handshake from this side: a close frame (1000), then the server's."""
        if self.closed:
            return
        try:
            self.sock.sendall(encode_frame(OP_CLOSE, struct.pack("!H", 1000)))
            deadline = time.monotonic() + timeout
            while True:
                self._frame(deadline)  # until its close frame, the end or the timeout
        except (ServerClosed, OSError):
            pass
        finally:
            self._gone()


def websocket_loop(
    host: str, port: int, path: str, timeout: float, stop: threading.Event, tally: SocketTally
) -> None:
    connection: WebSocket | None = None
    sequence = 0
    pending: tuple[str, float] | None = None  # unanswered when the server closed; sent again
    while not stop.is_set() or pending is not None:
        if connection is None:
            started = time.monotonic()
            try:
                connection, release = WebSocket.connect(host, port, path, timeout)
            except HandshakeError as exc:
                tally.release(exc.release)
                tally.count(f"handshake {exc}")
            except OSError as exc:
                tally.count(f"handshake {type(exc).__name__}")
            else:
                tally.release(release)
                tally.connections += 1
            tally.took(time.monotonic() - started)
            if connection is None:
                tally.failed += 1
                if stop.is_set() and pending is not None:  # its echo will never come
                    tally.failed += 1
                    tally.count("echo lost at a close")
                    pending = None
                stop.wait(WS_RETRY_S)
                continue
        resending = pending is not None
        if pending is None:
            sequence += 1
            message, sent_at = f"{sequence} {secrets.token_hex(8)}", time.monotonic()
            tally.sent += 1
        else:
            (message, sent_at), pending = pending, None
            tally.resent += 1
        answered = False
        try:
            connection.send_text(message)
            echo = connection.receive(timeout)
            answered = True
            tally.took(time.monotonic() - sent_at)
            if echo == message:
                tally.messages += 1
            else:
                tally.failed += 1
                tally.count("echo mismatch")
            for _ in connection.idle(WS_INTERVAL_S, stop):
                tally.failed += 1
                tally.count("unexpected message")
        except ServerClosed as exc:
            tally.server_closes += 1
            tally.close_codes[exc.code] = tally.close_codes.get(exc.code, 0) + 1
            connection = None
            if not answered and resending:  # closed before the echo twice: it never came
                tally.took(time.monotonic() - sent_at)
                tally.failed += 1
                tally.count("echo lost at a close")
            elif not answered:
                pending = (message, sent_at)
        except (OSError, UnicodeDecodeError) as exc:  # TimeoutError is an OSError
            tally.took(time.monotonic() - sent_at)
            tally.failed += 1
            tally.count(f"echo {type(exc).__name__}")
            connection.close(timeout=0)
            connection = None
    if connection is not None:
        connection.close()


def guarded(loop: Callable[..., None], tally: Tally, *args: object) -> None:
    """Run a kind's loop; an error of its own ends it as one more failure, with its name in
    the counts, rather than a traceback in the middle of the report."""
    try:
        loop(*args, tally)
    except Exception as exc:
        tally.failed += 1
        tally.count(f"loop stopped: {type(exc).__name__}: {exc}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog=os.path.basename(argv[0]), description=__doc__)
    parser.add_argument("paths", help="comma-separated paths to GET in turn (none if empty)")
    parser.add_argument("stop_file", help="stop once this file exists")
    parser.add_argument("max_seconds", type=float, help="stop after this long at the latest")
    parser.add_argument("port", type=int, nargs="?", default=80)
    parser.add_argument("host", nargs="?", default="127.0.0.1")
    parser.add_argument("--post", metavar="PATH", help="POST --post-body to PATH, expect 202")
    parser.add_argument("--post-body", metavar="JSON", default=DEFAULT_POST_BODY)
    parser.add_argument("--websocket", metavar="PATH", help="keep a WebSocket to PATH echoing")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    args = parser.parse_args(argv[1:])
    paths = [path for path in args.paths.split(",") if path]

    stop = threading.Event()
    gets, posts, sockets = GetTally(), PostTally(), SocketTally()
    loops: list[tuple[Any, ...]] = []
    if paths:
        loops.append((get_loop, gets, args.host, args.port, paths, args.timeout, stop))
    if args.post:
        body = args.post_body.encode()
        loops.append((post_loop, posts, args.host, args.port, args.post, body, args.timeout, stop))
    if args.websocket:
        loops.append(
            (websocket_loop, sockets, args.host, args.port, args.websocket, args.timeout, stop)
        )
    started_at, started = time.time(), time.monotonic()
    threads = [threading.Thread(target=guarded, args=loop) for loop in loops]
    for thread in threads:
        thread.start()
    while not os.path.exists(args.stop_file) and time.monotonic() - started < args.max_seconds:
        time.sleep(0.05)
    stop.set()
    for thread in threads:
        thread.join()

    kinds = {
        "get": {"sent": gets.sent, "failed": gets.failed, "longest_ms": _ms(gets.longest_s)},
        "post": {
            "sent": posts.sent,
            "failed": posts.failed,
            "longest_ms": _ms(posts.longest_s),
            "ids": posts.ids,
            "counts": posts.counts,
        },
        "websocket": {
            "connections": sockets.connections,
            "server_closes": sockets.server_closes,
            "messages": sockets.messages,
            "failed": sockets.failed,
            "longest_ms": _ms(sockets.longest_s),
            "sent": sockets.sent,
            "resent": sockets.resent,
            "close_codes": sockets.close_codes,
            "counts": sockets.counts,
        },
    }
    report = {
        "sent": gets.sent,
        "failed": gets.failed,
        "counts": gets.counts,
        "releases": gets.health_releases,
        "hosts": gets.hosts,
        "kinds": kinds,
        "releases_by_kind": {
            "get": gets.releases,
            "post": posts.releases,
            "websocket": sockets.releases,
        },
        "longest_ms": _ms(max(gets.longest_s, posts.longest_s, sockets.longest_s)),
        # Millisecond bounds around every request (check_posts_exactly_once's window).
        "started_at": math.floor(started_at * 1000) / 1000,
        "stopped_at": math.ceil(time.time() * 1000) / 1000,
    }
    print(json.dumps(report, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
