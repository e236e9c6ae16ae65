"""An in-process emulation of the API Gateway HTTP API that `up` creates.

Same route table (:mod:`chatbot_deploy.app_spec`), same payload 2.0 events, the REQUEST
authorizer with simple responses and result caching before authorized routes, and the same
status codes and bodies API Gateway itself produces (401/403/404/413/500 ``{"message": ...}``).
"""

from __future__ import annotations

import base64
import importlib
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chatbot_deploy import app_spec
from chatbot_deploy.local import events

logger = logging.getLogger("chatbot_deploy.local")

Handler = Callable[[dict[str, Any], Any], Any]
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway's request payload limit
# API Gateway's limit on the request line and header values together (HTTP API quotas).
MAX_HEADER_BYTES = 10240
API_ID = "local"


@dataclass
class GatewayResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def _gateway_error(status: int, message: str) -> GatewayResponse:
    body = json.dumps({"message": message}).encode()
    return GatewayResponse(status, {"content-type": "application/json"}, body)


class LambdaContext:
    """The parts of Lambda's context object handlers may use."""

    def __init__(self, function_name: str, timeout_s: int) -> None:
        self.function_name = function_name
        self.memory_limit_in_mb = 0
        self.aws_request_id = ""
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def load_handler(dotted: str) -> Handler:
    module_name, _, attribute = dotted.rpartition(".")
    handler: Handler = getattr(importlib.import_module(module_name), attribute)
    return handler


@dataclass
class HttpApi:
    """Routes requests to handlers as the deployed HTTP API does."""

    handlers: dict[str, Handler] = field(default_factory=dict)
    cache_ttl_s: float = app_spec.AUTHORIZER_CACHE_TTL_S
    _cache: dict[str, tuple[float, dict[str, Any]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_spec(cls) -> HttpApi:
        return cls({kind: load_handler(spec.handler) for kind, spec in app_spec.FUNCTIONS.items()})

    def find_route(self, method: str, path: str) -> tuple[app_spec.Route, dict[str, str]] | None:
        """The route a request goes to, and its path parameters (``{id}``: one segment)."""
        for route in app_spec.ROUTES:
            parameters = path_parameters(route.path, path)
            if route.method == method and parameters is not None:
                return route, parameters
        return None

    def _invoke(self, kind: str, event: dict[str, Any]) -> Any:
        spec = app_spec.FUNCTIONS[kind]
        return self.handlers[kind](event, LambdaContext(kind, spec.timeout_s))

    def _authorize(
        self, route: app_spec.Route, path: str, query: str, headers: Mapping[str, str], ip: str
    ) -> dict[str, Any] | GatewayResponse:
        lowered = {key.lower(): value for key, value in headers.items()}
        identity = lowered.get("authorization")
        if not identity:
            return _gateway_error(401, "Unauthorized")
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(identity)
        if cached and cached[0] > now:
            result = cached[1]
        else:
            event = events.authorizer_event(
                method=route.method,
                path=path,
                query=query,
                headers=headers,
                route_key=route.route_key,
                identity=[identity],
                source_ip=ip,
                api_id=API_ID,
            )
            try:
                result = self._invoke(app_spec.AUTHORIZER_FUNCTION, event)
            except Exception as exc:
                logger.error("authorizer failed: %s", type(exc).__name__)
                return _gateway_error(500, "Internal Server Error")
            if not isinstance(result, dict) or not isinstance(result.get("isAuthorized"), bool):
                logger.error("authorizer returned a malformed simple response")
                return _gateway_error(500, "Internal Server Error")
            if self.cache_ttl_s > 0:
                with self._lock:
                    self._cache[identity] = (now + self.cache_ttl_s, result)
        if not result["isAuthorized"]:
            return _gateway_error(403, "Forbidden")
        context = result.get("context") or {}
        return context if isinstance(context, dict) else {}

    def handle(
        self,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        source_ip: str = "127.0.0.1",
    ) -> GatewayResponse:
        found = self.find_route(method, path)
        if found is None:
            return _gateway_error(404, "Not Found")
        route, parameters = found
        if len(body) > MAX_PAYLOAD_BYTES:
            return _gateway_error(413, "Request Entity Too Large")
        context: dict[str, Any] | None = None
        if route.authorized:
            outcome = self._authorize(route, path, query, headers, source_ip)
            if isinstance(outcome, GatewayResponse):
                return outcome
            context = outcome
        event = events.http_event(
            method=method,
            path=path,
            query=query,
            headers=headers,
            body=body,
            route_key=route.route_key,
            source_ip=source_ip,
            api_id=API_ID,
            authorizer_context=context,
            path_parameters=parameters,
        )
        try:
            result = self._invoke(route.function, event)
        except Exception as exc:
            logger.error("%s handler failed: %s", route.function, type(exc).__name__)
            return _gateway_error(500, "Internal Server Error")
        return to_http(result)


def path_parameters(template: str, path: str) -> dict[str, str] | None:
    """The values of a route path's ``{name}`` segments in `path`, or None when `path` is
    not one of the template's (a ``{name}`` matches one whole, non-empty segment)."""
    wanted, given = template.split("/"), path.split("/")
    if len(wanted) != len(given):
        return None
    found: dict[str, str] = {}
    for part, value in zip(wanted, given, strict=True):
        if part.startswith("{") and part.endswith("}"):
            if not value:
                return None
            found[part[1:-1]] = value
        elif part != value:
            return None
    return found


def is_api_path(path: str) -> bool:
    """Whether `path` is a route's path (for any method)."""
    return any(path_parameters(route.path, path) is not None for route in app_spec.ROUTES)


def to_http(result: Any) -> GatewayResponse:
    """Interpret a handler's return value as API Gateway does for payload 2.0."""
    if not isinstance(result, dict) or "statusCode" not in result:
        body = json.dumps(result).encode()
        return GatewayResponse(200, {"content-type": "application/json"}, body)
    raw = result.get("body") or ""
    data = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode("utf-8")
    headers = {str(k).lower(): str(v) for k, v in (result.get("headers") or {}).items()}
    return GatewayResponse(int(result["statusCode"]), headers, data)
