"""The container's boto3 clients, one per service, created on first use and kept.

boto3 is imported with this module: on Lambda that is the init phase, which has burst CPU
(`container`); the handlers create their clients there too. Low-level clients are
thread-safe, unlike resources: `local` serves requests from several threads.
"""

from __future__ import annotations

import functools
from typing import Any

import boto3


@functools.cache
def client(service: str) -> Any:
    return boto3.client(service)  # type: ignore[call-overload]


def reset() -> None:
    """Drop the clients (a new container; for `local` and tests)."""
    client.cache_clear()
