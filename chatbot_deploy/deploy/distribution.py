"""The CloudFront distribution: the website over HTTPS, with the HTTP API and the WebSocket
API on the same origin (docs/https.md).

- The site: the private bucket through an origin access control, cached (CloudFront's
  managed "CachingOptimized" policy; hashed assets are cached for a year by their
  Cache-Control, index.html and config.json are `no-cache`: revalidated after at most the
  policy's 1-s minimum TTL, so no invalidation is needed after an `up`).
- The API's paths (`app_spec.site_api_paths()`) and the WebSocket path
  (`app_spec.SOCKET_PATH`): forwarded uncached ("CachingDisabled") with every viewer header
  but Host, and the query string ("AllViewerExceptHostHeader": with caching disabled it
  forwards `Authorization` too). The managed policies have fixed IDs: nothing to create.
- Every answer gets the stack's response headers policy (HSTS, CSP, frame options ...).

A distribution has no name: the stack's is the one whose comment starts with
`names.distribution_comment(region)`; the rest of the comment is a digest of the
configuration it was given, so `up` reads one configuration and writes only when the digest
differs (a no-op `up` makes no write; CloudFront's own normalisation of the config does not
matter). `up` does not wait for CloudFront to deploy a change (minutes): the outcome says
so and `status` shows InProgress or Deployed.

Deleting one is AWS's sequence: disable (with the ETag), wait until Deployed (botocore's
`distribution_deployed` waiter), delete with the new ETag. Each step reads the state first,
so a teardown interrupted anywhere is continued by the next.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from chatbot_deploy import app_spec
from chatbot_deploy.aws import error_code, succeeded
from chatbot_deploy.deploy.context import DeployContext
from chatbot_deploy.deploy.graph import Outcome, Outputs
from chatbot_deploy.deploy.unit import Found, Job, Unit
from chatbot_deploy.errors import UserError

# CloudFront's managed policies (fixed IDs, the same in every account).
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"

SITE_ORIGIN = "site"
API_ORIGIN = "api"
SOCKET_ORIGIN = "socket"
INDEX = "index.html"
READ_METHODS = ("GET", "HEAD")
ALL_METHODS = ("GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE")
# API Gateway ends an HTTP API request after 30 s: CloudFront waits as long.
API_READ_TIMEOUT_S = 30
# botocore's waiter polls every 60 s by default; a quarter of that, for up to 20 minutes.
WAITER_CONFIG = {"Delay": 15, "MaxAttempts": 80}
CLOUDFRONT_ZONE_ID = "Z2FDTNDATAQYW2"  # Route 53's hosted zone ID for every distribution
DEPLOYING = "CloudFront is deploying it: live everywhere in about 5 minutes (`status` shows it)"


@dataclass(frozen=True)
class DistributionInfo:
    distribution_id: str
    arn: str
    domain_name: str  # dxxxx.cloudfront.net
    aliases: tuple[str, ...]  # the --domain, once its certificate is issued
    status: str  # InProgress | Deployed
    enabled: bool

    @property
    def url(self) -> str:
        return f"https://{self.aliases[0] if self.aliases else self.domain_name}"

    @property
    def deployed(self) -> bool:
        return self.status == "Deployed"

    def describe(self) -> str:
        state = self.status if self.enabled else f"disabled, {self.status}"
        return f"{self.url} ({state})"


@dataclass(frozen=True)
class Origins:
    """What the distribution points at: the ensure outcomes of the units it comes after."""

    bucket: str
    access_control_id: str
    headers_policy_id: str | None  # None: an emulator without response headers policies
    api_id: str
    socket_api_id: str
    certificate_arn: str | None = None  # an issued certificate for `domain`
    domain: str | None = None


def _items(values: Any) -> dict[str, Any]:
    items = list(values)
    return {"Quantity": len(items), "Items": items}


def _methods(allowed: tuple[str, ...]) -> dict[str, Any]:
    return {**_items(allowed), "CachedMethods": _items(READ_METHODS)}


def _api_origin(origin_id: str, domain: str) -> dict[str, Any]:
    return {
        "Id": origin_id,
        "DomainName": domain,
        "CustomOriginConfig": {
            "HTTPPort": 80,
            "HTTPSPort": 443,
            "OriginProtocolPolicy": "https-only",
            "OriginSslProtocols": _items(["TLSv1.2"]),
            "OriginReadTimeout": API_READ_TIMEOUT_S,
            "OriginKeepaliveTimeout": 5,
        },
    }


def _behaviour(origin_id: str, policy: str | None, **settings: Any) -> dict[str, Any]:
    behaviour: dict[str, Any] = {
        "TargetOriginId": origin_id,
        "ViewerProtocolPolicy": "redirect-to-https",
        **settings,
    }
    if policy is not None:
        behaviour["ResponseHeadersPolicyId"] = policy
    return behaviour


def _forwarded(path: str, origin_id: str, policy: str | None, methods: tuple[str, ...]) -> Any:
    return {
        "PathPattern": path,
        **_behaviour(
            origin_id,
            policy,
            # a POST redirected from http:// would arrive as a GET: refuse plain HTTP instead
            ViewerProtocolPolicy="https-only",
            AllowedMethods=_methods(methods),
            Compress=False,
            CachePolicyId=CACHING_DISABLED,
            OriginRequestPolicyId=ALL_VIEWER_EXCEPT_HOST,
        ),
    }


def api_domain(ctx: DeployContext, api_id: str) -> str:
    return f"{api_id}.execute-api.{ctx.region}.{ctx.dns_suffix}"


def site_domain(ctx: DeployContext, bucket: str) -> str:
    """The bucket's regional REST endpoint (not its website endpoint: that one is HTTP only
    and public)."""
    return f"{bucket}.s3.{ctx.region}.{ctx.dns_suffix}"


def desired_config(ctx: DeployContext, origins: Origins) -> dict[str, Any]:
    """The distribution's configuration, without CallerReference and Comment."""
    policy = origins.headers_policy_id
    behaviours = [
        _forwarded(path, API_ORIGIN, policy, ALL_METHODS) for path in app_spec.site_api_paths()
    ]
    behaviours.append(_forwarded(app_spec.SOCKET_PATH, SOCKET_ORIGIN, policy, READ_METHODS))
    certificate: dict[str, Any] = {"CloudFrontDefaultCertificate": True}
    aliases: list[str] = []
    if origins.certificate_arn and origins.domain:
        certificate = {
            "ACMCertificateArn": origins.certificate_arn,
            "SSLSupportMethod": "sni-only",
            "MinimumProtocolVersion": "TLSv1.2_2021",
        }
        aliases = [origins.domain]
    return {
        "Aliases": _items(aliases),
        "DefaultRootObject": INDEX,
        "Origins": _items(
            [
                {
                    "Id": SITE_ORIGIN,
                    "DomainName": site_domain(ctx, origins.bucket),
                    "OriginAccessControlId": origins.access_control_id,
                    "S3OriginConfig": {"OriginAccessIdentity": ""},
                },
                _api_origin(API_ORIGIN, api_domain(ctx, origins.api_id)),
                _api_origin(SOCKET_ORIGIN, api_domain(ctx, origins.socket_api_id)),
            ]
        ),
        "DefaultCacheBehavior": _behaviour(
            SITE_ORIGIN,
            policy,
            AllowedMethods=_methods(READ_METHODS),
            Compress=True,
            CachePolicyId=CACHING_OPTIMIZED,
        ),
        "CacheBehaviors": _items(behaviours),
        # None: the app's routes are hash routes (every deep link loads "/"), and an error
        # page would also replace the API's own 403 and 404 answers.
        "CustomErrorResponses": {"Quantity": 0},
        "PriceClass": "PriceClass_All",
        "Enabled": True,
        "ViewerCertificate": certificate,
        "HttpVersion": "http2and3",
        "IsIPV6Enabled": True,
    }


