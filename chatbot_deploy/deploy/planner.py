"""The steps of `up` and of `teardown`, and what `status` shows, derived from the units.

`up`: one step per wanted instance of each unit, after every instance of the kinds in its
`after`; then one sweep per unit, which removes what exists of the stack but the spec no
longer wants, once everything that could use it has been updated (the ensure steps and
sweeps of the units that come after it). `teardown`: one step per resource found, each after
the resources of the kinds that come after it: the reverse of `up`'s order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from chatbot_deploy.deploy.context import DeployContext
from chatbot_deploy.deploy.graph import Outcome, Outputs, Step
from chatbot_deploy.deploy.resources import UNITS
from chatbot_deploy.deploy.unit import Found, Job, Unit, step_key


def _dependents(units: Sequence[Unit]) -> dict[str, list[Unit]]:
    return {unit.kind: [other for other in units if unit.kind in other.after] for unit in units}


def plan_up(job: Job, units: Sequence[Unit] = UNITS) -> list[Step]:
    ctx = job.ctx
    ensure_keys = {u.kind: [step_key(u.kind, key) for key in u.wanted(ctx)] for u in units}
    steps: list[Step] = []
    for unit in units:
        needs = tuple(key for kind in unit.after for key in ensure_keys[kind])
        for key in unit.wanted(ctx):
            steps.append(
                Step(step_key(unit.kind, key), unit.step_title(key), _ensure(unit, job, key), needs)
            )
    dependents = _dependents(units)
    for unit in units:
        if not unit.sweeps:
            continue
        after: list[str] = list(ensure_keys[unit.kind])
        for other in dependents[unit.kind]:
            after += ensure_keys[other.kind]
            if other.sweeps:
                after.append(f"sweep:{other.kind}")
        steps.append(
            Step(
                f"sweep:{unit.kind}",
                f"{unit.title}: unused",
                _sweep(unit, ctx),
                tuple(after),
                quiet=True,
            )
        )
    return steps


def _ensure(unit: Unit, job: Job, key: str) -> Callable[[Outputs], Outcome]:
    return lambda inputs: unit.ensure(job, key, inputs)


def _sweep(unit: Unit, ctx: DeployContext) -> Callable[[Outputs], Outcome]:
    def run(inputs: Outputs) -> Outcome:
        keep = unit.keep(ctx, inputs)
        removed = [
            found.name
            for found in unit.find(ctx)
            if found.key not in keep and unit.delete(ctx, found)
        ]
        if not removed:
            return Outcome("nothing to remove")
        return Outcome(f"removed {', '.join(removed)}", changed=True)

    return run


def deletable(found: Sequence[Found], units: Sequence[Unit] = UNITS) -> list[Found]:
    """What teardown deletes itself: not the parts that go with their resource."""
    by_kind = {unit.kind: unit for unit in units}
    return [item for item in found if by_kind[item.kind].part_of is None]


def plan_teardown(
    ctx: DeployContext, found: Sequence[Found], units: Sequence[Unit] = UNITS
) -> list[Step]:
    by_kind = {unit.kind: unit for unit in units}
    targets = deletable(found, units)
    keys: dict[str, list[str]] = {}
    for item in targets:
        keys.setdefault(item.kind, []).append(_delete_key(item))
    dependents = _dependents(units)
    return [
        Step(
            _delete_key(item),
            f"{by_kind[item.kind].title} {item.name}",
            _delete(by_kind[item.kind], ctx, item),
            tuple(key for other in dependents[item.kind] for key in keys.get(other.kind, [])),
        )
        for item in targets
    ]


def _delete_key(item: Found) -> str:
    return f"delete:{item.kind}:{item.key or item.name}"


def _delete(unit: Unit, ctx: DeployContext, item: Found) -> Callable[[Outputs], Outcome]:
    def run(_: Outputs) -> Outcome:
        if unit.delete(ctx, item):
            return Outcome("deleted", changed=True)
        return Outcome("already gone")

    return run
