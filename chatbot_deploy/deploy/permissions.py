"""Lambda invoke permissions for API Gateway, scoped to this API (or authorizer) ARN.

The function's policy is read first so a re-run neither piles up statements nor leaves a
stale one pointing at an API that was replaced.
"""

from __future__ import annotations

import json
from typing import Any

import botocore.exceptions

from chatbot_deploy import app_spec
from chatbot_deploy.aws import error_code, succeeded
from chatbot_deploy.deploy.context import DeployContext
from chatbot_deploy.deploy.graph import Outcome, Outputs
from chatbot_deploy.deploy.unit import Found, Job, Unit

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


class InvokePermissions(Unit):
    """API Gateway's permission to invoke each function the routes or the authorizer use.
    Part of the function: deleting a function deletes its permissions, so teardown needs no
    step for them; `up` removes one from a function the API no longer invokes."""

    kind = "permission"
    title = "Invoke permission"
    after = ("api",)
    part_of = "function"

    def wanted(self, ctx: DeployContext) -> list[str]:
        return app_spec.invoked_functions()

    def name(self, ctx: DeployContext, key: str) -> str:
        return f"{ctx.names.function(key)} {STATEMENT_ID}"

    def ensure(self, job: Job, key: str, inputs: Outputs) -> Outcome:
        info = inputs["api"]
        if key == app_spec.AUTHORIZER_FUNCTION:
            source = authorizer_source_arn(job.ctx, info.api_id, info.authorizer_id)
        else:
            source = route_source_arn(job.ctx, info.api_id)
        return ensure_invoke_permission(job.ctx, key, source)

    def find(self, ctx: DeployContext) -> list[Found]:
        """On the spec's functions only: a function the spec dropped goes with its own."""
        return [
            Found(self.kind, self.name(ctx, kind), kind)
            for kind in app_spec.FUNCTION_KINDS
            if any(s.get("Sid") == STATEMENT_ID for s in statements(ctx, kind))
        ]

    def delete(self, ctx: DeployContext, found: Found) -> bool:
        return succeeded(
            lambda: ctx.client("lambda").remove_permission(
                FunctionName=ctx.names.function(found.key), StatementId=STATEMENT_ID
            ),
            unless="ResourceNotFoundException",
        )
