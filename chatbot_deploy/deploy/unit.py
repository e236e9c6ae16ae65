"""A resource type as one unit: what the spec wants of it, how to ensure one, how to find
what exists of the stack (by name and tag), and how to delete one.

`up`, `status` and `teardown` are all derived from the list of units in `resources.py`
(`planner.py` builds their steps): `up` ensures what is wanted and removes what the spec no
longer has; `status` lists what exists and what is missing; `teardown` deletes everything
found, in the reverse order of `after`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from chatbot_deploy.deploy.context import DeployContext
from chatbot_deploy.deploy.graph import Outcome, Outputs

if TYPE_CHECKING:
    from chatbot_deploy.deploy.functions import Code
    from chatbot_deploy.deploy.layer_versions import LayerBuilder


@dataclass(frozen=True)
class Sources:
    """The local artifacts `up` deploys; injected so tests need no pip, npm or network."""

    function_code: Callable[[str], Code]  # by function kind
    build_layer: LayerBuilder
    layer_hash: Callable[[str], str] | None
    build_web: Callable[[], Path]
    sync_site: Callable[[Any, str, Path, bytes], Any]


@dataclass(frozen=True)
class Job:
    """One run of `up`: where and with which settings (ctx), what to deploy (sources), and
    the OpenAI key the user gave."""

    ctx: DeployContext
    sources: Sources
    openai_key: str | None = None  # None: keep the stored key


@dataclass(frozen=True)
class Found:
    """One resource of the stack that exists in AWS."""

    kind: str
    name: str  # what a person sees: the resource's name or id
    key: str  # the unit's key for it: function kind, table key, API id, layer version ARN ...
    detail: str = ""


def differs(current: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    """True when a resource's settings as read lack or differ in one of `desired`'s (AWS
    adds settings of its own: those are not compared)."""
    return any(current.get(key) != value for key, value in desired.items())


def step_key(kind: str, key: str) -> str:
    return f"{kind}:{key}" if key else kind


class Unit:
    """The interface every resource type implements. Defaults suit a singleton resource
    (key "") that is never swept."""

    kind: ClassVar[str]
    title: ClassVar[str]  # "IAM role", "Function" ...
    after: ClassVar[tuple[str, ...]] = ()  # kinds ensured before it (teardown: deleted after)
    part_of: ClassVar[str | None] = None  # deleted with a resource of that kind (no own step)
    listed: ClassVar[bool] = True  # a resource of the stack (False: a build, not in AWS)
    sweeps: ClassVar[bool] = True  # `up` removes found instances the spec no longer wants

    def wanted(self, ctx: DeployContext) -> list[str]:
        """The keys of the instances the spec wants."""
        return [""]

    def name(self, ctx: DeployContext, key: str) -> str:
        """The AWS name of the instance `key` (shown by `status` when missing)."""
        raise NotImplementedError

    def ensure(self, job: Job, key: str, inputs: Outputs) -> Outcome:
        """Create or update the instance `key` so it is as the spec wants; `inputs` holds the
        outcomes' values of every instance of the kinds in `after`."""
        raise NotImplementedError

    def find(self, ctx: DeployContext) -> list[Found]:
        """Every instance of the stack that exists, wanted or not."""
        return []

    def delete(self, ctx: DeployContext, found: Found) -> bool:
        """Delete one; False if it was already gone."""
        raise NotImplementedError

    def keep(self, ctx: DeployContext, outputs: Outputs) -> set[str]:
        """The found keys `up` keeps; the others are removed once nothing uses them.
        `outputs` has this kind's ensure outcomes (for identities only known after ensuring,
        such as an API id or a layer version)."""
        return set(self.wanted(ctx))

    def missing(self, ctx: DeployContext, found: list[Found]) -> list[str]:
        """Wanted instances that do not exist (their names), for `status`. A singleton
        (key "") is there when anything of its kind is: its found keys are ids (an API id, a
        layer version ARN)."""
        wanted = self.wanted(ctx)
        if wanted == [""]:
            return [] if found else [self.name(ctx, "")]
        have = {item.key for item in found}
        return [self.name(ctx, key) for key in wanted if key not in have]

    def step_title(self, key: str) -> str:
        return f"{self.title} {key}".strip()
