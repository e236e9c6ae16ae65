"""The users table: one item per user.

``{"username": S, "password_hash": S, "created_at": S, "sessions_valid_after": N}``. Shared by
the login and chat handlers (read) and the CLI's user commands (write), so the item shape is
defined once. ``sessions_valid_after`` (Unix seconds) is set whenever a password is set:
tokens issued before it are refused, so a password change ends the other sessions and a
removed user's tokens stop working (no item, no session). Token times are whole
seconds, so it is the second *after* the change: a token of the same second is refused too
(a login in that very second has to be repeated).
"""

from __future__ import annotations

from typing import Any

KEY = "username"
HASH_ATTRIBUTE = "password_hash"
CREATED_ATTRIBUTE = "created_at"
SESSIONS_AFTER_ATTRIBUTE = "sessions_valid_after"


def key(username: str) -> dict[str, dict[str, str]]:
    return {KEY: {"S": username}}


def get_password_hash(dynamodb: Any, table: str, username: str) -> str | None:
    """The stored hash of ``username``, or None."""
    reply = dynamodb.get_item(
        TableName=table, Key=key(username), ProjectionExpression=HASH_ATTRIBUTE
    )
    value = (reply.get("Item") or {}).get(HASH_ATTRIBUTE, {}).get("S")
    return value if isinstance(value, str) else None


def _updated(dynamodb: Any, **request: Any) -> bool:
    """``update_item(**request)``; False, writing nothing, when its condition failed."""
    try:
        dynamodb.update_item(**request)
    except dynamodb.exceptions.ConditionalCheckFailedException:
        return False
    return True


def replace_hash(dynamodb: Any, table: str, username: str, old: str, new: str) -> bool:
    """Store ``new`` in place of ``old`` (same password, current cost); False, writing nothing,
    if the hash changed meanwhile (a password change must never be undone)."""
    return _updated(
        dynamodb,
        TableName=table,
        Key=key(username),
        UpdateExpression="SET #h = :new",
        ConditionExpression="#h = :old",
        ExpressionAttributeNames={"#h": HASH_ATTRIBUTE},
        ExpressionAttributeValues={":new": {"S": new}, ":old": {"S": old}},
    )


def sessions_start(now: float) -> str:
    """The ``sessions_valid_after`` value (a DynamoDB number) for a password set at `now`."""
    return str(int(now) + 1)


def sessions_valid_after(dynamodb: Any, table: str, username: str) -> int | None:
    """Tokens of ``username`` issued before this time are void; None: no such user."""
    reply = dynamodb.get_item(
        TableName=table,
        Key=key(username),
        ProjectionExpression="#k, #s",
        ExpressionAttributeNames={"#k": KEY, "#s": SESSIONS_AFTER_ATTRIBUTE},
        ConsistentRead=True,  # a removal or password change counts at the next read
    )
    item = reply.get("Item")
    if not item:
        return None
    value = item.get(SESSIONS_AFTER_ATTRIBUTE, {}).get("N")
    return int(value) if isinstance(value, str) else 0


def end_sessions(dynamodb: Any, table: str, username: str, now: float) -> bool:
    """Void every token of ``username`` issued up to now ("sign out everywhere"); False if
    there is no such user (nothing is created)."""
    return _updated(
        dynamodb,
        TableName=table,
        Key=key(username),
        UpdateExpression="SET #s = :after",
        ConditionExpression="attribute_exists(#k)",
        ExpressionAttributeNames={"#s": SESSIONS_AFTER_ATTRIBUTE, "#k": KEY},
        ExpressionAttributeValues={":after": {"N": sessions_start(now)}},
    )