def check_available(ctx: DeployContext) -> None:
    """A one-line UserError, before any change, where CloudFront cannot serve the site as
    `up` builds it; says what is possible there."""
    if not ctx.settings.cdn or ctx.partition == "aws":
        return
    if ctx.partition == "aws-cn":
        raise UserError(
            f"CloudFront in the China regions ({ctx.region}) serves only ICP-recorded domains "
            "with certificates uploaded to IAM, which chatbot-deploy does not set up: deploy "
            "with --no-cdn (the S3 website, plain HTTP), or put your own ICP-recorded "
            "distribution in front of it"
        )
    raise UserError(
        f"CloudFront is not available in the {ctx.partition} partition ({ctx.region}): deploy "
        "with --no-cdn (the S3 website, plain HTTP)"
    )


def digest(config: dict[str, Any]) -> str:
    text = json.dumps(config, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def comment(ctx: DeployContext, config: dict[str, Any]) -> str:
    return f"{ctx.names.distribution_comment(ctx.region)} config {digest(config)}"


def _is_ours(ctx: DeployContext, text: str) -> bool:
    prefix = ctx.names.distribution_comment(ctx.region)
    return text == prefix or text.startswith(prefix + " ")


def _summaries(ctx: DeployContext) -> Iterator[dict[str, Any]]:
    paginator = ctx.client("cloudfront").get_paginator("list_distributions")
    for page in paginator.paginate():
        for item in page.get("DistributionList", {}).get("Items", []) or []:
            if _is_ours(ctx, str(item.get("Comment") or "")):
                yield item


def _info(item: dict[str, Any], enabled: bool | None = None) -> DistributionInfo:
    config = item.get("DistributionConfig", item)
    return DistributionInfo(
        distribution_id=str(item["Id"]),
        arn=str(item["ARN"]),
        domain_name=str(item["DomainName"]),
        aliases=tuple((config.get("Aliases") or {}).get("Items") or ()),
        status=str(item.get("Status") or ""),
        enabled=bool(config.get("Enabled")) if enabled is None else enabled,
    )


def find_distributions(ctx: DeployContext) -> list[DistributionInfo]:
    return [_info(item) for item in _summaries(ctx)]


def _taken(domain: str | None, exc: botocore.exceptions.ClientError) -> UserError:
    return UserError(
        f"the domain {domain} is already an alternate name of another CloudFront distribution "
        "(in this or another AWS account): remove it there, or choose another --domain"
    )


def _create(ctx: DeployContext, config: dict[str, Any], domain: str | None) -> DistributionInfo:
    tags = [{"Key": key, "Value": value} for key, value in ctx.names.tags.items()]
    full = {**config, "CallerReference": f"{ctx.names.stack}-{uuid.uuid4()}"}
    full["Comment"] = comment(ctx, config)
    try:
        created = ctx.client("cloudfront").create_distribution_with_tags(
            DistributionConfigWithTags={"DistributionConfig": full, "Tags": {"Items": tags}}
        )
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) == "CNAMEAlreadyExists":
            raise _taken(domain, exc) from exc
        raise
    return _info(created["Distribution"])


