"""The container's boto3 clients, one per service, created on first use.

boto3 is imported then, not at module import, so a handler that imports this stays light
(the authorizer's cold start). Low-level clients are thread-safe, unlike resources: `local`
serves requests from several threads.
"""

from __future__ import annotations

import functools
from typing import Any


@functools.cache
def client(service: str) -> Any:
    import boto3

    return boto3.client(service)  # type: ignore[call-overload]


def reset() -> None:
    """Drop the clients (a new container; for `local` and tests)."""
    client.cache_clear()
