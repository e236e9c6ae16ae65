"""The origin access control that lets the stack's CloudFront distribution read the private
site bucket (requests signed with SigV4; the bucket's policy names the distribution).

Found by its name (`names.site_access_control(region)`, unique in the account: CloudFront is
global). Removed by the sweep once the distribution that uses it is gone (`--no-cdn`).
"""

from __future__ import annotations

from typing import Any

from chatbot_deploy.deploy import distribution
from chatbot_deploy.deploy.context import DeployContext
from chatbot_deploy.deploy.graph import Outcome, Outputs
from chatbot_deploy.deploy.unit import Found, Job, Unit, differs

SETTINGS = {
    "SigningProtocol": "sigv4",
    "SigningBehavior": "always",
    "OriginAccessControlOriginType": "s3",
}


def _description(ctx: DeployContext) -> str:
    return f"chatbot-deploy stack {ctx.names.stack} ({ctx.region}): CloudFront reads the site"


def find_controls(ctx: DeployContext) -> list[dict[str, Any]]:
    name = ctx.names.site_access_control(ctx.region)
    paginator = ctx.client("cloudfront").get_paginator("list_origin_access_controls")
    return [
        dict(item)
        for page in paginator.paginate()
        for item in page.get("OriginAccessControlList", {}).get("Items", []) or []
        if item.get("Name") == name
    ]


def ensure_control(ctx: DeployContext) -> Outcome:
    client = ctx.client("cloudfront")
    existing = find_controls(ctx)
    if existing:
        control = existing[0]
        if differs(control, SETTINGS):
            etag = client.get_origin_access_control(Id=control["Id"])["ETag"]
            client.update_origin_access_control(
                Id=control["Id"],
                IfMatch=etag,
                OriginAccessControlConfig={
                    "Name": control["Name"],
                    "Description": _description(ctx),
                    **SETTINGS,
                },
            )
            return Outcome("updated", str(control["Id"]), True)
        return Outcome("unchanged", str(control["Id"]))
    created = client.create_origin_access_control(
        OriginAccessControlConfig={
            "Name": ctx.names.site_access_control(ctx.region),
            "Description": _description(ctx),
            **SETTINGS,
        }
    )
    return Outcome("created", str(created["OriginAccessControl"]["Id"]), True)


def delete_control(ctx: DeployContext, control_id: str) -> bool:
    return distribution.delete_with_etag(
        ctx, "origin_access_control", control_id, "NoSuchOriginAccessControl"
    )


class SiteAccess(Unit):
    kind = "site-access"
    title = "Origin access control"

    def wanted(self, ctx: DeployContext) -> list[str]:
        return [""] if ctx.settings.cdn else []

    def name(self, ctx: DeployContext, key: str) -> str:
        return ctx.names.site_access_control(ctx.region)

    def ensure(self, job: Job, key: str, inputs: Outputs) -> Outcome:
        return ensure_control(job.ctx)

    def find(self, ctx: DeployContext) -> list[Found]:
        return [Found(self.kind, str(item["Name"]), str(item["Id"])) for item in find_controls(ctx)]

    def delete(self, ctx: DeployContext, found: Found) -> bool:
        return delete_control(ctx, found.key)

    def keep(self, ctx: DeployContext, outputs: Outputs) -> set[str]:
        kept = outputs.get(self.kind)
        return {kept} if kept else set()
