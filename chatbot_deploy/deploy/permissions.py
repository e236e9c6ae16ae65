"""Lambda invoke permissions for API Gateway, scoped to this API (or authorizer) ARN: one
statement per function and API (the HTTP API's, the WebSocket API's), each with its own id.

The function's policy is read first so a re-run neither piles up statements nor leaves a
stale one pointing at an API that was replaced.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, ClassVar

import botocore.exceptions

from chatbot_deploy import app_spec
from chatbot_deploy.aws import error_code, succeeded
from chatbot_deploy.deploy.context import DeployContext
from chatbot_deploy.deploy.graph import Outcome, Outputs
from chatbot_deploy.deploy.unit import Found, Job, Unit

PRINCIPAL = "apigateway.amazonaws.com"
STATEMENT_ID = "chatbot-deploy-invoke"  # the HTTP API's
SOCKET_STATEMENT_ID = "chatbot-deploy-socket-invoke"  # the WebSocket API's


def route_source_arn(ctx: DeployContext, api_id: str) -> str:
    return ctx.arn("execute-api", f"{api_id}/*")


def socket_route_source_arn(ctx: DeployContext, api_id: str) -> str:
    """Any route of the WebSocket API's stage ("<api>/<stage>/<route key>")."""
    return ctx.arn("execute-api", f"{api_id}/{app_spec.SOCKET_STAGE}/*")


def invoked_by(targets: Iterable[str]) -> list[str]:
    """The functions an API invokes: its routes' `targets` and the authorizer (in the spec's
    order)."""
    wanted = {*targets, app_spec.AUTHORIZER_FUNCTION}
    return [kind for kind in app_spec.FUNCTION_KINDS if kind in wanted]


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


def ensure_invoke_permission(
    ctx: DeployContext, kind: str, source_arn: str, statement_id: str = STATEMENT_ID
) -> Outcome:
    lam = ctx.client("lambda")
    name = ctx.names.function(kind)
    existing = next((s for s in statements(ctx, kind) if s.get("Sid") == statement_id), None)
    if existing is not None and _source_arn(existing) == source_arn:
        return Outcome("unchanged", source_arn)
    if existing is not None:
        lam.remove_permission(FunctionName=name, StatementId=statement_id)
    lam.add_permission(
        FunctionName=name,
        StatementId=statement_id,
        Action="lambda:InvokeFunction",
        Principal=PRINCIPAL,
        SourceArn=source_arn,
    )
    return Outcome("replaced" if existing is not None else "added", source_arn, True)


class InvokePermissions(Unit):
    """API Gateway's permission to invoke each function the HTTP API's routes or its
    authorizer use. Part of the function: deleting a function deletes its permissions, so
    teardown needs no step for them; `up` removes one from a function the API no longer
    invokes."""

    kind = "permission"
    title = "Invoke permission"
    after: ClassVar[tuple[str, ...]] = ("api",)
    part_of = "function"
    statement_id: ClassVar[str] = STATEMENT_ID

    def wanted(self, ctx: DeployContext) -> list[str]:
        return invoked_by(route.function for route in app_spec.ROUTES)

    def source_arn(self, ctx: DeployContext, key: str, inputs: Outputs) -> str:
        info = inputs["api"]
        if key == app_spec.AUTHORIZER_FUNCTION:
            return authorizer_source_arn(ctx, info.api_id, info.authorizer_id)
        return route_source_arn(ctx, info.api_id)

    def name(self, ctx: DeployContext, key: str) -> str:
        return f"{ctx.names.function(key)} {self.statement_id}"

    def ensure(self, job: Job, key: str, inputs: Outputs) -> Outcome:
        source = self.source_arn(job.ctx, key, inputs)
        return ensure_invoke_permission(job.ctx, key, source, self.statement_id)

    def find(self, ctx: DeployContext) -> list[Found]:
        """On the spec's functions only: a function the spec dropped goes with its own."""
        return [
            Found(self.kind, self.name(ctx, kind), kind)
            for kind in app_spec.FUNCTION_KINDS
            if any(s.get("Sid") == self.statement_id for s in statements(ctx, kind))
        ]

    def delete(self, ctx: DeployContext, found: Found) -> bool:
        return succeeded(
            lambda: ctx.client("lambda").remove_permission(
                FunctionName=ctx.names.function(found.key), StatementId=self.statement_id
            ),
            unless="ResourceNotFoundException",
        )


class SocketInvokePermissions(InvokePermissions):
    """The same for the WebSocket API: its routes' functions (any route of its stage) and
    its authorizer. After the HTTP API's permissions, so no two steps change one function's
    policy (the authorizer's holds both) at the same time."""

    kind = "socket-permission"
    title = "WebSocket invoke permission"
    after = ("socket-api", "permission")
    statement_id = SOCKET_STATEMENT_ID

    def wanted(self, ctx: DeployContext) -> list[str]:
        return invoked_by(route.function for route in app_spec.SOCKET_ROUTES)

    def source_arn(self, ctx: DeployContext, key: str, inputs: Outputs) -> str:
        info = inputs["socket-api"]
        if key == app_spec.AUTHORIZER_FUNCTION:
            return authorizer_source_arn(ctx, info.api_id, info.authorizer_id)
        return socket_route_source_arn(ctx, info.api_id)
