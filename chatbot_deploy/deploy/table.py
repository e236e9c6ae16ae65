"""The DynamoDB users table: on demand, key `username`."""

from __future__ import annotations

from typing import Any

import botocore.exceptions

from chatbot_deploy.aws import error_code, succeeded
from chatbot_deploy.deploy.context import DeployContext
from chatbot_deploy.deploy.graph import Outcome
from chatbot_lambda import users

WAITER_CONFIG = {"Delay": 2, "MaxAttempts": 60}


def get_table(ctx: DeployContext) -> dict[str, Any] | None:
    try:
        return dict(ctx.client("dynamodb").describe_table(TableName=ctx.names.users_table)["Table"])
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return None
        raise


def ensure_table(ctx: DeployContext) -> Outcome:
    dynamodb = ctx.client("dynamodb")
    name = ctx.names.users_table
    table = get_table(ctx)
    changed = False
    if table is None:
        try:
            dynamodb.create_table(
                TableName=name,
                AttributeDefinitions=[{"AttributeName": users.KEY, "AttributeType": "S"}],
                KeySchema=[{"AttributeName": users.KEY, "KeyType": "HASH"}],
                BillingMode="PAY_PER_REQUEST",
                Tags=[{"Key": key, "Value": value} for key, value in ctx.names.tags.items()],
            )
            changed = True
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) != "ResourceInUseException":
                raise
    if table is None or table.get("TableStatus") != "ACTIVE":
        dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig=WAITER_CONFIG)
    return Outcome("created" if changed else "unchanged", name, changed)


def delete_table(ctx: DeployContext) -> bool:
    dynamodb = ctx.client("dynamodb")
    name = ctx.names.users_table
    if not succeeded(
        lambda: dynamodb.delete_table(TableName=name), unless="ResourceNotFoundException"
    ):
        return False
    dynamodb.get_waiter("table_not_exists").wait(
        TableName=ctx.names.users_table, WaiterConfig=WAITER_CONFIG
    )
    return True
