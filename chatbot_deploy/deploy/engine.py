"""`up` as a graph of steps: each ensures one resource and depends only on what it needs.

    role:*  logs:*  layer        web  params  table  bucket     (no dependencies)
       └───────┼───────┘          │                     │
           function:* ── layer-cleanup                  │
               │                  │                     │
              api ── permission:* │                     │
               └──────────────── site ──────────────────┘

Every step reads first and writes only what differs, so a second `up` makes no write call
and a run that was killed at any point is finished by the next one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatbot_deploy import app_spec, webconfig
from chatbot_deploy.deploy import (
    api,
    bucket,
    functions,
    iam,
    layer_versions,
    logs,
    params,
    permissions,
    table,
)
from chatbot_deploy.deploy.context import DeployContext
from chatbot_deploy.deploy.graph import Outcome, Outputs, Reporter, RunRecord, Step, run_steps
from chatbot_deploy.names import FUNCTION_KINDS


@dataclass(frozen=True)
class Sources:
    """The local artifacts `up` deploys; injected so tests need no pip, npm or network."""

    function_code: Callable[[str], functions.Code]  # by function kind
    build_layer: layer_versions.LayerBuilder
    layer_hash: Callable[[str], str] | None
    build_web: Callable[[], Path]
    sync_site: Callable[[Any, str, Path, bytes], Any]


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
    record: RunRecord

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


def plan_up(ctx: DeployContext, sources: Sources, openai_key: str | None) -> list[Step]:
    """The steps of `up` and their dependencies (nothing runs here)."""

    def run_function(kind: str) -> Callable[[Outputs], Outcome]:
        def run(inputs: Outputs) -> Outcome:
            return functions.ensure_function(
                ctx, kind, sources.function_code(kind), inputs[f"role:{kind}"], inputs["layer"]
            )

        return run

    def run_sync(inputs: Outputs) -> Outcome:
        info: api.ApiInfo = inputs["api"]
        config_json = webconfig.runtime_config_bytes(info.url, ctx.names.stack)
        result = sources.sync_site(ctx.client("s3"), inputs["bucket"], inputs["web"], config_json)
        changed = bool(result.uploaded or result.deleted)
        summary = (
            f"{len(result.uploaded)} uploaded, {len(result.deleted)} deleted, "
            f"{len(result.unchanged)} unchanged"
        )
        return Outcome(summary, ctx.website_url, changed)

    def run_permission(kind: str) -> Callable[[Outputs], Outcome]:
        def run(inputs: Outputs) -> Outcome:
            info: api.ApiInfo = inputs["api"]
            if kind == app_spec.AUTHORIZER_FUNCTION:
                source = permissions.authorizer_source_arn(ctx, info.api_id, info.authorizer_id)
            else:
                source = permissions.route_source_arn(ctx, info.api_id)
            return permissions.ensure_invoke_permission(ctx, kind, source)

        return run

    def run_web(_: Outputs) -> Outcome:
        return Outcome("ready", sources.build_web())

    steps: list[Step] = [
        Step(
            "layer",
            "Dependency layer",
            lambda _: layer_versions.ensure_layer(ctx, sources.build_layer, sources.layer_hash),
        ),
        Step("web", "Web app build", run_web),
        Step("params", "SSM parameters", lambda _: _ensure_params(ctx, openai_key)),
        Step("table", "Users table", lambda _: table.ensure_table(ctx)),
        Step("bucket", "Site bucket", lambda _: bucket.ensure_bucket(ctx)),
    ]
    for kind in FUNCTION_KINDS:
        steps += [
            Step(f"role:{kind}", f"IAM role {kind}", _bind(iam.ensure_role, ctx, kind)),
            Step(f"logs:{kind}", f"Log group {kind}", _bind(logs.ensure_log_group, ctx, kind)),
            Step(
                f"function:{kind}",
                f"Function {kind}",
                run_function(kind),
                after=(f"role:{kind}", f"logs:{kind}", "layer"),
            ),
        ]
    function_steps = tuple(f"function:{kind}" for kind in FUNCTION_KINDS)
    steps.append(
        Step(
            "api",
            "HTTP API",
            lambda inputs: api.ensure_api(
                ctx, {kind: inputs[f"function:{kind}"] for kind in FUNCTION_KINDS}
            ),
            after=function_steps,
        )
    )
    for kind in FUNCTION_KINDS:
        steps.append(
            Step(f"permission:{kind}", f"Invoke permission {kind}", run_permission(kind), ("api",))
        )
    steps += [
        Step(
            "layer-cleanup",
            "Old layer versions",
            lambda inputs: layer_versions.clean_old_versions(ctx, inputs["layer"]),
            after=("layer", *function_steps),
        ),
        Step("site", "Website files", run_sync, after=("web", "bucket", "api")),
    ]
    return steps


def _bind(
    func: Callable[[DeployContext, str], Outcome], ctx: DeployContext, kind: str
) -> Callable[[Outputs], Outcome]:
    return lambda _: func(ctx, kind)


def _ensure_params(ctx: DeployContext, openai_key: str | None) -> Outcome:
    outcomes = {
        "JWT secret": params.ensure_jwt_secret(ctx),
        "OpenAI key": params.ensure_openai_key(ctx, openai_key),
    }
    changed = [f"{label} {o.summary}" for label, o in outcomes.items() if o.changed]
    return Outcome(", ".join(changed) or "unchanged", None, bool(changed))


def up(
    ctx: DeployContext,
    sources: Sources,
    openai_key: str | None,
    reporter: Reporter | None = None,
    *,
    max_workers: int = 8,
) -> DeployResult:
    record = run_steps(plan_up(ctx, sources, openai_key), reporter, max_workers=max_workers)
    info: api.ApiInfo = record.value("api")
    return DeployResult(
        stack=ctx.names.stack,
        region=ctx.region,
        website_url=ctx.website_url,
        api_url=info.url,
        record=record,
    )
