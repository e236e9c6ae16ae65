"""`teardown`: delete what the inventory found, in dependency order (the API before the
functions it invokes, functions before their roles and log groups). Only resources that are
present get a step, so a second teardown makes no write call."""

from __future__ import annotations

from collections.abc import Callable

from chatbot_deploy.deploy import api, bucket, functions, iam, layer_versions, logs, params, table
from chatbot_deploy.deploy.context import DeployContext
from chatbot_deploy.deploy.graph import Outcome, Outputs, Reporter, RunRecord, Step, run_steps
from chatbot_deploy.deploy.inventory import Inventory, Resource


def _deleted(done: object) -> Outcome:
    gone = done is False or done == -1 or done == []
    return Outcome("already gone" if gone else "deleted", None, not gone)


def _step_for(ctx: DeployContext, resource: Resource) -> Callable[[Outputs], Outcome]:
    deleters: dict[str, Callable[[], object]] = {
        "api": lambda: api.delete_apis(ctx),
        "function": lambda: functions.delete_function(ctx, resource.key),
        "role": lambda: iam.delete_role(ctx, resource.key),
        "log-group": lambda: logs.delete_log_group(ctx, resource.key),
        "layer": lambda: layer_versions.delete_versions(ctx),
        "parameter": lambda: params.delete_parameter(ctx, resource.key),
        "table": lambda: table.delete_table(ctx),
        "bucket": lambda: bucket.delete_bucket(ctx),
    }
    delete = deleters[resource.kind]
    return lambda _: _deleted(delete())


# kind -> kinds that must be gone first
ORDER = {
    "function": ("api",),
    "role": ("function",),
    "log-group": ("function",),
    "layer": ("function",),
}


def plan_teardown(ctx: DeployContext, inventory: Inventory) -> list[Step]:
    steps: list[Step] = []
    keys: dict[str, list[str]] = {}
    seen_api = False
    for resource in inventory.present:
        if resource.kind == "api":
            if seen_api:  # one step deletes every API tagged for the stack
                continue
            seen_api = True
        key = f"{resource.kind}:{resource.name}"
        keys.setdefault(resource.kind, []).append(key)
        steps.append(Step(key, f"{resource.kind} {resource.name}", _step_for(ctx, resource)))
    return [
        Step(
            step.key,
            step.title,
            step.run,
            tuple(
                dep
                for kind in ORDER.get(step.key.split(":", 1)[0], ())
                for dep in keys.get(kind, [])
            ),
        )
        for step in steps
    ]


def teardown(
    ctx: DeployContext, inventory: Inventory, reporter: Reporter | None = None
) -> RunRecord:
    return run_steps(plan_teardown(ctx, inventory), reporter)
