"""A stand-in for the API upstream: answers JSON under /api, echoing what it received, and
accepts a WebSocket handshake on /api/ws (101), then echoes the client's frames."""

from __future__ import annotations

import base64
import hashlib
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep connections open, like Gunicorn

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/api/ws" and self.headers.get("Upgrade", "").lower() == "websocket":
            self.websocket()
            return
        found = path == "/api" or path.startswith("/api/echo")
        body = json.dumps(
            {
                "upstream": "fake-api",
                "detail": "ok" if found else "Not Found",
                "path": self.path,
                "version": self.request_version,
                "client_port": self.client_address[1],
                "headers": {name.lower(): value for name, value in self.headers.items()},
            }
        ).encode()
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def websocket(self) -> None:
        key = self.headers.get("Sec-WebSocket-Key", "") + WEBSOCKET_GUID
        accept = base64.b64encode(hashlib.sha1(key.encode()).digest()).decode()  # noqa: S324
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.send_header("X-Request-ID-Seen", self.headers.get("X-Request-ID", ""))
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        self.connection.settimeout(15)
        # Echo small frames (payload < 126 bytes) until the client goes away.
        while (head := self.rfile.read(2)) and len(head) == 2:
            length = head[1] & 0x7F
            mask = self.rfile.read(4) if head[1] & 0x80 else b"\0\0\0\0"
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(length)))
            if head[0] & 0x0F == 0x8:  # close
                return
            self.wfile.write(bytes([head[0], len(payload)]) + payload)
            self.wfile.flush()

    def log_message(self, format: str, *args: object) -> None:
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", 8000), Handler).serve_forever()
