"""Build API Gateway HTTP API payload-2.0 events, as the real service sends them."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Mapping
from typing import Any

TEXT_TYPES = ("application/json", "text/", "application/x-www-form-urlencoded")


def _is_text(content_type: str) -> bool:
    return any(content_type.startswith(kind) for kind in TEXT_TYPES)


def request_context(
    method: str, path: str, route_key: str, source_ip: str, api_id: str
) -> dict[str, Any]:
    now = time.time()
    return {
        "accountId": "000000000000",
        "apiId": api_id,
        "domainName": "localhost",
        "domainPrefix": "localhost",
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": source_ip,
            "userAgent": "",
        },
        "requestId": uuid.uuid4().hex,
        "routeKey": route_key,
        "stage": "$default",
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "timeEpoch": int(now * 1000),
    }


def http_event(
    *,
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    route_key: str,
    source_ip: str,
    api_id: str,
    authorizer_context: dict[str, Any] | None = None,
) -> dict[str, Any]:
    lowered = {key.lower(): value for key, value in headers.items()}
    content_type = lowered.get("content-type", "")
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query,
        "headers": lowered,
        "requestContext": request_context(method, path, route_key, source_ip, api_id),
        "isBase64Encoded": False,
    }
    if body:
        if _is_text(content_type) or not content_type:
            try:
                event["body"] = body.decode("utf-8")
            except UnicodeDecodeError:
                event["body"] = base64.b64encode(body).decode("ascii")
                event["isBase64Encoded"] = True
        else:
            event["body"] = base64.b64encode(body).decode("ascii")
            event["isBase64Encoded"] = True
    if authorizer_context is not None:
        event["requestContext"]["authorizer"] = {"lambda": authorizer_context}
    return event


def authorizer_event(
    *,
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    route_key: str,
    identity: list[str],
    source_ip: str,
    api_id: str,
) -> dict[str, Any]:
    lowered = {key.lower(): value for key, value in headers.items()}
    return {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": f"arn:aws:execute-api:local:000000000000:{api_id}/$default/{method}{path}",
        "identitySource": identity,
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query,
        "headers": lowered,
        "requestContext": request_context(method, path, route_key, source_ip, api_id),
    }
