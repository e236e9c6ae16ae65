"""The users table: one item per user, ``{"username": S, "password_hash": S}``.

Shared by the login handler (read) and the CLI's user commands (write), so the item shape is
defined once.
"""

from __future__ import annotations

from typing import Any

KEY = "username"
HASH_ATTRIBUTE = "password_hash"
CREATED_ATTRIBUTE = "created_at"


def key(username: str) -> dict[str, dict[str, str]]:
    return {KEY: {"S": username}}


def get_password_hash(dynamodb: Any, table: str, username: str) -> str | None:
    """The stored hash of ``username``, or None. ``dynamodb`` is a boto3 low-level client
    (thread-safe, unlike resources: `local` serves requests from several threads)."""
    reply = dynamodb.get_item(
        TableName=table, Key=key(username), ProjectionExpression=HASH_ATTRIBUTE
    )
    value = (reply.get("Item") or {}).get(HASH_ATTRIBUTE, {}).get("S")
    return value if isinstance(value, str) else None
