"""SecureString parameters from SSM Parameter Store, read once per container.

boto3 is imported on first use, not at module import, so a module that merely imports this
one stays light; the values are cached for the life of the container.
"""

from __future__ import annotations

import threading
from typing import Any

_cache: dict[str, str] = {}
_lock = threading.Lock()
_client: Any = None


class ParameterMissing(Exception):
    """The named parameter does not exist (not configured yet)."""


def _ssm() -> Any:
    global _client
    if _client is None:
        import boto3

        _client = boto3.client("ssm")
    return _client


def get_secure(name: str) -> str:
    value = _cache.get(name)
    if value is not None:
        return value
    with _lock:
        value = _cache.get(name)
        if value is None:
            client = _ssm()
            try:
                reply = client.get_parameter(Name=name, WithDecryption=True)
            except client.exceptions.ParameterNotFound as exc:
                raise ParameterMissing(name) from exc
            value = str(reply["Parameter"]["Value"])
            _cache[name] = value
    return value


def reset_cache() -> None:
    """Forget cached values and the client (a new container, for tests and `local`)."""
    global _client
    with _lock:
        _cache.clear()
        _client = None
