"""Build API Gateway HTTP API payload-2.0 events, as the real service sends them."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

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
    path_parameters: dict[str, str] | None = None,
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
    if query:
        event["queryStringParameters"] = query_parameters(query)
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if authorizer_context is not None:
        event["requestContext"]["authorizer"] = {"lambda": authorizer_context}
    return event


def query_parameters(query: str) -> dict[str, str]:
    """As API Gateway (payload 2.0) gives them: decoded, a repeated name's values joined
    with commas."""
    values: dict[str, list[str]] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        values.setdefault(name, []).append(value)
    return {name: ",".join(items) for name, items in values.items()}


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


# -- the WebSocket API (REQUEST authorizer of $connect, Lambda proxy integration) ----------


def socket_request_context(
    *,
    route_key: str,
    event_type: str,
    connection_id: str,
    connected_at: int,
    domain_name: str,
    stage: str,
    api_id: str,
    source_ip: str,
    user_agent: str | None = None,
    authorizer: dict[str, Any] | None = None,
    message_id: str | None = None,
    disconnect_status_code: int | None = None,
    disconnect_reason: str | None = None,
) -> dict[str, Any]:
    """``requestContext`` of a WebSocket API event: $connect, a message, $disconnect."""
    now = time.time()
    request_id = _socket_id()
    context: dict[str, Any] = {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": request_id,
        "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "messageDirection": "IN",
        "stage": stage,
        "connectedAt": connected_at,
        "requestTimeEpoch": int(now * 1000),
        "identity": {"sourceIp": source_ip, "userAgent": user_agent},
        "requestId": request_id,
        "domainName": domain_name,
        "connectionId": connection_id,
        "apiId": api_id,
    }
    if event_type == "MESSAGE":
        context["messageId"] = message_id or _socket_id()
    if event_type == "DISCONNECT":
        context["disconnectStatusCode"] = disconnect_status_code
        context["disconnectReason"] = disconnect_reason or ""
    if authorizer is not None:
        context["authorizer"] = authorizer
    return context


def _socket_id() -> str:
    """An id shaped like API Gateway's connection and request ids (``WyHPAfymhcwCENw=``)."""
    return base64.b64encode(uuid.uuid4().bytes[:10]).decode("ascii")


def new_connection_id() -> str:
    return _socket_id()


def _query_parameters(query: Mapping[str, list[str]]) -> dict[str, Any]:
    """The v1 payload's two query maps (``None`` when there is no query, as API Gateway)."""
    if not query:
        return {"queryStringParameters": None, "multiValueQueryStringParameters": None}
    return {
        "queryStringParameters": {key: values[-1] for key, values in query.items()},
        "multiValueQueryStringParameters": {key: list(values) for key, values in query.items()},
    }


def _header_maps(headers: list[tuple[str, str]]) -> dict[str, Any]:
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for key, value in headers:
        single[key] = value
        multi.setdefault(key, []).append(value)
    return {"headers": single, "multiValueHeaders": multi}


def socket_authorizer_event(
    *,
    method_arn: str,
    headers: list[tuple[str, str]],
    query: Mapping[str, list[str]],
    request_context: dict[str, Any],
) -> dict[str, Any]:
    """The REQUEST authorizer's event for $connect (API Gateway's documented example)."""
    return {
        "type": "REQUEST",
        "methodArn": method_arn,
        **_header_maps(headers),
        **_query_parameters(query),
        "stageVariables": {},
        "requestContext": request_context,
    }


def socket_connect_event(
    *,
    headers: list[tuple[str, str]],
    query: Mapping[str, list[str]],
    request_context: dict[str, Any],
) -> dict[str, Any]:
    return {
        **_header_maps(headers),
        **_query_parameters(query),
        "requestContext": request_context,
        "isBase64Encoded": False,
    }


def socket_message_event(*, body: str, request_context: dict[str, Any]) -> dict[str, Any]:
    return {"requestContext": request_context, "body": body, "isBase64Encoded": False}


def socket_disconnect_event(*, host: str, request_context: dict[str, Any]) -> dict[str, Any]:
    headers = [("Host", host), ("x-api-key", ""), ("X-Forwarded-For", ""), ("x-restapi", "")]
    return {**_header_maps(headers), "requestContext": request_context, "isBase64Encoded": False}
