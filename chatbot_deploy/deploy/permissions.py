"""Lambda invoke permissions for API Gateway, scoped to this API (or authorizer) ARN.

The function's policy is read first so a re-run neither piles up statements nor leaves a
stale one pointing at an API that was replaced.
"""

from __future__ import annotations

import json
from typing import Any

import botocore.exceptions

from chatbot_deploy.aws import error_code
from chatbot_deploy.deploy.context import DeployContext
from chatbot_deploy.deploy.graph import Outcome

PRINCIPAL = "apigateway.amazonaws.com"
STATEMENT_ID = "chatbot-deploy-invoke"


def route_source_arn(ctx: DeployContext, api_id: str) -> str:
    return ctx.arn("execute-api", f"{api_id}/*")


def authorizer_source_arn(ctx: DeployContext, api_id: str, authorizer_id: str) -> str:
    return ctx.arn("execute-api", f"{api_id}/authorizers/{authorizer_id}")


def statements(ctx: DeployContext, kind: str) -> list[dict[str, Any]]:
    try:
        policy = ctx.client("lambda").get_policy(FunctionName=ctx.names.function(kind))["Policy"]
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return []
        raise
    return list(json.loads(policy).get("Statement", []))


def _source_arn(statement: dict[str, Any]) -> str | None:
    condition = statement.get("Condition", {}).get("ArnLike", {})
    value = condition.get("AWS:SourceArn") or condition.get("aws:SourceArn")
    return None if value is None else str(value)


def ensure_invoke_permission(ctx: DeployContext, kind: str, source_arn: str) -> Outcome:
    lam = ctx.client("lambda")
    name = ctx.names.function(kind)
    existing = next((s for s in statements(ctx, kind) if s.get("Sid") == STATEMENT_ID), None)
    if existing is not None and _source_arn(existing) == source_arn:
        return Outcome("unchanged", source_arn)
    if existing is not None:
        lam.remove_permission(FunctionName=name, StatementId=STATEMENT_ID)
    lam.add_permission(
        FunctionName=name,
        StatementId=STATEMENT_ID,
        Action="lambda:InvokeFunction",
        Principal=PRINCIPAL,
        SourceArn=source_arn,
    )
    return Outcome("replaced" if existing is not None else "added", source_arn, True)
