"""The response headers policy CloudFront adds to every answer of the site, its API and its
WebSocket: the headers `site_headers.security_headers` defines (HSTS, the CSP as a header with
`frame-ancestors 'none'`, X-Frame-Options, X-Content-Type-Options, Referrer-Policy).

Policies have no tags: found by name (`names.headers_policy(region)`, unique in the account).
The CSP comes from the web app being deployed (its index.html's meta), so the policy follows
the app. An emulator without these policies (moto 5.2's server) gets none, and the
distribution is made without one (`emulators.lacks_call`); against AWS every error counts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import botocore.exceptions

from chatbot_deploy import site_headers
from chatbot_deploy.deploy import distribution, emulators
from chatbot_deploy.deploy.context import DeployContext
from chatbot_deploy.deploy.graph import Outcome, Outputs
from chatbot_deploy.deploy.unit import Found, Job, Unit, differs

NOT_EMULATED = "not available on this emulator (the distribution goes without)"


def security_config(headers: dict[str, str]) -> dict[str, Any]:
    """CloudFront's SecurityHeadersConfig for `headers` (site_headers.security_headers);
    every header overrides one an origin might send."""
    return {
        "StrictTransportSecurity": {
            "Override": True,
            "IncludeSubdomains": False,
            "Preload": False,
            "AccessControlMaxAgeSec": site_headers.HSTS_MAX_AGE_S,
        },
        "ContentSecurityPolicy": {
            "Override": True,
            "ContentSecurityPolicy": headers["content-security-policy"],
        },
        "FrameOptions": {"Override": True, "FrameOption": headers["x-frame-options"]},
        "ContentTypeOptions": {"Override": True},
        "ReferrerPolicy": {"Override": True, "ReferrerPolicy": headers["referrer-policy"]},
    }


def desired_config(ctx: DeployContext, dist: Path) -> dict[str, Any]:
    headers = site_headers.security_headers(site_headers.build_csp(dist), https=True)
    return {
        "Name": ctx.names.headers_policy(ctx.region),
        "Comment": f"chatbot-deploy stack {ctx.names.stack} ({ctx.region})",
        "SecurityHeadersConfig": security_config(headers),
    }


def find_policies(ctx: DeployContext) -> list[dict[str, Any]]:
    """The stack's policies: {"Id", "ResponseHeadersPolicyConfig", ...}."""
    client = emulators.probe(ctx, "cloudfront")  # an emulator may lack the call: try once
    name = ctx.names.headers_policy(ctx.region)
    found: list[dict[str, Any]] = []
    marker: str | None = None
    while True:  # botocore has no paginator for this call
        page = client.list_response_headers_policies(
            Type="custom", **({"Marker": marker} if marker else {})
        )["ResponseHeadersPolicyList"]
        for item in page.get("Items", []) or []:
            policy = item["ResponseHeadersPolicy"]
            if policy["ResponseHeadersPolicyConfig"].get("Name") == name:
                found.append(dict(policy))
        marker = page.get("NextMarker")
        if not marker:
            return found


def _find(ctx: DeployContext) -> list[dict[str, Any]] | None:
    """find_policies, or None on an emulator without response headers policies."""
    try:
        return find_policies(ctx)
    except (botocore.exceptions.ClientError, NotImplementedError) as exc:
        if emulators.lacks_call(ctx.client("cloudfront"), exc):
            return None
        raise


def ensure_policy(ctx: DeployContext, dist: Path) -> Outcome:
    client = ctx.client("cloudfront")
    desired = desired_config(ctx, dist)
    existing = _find(ctx)
    if existing is None:
        return Outcome(NOT_EMULATED, None)
    if not existing:
        created = client.create_response_headers_policy(ResponseHeadersPolicyConfig=desired)
        return Outcome("created", str(created["ResponseHeadersPolicy"]["Id"]), True)
    policy = existing[0]
    if not differs(policy["ResponseHeadersPolicyConfig"], desired):
        return Outcome("unchanged", str(policy["Id"]))
    etag = client.get_response_headers_policy(Id=policy["Id"])["ETag"]
    client.update_response_headers_policy(
        Id=policy["Id"], IfMatch=etag, ResponseHeadersPolicyConfig=desired
    )
    return Outcome("updated", str(policy["Id"]), True)


def delete_policy(ctx: DeployContext, policy_id: str) -> bool:
    return distribution.delete_with_etag(
        ctx, "response_headers_policy", policy_id, "NoSuchResponseHeadersPolicy"
    )


class HeadersPolicy(Unit):
    kind = "headers-policy"
    title = "Response headers policy"
    after = ("web",)

    def wanted(self, ctx: DeployContext) -> list[str]:
        return [""] if ctx.settings.cdn else []

    def name(self, ctx: DeployContext, key: str) -> str:
        return ctx.names.headers_policy(ctx.region)

    def ensure(self, job: Job, key: str, inputs: Outputs) -> Outcome:
        return ensure_policy(job.ctx, inputs["web"])

    def find(self, ctx: DeployContext) -> list[Found]:
        return [
            Found(self.kind, str(p["ResponseHeadersPolicyConfig"]["Name"]), str(p["Id"]))
            for p in _find(ctx) or []
        ]

    def missing(self, ctx: DeployContext, found: list[Found]) -> list[str]:
        if not found and self.wanted(ctx) and _find(ctx) is None:
            return []  # an emulator without them: nothing could be made
        return super().missing(ctx, found)

    def delete(self, ctx: DeployContext, found: Found) -> bool:
        return delete_policy(ctx, found.key)

    def keep(self, ctx: DeployContext, outputs: Outputs) -> set[str]:
        kept = outputs.get(self.kind)
        return {kept} if kept else set()
