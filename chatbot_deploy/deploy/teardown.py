"""`teardown`: delete what the inventory found, in the reverse order of `up` (the planner
derives it from the units' `after`). Only resources that are present get a step, so a second
teardown makes no write call."""

from __future__ import annotations

from collections.abc import Callable

from chatbot_deploy.deploy import planner
from chatbot_deploy.deploy.context import DeployContext
from chatbot_deploy.deploy.graph import Reporter, RunRecord, run_steps
from chatbot_deploy.deploy.inventory import Inventory


def teardown(
    ctx: DeployContext,
    inventory: Inventory,
    reporter: Reporter | None = None,
    *,
    guard: Callable[[], None] | None = None,
) -> RunRecord:
    return run_steps(planner.plan_teardown(ctx, inventory.found), reporter, guard=guard)
