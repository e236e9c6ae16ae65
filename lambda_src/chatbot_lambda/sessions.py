"""Ending sessions before their tokens expire: signing out one session, or all of a user's.

- One session (`POST /logout`): the token is revoked until it expires. The
  `revoked-tokens` table holds ``{"token_hash": S, "username": S, "expires_at": N}``,
  keyed by the SHA-256 of the token (the token itself is never stored), deleted by
  DynamoDB's TTL once the token could not be used anyway.
- Every session (`POST /logout` with ``{"everywhere": true}``): the user's
  ``sessions_valid_after`` moves to now (`users.py`), as a password change does: every
  token issued before is refused.

The chat function checks both (consistent reads, trusted for ``CHECK_TTL_S`` per
container), so a signed-out token is refused within the same 5 s as a removed user's.
"""

from __future__ import annotations

import hashlib
from typing import Any

KEY = "token_hash"
USERNAME_ATTRIBUTE = "username"
EXPIRES_ATTRIBUTE = "expires_at"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def revoke(dynamodb: Any, table: str, token: str, username: str, expires_at: int) -> None:
    dynamodb.put_item(
        TableName=table,
        Item={
            KEY: {"S": token_hash(token)},
            USERNAME_ATTRIBUTE: {"S": username},
            EXPIRES_ATTRIBUTE: {"N": str(expires_at)},
        },
    )


def is_revoked(dynamodb: Any, table: str, token: str) -> bool:
    return is_revoked_hash(dynamodb, table, token_hash(token))


def is_revoked_hash(dynamodb: Any, table: str, digest: str) -> bool:
    """Whether the token whose :func:`token_hash` is ``digest`` was signed out."""
    reply = dynamodb.get_item(
        TableName=table,
        Key={KEY: {"S": digest}},
        ProjectionExpression="#k",
        ExpressionAttributeNames={"#k": KEY},
        ConsistentRead=True,
    )
    return bool(reply.get("Item"))