def _update(
    ctx: DeployContext, distribution_id: str, config: dict[str, Any], domain: str | None
) -> DistributionInfo | None:
    """Give the distribution `config`; None when it already has it (by its digest)."""
    client = ctx.client("cloudfront")
    current = client.get_distribution_config(Id=distribution_id)
    existing = current["DistributionConfig"]
    wanted = comment(ctx, config)
    # The digest says the configuration is the same; a teardown that stopped after
    # disabling it left the comment as it was: enabled or not is read as it is.
    if existing.get("Comment") == wanted and existing.get("Enabled") is True:
        return None
    full = {**config, "CallerReference": existing["CallerReference"], "Comment": wanted}
    try:
        updated = client.update_distribution(
            Id=distribution_id, IfMatch=current["ETag"], DistributionConfig=full
        )
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) == "CNAMEAlreadyExists":
            raise _taken(domain, exc) from exc
        raise
    return _info(updated["Distribution"])


def ensure_distribution(ctx: DeployContext, origins: Origins) -> Outcome:
    config = desired_config(ctx, origins)
    found = find_distributions(ctx)
    if not found:
        created = _create(ctx, config, origins.domain)
        return Outcome(f"created; {DEPLOYING}", created, True)
    current = found[0]  # more than one (a crash between create and its answer): sweep
    updated = _update(ctx, current.distribution_id, config, origins.domain)
    if updated is None:
        summary = "unchanged" if current.deployed else f"unchanged ({current.status})"
        return Outcome(summary, current, False)
    return Outcome(f"updated; {DEPLOYING}", updated, True)


