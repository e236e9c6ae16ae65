"""What exists of a stack, found by deterministic names (and by tag for HTTP APIs).

`status` shows it; `teardown` deletes what it lists. Reads only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chatbot_deploy.deploy import api, bucket, functions, iam, layer_versions, logs, params, table
from chatbot_deploy.deploy.context import DeployContext
from chatbot_deploy.names import FUNCTION_KINDS


@dataclass(frozen=True)
class Resource:
    kind: str  # "function", "role", "log-group", "layer", "parameter", "table", "bucket", "api"
    name: str
    present: bool
    detail: str = ""
    key: str = ""  # function kind, parameter name, API id ...

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "present": self.present,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Inventory:
    stack: str
    region: str
    resources: list[Resource] = field(default_factory=list)
    website_url: str | None = None
    api_url: str | None = None

    @property
    def present(self) -> list[Resource]:
        return [resource for resource in self.resources if resource.present]

    def as_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "region": self.region,
            "website_url": self.website_url,
            "api_url": self.api_url,
            "deployed": bool(self.resources) and all(r.present for r in self.resources),
            "resources": [resource.as_dict() for resource in self.resources],
        }


def take(ctx: DeployContext) -> Inventory:
    names = ctx.names
    found: list[Resource] = []
    apis = api.find_apis(ctx)
    if apis:
        found += [
            Resource("api", names.api_name, True, str(item["ApiEndpoint"]), str(item["ApiId"]))
            for item in apis
        ]
    else:
        found.append(Resource("api", names.api_name, False))
    for kind in FUNCTION_KINDS:
        function = functions.get_function(ctx, kind)
        detail = ""
        if function is not None:
            config = function["Configuration"]
            modified = str(config.get("LastModified", "?"))[:19].replace("T", " ")
            detail = f"{config.get('State', '?')}, modified {modified}"
        found.append(Resource("function", names.function(kind), function is not None, detail, kind))
    for kind in FUNCTION_KINDS:
        found.append(
            Resource("role", names.role(kind), iam.get_role(ctx, kind) is not None, "", kind)
        )
    for kind in FUNCTION_KINDS:
        group = logs.get_log_group(ctx, kind)
        detail = f"retention {group.get('retentionInDays', 'never expires')}" if group else ""
        found.append(Resource("log-group", names.log_group(kind), group is not None, detail, kind))
    versions = layer_versions.list_versions(ctx)
    found.append(
        Resource(
            "layer",
            names.layer,
            bool(versions),
            ", ".join(f"version {v['Version']}" for v in versions),
        )
    )
    for name in (names.jwt_secret_param, names.openai_key_param):
        found.append(Resource("parameter", name, params.get_value(ctx, name) is not None, "", name))
    users = table.get_table(ctx)
    found.append(
        Resource(
            "table", names.users_table, users is not None, (users or {}).get("TableStatus", "")
        )
    )
    has_bucket = bucket.bucket_exists(ctx)
    found.append(Resource("bucket", ctx.bucket, has_bucket, ctx.website_url if has_bucket else ""))
    return Inventory(
        stack=names.stack,
        region=ctx.region,
        resources=found,
        website_url=ctx.website_url if has_bucket else None,
        api_url=str(apis[0]["ApiEndpoint"]) if apis else None,
    )
