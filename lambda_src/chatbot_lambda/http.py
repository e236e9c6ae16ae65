"""API Gateway HTTP API (payload format 2.0) event and response helpers."""

from __future__ import annotations

import base64
import json
from typing import Any

Event = dict[str, Any]
Response = dict[str, Any]

JSON_HEADERS = {"content-type": "application/json", "cache-control": "no-store"}


class HttpError(Exception):
    """An error answered as ``{"error": message}`` with ``status``; the message is safe to
    show to a person (no request data, no secret)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def json_response(status: int, body: dict[str, Any]) -> Response:
    return {
        "statusCode": status,
        "headers": dict(JSON_HEADERS),
        "body": json.dumps(body, separators=(",", ":"), ensure_ascii=False),
        "isBase64Encoded": False,
    }


def error_response(status: int, message: str) -> Response:
    """Every error body is JSON with an ``error`` field; never a stack trace or a secret."""
    return json_response(status, {"error": message})


def raw_body(event: Event) -> bytes:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return base64.b64decode(body)
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


def header(event: Event, name: str) -> str | None:
    """Case-insensitive header lookup (API Gateway lowercases v2 header names)."""
    headers = event.get("headers") or {}
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return str(value)
    return None


def bearer_token(event: Event) -> str | None:
    value = header(event, "authorization")
    if not value:
        return None
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authorizer_context(event: Event) -> dict[str, Any]:
    """The context a Lambda authorizer returned, as API Gateway passes it on (payload 2.0)."""
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    context = authorizer.get("lambda") or {}
    return context if isinstance(context, dict) else {}
