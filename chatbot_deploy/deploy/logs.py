"""CloudWatch log groups, created before the functions so they get a retention (a group that
Lambda creates on first invocation never expires)."""

from __future__ import annotations

from typing import Any

import botocore.exceptions

from chatbot_deploy.aws import error_code, succeeded
from chatbot_deploy.deploy.context import DeployContext
from chatbot_deploy.deploy.graph import Outcome


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
