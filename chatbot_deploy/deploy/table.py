"""The app's DynamoDB tables (`app_spec.TABLES`): on demand, keyed as the spec says."""

from __future__ import annotations

from typing import Any

import botocore.exceptions

from chatbot_deploy import app_spec
from chatbot_deploy.aws import error_code, succeeded
from chatbot_deploy.deploy.context import DeployContext
from chatbot_deploy.deploy.graph import Outcome, Outputs
from chatbot_deploy.deploy.unit import Found, Job, Unit
from chatbot_deploy.names import TAG_KEY

WAITER_CONFIG = {"Delay": 2, "MaxAttempts": 60}


def get_table(ctx: DeployContext, key: str) -> dict[str, Any] | None:
    name = ctx.names.table(key)
    try:
        return dict(ctx.client("dynamodb").describe_table(TableName=name)["Table"])
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return None
        raise


def key_schema(spec: app_spec.TableSpec) -> dict[str, Any]:
    """CreateTable's key arguments for a spec: its string keys and sparse local indexes
    (which DynamoDB only makes with the table), each index projecting every attribute."""
    schema = [{"AttributeName": spec.hash_key, "KeyType": "HASH"}]
    attributes = [{"AttributeName": spec.hash_key, "AttributeType": "S"}]
    if spec.range_key:
        schema.append({"AttributeName": spec.range_key, "KeyType": "RANGE"})
        attributes.append({"AttributeName": spec.range_key, "AttributeType": "S"})
    arguments: dict[str, Any] = {"KeySchema": schema}
    if spec.local_indexes:
        arguments["LocalSecondaryIndexes"] = [
            {
                "IndexName": index.name,
                "KeySchema": [
                    {"AttributeName": spec.hash_key, "KeyType": "HASH"},
                    {"AttributeName": index.range_key, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for index in spec.local_indexes
        ]
        attributes += [
            {"AttributeName": index.range_key, "AttributeType": "N"} for index in spec.local_indexes
        ]
    arguments["AttributeDefinitions"] = attributes
    return arguments


def create_on_demand(
    dynamodb: Any, name: str, spec: app_spec.TableSpec | str, tags: dict[str, str]
) -> bool:
    """Create an on-demand table keyed as `spec` says (or by the string hash key `spec`),
    tagged, and wait until it is ACTIVE. False if it was there already (made by a concurrent
    run): then only wait."""
    if isinstance(spec, str):
        spec = app_spec.TableSpec(key=name, hash_key=spec, env="")
    try:
        dynamodb.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            Tags=[{"Key": key, "Value": value} for key, value in tags.items()],
            **key_schema(spec),
        )
        created = True
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) != "ResourceInUseException":
            raise
        created = False
    dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig=WAITER_CONFIG)
    return created


def ensure_ttl(dynamodb: Any, name: str, attribute: str) -> bool:
    """Time to live on `attribute`; False if it was on already (a read, no write)."""
    current = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    if current.get("TimeToLiveStatus") in ("ENABLED", "ENABLING") and (
        current.get("AttributeName") == attribute
    ):
        return False
    dynamodb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute}
    )
    return True


def ensure_table(ctx: DeployContext, key: str) -> Outcome:
    dynamodb = ctx.client("dynamodb")
    spec = app_spec.TABLES[key]
    name = ctx.names.table(key)
    table = get_table(ctx, key)
    done = []
    if table is None:
        if create_on_demand(dynamodb, name, spec, ctx.names.tags):
            done.append("created")
    elif table.get("TableStatus") != "ACTIVE":
        dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig=WAITER_CONFIG)
    if spec.ttl_attribute and ensure_ttl(dynamodb, name, spec.ttl_attribute):
        done.append(f"expiry on {spec.ttl_attribute}")
    return Outcome(", ".join(done) or "unchanged", name, bool(done))


def delete_table(ctx: DeployContext, name: str) -> bool:
    dynamodb = ctx.client("dynamodb")
    if not succeeded(
        lambda: dynamodb.delete_table(TableName=name), unless="ResourceNotFoundException"
    ):
        return False
    dynamodb.get_waiter("table_not_exists").wait(TableName=name, WaiterConfig=WAITER_CONFIG)
    return True


def find_tables(ctx: DeployContext) -> list[Found]:
    """The stack's app tables: named "<stack>-*" and tagged for the stack. The deploy lock's
    table is not one of them: the lock (`lock.py`) owns it and teardown removes it last."""
    dynamodb = ctx.client("dynamodb")
    prefix = ctx.names.table("")
    found = []
    for page in dynamodb.get_paginator("list_tables").paginate():
        for name in page["TableNames"]:
            if not name.startswith(prefix) or name == ctx.names.lock_table:
                continue
            arn = ctx.arn("dynamodb", f"table/{name}")
            tags = dynamodb.list_tags_of_resource(ResourceArn=arn).get("Tags", [])
            if {"Key": TAG_KEY, "Value": ctx.names.stack} in tags:
                found.append(Found("table", name, name.removeprefix(prefix)))
    return found


class Tables(Unit):
    kind = "table"
    title = "Table"
    sweeps = False  # a table holds data: one the spec dropped is kept until `teardown`

    def wanted(self, ctx: DeployContext) -> list[str]:
        return list(app_spec.TABLES)

    def name(self, ctx: DeployContext, key: str) -> str:
        return ctx.names.table(key)

    def ensure(self, job: Job, key: str, inputs: Outputs) -> Outcome:
        return ensure_table(job.ctx, key)

    def find(self, ctx: DeployContext) -> list[Found]:
        return find_tables(ctx)

    def delete(self, ctx: DeployContext, found: Found) -> bool:
        return delete_table(ctx, found.name)
