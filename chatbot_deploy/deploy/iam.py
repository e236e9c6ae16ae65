"""One IAM role per function, least privilege: its own log group, and only the data it reads."""

from __future__ import annotations

import json
from typing import Any

import botocore.exceptions

from chatbot_deploy.aws import error_code, succeeded
from chatbot_deploy.deploy.context import DeployContext
from chatbot_deploy.deploy.graph import Outcome
from chatbot_lambda import users

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
    """The inline policy of one function's role. No wildcard actions, no managed policies."""
    names = ctx.names
    log_group = ctx.arn("logs", f"log-group:{names.log_group(kind)}")
    users_table = ctx.arn("dynamodb", f"table/{names.users_table}")
    statements: list[dict[str, Any]] = [
        {
            "Sid": "OwnLogGroup",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [f"{log_group}:*"],
        }
    ]
    if kind in ("login", "chat"):  # chat: a removed user's or an old password's tokens end
        statements.append(
            {
                "Sid": "ReadUsers",
                "Effect": "Allow",
                "Action": ["dynamodb:GetItem"],
                "Resource": [users_table],
            }
        )
    if kind == "login":  # re-hash at the current cost on login: the hash attribute only
        statements.append(
            {
                "Sid": "UpgradePasswordHashes",
                "Effect": "Allow",
                "Action": ["dynamodb:UpdateItem"],
                "Resource": [users_table],
                "Condition": {
                    "ForAllValues:StringEquals": {
                        "dynamodb:Attributes": [users.KEY, users.HASH_ATTRIBUTE]
                    }
                },
            }
        )
    params = {
        "login": [names.jwt_secret_param],
        "authorizer": [names.jwt_secret_param],
        "chat": [names.openai_key_param],
    }[kind]
    statements.append(
        {
            "Sid": "ReadOwnParameters",
            "Effect": "Allow",
            "Action": ["ssm:GetParameter"],
            "Resource": [_parameter_arn(ctx, name) for name in params],
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
