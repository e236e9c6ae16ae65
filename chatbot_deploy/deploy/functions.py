"""The three Lambda functions: created, or updated only where the code or settings differ.

Code is compared by CodeSha256 (the zip is deterministic, so unchanged code is never
re-uploaded). Before every update the function must be Active and its last update finished;
right after a role is created IAM may not yet let Lambda assume it, which is retried.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import botocore.exceptions

from chatbot_deploy import app_spec
from chatbot_deploy.aws import error_code, succeeded
from chatbot_deploy.deploy.context import RUNTIME, DeployContext
from chatbot_deploy.deploy.graph import Outcome, Outputs
from chatbot_deploy.deploy.unit import Found, Job, Unit
from chatbot_deploy.names import TAG_KEY

T = TypeVar("T")

# Seconds to wait between attempts while a new role propagates (about a minute in all).
ROLE_PROPAGATION_DELAYS = (1.0, 2.0, 3.0, 5.0, 8.0, 10.0, 10.0, 10.0, 10.0)
CONFLICT_ATTEMPTS = 5
WAITER_CONFIG = {"Delay": 1, "MaxAttempts": 300}
sleep: Callable[[float], None] = time.sleep  # replaced in tests


@dataclass(frozen=True)
class Code:
    zip_bytes: bytes
    sha256: str  # base64, as Lambda reports CodeSha256


def handler_file(kind: str) -> str:
    """The archive name of a function's handler module ("chatbot_lambda/login.py")."""
    module = app_spec.FUNCTIONS[kind].handler.rsplit(".", 1)[0]
    return module.replace(".", "/") + ".py"


def files_for(kind: str, files: Sequence[tuple[str, Path]]) -> list[tuple[str, Path]]:
    """The package's files less the other functions' handler modules: a change to one
    handler then changes (and re-uploads) only that function's code."""
    others = {handler_file(other) for other in app_spec.FUNCTIONS if other != kind}
    return [(name, path) for name, path in files if name not in others]


def desired_configuration(
    ctx: DeployContext, kind: str, role_arn: str, layer_arn: str
) -> dict[str, Any]:
    spec = app_spec.FUNCTIONS[kind]
    return {
        "Role": role_arn,
        "Handler": spec.handler,
        "Runtime": RUNTIME,
        "Description": spec.description,
        "Timeout": spec.timeout_s,
        "MemorySize": spec.memory_mb,
        "Environment": {"Variables": app_spec.function_environment(kind, ctx.names, ctx.config)},
        "Layers": [layer_arn],
    }


def current_configuration(configuration: dict[str, Any]) -> dict[str, Any]:
    """The same keys as desired_configuration, read from get_function's Configuration."""
    return {
        "Role": configuration.get("Role"),
        "Handler": configuration.get("Handler"),
        "Runtime": configuration.get("Runtime"),
        "Description": configuration.get("Description", ""),
        "Timeout": configuration.get("Timeout"),
        "MemorySize": configuration.get("MemorySize"),
        "Environment": {"Variables": configuration.get("Environment", {}).get("Variables", {})},
        "Layers": [layer["Arn"] for layer in configuration.get("Layers", [])],
    }


def get_function(ctx: DeployContext, kind: str) -> dict[str, Any] | None:
    try:
        return dict(ctx.client("lambda").get_function(FunctionName=ctx.names.function(kind)))
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return None
        raise


def is_role_propagation_error(exc: botocore.exceptions.ClientError) -> bool:
    return error_code(exc) == "InvalidParameterValueException" and "cannot be assumed" in str(exc)


def create_with_role_retry(create: Callable[[], T]) -> T:
    """Call `create`, retrying (bounded) while IAM has not yet propagated a new role."""
    for delay in (*ROLE_PROPAGATION_DELAYS, None):
        try:
            return create()
        except botocore.exceptions.ClientError as exc:
            if delay is None or not is_role_propagation_error(exc):
                raise
            sleep(delay)
    raise AssertionError("unreachable")


def wait_until_ready(ctx: DeployContext, kind: str, configuration: dict[str, Any]) -> None:
    """Wait for a Pending function or an update in progress to finish (the waiters raise if
    it fails)."""
    lam = ctx.client("lambda")
    name = ctx.names.function(kind)
    if configuration.get("State") == "Pending":
        lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=WAITER_CONFIG)
    if configuration.get("LastUpdateStatus") == "InProgress":
        lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=WAITER_CONFIG)


