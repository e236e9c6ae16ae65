"""The HTTP server of `local`: API routes, the built web app and /config.json on one port.

A threaded server, so a slow answer from the model never stalls a login.
"""

from __future__ import annotations

import logging
import threading
import time
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from chatbot_deploy import app_spec, webconfig
from chatbot_deploy.local.gateway import MAX_PAYLOAD_BYTES, HttpApi

logger = logging.getLogger("chatbot_deploy.local")

NOT_BUILT_PAGE = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>chatbot-deploy local</title></head>
<body><h1>chatbot-deploy local</h1>
<p>The API is running on this port (<code>POST /login</code>, <code>POST /chat</code>), but the
web app has not been built. Build it with <code>npm ci &amp;&amp; npm run build</code> in
<code>frontend/</code> and reload this page.</p></body></html>
"""


class LocalServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], api: HttpApi, web_dir: Path | None, stack: str
    ) -> None:
        self.api = api
        self.web_dir = web_dir
        self.stack = stack
        super().__init__(address, RequestHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = str(host)
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}"


class RequestHandler(SimpleHTTPRequestHandler):
    server: LocalServer
    protocol_version = "HTTP/1.1"
    # Headers and body are separate writes: without TCP_NODELAY, Nagle's algorithm and the
    # client's delayed ACK add ~40 ms to every keep-alive response.
    disable_nagle_algorithm = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        server: LocalServer = args[2]
        directory = str(server.web_dir) if server.web_dir else None
        super().__init__(*args, directory=directory, **kwargs)

    # -- API ---------------------------------------------------------------------------------
    def _api(self) -> None:
        started = time.perf_counter()
        parts = urlsplit(self.path)
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_PAYLOAD_BYTES:
            self._send(
                413, {"content-type": "application/json"}, b'{"message":"Request Entity Too Large"}'
            )
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        response = self.server.api.handle(
            self.command,
            parts.path,
            parts.query,
            dict(self.headers.items()),
            body,
            source_ip=self.client_address[0],
        )
        self._send(response.status, response.headers, response.body)
        logger.info(
            "%s %s %d %.0fms",
            self.command,
            parts.path,
            response.status,
            (time.perf_counter() - started) * 1000,
        )

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response_only(status)
        for key, value in headers.items():
            if key.lower() not in ("content-length", "connection"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _is_api_path(self) -> bool:
        path = urlsplit(self.path).path
        return any(path == route.path for route in app_spec.ROUTES)

    def do_POST(self) -> None:
        self._api()

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_POST

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == webconfig.CONFIG_PATH:
            host = self.headers.get("host") or self.server.url.removeprefix("http://")
            body = webconfig.runtime_config_bytes(f"http://{host}", self.server.stack)
            self._send(200, {"content-type": "application/json", "cache-control": "no-cache"}, body)
            return
        if self._is_api_path():
            self._api()
            return
        if self.server.web_dir is None:
            if path in ("/", "/index.html"):
                self._send(200, {"content-type": "text/html; charset=utf-8"}, NOT_BUILT_PAGE)
            else:
                self._send(404, {"content-type": "text/plain"}, b"not found\n")
            return
        super().do_GET()

    def do_HEAD(self) -> None:
        self.do_GET()

    def list_directory(self, path: str | Any) -> None:
        self.send_error(HTTPStatus.NOT_FOUND, "not found")
        return None

    def end_headers(self) -> None:
        if self.command == "GET" and self.path.split("?")[0] in ("/", "/index.html"):
            self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug(format, *args)


def serve(server: LocalServer, stop: threading.Event | None = None) -> None:
    """Serve until Ctrl-C or until ``stop`` is set (e.g. by a SIGTERM handler), then close
    the socket."""
    stop = stop or threading.Event()
    thread = threading.Thread(target=server.serve_forever, name="local-server", daemon=True)
    thread.start()
    try:
        while thread.is_alive() and not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass  # Ctrl-C is how `local` is meant to stop
    finally:
        server.shutdown()
        server.server_close()
