"""An in-process emulation of the API Gateway WebSocket API that `up` creates.

`local` serves it at ``app_spec.SOCKET_PATH`` on its one port: the HTTP server hands
an upgrade request to :meth:`SocketApi.serve`, which runs the whole connection in that
request's thread. The WebSocket protocol is the ``websockets`` library's: its sans-I/O
``ServerProtocol`` answers the handshake, then its threading ``Connection`` owns the socket.

What API Gateway does, done the same way (docs/api.md, "WebSocket: streamed answers"):

- The handshake runs the REQUEST authorizer with the query string's ``token`` (its identity
  source): no token -> HTTP 401, a policy that does not allow ``execute-api:Invoke`` on the
  ``$connect`` method ARN -> 403, the authorizer raising ``Unauthorized`` -> 401, failing
  otherwise -> 500 (bodies ``{"message": ...}`` as the HTTP API's). Then the ``$connect``
  route's function; it failing refuses the connection (500).
- Each text message goes to the route its ``action`` names (``SOCKET_ROUTE_SELECTION``),
  else ``$default``, invoked in its own thread (a ``stop`` is handled while a ``send``
  streams) with a Lambda proxy event whose ``requestContext.authorizer`` holds the principal
  and the authorizer's context, its values as strings, as API Gateway passes them. A function
  that fails gets the client API Gateway's frame ``{"message": "Internal server error", ...}``;
  one still running after 29 s gets ``{"message": "Endpoint request timed out", ...}`` (and
  runs on). A binary frame closes the connection with 1003, a message over 128 KB or a frame
  over 32 KB with 1009.
- On close, the ``$disconnect`` route's function, with the close code.
- It closes a connection idle for ``IDLE_TIMEOUT_S`` (10 minutes) or open for
  ``MAX_CONNECTION_S`` (2 hours), with 1001 (going away).

Functions send frames with ``connections.send``: while a :class:`SocketApi` exists, its
sender writes to the live connection with that id, and a closed or unknown one raises
``connections.Gone``, as ``post_to_connection``'s GoneException.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.http11 import Request
from websockets.server import ServerProtocol
from websockets.sync.connection import Connection

from chatbot_deploy import app_spec
from chatbot_deploy.local import events
from chatbot_deploy.local.gateway import API_ID, Handler, LambdaContext
from chatbot_lambda import connections
from chatbot_lambda.connections import MAX_FRAME_BYTES, MAX_MESSAGE_BYTES

logger = logging.getLogger("chatbot_deploy.local")

# API Gateway's WebSocket quotas (none adjustable); the message and frame limits are
# connections.MAX_MESSAGE_BYTES and MAX_FRAME_BYTES.
IDLE_TIMEOUT_S = 10 * 60  # "Idle Connection Timeout: 10 minutes"
MAX_CONNECTION_S = 2 * 60 * 60  # "Connection duration for WebSocket API: 2 hours"
INTEGRATION_TIMEOUT_S = float(app_spec.SOCKET_INTEGRATION_TIMEOUT_S)
# `local` only: how long a closing handshake may take, and how long stopping waits for the
# functions still running (so none touches the emulator after it is gone).
CLOSE_TIMEOUT_S = 2.0
SHUTDOWN_WAIT_S = 5.0

METHOD_ARN = f"arn:aws:execute-api:local:000000000000:{API_ID}/{app_spec.SOCKET_STAGE}/$connect"
_LOGGED_ACTION = re.compile(r"[A-Za-z0-9_-]{1,32}")


@dataclass(frozen=True)
class Refusal:
    """A handshake answered with ``status`` and ``{"message": message}`` instead of 101."""

    status: int
    message: str
    why: str  # for the console, never the token


def _unauthorized(why: str) -> Refusal:
    return Refusal(401, "Unauthorized", why)


def _forbidden(why: str) -> Refusal:
    return Refusal(403, "Forbidden", why)


def _failed(why: str) -> Refusal:
    return Refusal(500, "Internal Server Error", why)


@dataclass
class LiveSocket:
    """One open connection."""

    api: SocketApi
    connection_id: str
    connection: Connection
    principal: str
    authorizer: dict[str, Any]
    domain_name: str
    source_ip: str
    user_agent: str | None
    connected_at_ms: int
    opened: float = field(default_factory=time.monotonic)
    last_active: float = field(default_factory=time.monotonic)
    messages: int = 0

    def touch(self) -> None:
        self.last_active = time.monotonic()

    def time_left(self) -> float:
        """Seconds until API Gateway would close it: idle, or open too long."""
        now = time.monotonic()
        return min(self.last_active + IDLE_TIMEOUT_S, self.opened + MAX_CONNECTION_S) - now

    def context(self, route_key: str, event_type: str, **extra: Any) -> dict[str, Any]:
        return events.socket_request_context(
            route_key=route_key,
            event_type=event_type,
            connection_id=self.connection_id,
            connected_at=self.connected_at_ms,
            domain_name=self.domain_name,
            stage=app_spec.SOCKET_STAGE,
            api_id=API_ID,
            source_ip=self.source_ip,
            user_agent=self.user_agent,
            authorizer=self.authorizer,
            **extra,
        )

    def gateway_frame(self, message: str, request_id: str) -> None:
        """A frame from API Gateway itself (not the function's), as it sends them."""
        frame = {"message": message, "connectionId": self.connection_id, "requestId": request_id}
        with contextlib.suppress(ConnectionClosed):
            self.connection.send(json.dumps(frame))


# The live connections of every SocketApi in this process (connection ids are random), and
# the APIs that exist: the sender is installed while there is one.
_live: dict[str, LiveSocket] = {}
_apis: set[SocketApi] = set()
_registry = threading.Lock()


def _send(connection_id: str, frame: bytes) -> None:
    """``connections.send`` under `local`: write one frame to a live connection."""
    with _registry:
        live = _live.get(connection_id)
    if live is None:
        raise connections.Gone(connection_id)
    if len(frame) > MAX_MESSAGE_BYTES:  # post_to_connection's PayloadTooLargeException
        raise ValueError(f"a frame of {len(frame)} bytes is over API Gateway's 128 KB")
    try:
        data: str | bytes = frame.decode("utf-8")
    except UnicodeDecodeError:
        data = frame
    try:
        live.connection.send(data)
    except ConnectionClosed:
        raise connections.Gone(connection_id) from None
    live.touch()


def select_route(body: str) -> app_spec.SocketRoute | None:
    """The route API Gateway selects for a message (``$request.body.action``)."""
    try:
        message = json.loads(body)
    except ValueError:
        message = None
    action = message.get("action") if isinstance(message, dict) else None
    routes = {route.key: route for route in app_spec.SOCKET_ROUTES}
    if isinstance(action, str) and not action.startswith("$") and action in routes:
        return routes[action]
    return routes.get("$default")


def policy_allows(document: Any, method_arn: str) -> bool:
    """Whether an IAM policy document allows ``execute-api:Invoke`` on ``method_arn``: an
    Allow that matches and no Deny that does (``*`` and ``?`` wildcards, as IAM)."""
    statements = document.get("Statement") if isinstance(document, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list):
        raise ValueError("policyDocument without statements")
    allowed = False
    for statement in statements:
        if not isinstance(statement, dict):
            raise ValueError("a statement that is not an object")
        actions, resources = statement.get("Action"), statement.get("Resource")
        if not (
            _matches_any(actions, "execute-api:Invoke", re.IGNORECASE)
            and _matches_any(resources, method_arn)
        ):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


def _matches_any(patterns: Any, value: str, flags: int = 0) -> bool:
    """IAM's matching: ``*`` any characters, ``?`` one (actions ignore case, ARNs do not)."""
    items = [patterns] if isinstance(patterns, str) else patterns
    if not isinstance(items, list):
        return False
    for pattern in items:
        if isinstance(pattern, str):
            regex = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
            if re.fullmatch(regex, value, flags):
                return True
    return False


def _context_value(value: Any) -> str:
    """An authorizer context value as API Gateway hands it on: a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise ValueError("authorizer context values must be strings, numbers or booleans")


class SocketApi:
    """Runs WebSocket connections as the deployed WebSocket API does."""

    def __init__(self, handlers: Mapping[str, Handler]) -> None:
        self.handlers = handlers
        self._threads: set[threading.Thread] = set()  # sessions and invocations
        self._lock = threading.Lock()
        self._closed = False
        with _registry:
            _apis.add(self)
            connections.set_sender(_send)

    # -- invoking functions ------------------------------------------------------------------
    def _invoke(self, kind: str, event: dict[str, Any]) -> Any:
        spec = app_spec.FUNCTIONS[kind]
        return self.handlers[kind](event, LambdaContext(kind, spec.timeout_s))

    def _route(self, key: str) -> app_spec.SocketRoute | None:
        return next((route for route in app_spec.SOCKET_ROUTES if route.key == key), None)

    def _start(self, target: Any, *args: Any, name: str) -> None:
        thread = threading.Thread(target=self._run, args=(target, *args), name=name, daemon=True)
        with self._lock:
            self._threads.add(thread)
        thread.start()

    def _run(self, target: Any, *args: Any) -> None:
        try:
            target(*args)
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    # -- the handshake -----------------------------------------------------------------------
    def _authorize(
        self,
        headers: list[tuple[str, str]],
        query: Mapping[str, list[str]],
        context: dict[str, Any],
    ) -> tuple[str, dict[str, Any]] | Refusal:
        """(principal, the authorizer part of later events) or a refusal."""
        tokens = [value for value in query.get("token", []) if value]
        if not tokens:  # the identity source is missing: API Gateway answers itself
            return _unauthorized("no token in the query string")
        event = events.socket_authorizer_event(
            method_arn=METHOD_ARN, headers=headers, query=query, request_context=context
        )
        started = time.perf_counter()
        try:
            result = self._invoke(app_spec.AUTHORIZER_FUNCTION, event)
        except Exception as exc:
            if str(exc) == "Unauthorized":
                return _unauthorized("the authorizer answered Unauthorized")
            logger.error("authorizer failed: %s", type(exc).__name__)
            return _failed("the authorizer failed")
        latency_ms = int((time.perf_counter() - started) * 1000)
        try:
            if not isinstance(result, dict) or not isinstance(result.get("principalId"), str):
                raise ValueError("no principalId")
            if not policy_allows(result.get("policyDocument"), METHOD_ARN):
                return _forbidden("the authorizer's policy does not allow $connect")
            extra = result.get("context") or {}
            if not isinstance(extra, dict):
                raise ValueError("context is not an object")
            authorizer = {key: _context_value(value) for key, value in extra.items()}
        except ValueError as exc:
            logger.error("authorizer returned a malformed policy response: %s", exc)
            return _failed("the authorizer's answer is malformed")
        principal: str = result["principalId"]
        return principal, {**authorizer, "principalId": principal, "integrationLatency": latency_ms}

    def _connect(self, event: dict[str, Any]) -> Refusal | None:
        route = self._route("$connect")
        if route is None:
            return None
        try:
            result = self._invoke(route.function, event)
        except Exception as exc:
            logger.error("%s handler failed on $connect: %s", route.function, type(exc).__name__)
            return _failed("the $connect function failed")
        status = result.get("statusCode", 200) if isinstance(result, dict) else 200
        if isinstance(status, int) and 200 <= status < 300:
            return None
        answered = status if isinstance(status, int) and 400 <= status < 600 else 500
        try:
            message = HTTPStatus(answered).phrase
        except ValueError:
            message = "Error"
        return Refusal(answered, message, f"the $connect function answered {status}")

    def serve(
        self,
        sock: socket.socket,
        request_line: str,
        headers: list[tuple[str, str]],
        source_ip: str,
    ) -> Refusal | None:
        """Answer an upgrade request for the WebSocket API (its request line and headers,
        already read from ``sock``), and if it is accepted, run the connection until it
        closes, in the calling thread. A :class:`Refusal` is returned before anything is
        written to ``sock``: the caller answers it."""
        started = time.perf_counter()
        if self._closed:
            return Refusal(503, "Service Unavailable", "local is stopping")
        protocol = ServerProtocol(max_size=(MAX_MESSAGE_BYTES, MAX_FRAME_BYTES))
        # The protocol reads the handshake itself (it then expects frames): it is given the
        # request as it came, the HTTP server having read it from the socket.
        lines = [request_line, *(f"{key}: {value}" for key, value in headers), "", ""]
        protocol.receive_data("\r\n".join(lines).encode("iso-8859-1"))
        request = next(
            (event for event in protocol.events_received() if isinstance(event, Request)), None
        )
        if request is None:
            return Refusal(400, "Bad Request", "not a WebSocket handshake request")
        target = request.path
        response = protocol.accept(request)
        if response.status_code != 101:
            why = response.body.decode("utf-8", "replace").strip() or "not a WebSocket handshake"
            return Refusal(response.status_code, response.reason_phrase, why)
        lowered = {key.lower(): value for key, value in headers}
        query = parse_qs(urlsplit(target).query, keep_blank_values=True)
        connection_id = events.new_connection_id()
        connected_at_ms = int(time.time() * 1000)
        host = lowered.get("host", "localhost")
        context = events.socket_request_context(
            route_key="$connect",
            event_type="CONNECT",
            connection_id=connection_id,
            connected_at=connected_at_ms,
            domain_name=host,
            stage=app_spec.SOCKET_STAGE,
            api_id=API_ID,
            source_ip=source_ip,
            user_agent=lowered.get("user-agent"),
        )
        authorized = self._authorize(headers, query, context)
        if isinstance(authorized, Refusal):
            return authorized
        principal, authorizer = authorized
        connect_event = events.socket_connect_event(
            headers=headers, query=query, request_context={**context, "authorizer": authorizer}
        )
        refused = self._connect(connect_event)
        if refused is not None:
            return refused
        protocol.send_response(response)
        sock.sendall(b"".join(protocol.data_to_send()))
        connection = Connection(sock, protocol, ping_interval=None, close_timeout=CLOSE_TIMEOUT_S)
        live = LiveSocket(
            api=self,
            connection_id=connection_id,
            connection=connection,
            principal=principal,
            authorizer=authorizer,
            domain_name=host,
            source_ip=source_ip,
            user_agent=lowered.get("user-agent"),
            connected_at_ms=connected_at_ms,
        )
        with _registry:
            _live[connection_id] = live
        with self._lock:
            self._threads.add(threading.current_thread())
        if self._closed:  # stopping began during the handshake: close() did not see it
            connection.close(CloseCode.GOING_AWAY, "Going away")
        logger.info(
            "WS %s connect 101 %.0fms (%s, connection %s)",
            app_spec.SOCKET_PATH,
            (time.perf_counter() - started) * 1000,
            principal,
            connection_id,
        )
        try:
            self._receive(live)
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())
        return None

    # -- an open connection ------------------------------------------------------------------
    def _receive(self, live: LiveSocket) -> None:
        connection = live.connection
        code, reason = int(CloseCode.ABNORMAL_CLOSURE), ""
        try:
            while True:
                left = live.time_left()
                if left <= 0:
                    connection.close(CloseCode.GOING_AWAY, "Going away")
                    left = CLOSE_TIMEOUT_S
                try:
                    message = connection.recv(timeout=left)
                except TimeoutError:
                    continue
                live.touch()
                live.messages += 1
                if isinstance(message, bytes):  # API Gateway takes text frames only
                    connection.close(CloseCode.UNSUPPORTED_DATA, "Binary frames not supported")
                    continue
                self._dispatch(live, message)
        except ConnectionClosed as closed:
            frame = closed.rcvd or closed.sent
            if frame is not None:
                code, reason = int(frame.code), frame.reason
        except Exception:
            logger.exception("local: unexpected error on a WebSocket connection")
            code, reason = int(CloseCode.INTERNAL_ERROR), "Internal server error"
        finally:
            with _registry:
                _live.pop(live.connection_id, None)
            connection.close(code, reason)  # idempotent; waits for the TCP connection to end
        logger.info(
            "WS %s close %d%s after %.1fs, %d message%s (connection %s)",
            app_spec.SOCKET_PATH,
            code,
            f" ({reason})" if reason else "",
            time.monotonic() - live.opened,
            live.messages,
            "" if live.messages == 1 else "s",
            live.connection_id,
        )
        self._disconnect(live, code, reason)

    def _dispatch(self, live: LiveSocket, body: str) -> None:
        route = select_route(body)
        request_id = events.new_connection_id()
        if route is None:  # no route, not even $default
            live.gateway_frame("Forbidden", request_id)
            return
        context = live.context(route.key, "MESSAGE")
        context["requestId"] = context["extendedRequestId"] = request_id
        event = events.socket_message_event(body=body, request_context=context)
        self._start(
            self._message, live, route, event, request_id, name=f"socket-{route.key}-{request_id}"
        )

    def _message(
        self,
        live: LiveSocket,
        route: app_spec.SocketRoute,
        event: dict[str, Any],
        request_id: str,
    ) -> None:
        started = time.perf_counter()
        timed_out = threading.Event()

        def gateway_timeout() -> None:
            timed_out.set()
            live.gateway_frame("Endpoint request timed out", request_id)

        timer = threading.Timer(INTEGRATION_TIMEOUT_S, gateway_timeout)
        timer.daemon = True
        timer.start()
        outcome = "ok"
        try:
            self._invoke(route.function, event)
        except Exception as exc:
            outcome = f"failed: {type(exc).__name__}"
            logger.error("%s handler failed: %s", route.function, type(exc).__name__)
            if not timed_out.is_set():
                live.gateway_frame("Internal server error", request_id)
        finally:
            timer.cancel()
        logger.info(
            "WS %s message %s %s %.0fms (connection %s)",
            app_spec.SOCKET_PATH,
            _action_for_log(event.get("body") or "", route.key),
            outcome,
            (time.perf_counter() - started) * 1000,
            live.connection_id,
        )

    def _disconnect(self, live: LiveSocket, code: int, reason: str) -> None:
        route = self._route("$disconnect")
        if route is None:
            return
        context = live.context(
            "$disconnect",
            "DISCONNECT",
            disconnect_status_code=code,
            disconnect_reason=reason,
        )
        event = events.socket_disconnect_event(host=live.domain_name, request_context=context)
        try:
            self._invoke(route.function, event)
        except Exception as exc:
            logger.error("%s handler failed on $disconnect: %s", route.function, type(exc).__name__)

    # -- stopping ----------------------------------------------------------------------------
    def close(self) -> None:
        """Close every connection (1001, going away), wait (at most SHUTDOWN_WAIT_S) for the
        functions still running, and stop sending frames for this API."""
        self._closed = True
        with _registry:
            mine = [live for live in _live.values() if live.api is self]
        for live in mine:
            live.connection.close(CloseCode.GOING_AWAY, "Going away")
        deadline = time.monotonic() + SHUTDOWN_WAIT_S
        while (left := deadline - time.monotonic()) > 0:
            with self._lock:
                running = [t for t in self._threads if t is not threading.current_thread()]
            if not running:
                break
            running[0].join(left)
        with _registry:
            _apis.discard(self)
            if not _apis:
                connections.set_sender(None)


def _action_for_log(body: str, route_key: str) -> str:
    """The message's action for the console, if it is a plain word (it is the client's)."""
    try:
        message = json.loads(body)
    except ValueError:
        return f"{route_key} (not JSON)"
    action = message.get("action") if isinstance(message, dict) else None
    if isinstance(action, str) and _LOGGED_ACTION.fullmatch(action):
        return action if action == route_key else f"{action} -> {route_key}"
    return route_key