def update_when_free(ctx: DeployContext, kind: str, update: Callable[[], T]) -> T:
    """Run an update; on ResourceConflictException (another update in progress) wait for it
    with the function_updated_v2 waiter and try again, a bounded number of times."""
    lam = ctx.client("lambda")
    name = ctx.names.function(kind)
    for attempt in range(CONFLICT_ATTEMPTS):
        try:
            result = update()
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) != "ResourceConflictException" or attempt == CONFLICT_ATTEMPTS - 1:
                raise
            lam.get_waiter("function_updated_v2").wait(
                FunctionName=name, WaiterConfig=WAITER_CONFIG
            )
            continue
        lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=WAITER_CONFIG)
        return result
    raise AssertionError("unreachable")


def ensure_function(
    ctx: DeployContext, kind: str, code: Code, role_arn: str, layer_arn: str
) -> Outcome:
    lam = ctx.client("lambda")
    name = ctx.names.function(kind)
    desired = desired_configuration(ctx, kind, role_arn, layer_arn)
    existing = get_function(ctx, kind)
    if existing is None:
        created = create_with_role_retry(
            lambda: lam.create_function(
                FunctionName=name,
                Code={"ZipFile": code.zip_bytes},
                Architectures=[ctx.arch],
                Tags=ctx.names.tags,
                **desired,
            )
        )
        if created.get("State") != "Active":
            lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=WAITER_CONFIG)
        return Outcome("created", created["FunctionArn"], True)

    configuration = dict(existing["Configuration"])
    arn = str(configuration["FunctionArn"])
    changes: list[str] = []
    wait_until_ready(ctx, kind, configuration)
    architectures = configuration.get("Architectures", ["x86_64"])  # Lambda's default
    if configuration.get("CodeSha256") != code.sha256 or architectures != [ctx.arch]:
        update_when_free(
            ctx,
            kind,
            lambda: lam.update_function_code(
                FunctionName=name, ZipFile=code.zip_bytes, Architectures=[ctx.arch]
            ),
        )
        changes.append("code")
    if current_configuration(configuration) != desired:
        update_when_free(
            ctx, kind, lambda: lam.update_function_configuration(FunctionName=name, **desired)
        )
        changes.append("configuration")
    tags = existing.get("Tags") or {}
    if any(tags.get(key) != value for key, value in ctx.names.tags.items()):
        lam.tag_resource(Resource=arn, Tags=ctx.names.tags)
        changes.append("tags")
    summary = f"updated {' and '.join(changes)}" if changes else "unchanged"
    return Outcome(summary, arn, bool(changes))


def delete_function(ctx: DeployContext, kind: str) -> bool:
    name = ctx.names.function(kind)
    return succeeded(
        lambda: ctx.client("lambda").delete_function(FunctionName=name),
        unless="ResourceNotFoundException",
    )


def find_functions(ctx: DeployContext) -> list[Found]:
    """The stack's functions: named "<stack>-*" and tagged for the stack, so a function that
    is no longer in the spec is found (and removed) too."""
    lam = ctx.client("lambda")
    prefix = ctx.names.function("")
    found = []
    for page in lam.get_paginator("list_functions").paginate():
        for function in page["Functions"]:
            name = str(function["FunctionName"])
            if not name.startswith(prefix):
                continue
            tags = lam.list_tags(Resource=function["FunctionArn"]).get("Tags", {})
            if tags.get(TAG_KEY) == ctx.names.stack:
                modified = str(function.get("LastModified", "?"))[:19].replace("T", " ")
                found.append(
                    Found("function", name, name.removeprefix(prefix), f"modified {modified}")
                )
    return found


class Functions(Unit):
    kind = "function"
    title = "Function"
    after = ("role", "log-group", "layer", "parameter")

    def wanted(self, ctx: DeployContext) -> list[str]:
        return list(app_spec.FUNCTION_KINDS)

    def name(self, ctx: DeployContext, key: str) -> str:
        return ctx.names.function(key)

    def ensure(self, job: Job, key: str, inputs: Outputs) -> Outcome:
        code = job.sources.function_code(key)
        return ensure_function(job.ctx, key, code, inputs[f"role:{key}"], inputs["layer"])

    def find(self, ctx: DeployContext) -> list[Found]:
        return find_functions(ctx)

    def delete(self, ctx: DeployContext, found: Found) -> bool:
        return delete_function(ctx, found.key)
