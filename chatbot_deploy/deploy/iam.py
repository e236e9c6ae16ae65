"""One IAM role per function, least privilege: its own log group, and only the data it reads."""

from __future__ import annotations

import json
from typing import Any

import botocore.exceptions

from chatbot_deploy import app_spec
from chatbot_deploy.aws import error_code, succeeded
from chatbot_deploy.deploy.context import DeployContext
from chatbot_deploy.deploy.graph import Outcome, Outputs
from chatbot_deploy.deploy.unit import Found, Job, Unit
from chatbot_deploy.names import TAG_KEY

POLICY_NAME = "chatbot-deploy"
POLICY_VERSION = "2012-10-17"


def trust_policy() -> dict[str, Any]:
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def _parameter_arn(ctx: DeployContext, name: str) -> str:
    return ctx.arn("ssm", f"parameter/{name.lstrip('/')}")


def function_policy(ctx: DeployContext, kind: str) -> dict[str, Any]:
    """The inline policy of one function's role, derived from what its spec needs: its own
    log group, its parameters, and its table grants. No wildcard actions, no managed
    policies."""
    names = ctx.names
    spec = app_spec.FUNCTIONS[kind]
    log_group = ctx.arn("logs", f"log-group:{names.log_group(kind)}")
    statements: list[dict[str, Any]] = [
        {
            "Sid": "OwnLogGroup",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [f"{log_group}:*"],
        }
    ]
    for access in spec.tables:
        statement: dict[str, Any] = {
            "Sid": access.sid,
            "Effect": "Allow",
            "Action": list(access.actions),
            "Resource": [ctx.arn("dynamodb", f"table/{names.table(access.table)}")],
        }
        if access.attributes:
            # AWS's documented pattern: every attribute named in the request is one of these,
            # and a read must name them (no Select of ALL_ATTRIBUTES, e.g. no projection).
            statement["Condition"] = {
                "ForAllValues:StringEquals": {"dynamodb:Attributes": list(access.attributes)},
                "StringEqualsIfExists": {"dynamodb:Select": "SPECIFIC_ATTRIBUTES"},
            }
        statements.append(statement)
    if spec.parameters:
        statements.append(
            {
                "Sid": "ReadOwnParameters",
                "Effect": "Allow",
                "Action": ["ssm:GetParameter"],
                "Resource": [_parameter_arn(ctx, names.parameter(key)) for key in spec.parameters],
            }
        )
    return {"Version": POLICY_VERSION, "Statement": statements}


def get_role(ctx: DeployContext, kind: str) -> dict[str, Any] | None:
    try:
        return dict(ctx.client("iam").get_role(RoleName=ctx.names.role(kind))["Role"])
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            return None
        raise


def _inline_policy(ctx: DeployContext, kind: str) -> dict[str, Any] | None:
    try:
        response = ctx.client("iam").get_role_policy(
            RoleName=ctx.names.role(kind), PolicyName=POLICY_NAME
        )
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            return None
        raise
    document = response["PolicyDocument"]
    return dict(json.loads(document) if isinstance(document, str) else document)


def ensure_role(ctx: DeployContext, kind: str) -> Outcome:
    iam = ctx.client("iam")
    name = ctx.names.role(kind)
    changes: list[str] = []
    role = get_role(ctx, kind)
    if role is None:
        iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps(trust_policy()),
            Description=f"chatbot-deploy {ctx.names.stack}: {kind} function",
            Tags=[{"Key": key, "Value": value} for key, value in ctx.names.tags.items()],
        )
        changes.append("created")
    elif _normalise(role.get("AssumeRolePolicyDocument")) != trust_policy():
        iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust_policy()))
        changes.append("trust policy updated")
    desired = function_policy(ctx, kind)
    if role is None or _inline_policy(ctx, kind) != desired:
        iam.put_role_policy(
            RoleName=name, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(desired)
        )
        if role is not None:
            changes.append("policy updated")
    return Outcome(", ".join(changes) or "unchanged", ctx.role_arn(kind), bool(changes))


def _normalise(document: Any) -> Any:
    return json.loads(document) if isinstance(document, str) else document


def delete_role(ctx: DeployContext, kind: str) -> bool:
    iam = ctx.client("iam")
    name = ctx.names.role(kind)

    def delete() -> None:
        for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            iam.delete_role_policy(RoleName=name, PolicyName=policy)
        for attached in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
            iam.detach_role_policy(RoleName=name, PolicyArn=attached["PolicyArn"])
        iam.delete_role(RoleName=name)

    return succeeded(delete, unless="NoSuchEntity")


def find_roles(ctx: DeployContext) -> list[Found]:
    """The stack's roles: named "<stack>-<kind>-role" and tagged for the stack (a role of a
    function that is no longer in the spec is found too)."""
    iam = ctx.client("iam")
    prefix, suffix = f"{ctx.names.stack}-", "-role"
    found = []
    for page in iam.get_paginator("list_roles").paginate():
        for role in page["Roles"]:
            name = str(role["RoleName"])
            if not (name.startswith(prefix) and name.endswith(suffix)):
                continue
            tags = iam.list_role_tags(RoleName=name)["Tags"]
            if {"Key": TAG_KEY, "Value": ctx.names.stack} in tags:
                found.append(Found("role", name, name[len(prefix) : -len(suffix)]))
    return found


class Roles(Unit):
    kind = "role"
    title = "IAM role"

    def wanted(self, ctx: DeployContext) -> list[str]:
        return list(app_spec.FUNCTION_KINDS)

    def name(self, ctx: DeployContext, key: str) -> str:
        return ctx.names.role(key)

    def ensure(self, job: Job, key: str, inputs: Outputs) -> Outcome:
        return ensure_role(job.ctx, key)

    def find(self, ctx: DeployContext) -> list[Found]:
        return find_roles(ctx)

    def delete(self, ctx: DeployContext, found: Found) -> bool:
        return delete_role(ctx, found.key)
