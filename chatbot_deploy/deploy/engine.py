"""`up`: the steps the planner derives from the resource units, run concurrently over their
dependencies (`graph.py`).

Every step reads first and writes only what differs, so a second `up` makes no write call
and a run that was killed at any point is finished by the next one. See docs/deploy.md for
the order the units' `after` gives.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chatbot_deploy.deploy import api, distribution, functions, planner, socket_api
from chatbot_deploy.deploy.distribution import DistributionInfo
from chatbot_deploy.deploy.graph import Reporter, RunRecord, run_steps
from chatbot_deploy.deploy.unit import Job, Sources

__all__ = ["DeployResult", "Job", "Sources", "default_sources", "up"]


def default_sources() -> Sources:
    from chatbot_deploy.deploy import layer, packaging, site

    def code(kind: str) -> functions.Code:
        data = packaging.deterministic_zip(functions.files_for(kind, packaging.function_files()))
        return functions.Code(data, packaging.code_sha256(data))

    return Sources(
        function_code=code,
        build_layer=lambda arch: layer.build_layer(arch),
        layer_hash=layer.layer_hash,
        build_web=site.build_web,
        sync_site=site.sync_site,
    )


@dataclass(frozen=True)
class DeployResult:
    stack: str
    region: str
    website_url: str
    api_url: str
    socket_url: str
    distribution: DistributionInfo | None
    record: RunRecord

    @property
    def next_steps(self) -> list[str]:
        """What the user must still do, from the outcomes that say so (a value with a
        `next_steps()` method: DNS records to create, a certificate to validate ...)."""
        steps: list[str] = []
        for record in self.record.steps.values():
            value: Any = None if record.outcome is None else record.outcome.value
            if value is not None and hasattr(value, "next_steps"):
                steps += value.next_steps()
        return steps

    @property
    def changed(self) -> list[str]:
        return [
            key
            for key, step in self.record.steps.items()
            if step.outcome is not None and step.outcome.changed
        ]

    def as_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "region": self.region,
            "website_url": self.website_url,
            "api_url": self.api_url,
            "socket_url": self.socket_url,
            "cdn": None
            if self.distribution is None
            else {
                "id": self.distribution.distribution_id,
                "domain_name": self.distribution.domain_name,
                "status": self.distribution.status,
            },
            "next_steps": self.next_steps,
            "changed": self.changed,
            "seconds": round(self.record.finished - self.record.started, 3),
            "steps": {
                key: {
                    "summary": step.outcome.summary if step.outcome else None,
                    "seconds": round(step.seconds, 3),
                }
                for key, step in self.record.steps.items()
            },
        }


def up(
    job: Job,
    reporter: Reporter | None = None,
    *,
    max_workers: int = 16,
    guard: Callable[[], None] | None = None,
) -> DeployResult:
    ctx = job.ctx
    distribution.check_available(ctx)
    steps = planner.plan_up(job)
    record = run_steps(steps, reporter, max_workers=max_workers, guard=guard)
    info: api.ApiInfo = record.value("api")
    socket: socket_api.SocketInfo = record.value("socket-api")
    cdn: DistributionInfo | None = (
        record.value("distribution") if "distribution" in record.steps else None
    )
    return DeployResult(
        stack=ctx.names.stack,
        region=ctx.region,
        website_url=cdn.url if cdn is not None else ctx.website_url,
        distribution=cdn,
        api_url=info.url,
        socket_url=socket.url,
        record=record,
    )
