"""CloudWatch log groups, created before the functions so they get a retention (a group that
Lambda creates on first invocation never expires)."""

from __future__ import annotations

from typing import Any

import botocore.exceptions

from chatbot_deploy import app_spec
from chatbot_deploy.aws import error_code, succeeded
from chatbot_deploy.deploy.context import DeployContext
from chatbot_deploy.deploy.graph import Outcome, Outputs
from chatbot_deploy.deploy.unit import Found, Job, Unit
from chatbot_deploy.names import TAG_KEY


def get_log_group(ctx: DeployContext, kind: str) -> dict[str, Any] | None:
    name = ctx.names.log_group(kind)
    groups = ctx.client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    return next((dict(group) for group in groups if group["logGroupName"] == name), None)


def ensure_log_group(ctx: DeployContext, kind: str) -> Outcome:
    logs = ctx.client("logs")
    name = ctx.names.log_group(kind)
    group = get_log_group(ctx, kind)
    changes = []
    if group is None:
        try:
            logs.create_log_group(logGroupName=name, tags=ctx.names.tags)
            changes.append("created")
        except botocore.exceptions.ClientError as exc:
            # The function may have been invoked (and the group made) in the meantime.
            if error_code(exc) != "ResourceAlreadyExistsException":
                raise
    elif not _tagged(ctx, group):  # made by Lambda on a first invocation: untagged
        logs.tag_resource(resourceArn=_arn(group), tags=ctx.names.tags)
        changes.append("tagged")
    if group is None or group.get("retentionInDays") != ctx.log_retention_days:
        logs.put_retention_policy(logGroupName=name, retentionInDays=ctx.log_retention_days)
        if group is not None:
            changes.append(f"retention {ctx.log_retention_days} days")
    return Outcome(", ".join(changes) or "unchanged", name, bool(changes))


def delete_log_group(ctx: DeployContext, kind: str) -> bool:
    name = ctx.names.log_group(kind)
    return succeeded(
        lambda: ctx.client("logs").delete_log_group(logGroupName=name),
        unless="ResourceNotFoundException",
    )


def _arn(group: dict[str, Any]) -> str:
    return str(group.get("logGroupArn") or str(group["arn"]).removesuffix(":*"))


def _tagged(ctx: DeployContext, group: dict[str, Any]) -> bool:
    tags = ctx.client("logs").list_tags_for_resource(resourceArn=_arn(group)).get("tags", {})
    return bool(tags.get(TAG_KEY) == ctx.names.stack)


def find_log_groups(ctx: DeployContext) -> list[Found]:
    """The stack's functions' log groups: those of the spec's functions by name, and any
    other "/aws/lambda/<stack>-*" group tagged for the stack (a removed function's)."""
    prefix = ctx.names.log_group("")
    wanted = set(app_spec.FUNCTION_KINDS)
    found = []
    paginator = ctx.client("logs").get_paginator("describe_log_groups")
    for page in paginator.paginate(logGroupNamePrefix=prefix):
        for group in page["logGroups"]:
            kind = str(group["logGroupName"]).removeprefix(prefix)
            if kind in wanted or _tagged(ctx, group):
                retention = group.get("retentionInDays", "never expires")
                found.append(
                    Found("log-group", str(group["logGroupName"]), kind, f"retention {retention}")
                )
    return found


class LogGroups(Unit):
    kind = "log-group"
    title = "Log group"

    def wanted(self, ctx: DeployContext) -> list[str]:
        return list(app_spec.FUNCTION_KINDS)

    def name(self, ctx: DeployContext, key: str) -> str:
        return ctx.names.log_group(key)

    def ensure(self, job: Job, key: str, inputs: Outputs) -> Outcome:
        return ensure_log_group(job.ctx, key)

    def find(self, ctx: DeployContext) -> list[Found]:
        return find_log_groups(ctx)

    def delete(self, ctx: DeployContext, found: Found) -> bool:
        return delete_log_group(ctx, found.key)
