"""One IAM role per function, least privilege: its own log group, and only the data it reads;
and, for a function that sends to the WebSocket API's connections, a second inline policy
for exactly that API's stage (made once the API exists: `ConnectionGrants`)."""

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
CONNECTIONS_POLICY_NAME = "chatbot-deploy-connections"
POLICY_VERSION = "2012-10-17"
QUERY = "dynamodb:Query"


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
        table = ctx.arn("dynamodb", f"table/{names.table(access.table)}")
        statement: dict[str, Any] = {
            "Sid": access.sid,
            "Effect": "Allow",
            "Action": list(access.actions),
            "Resource": [table],
        }
        if access.attributes:
            # AWS's documented pattern: every attribute named in the request is one of these,
            # and a read must name them (no Select of ALL_ATTRIBUTES, e.g. no projection).
            statement["Condition"] = {
                "ForAllValues:StringEquals": {"dynamodb:Attributes": list(access.attributes)},
                "StringEqualsIfExists": {"dynamodb:Select": "SPECIFIC_ATTRIBUTES"},
            }
        statements.append(statement)
        indexes = app_spec.TABLES[access.table].local_indexes
        if indexes and QUERY in access.actions:
            # A query of an index is authorized on the index's own ARN: Query only, on
            # exactly the table's indexes (named, no wildcard), with the same condition.
            statements.append(
                {
                    **statement,
                    "Sid": f"{access.sid}Indexes",
                    "Action": [QUERY],
                    "Resource": [f"{table}/index/{index.name}" for index in indexes],
                }
            )
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


def connections_arn(ctx: DeployContext, api_id: str) -> str:
    """The connections of the WebSocket API's stage, as execute-api names them for
    `@connections` calls (post_to_connection is a POST)."""
    return ctx.arn("execute-api", f"{api_id}/{app_spec.SOCKET_STAGE}/POST/@connections/*")


def connections_policy(ctx: DeployContext, api_id: str) -> dict[str, Any]:
    """A function's right to send to the connections of this stack's WebSocket API (and
    its stage) only."""
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Sid": "SendToOwnSocketConnections",
                "Effect": "Allow",
                "Action": ["execute-api:ManageConnections"],
                "Resource": [connections_arn(ctx, api_id)],
            }
        ],
    }


def get_role(ctx: DeployContext, kind: str) -> dict[str, Any] | None:
    try:
        return dict(ctx.client("iam").get_role(RoleName=ctx.names.role(kind))["Role"])
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            return None
        raise


def _inline_policy(
    ctx: DeployContext, kind: str, policy: str = POLICY_NAME
) -> dict[str, Any] | None:
    try:
        response = ctx.client("iam").get_role_policy(
            RoleName=ctx.names.role(kind), PolicyName=policy
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


class ConnectionGrants(Unit):
    """The connections policy of each function that `manages_connections`: it names the
    WebSocket API's id, so it is put once the API exists (the role itself comes before the
    function, which comes before the API). Part of the role: deleted with it; `up` removes
    it from a function that no longer manages connections."""

    kind = "connection-grant"
    title = "Connection grant"
    after = ("role", "socket-api")
    part_of = "role"

    def wanted(self, ctx: DeployContext) -> list[str]:
        return [kind for kind, spec in app_spec.FUNCTIONS.items() if spec.manages_connections]

    def name(self, ctx: DeployContext, key: str) -> str:
        return f"{ctx.names.role(key)} {CONNECTIONS_POLICY_NAME}"

    def ensure(self, job: Job, key: str, inputs: Outputs) -> Outcome:
        ctx = job.ctx
        desired = connections_policy(ctx, inputs["socket-api"].api_id)
        current = _inline_policy(ctx, key, CONNECTIONS_POLICY_NAME)
        if current == desired:
            return Outcome("unchanged")
        ctx.client("iam").put_role_policy(
            RoleName=ctx.names.role(key),
            PolicyName=CONNECTIONS_POLICY_NAME,
            PolicyDocument=json.dumps(desired),
        )
        return Outcome("added" if current is None else "updated", changed=True)

    def find(self, ctx: DeployContext) -> list[Found]:
        """On the spec's functions' roles only: a dropped function's role goes with it."""
        iam = ctx.client("iam")
        found = []
        for kind in app_spec.FUNCTION_KINDS:
            try:
                names = iam.list_role_policies(RoleName=ctx.names.role(kind))["PolicyNames"]
            except botocore.exceptions.ClientError as exc:
                if error_code(exc) == "NoSuchEntity":
                    continue
                raise
            if CONNECTIONS_POLICY_NAME in names:
                found.append(Found(self.kind, self.name(ctx, kind), kind))
        return found

    def delete(self, ctx: DeployContext, found: Found) -> bool:
        return succeeded(
            lambda: ctx.client("iam").delete_role_policy(
                RoleName=ctx.names.role(found.key), PolicyName=CONNECTIONS_POLICY_NAME
            ),
            unless="NoSuchEntity",
        )
