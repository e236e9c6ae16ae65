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
from chatbot_deploy.deploy.graph import Outcome


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


def delete_versions(ctx: DeployContext, keep: str | None = None) -> list[int]:
    """Delete every version of the stack's layer except the one whose ARN is `keep`."""
    deleted = []
    for version in list_versions(ctx):
        if version["LayerVersionArn"] == keep:
            continue
        ctx.client("lambda").delete_layer_version(
            LayerName=ctx.names.layer, VersionNumber=int(version["Version"])
        )
        deleted.append(int(version["Version"]))
    return deleted


def clean_old_versions(ctx: DeployContext, current: str) -> Outcome:
    deleted = delete_versions(ctx, keep=current)
    if not deleted:
        return Outcome("nothing to clean")
    return Outcome(f"deleted old versions {', '.join(map(str, deleted))}", changed=True)
