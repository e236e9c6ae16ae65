"""The users table of a deployed stack, as the user commands see it.

The item shape comes from :mod:`chatbot_lambda.users` and the hash from
:func:`chatbot_lambda.passwords.hash_password`, so what is written here is exactly what the
login handler reads. Every write is conditional: adding never overwrites an existing user,
changing a password (``update=True``) never creates one, removing never "succeeds" on a user
that is not there. A refused operation writes nothing.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import botocore.exceptions

from chatbot_deploy.aws import Aws, aws_errors, error_code, succeeded
from chatbot_deploy.errors import UserError
from chatbot_deploy.hints import command_line
from chatbot_deploy.names import StackNames
from chatbot_lambda import passwords, users
from chatbot_lambda.validation import MAX_PASSWORD_CHARS, MAX_USERNAME_CHARS

MIN_PASSWORD_CHARS = 8
USERNAME_RE = re.compile(rf"[A-Za-z0-9_.@-]{{1,{MAX_USERNAME_CHARS}}}", re.ASCII)
USERNAME_RULE = (
    f"use 1-{MAX_USERNAME_CHARS} characters among letters (a-z, A-Z), digits and _ . @ -"
)


def validate_username(username: str) -> str:
    if USERNAME_RE.fullmatch(username):
        return username
    if not username:
        raise UserError(f"invalid username: it is empty; {USERNAME_RULE}")
    if len(username) > MAX_USERNAME_CHARS:
        raise UserError(f"invalid username: it has {len(username)} characters; {USERNAME_RULE}")
    bad = sorted({char for char in username if not USERNAME_RE.fullmatch(char)})
    shown = ", ".join(repr(char) for char in bad)
    raise UserError(f"invalid username: {shown} not allowed; {USERNAME_RULE}")


def validate_password(password: str) -> str:
    """The rules for every password this tool sets (add-user, `local --user`)."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise UserError(f"password too short: use at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        # The login endpoint refuses longer passwords, so such a user could never log in.
        raise UserError(f"password too long: use at most {MAX_PASSWORD_CHARS} characters")
    if not password.strip():
        raise UserError("invalid password: it is only whitespace; use some other characters")
    return password


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class UserInfo:
    """What may be shown about a user: never the hash."""

    username: str
    created_at: str | None

    def as_dict(self) -> dict[str, str | None]:
        return {"username": self.username, "created_at": self.created_at}


@dataclass
class UserStore:
    dynamodb: Any  # boto3 DynamoDB low-level client
    table: str
    where: str  # "'chatbot-users' in eu-west-1", for messages
    clock: Callable[[], float] = time.time

    @classmethod
    def open(cls, aws: Aws, names: StackNames) -> UserStore:
        """The stack's users table, or a UserError saying the stack is not deployed there."""
        table = names.users_table
        dynamodb = aws.client("dynamodb")
        missing = UserError(
            f"no users table '{table}' in {aws.region}: deploy the stack first with "
            f"`{command_line('up', stack=names.stack, aws=aws)}`"
        )
        with aws_errors("DescribeTable"):
            try:
                status = dynamodb.describe_table(TableName=table)["Table"]["TableStatus"]
            except botocore.exceptions.ClientError as exc:
                if error_code(exc) == "ResourceNotFoundException":
                    raise missing from exc
                raise
        if status == "DELETING":
            raise missing
        if status not in ("ACTIVE", "UPDATING"):
            raise UserError(f"users table '{table}' is {status}; try again in a minute")
        return cls(dynamodb=dynamodb, table=table, where=f"'{table}' in {aws.region}")

    def exists(self, username: str) -> bool:
        with aws_errors("GetItem"):
            reply = self.dynamodb.get_item(
                TableName=self.table,
                Key=users.key(username),
                ProjectionExpression="#k",
                ExpressionAttributeNames={"#k": users.KEY},
                ConsistentRead=True,
            )
        return "Item" in reply

    def add(self, username: str, password: str) -> None:
        """Create a user; refused (nothing written) if the username is taken. Tokens issued
        before now are void for this name (left from a removed user of the same name)."""
        now = self.clock()
        item = {
            **users.key(username),
            users.HASH_ATTRIBUTE: {"S": passwords.hash_password(password)},
            users.CREATED_ATTRIBUTE: {"S": iso(now)},
            users.SESSIONS_AFTER_ATTRIBUTE: {"N": users.sessions_start(now)},
        }
        put = functools.partial(
            self.dynamodb.put_item,
            TableName=self.table,
            Item=item,
            ConditionExpression="attribute_not_exists(#k)",
            ExpressionAttributeNames={"#k": users.KEY},
        )
        self._write("PutItem", put, refusal=self._exists_error(username))

    def set_password(self, username: str, password: str) -> None:
        """Change an existing user's password (other attributes kept) and end their sessions
        (tokens issued before now are refused); refused (nothing written) if the user does
        not exist, so a typo never creates a new user."""
        update = functools.partial(
            self.dynamodb.update_item,
            TableName=self.table,
            Key=users.key(username),
            UpdateExpression="SET #h = :h, #s = :s",
            ConditionExpression="attribute_exists(#k)",
            ExpressionAttributeNames={
                "#k": users.KEY,
                "#h": users.HASH_ATTRIBUTE,
                "#s": users.SESSIONS_AFTER_ATTRIBUTE,
            },
            ExpressionAttributeValues={
                ":h": {"S": passwords.hash_password(password)},
                ":s": {"N": users.sessions_start(self.clock())},
            },
        )
        self._write("UpdateItem", update, refusal=self._missing_error(username, hint_add=True))

    def remove(self, username: str) -> None:
        """Delete a user; refused if there is no such user."""
        delete = functools.partial(
            self.dynamodb.delete_item,
            TableName=self.table,
            Key=users.key(username),
            ConditionExpression="attribute_exists(#k)",
            ExpressionAttributeNames={"#k": users.KEY},
        )
        self._write("DeleteItem", delete, refusal=self._missing_error(username))

    def _write(self, operation: str, write: Callable[[], object], refusal: UserError) -> None:
        """One conditional write: when its condition fails, nothing is written and `refusal`
        is raised (the user exists, or does not, after all)."""
        with aws_errors(operation):
            if not succeeded(write, unless="ConditionalCheckFailedException"):
                raise refusal

    def list(self) -> list[UserInfo]:
        """All users sorted by name; only the name and creation time are ever read."""
        found: list[UserInfo] = []
        with aws_errors("Scan"):
            pages = self.dynamodb.get_paginator("scan").paginate(
                TableName=self.table,
                ProjectionExpression="#k, #c",
                ExpressionAttributeNames={"#k": users.KEY, "#c": users.CREATED_ATTRIBUTE},
            )
            for page in pages:
                for item in page.get("Items", []):
                    name = item.get(users.KEY, {}).get("S")
                    if name is None:
                        continue
                    created = item.get(users.CREATED_ATTRIBUTE, {}).get("S")
                    found.append(UserInfo(username=name, created_at=created))
        return sorted(found, key=lambda info: info.username)

    def _exists_error(self, username: str) -> UserError:
        return UserError(
            f"user '{username}' already exists in {self.where}: "
            "pass --update to change its password"
        )

    def _missing_error(self, username: str, hint_add: bool = False) -> UserError:
        hint = ": add it without --update" if hint_add else ""
        return UserError(f"no user '{username}' in {self.where}{hint}")

    def refuse_if_exists(self, username: str) -> None:
        if self.exists(username):
            raise self._exists_error(username)

    def refuse_if_missing(self, username: str, hint_add: bool = False) -> None:
        if not self.exists(username):
            raise self._missing_error(username, hint_add)
