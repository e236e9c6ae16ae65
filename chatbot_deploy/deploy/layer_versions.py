"""Publishing the dependency layer: a new version only when the locked requirements changed.

Each version's Description carries the requirements hash and the architecture it was built
for, so any machine can tell whether the published layer is current without a state file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import botocore.exceptions

from chatbot_deploy.aws import error_code
from chatbot_deploy.deploy.context import RUNTIME, DeployContext
from chatbot_deploy.deploy.graph import Outcome, Outputs
from chatbot_deploy.deploy.unit import Found, Job, Unit


class Artifact(Protocol):
    @property
    def zip_path(self) -> Any: ...

    @property
    def requirements_hash(self) -> str: ...

    @property
    def arch(self) -> str: ...

    @property
    def bytecode_note(self) -> str: ...


LayerBuilder = Callable[[str], Artifact]


def description(ctx: DeployContext, requirements_hash: str, arch: str) -> str:
    return f"chatbot-deploy {ctx.names.stack} deps requirements={requirements_hash} arch={arch}"


def list_versions(ctx: DeployContext) -> list[dict[str, Any]]:
    paginator = ctx.client("lambda").get_paginator("list_layer_versions")
    versions: list[dict[str, Any]] = []
    try:
        for page in paginator.paginate(LayerName=ctx.names.layer):
            versions.extend(page["LayerVersions"])
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return []
        raise
    return sorted(versions, key=lambda version: int(version["Version"]))


def _matching(ctx: DeployContext, wanted: str) -> str | None:
    for version in reversed(list_versions(ctx)):
        if version.get("Description") == wanted:
            return str(version["LayerVersionArn"])
    return None


def ensure_layer(
    ctx: DeployContext, build: LayerBuilder, expected_hash: Callable[[str], str] | None = None
) -> Outcome:
    """Publish the layer unless a version with the same requirements hash exists.

    With `expected_hash` (the hash a build would have), nothing is built when the published
    layer is current, so a new machine does not rebuild it just to find it unchanged."""
    if expected_hash is not None:
        found = _matching(ctx, description(ctx, expected_hash(ctx.arch), ctx.arch))
        if found is not None:
            return Outcome("unchanged", found)
    artifact = build(ctx.arch)
    wanted = description(ctx, artifact.requirements_hash, artifact.arch)
    found = _matching(ctx, wanted)
    if found is not None:
        return Outcome("unchanged", found)
    with open(artifact.zip_path, "rb") as handle:
        published = ctx.client("lambda").publish_layer_version(
            LayerName=ctx.names.layer,
            Description=wanted,
            Content={"ZipFile": handle.read()},
            CompatibleRuntimes=[RUNTIME],
            CompatibleArchitectures=[artifact.arch],
        )
    summary = f"published version {published['Version']}"
    if note := artifact.bytecode_note:
        summary += f" ({note})"
    return Outcome(summary, published["LayerVersionArn"], True)


def find_versions(ctx: DeployContext) -> list[Found]:
    return [
        Found(
            "layer",
            f"{ctx.names.layer}:{version['Version']}",
            str(version["LayerVersionArn"]),
            f"version {version['Version']}",
        )
        for version in list_versions(ctx)
    ]


def delete_version(ctx: DeployContext, arn: str) -> bool:
    """Delete one version (by ARN). Lambda answers a version that is already gone with
    success, so this is idempotent."""
    ctx.client("lambda").delete_layer_version(
        LayerName=ctx.names.layer, VersionNumber=int(arn.rsplit(":", 1)[1])
    )
    return True


class Layer(Unit):
    """The dependency layer: one current version; `up` removes the older ones once every
    function has moved to the current one."""

    kind = "layer"
    title = "Dependency layer"

    def name(self, ctx: DeployContext, key: str) -> str:
        return ctx.names.layer

    def ensure(self, job: Job, key: str, inputs: Outputs) -> Outcome:
        return ensure_layer(job.ctx, job.sources.build_layer, job.sources.layer_hash)

    def find(self, ctx: DeployContext) -> list[Found]:
        return find_versions(ctx)

    def delete(self, ctx: DeployContext, found: Found) -> bool:
        return delete_version(ctx, found.key)

    def keep(self, ctx: DeployContext, outputs: Outputs) -> set[str]:
        return {str(outputs[self.kind])}
