"""Failed logins per username, and the growing delay they impose: brute-force protection.

One item per username that failed recently, in the `login-attempts` table:
``{"username": S, "failures": N, "locked_until": N, "expires_at": N}``. The first
``FREE_FAILURES`` consecutive failures cost nothing (typos); each one after that locks the
username for twice as long as the one before (1 s, 2 s, 4 s ... up to ``MAX_DELAY_S``). While
locked, /login answers 429 with ``Retry-After`` before checking the password, so guessing
costs the attacker time and us no scrypt work. A successful login clears the count; so does
a day without failures (``expires_at``: DynamoDB's TTL deletes the item, and the code ignores
an expired one that TTL has not deleted yet).

Unknown usernames are counted exactly like real ones: the answers (401, then 429) reveal
nothing about which users exist. The lock is per username, not per address: an attacker
spreading guesses over many addresses is slowed all the same (the price: someone who knows a
username can keep its owner waiting, for at most ``MAX_DELAY_S`` at a time).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

KEY = "username"
FAILURES_ATTRIBUTE = "failures"
LOCKED_UNTIL_ATTRIBUTE = "locked_until"
EXPIRES_ATTRIBUTE = "expires_at"

FREE_FAILURES = 5
MAX_DELAY_S = 15 * 60
WINDOW_S = 24 * 3600  # a username's count is forgotten a day after its last failure


def delay_after(failures: int) -> int:
    """Seconds a username is locked after its `failures`-th consecutive failure."""
    if failures < FREE_FAILURES:
        return 0
    return int(min(2 ** (failures - FREE_FAILURES), MAX_DELAY_S))


@dataclass(frozen=True)
class Standing:
    failures: int  # consecutive failures still counted
    wait_s: int  # seconds until a login may be tried again (0: now)


def standing(dynamodb: Any, table: str, username: str, now: float) -> Standing:
    reply = dynamodb.get_item(TableName=table, Key={KEY: {"S": username}}, ConsistentRead=True)
    item = reply.get("Item") or {}
    if not item or _number(item, EXPIRES_ATTRIBUTE) <= now:
        return Standing(0, 0)
    wait = math.ceil(_number(item, LOCKED_UNTIL_ATTRIBUTE) - now)
    return Standing(int(_number(item, FAILURES_ATTRIBUTE)), max(0, wait))


def record_failure(dynamodb: Any, table: str, username: str, now: float) -> int:
    """Count one more failure (atomically: concurrent guesses each count); returns the
    seconds the username is now locked for."""
    expires = {"N": str(int(now) + WINDOW_S)}
    try:
        reply = dynamodb.update_item(
            TableName=table,
            Key={KEY: {"S": username}},
            UpdateExpression="ADD #f :one SET #e = :expires",
            ConditionExpression="attribute_not_exists(#e) OR #e > :now",
            ExpressionAttributeNames={"#f": FAILURES_ATTRIBUTE, "#e": EXPIRES_ATTRIBUTE},
            ExpressionAttributeValues={
                ":one": {"N": "1"},
                ":expires": expires,
                ":now": {"N": str(int(now))},
            },
            ReturnValues="UPDATED_NEW",
        )
        failures = int(reply["Attributes"][FAILURES_ATTRIBUTE]["N"])
    except dynamodb.exceptions.ConditionalCheckFailedException:
        # An expired count TTL has not deleted yet: start again from one.
        dynamodb.update_item(
            TableName=table,
            Key={KEY: {"S": username}},
            UpdateExpression="SET #f = :one, #e = :expires REMOVE #l",
            ExpressionAttributeNames={
                "#f": FAILURES_ATTRIBUTE,
                "#e": EXPIRES_ATTRIBUTE,
                "#l": LOCKED_UNTIL_ATTRIBUTE,
            },
            ExpressionAttributeValues={":one": {"N": "1"}, ":expires": expires},
        )
        failures = 1
    delay = delay_after(failures)
    if delay:
        dynamodb.update_item(
            TableName=table,
            Key={KEY: {"S": username}},
            UpdateExpression="SET #l = :until",
            ExpressionAttributeNames={"#l": LOCKED_UNTIL_ATTRIBUTE},
            ExpressionAttributeValues={":until": {"N": f"{now + delay:.3f}"}},
        )
    return delay


def clear(dynamodb: Any, table: str, username: str) -> None:
    """A successful login: the count starts again."""
    dynamodb.delete_item(TableName=table, Key={KEY: {"S": username}})


def _number(item: dict[str, Any], name: str) -> float:
    value = item.get(name, {}).get("N")
    return float(value) if isinstance(value, str) else 0.0
