"""Sending frames to a browser's WebSocket connection.

On AWS: API Gateway's management API (`apigatewaymanagementapi.post_to_connection`) at
``https://{domainName}/{stage}`` from the event, one client per endpoint. Under `local`, the
server installs its own sender (`set_sender`), which writes to the socket it holds. A
connection that is gone (the tab was closed) raises :class:`Gone` either way.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

import boto3

# API Gateway's WebSocket quotas (none adjustable), for the stream function and `local`.
MAX_MESSAGE_BYTES = 128 * 1024  # "Message payload size: 128 KB"; larger: closed with 1009
# "WebSocket frame size: 32 KB": a larger message must come in several frames (a browser
# sends each message as one frame); a larger frame is closed with 1009 too.
MAX_FRAME_BYTES = 32 * 1024

Sender = Callable[[str, bytes], None]  # (connection id, frame) -> None, or raise Gone


class Gone(Exception):
    """The connection is closed: nobody reads what would be sent."""


_sender: Sender | None = None
_lock = threading.Lock()


def set_sender(sender: Sender | None) -> None:
    """Send through `sender` instead of API Gateway (`local`); None restores API Gateway."""
    global _sender
    with _lock:
        _sender = sender


def endpoint(event: dict[str, Any]) -> str:
    """The management API's endpoint for the connection an event came from."""
    context = event.get("requestContext") or {}
    return f"https://{context['domainName']}/{context['stage']}"


@functools.cache
def _client(endpoint_url: str) -> Any:
    return boto3.client("apigatewaymanagementapi", endpoint_url=endpoint_url)


def send(event: dict[str, Any], connection_id: str, frame: bytes) -> None:
    """Send one frame to `connection_id` (of the API `event` came through)."""
    with _lock:
        sender = _sender
    if sender is not None:
        sender(connection_id, frame)
        return
    client = _client(endpoint(event))
    try:
        client.post_to_connection(ConnectionId=connection_id, Data=frame)
    except client.exceptions.GoneException:
        raise Gone(connection_id) from None


def reset() -> None:
    """Drop the clients (a new container; for `local` and tests)."""
    _client.cache_clear()