def delete_distribution(ctx: DeployContext, distribution_id: str) -> bool:
    """Disable, wait until deployed, delete; False if it was already gone. Continues from
    any point a previous run stopped at."""
    client = ctx.client("cloudfront")
    try:
        current = client.get_distribution_config(Id=distribution_id)
        config = current["DistributionConfig"]
        if config.get("Enabled"):
            client.update_distribution(
                Id=distribution_id,
                IfMatch=current["ETag"],
                DistributionConfig={**config, "Enabled": False},
            )
        client.get_waiter("distribution_deployed").wait(
            Id=distribution_id, WaiterConfig=WAITER_CONFIG
        )
        etag = client.get_distribution_config(Id=distribution_id)["ETag"]
        client.delete_distribution(Id=distribution_id, IfMatch=etag)
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) == "NoSuchDistribution":
            return False
        raise
    return True


def delete_with_etag(ctx: DeployContext, resource: str, resource_id: str, missing: str) -> bool:
    """Delete a CloudFront `resource` ("origin_access_control", "response_headers_policy")
    with the ETag of a read just before (CloudFront's IfMatch); False if it was gone."""
    client = ctx.client("cloudfront")

    def delete() -> None:
        etag = getattr(client, f"get_{resource}")(Id=resource_id)["ETag"]
        getattr(client, f"delete_{resource}")(Id=resource_id, IfMatch=etag)

    return succeeded(delete, unless=missing)


def _origins(ctx: DeployContext, inputs: Outputs) -> Origins:
    certificate = inputs.get("certificate")
    return Origins(
        bucket=inputs["bucket"],
        access_control_id=inputs["site-access"],
        headers_policy_id=inputs["headers-policy"],
        api_id=inputs["api"].api_id,
        socket_api_id=inputs["socket-api"].api_id,
        certificate_arn=certificate.arn if certificate is not None and certificate.issued else None,
        domain=ctx.settings.domain,
    )


class Distribution(Unit):
    """The stack's CloudFront distribution (when the CDN is on: `--no-cdn` removes it)."""

    kind = "distribution"
    title = "CloudFront distribution"
    after = ("bucket", "site-access", "headers-policy", "api", "socket-api", "certificate")

    def wanted(self, ctx: DeployContext) -> list[str]:
        return [""] if ctx.settings.cdn else []

    def name(self, ctx: DeployContext, key: str) -> str:
        return ctx.names.distribution_comment(ctx.region)

    def ensure(self, job: Job, key: str, inputs: Outputs) -> Outcome:
        return ensure_distribution(job.ctx, _origins(job.ctx, inputs))

    def find(self, ctx: DeployContext) -> list[Found]:
        return [
            Found(self.kind, item.distribution_id, item.distribution_id, item.describe())
            for item in find_distributions(ctx)
        ]

    def delete(self, ctx: DeployContext, found: Found) -> bool:
        return delete_distribution(ctx, found.key)

    def keep(self, ctx: DeployContext, outputs: Outputs) -> set[str]:
        info: DistributionInfo | None = outputs.get(self.kind)
        return {info.distribution_id} if info is not None else set()
