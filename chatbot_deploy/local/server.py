"""The HTTP server of `local`: API routes, the built web app and /config.json on one port.

A threaded server, so a slow answer from the model never stalls a login.

What http.server lets through or answers itself is answered here as API Gateway answers
(docs/api.md, "Answers before any route"): JSON bodies ``{"message": ...}``, never its HTML
error page or a traceback. A request is checked before its body is read (or ``100 Continue``
sent): its Host must be one this server serves (else 421: ``/config.json`` builds the API's
URL from it), its body framed by one valid ``Content-Length`` (else 400, or 411 for a
chunked body) within API Gateway's payload limit (else 413), and an API request's line and
headers within API Gateway's 10 KiB (else 431). An answer given before the request was read
to its end closes the connection only once the client could read it. A client that goes
away mid-answer (the web app's Stop button) costs one log line.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import threading
import time
from collections.abc import Sequence
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit

from chatbot_deploy import app_spec, site_headers, webconfig
from chatbot_deploy.local.gateway import (
    MAX_HEADER_BYTES,
    MAX_PAYLOAD_BYTES,
    HttpApi,
    is_api_path,
)
from chatbot_deploy.local.socket_api import SocketApi
from chatbot_lambda.settings import DEFAULT_MODEL

logger = logging.getLogger("chatbot_deploy.local")

NOT_BUILT_PAGE = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>chatbot-deploy local</title></head>
<body><h1>chatbot-deploy local</h1>
<p>The API is running on this port (<code>POST /login</code>, <code>POST /chat</code>), but the
web app has not been built. Build it with <code>npm ci &amp;&amp; npm run build</code> in
<code>frontend/</code> and reload this page.</p></body></html>
"""

# The policy the not-built page is sent with (it has no scripts, styles or images).
NOT_BUILT_CSP = "default-src 'none'"

JSON = {"content-type": "application/json"}
# After an answer sent before the request was read to its end: how long, and how much, to
# read and drop what the client still sends before closing (see RequestHandler._linger).
LINGER_S = 2.0
LINGER_BYTES = 2 * MAX_PAYLOAD_BYTES
# API Gateway's words where Python's reason phrase differs (3.13 renamed these two).
MESSAGES = {413: "Request Entity Too Large", 414: "Request-URI Too Long"}
MISDIRECTED = "Misdirected Request: this server does not answer for that host name"


def message_for(status: int) -> str:
    return MESSAGES.get(status) or HTTPStatus(status).phrase


class Refused(Exception):
    """A request answered ``{"message": ...}`` with ``status`` before it is routed."""

    def __init__(self, status: int, why: str, message: str | None = None) -> None:
        super().__init__(why)
        self.status = status
        self.why = why  # for the console, not the client
        self.message = message or message_for(status)


def parse_host(value: str) -> SplitResult:
    """``host[:port]`` as RFC 9110 allows it in a Host header, or ValueError."""
    parts = urlsplit(f"//{value}")
    if (
        not value
        or parts.netloc != value
        or parts.hostname is None
        or "@" in value
        or any(char.isspace() or not char.isprintable() for char in value)
    ):
        raise ValueError(f"not host[:port]: {value!r}")
    _ = parts.port  # ValueError when out of range or not a number
    return parts


class LocalServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        api: HttpApi,
        web_dir: Path | None,
        stack: str,
        models: Sequence[str] = (DEFAULT_MODEL,),
    ) -> None:
        self.api = api
        self.web_dir = web_dir
        self.stack = stack
        self.models = tuple(models)  # offered, the first the default (`local --model`)
        # The security headers the CDN sends (site_headers, over http: no HSTS), read once
        # from the build's CSP, for every answer that serves the web app (its files, the
        # not-built page, /config.json): the app runs under the same policy as behind the CDN.
        # A build without a CSP is refused here (UserError), before the port is bound.
        self.site_headers = site_headers.security_headers(
            site_headers.build_csp(web_dir) if web_dir else NOT_BUILT_CSP, https=False
        )
        # The WebSocket API on the same port, with the same functions (socket_api); closed by
        # server_close, which also runs when the port cannot be bound.
        self.sockets = SocketApi(api.handlers)
        super().__init__(address, RequestHandler)
        # The host names it answers for besides IP literals and localhost: the name it was
        # told to listen on (`--host`), and this machine's name.
        self.host_names = {
            name.lower().rstrip(".")
            for name in (address[0], socket.gethostname())
            if name and not _is_ip(name)
        }

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = str(host)
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}"

    def serves(self, host: str) -> bool:
        """Whether a request with this Host (already parsed) is meant for this server.

        Any IP literal (it cannot be a DNS-rebinding name, and a LAN address or a container's
        port mapping must work), ``localhost`` and ``*.localhost`` (always the loopback), the
        name given to ``--host`` and this machine's name. The port is not compared: behind a
        port mapping (a container's ``-p 9000:8000``) the browser's port is not ours, and
        ``/config.json`` must give the browser's own.
        """
        name = host.lower().rstrip(".")
        return (
            _is_ip(name)
            or name == "localhost"
            or name.endswith(".localhost")
            or name in self.host_names
        )

    def server_close(self) -> None:
        """Close the open WebSockets (1001, going away) and wait for their functions, then
        the listening socket."""
        self.sockets.close()
        super().server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Only reached for what RequestHandler does not handle itself: a bug, not a client.
        logger.exception("local: unexpected error while answering %s", client_address[0])


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


