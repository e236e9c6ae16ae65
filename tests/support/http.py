"""A tiny HTTP client for tests (stdlib only): returns status, headers and parsed JSON."""

from __future__ import annotations

import http.client
import json
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    method: str,
    url: str,
    body: bytes | str | dict[str, Any] | list[Any] | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> Reply:
    data: bytes | None
    if isinstance(body, dict | list):
        data = json.dumps(body).encode()
    elif isinstance(body, str):
        data = body.encode()
    else:
        data = body
    all_headers = {"content-type": "application/json", **(headers or {})}
    req = urllib.request.Request(url, data=data, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return Reply(resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read())
    except urllib.error.HTTPError as err:
        return Reply(err.code, {k.lower(): v for k, v in err.headers.items()}, err.read())


def raw(base: str, request: bytes, timeout: float = 10) -> Reply:
    """Send ``request`` byte for byte (what urllib will not send: a bad Content-Length, an
    odd Host …) to the server at ``base`` and read its one answer."""
    parts = urlsplit(base)
    assert parts.hostname and parts.port
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(request)
        response = http.client.HTTPResponse(sock)
        response.begin()
        body = response.read()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, body)


def build(
    base: str, method: str, path: str, *headers: str, body: bytes = b"", host: str | None = ""
) -> bytes:
    """A request as bytes: its line, ``Host`` (``base``'s host:port unless given; None: no
    Host header), then ``headers`` as written, then ``body``."""
    if host == "":
        host = urlsplit(base).netloc
    lines = [f"{method} {path} HTTP/1.1", *([] if host is None else [f"Host: {host}"]), *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def post(url: str, body: Any = None, headers: dict[str, str] | None = None, **kw: Any) -> Reply:
    return request("POST", url, body, headers, **kw)


def login(base: str, username: str, password: str) -> str:
    reply = post(f"{base}/login", {"username": username, "password": password})
    assert reply.status == 200, reply.body
    token = reply.json()["token"]
    assert isinstance(token, str)
    return token


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}
