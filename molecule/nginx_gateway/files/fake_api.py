"""A stand-in for the API upstream: answers JSON under /api, echoing what it received."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep connections open, like Gunicorn

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
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

    def log_message(self, format: str, *args: object) -> None:
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", 8000), Handler).serve_forever()