class RequestHandler(SimpleHTTPRequestHandler):
    server: LocalServer
    protocol_version = "HTTP/1.1"
    # Headers and body are separate writes: without TCP_NODELAY, Nagle's algorithm and the
    # client's delayed ACK add ~40 ms to every keep-alive response.
    disable_nagle_algorithm = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        server: LocalServer = args[2]
        directory = str(server.web_dir) if server.web_dir else None
        # Per request: the body once read (None: the request was not read to its end, so
        # an answer must close the connection), the answer's status, when it started, and
        # whether it serves the web app (then with the site's security headers).
        self.body: bytes | None = None
        self.status: int | None = None
        self.started = time.perf_counter()
        self.serves_site = False
        super().__init__(*args, directory=directory, **kwargs)

    # -- reading a request -------------------------------------------------------------------
    def handle_one_request(self) -> None:
        self.body, self.status, self.started = None, None, time.perf_counter()
        self.serves_site = False
        try:
            super().handle_one_request()
        except ConnectionError as exc:  # reset, broken pipe: the client went away
            self.close_connection = True
            if self.body is not None:  # while its request was being answered
                logger.info(
                    "%s %s: the client went away before the answer%s (%s, %.0fms)",
                    self.command,
                    urlsplit(self.path).path,
                    f" ({self.status})" if self.status else "",
                    type(exc).__name__,
                    (time.perf_counter() - self.started) * 1000,
                )

    def parse_request(self) -> bool:
        if not super().parse_request():  # it answered (now as JSON) or there was nothing
            return False
        if not self.check_request():
            return False
        length = self.content_length()
        body = self.rfile.read(length) if length else b""
        if len(body) < length:  # the client stopped sending: nobody to answer
            self.close_connection = True
            logger.info("%s %s: the client sent only part of its body", self.command, self.path)
            return False
        self.body = body
        return True

    def handle_expect_100(self) -> bool:
        # Refuse before the client sends its body (curl waits for this answer to upload).
        return self.check_request() and super().handle_expect_100()

    def check_request(self) -> bool:
        """Answer and return False for a request refused before it is routed."""
        try:
            self.admit()
        except Refused as refused:
            logger.info(
                "%s %s %d: %s",
                self.command,
                urlsplit(self.path).path,
                refused.status,
                refused.why,
            )
            self.refuse(refused.status, refused.message)
            return False
        return True

    def admit(self) -> None:
        """Raise :class:`Refused` for what http.server lets through."""
        hosts = self.headers.get_all("host") or []
        if len(hosts) > 1:
            raise Refused(400, "several Host headers")
        if not hosts and self.request_version >= "HTTP/1.1":
            raise Refused(400, "no Host header (HTTP/1.1 requires one)")
        target = urlsplit(self.path)
        for host in [*hosts, *([target.netloc] if target.netloc else [])]:
            try:
                hostname = parse_host(host).hostname or ""
            except ValueError:
                raise Refused(400, f"Host {host!r} is not host[:port]") from None
            if not self.server.serves(hostname):
                raise Refused(
                    421,
                    f"Host {host!r} is not a name of this server: open {self.server.url}/ "
                    "or start local with --host set to that name (see docs/api.md)",
                    MISDIRECTED,
                )
        if self.goes_to_api():
            size = len(self.requestline) + sum(len(value) for value in self.headers.values())
            if size > MAX_HEADER_BYTES:
                raise Refused(431, f"request line and headers are {size} bytes")
        if "transfer-encoding" in self.headers:
            raise Refused(411, "a chunked (Transfer-Encoding) body: send a Content-Length")
        if self.content_length() > MAX_PAYLOAD_BYTES:
            raise Refused(413, f"body over {MAX_PAYLOAD_BYTES} bytes")

    def content_length(self) -> int:
        """The body's length: RFC 9112 allows one value, repeated at most (``5, 5``)."""
        values = {
            value.strip()
            for field in self.headers.get_all("content-length") or []
            for value in field.split(",")
        }
        if not values:
            return 0
        if len(values) > 1:
            raise Refused(400, f"several Content-Length values: {sorted(values)}")
        (value,) = values
        if not (value.isascii() and value.isdigit()):  # not "-1", "+5", "abc", "²"
            raise Refused(400, f"Content-Length {value[:40]!r} is not a number of bytes")
        return int(value)

    def goes_to_api(self) -> bool:
        """Whether the request is the API's (it is API Gateway's under `up`): every method
        but GET and HEAD, and GET or HEAD of a route's path."""
        return self.command not in ("GET", "HEAD") or self.is_api_path()

    def is_api_path(self) -> bool:
        return is_api_path(urlsplit(self.path).path)

    # -- answering ---------------------------------------------------------------------------
    def refuse(self, status: int, message: str) -> None:
        """Answer ``{"message": ...}``; close the connection if the request was not read to
        its end, letting the client read the answer first."""
        if self.body is None:
            self.close_connection = True
        self.send(status, JSON, json.dumps({"message": message}).encode())
        if self.body is None:
            self.linger()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own answers (a bad request line or version, a request line or header
        line over 64 KiB, over 100 headers, an unknown method, a file not found) in JSON."""
        # A malformed request is worth a line; a file not found is not.
        log = logger.info if self.body is None else logger.debug
        log("%r %d: %s", self.requestline[:100], code, message or message_for(code))
        if self.command is None:
            # A request line it could not read: http.server answers it as HTTP/0.9, a bare
            # body without status line or headers. Only "GET /path" is HTTP/0.9.
            self.request_version = "HTTP/1.0"
        self.refuse(code, message_for(code))

    def linger(self) -> None:
        """Stop sending (the client sees the answer end), then read and drop what it still
        sends, until it closes or for at most LINGER_S and LINGER_BYTES. Closing at once with
        unread data makes the kernel reset the connection, and a client still sending its
        body (a browser, urllib) then gets that reset instead of the answer."""
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + LINGER_S
            dropped = 0
            while dropped < LINGER_BYTES and (left := deadline - time.monotonic()) > 0:
                self.connection.settimeout(left)
                chunk = self.rfile.read1(64 * 1024)
                if not chunk:
                    break
                dropped += len(chunk)
        except OSError:  # timed out or reset: either way the connection is done
            pass

    def send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.send_response_only(status)
        for key, value in headers.items():
            if key.lower() not in ("content-length", "connection"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    # -- API ---------------------------------------------------------------------------------
    def api(self) -> None:
        parts = urlsplit(self.path)
        response = self.server.api.handle(
            self.command,
            parts.path,
            parts.query,
            dict(self.headers.items()),
            self.body or b"",
            source_ip=self.client_address[0],
        )
        self.send(response.status, response.headers, response.body)
        logger.info(
            "%s %s %d %.0fms",
            self.command,
            parts.path,
            response.status,
            (time.perf_counter() - self.started) * 1000,
        )

    def do_POST(self) -> None:
        self.api()

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_POST

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == webconfig.CONFIG_PATH:
            self.serves_site = True
            # The Host was checked by admit(): one of this server's names.
            host = self.headers.get("host") or self.server.url.removeprefix("http://")
            body = webconfig.runtime_config_bytes(
                f"http://{host}",
                self.server.stack,
                f"ws://{host}{app_spec.SOCKET_PATH}",
                models=self.server.models,
            )
            self.send(200, {"content-type": "application/json", "cache-control": "no-cache"}, body)
            return
        if path == app_spec.SOCKET_PATH:
            self.serve_socket()
            return
        if self.is_api_path():
            self.api()
            return
        self.serves_site = True  # the web app's files (or the page saying it is not built)
        if self.server.web_dir is None:
            if path in ("/", "/index.html"):
                self.send(200, {"content-type": "text/html; charset=utf-8"}, NOT_BUILT_PAGE)
            else:
                self.send(404, {"content-type": "text/plain"}, b"not found\n")
            return
        super().do_GET()

    def do_HEAD(self) -> None:
        self.do_GET()

    def serve_socket(self) -> None:
        """The WebSocket API (socket_api): the handshake, then the whole connection, in this
        request's thread; the TCP connection ends with it."""
        self.close_connection = True
        if self.command != "GET":
            self.refuse(426, "Upgrade Required")
            return
        refusal = self.server.sockets.serve(
            self.connection,
            self.requestline,
            list(self.headers.items()),
            source_ip=self.client_address[0],
        )
        if refusal is None:
            self.status = 101
            return
        logger.info("GET %s %d: %s", app_spec.SOCKET_PATH, refusal.status, refusal.why)
        self.refuse(refusal.status, refusal.message)

    def list_directory(self, path: str | Any) -> None:
        self.send_error(HTTPStatus.NOT_FOUND, "not found")
        return None

    def end_headers(self) -> None:
        if self.command == "GET" and self.path.split("?")[0] in ("/", "/index.html"):
            self.send_header("Cache-Control", "no-cache")
        if self.serves_site:
            for name, value in self.server.site_headers.items():
                self.send_header(name, value)
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
