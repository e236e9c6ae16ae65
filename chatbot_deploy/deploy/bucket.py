"""The S3 site bucket, tagged, in one of two modes (the stack's `cdn` setting):

- CDN (default): private. Block Public Access fully on, no website hosting; CloudFront reads
  it through an origin access control, and its policy (`site_grant.py`) names the
  distribution.
- `--no-cdn`: the tutorial's S3 website. Website hosting, public read of objects only: Block
  Public Access is relaxed for this bucket only, and only the two settings that concern
  bucket policies (ACLs stay blocked: the site needs none).

Switching modes changes the bucket in place. Policy ARNs use the partition of the region.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import botocore.exceptions

from chatbot_deploy.aws import ACCESS_DENIED_CODES, error_code
from chatbot_deploy.deploy.context import DeployContext
from chatbot_deploy.deploy.graph import Outcome, Outputs
from chatbot_deploy.deploy.unit import Found, Job, Unit, differs
from chatbot_deploy.errors import UserError

INDEX = "index.html"
PUBLIC_ACCESS_BLOCK = {  # --no-cdn: a public website
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": False,
    "RestrictPublicBuckets": False,
}
PRIVATE = {key: True for key in PUBLIC_ACCESS_BLOCK}  # CDN: nothing public
POLICY_RETRY_DELAYS = (1.0, 2.0, 3.0)
sleep: Callable[[float], None] = time.sleep  # replaced in tests
WEBSITE = {"IndexDocument": {"Suffix": INDEX}, "ErrorDocument": {"Key": INDEX}}


def bucket_policy(ctx: DeployContext) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PublicReadObjects",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:{ctx.partition}:s3:::{ctx.bucket}/*",
            }
        ],
    }


def bucket_exists(ctx: DeployContext) -> bool:
    """True if we own it; a UserError if another account owns the name."""
    try:
        ctx.client("s3").head_bucket(Bucket=ctx.bucket)
    except botocore.exceptions.ClientError as exc:
        code = error_code(exc)
        if code in {"404", "NoSuchBucket", "NotFound"}:
            return False
        if code in {"403", *ACCESS_DENIED_CODES}:
            raise name_taken(ctx) from exc
        raise
    return True


def name_taken(ctx: DeployContext) -> UserError:
    return UserError(
        f"S3 bucket name {ctx.bucket!r} is already taken by another AWS account; "
        "choose another --stack"
    )


def _read(call: Any, missing: set[str], **kwargs: Any) -> Any:
    try:
        return call(**kwargs)
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) in missing:
            return None
        raise


def ensure_bucket(ctx: DeployContext) -> Outcome:
    s3 = ctx.client("s3")
    name = ctx.bucket
    changes: list[str] = []
    if not bucket_exists(ctx):
        kwargs: dict[str, Any] = {"Bucket": name}
        if ctx.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": ctx.region}
        try:
            s3.create_bucket(**kwargs)
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) == "BucketAlreadyExists":
                raise name_taken(ctx) from exc
            if error_code(exc) != "BucketAlreadyOwnedByYou":
                raise
        changes.append("created")

    tagging = _read(s3.get_bucket_tagging, {"NoSuchTagSet"}, Bucket=name)
    tags = {t["Key"]: t["Value"] for t in (tagging or {}).get("TagSet", [])}
    if any(tags.get(key) != value for key, value in ctx.names.tags.items()):
        tags.update(ctx.names.tags)
        s3.put_bucket_tagging(
            Bucket=name, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]}
        )
        changes.append("tagged")

    if ctx.settings.cdn:
        changes += _make_private(ctx)
    else:
        changes += _make_website(ctx, retry=bool(changes))
    return Outcome(", ".join(changes) or "unchanged", name, bool(changes))


def _block_public_access(ctx: DeployContext, wanted: dict[str, bool], done: str) -> list[str]:
    """The bucket's Block Public Access settings as `wanted`; [`done`] if they were not."""
    current = _read(
        ctx.client("s3").get_public_access_block,
        {"NoSuchPublicAccessBlockConfiguration"},
        Bucket=ctx.bucket,
    )
    if (current or {}).get("PublicAccessBlockConfiguration") == wanted:
        return []
    ctx.client("s3").put_public_access_block(
        Bucket=ctx.bucket, PublicAccessBlockConfiguration=wanted
    )
    return [done]


def current_policy(ctx: DeployContext) -> dict[str, Any] | None:
    """The bucket's policy document; None when it has none."""
    policy = _read(ctx.client("s3").get_bucket_policy, {"NoSuchBucketPolicy"}, Bucket=ctx.bucket)
    return None if policy is None else dict(json.loads(policy["Policy"]))


def _make_private(ctx: DeployContext) -> list[str]:
    """Block Public Access on, no website hosting. The policy is the distribution's grant
    (site_grant.py): a public one left by `--no-cdn` stops working here and is replaced."""
    s3 = ctx.client("s3")
    changes = _block_public_access(ctx, PRIVATE, "public access blocked")
    if _read(s3.get_bucket_website, {"NoSuchWebsiteConfiguration"}, Bucket=ctx.bucket):
        s3.delete_bucket_website(Bucket=ctx.bucket)
        changes.append("website hosting off")
    return changes


def _make_website(ctx: DeployContext, *, retry: bool) -> list[str]:
    s3 = ctx.client("s3")
    name = ctx.bucket
    changes = _block_public_access(
        ctx, PUBLIC_ACCESS_BLOCK, "public access block relaxed for policies"
    )

    website = _read(s3.get_bucket_website, {"NoSuchWebsiteConfiguration"}, Bucket=name)
    if website is None or differs(website, WEBSITE):
        s3.put_bucket_website(Bucket=name, WebsiteConfiguration=WEBSITE)
        changes.append("website hosting")

    if current_policy(ctx) != bucket_policy(ctx):
        try:
            _put_policy(ctx, retry=retry or bool(changes))
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) in ACCESS_DENIED_CODES and _account_blocks_policies(ctx):
                raise UserError(
                    "S3 Block Public Access is on for this AWS account and forbids the public "
                    "bucket policy a website needs; turn off 'Block public bucket policies' "
                    "for the account (S3 console > Block Public Access settings for this "
                    "account) or ask your administrator, or deploy with the CDN (drop "
                    "--no-cdn: the bucket stays private)"
                ) from exc
            raise
        changes.append("public read policy")
    return changes


def _put_policy(ctx: DeployContext, *, retry: bool) -> None:
    """Put the public-read policy. Just after Block Public Access was relaxed S3 may still
    refuse it for a few seconds, so a refusal is then retried (bounded)."""
    delays = POLICY_RETRY_DELAYS if retry else ()
    for delay in (*delays, None):
        try:
            ctx.client("s3").put_bucket_policy(
                Bucket=ctx.bucket, Policy=json.dumps(bucket_policy(ctx))
            )
            return
        except botocore.exceptions.ClientError as exc:
            if delay is None or error_code(exc) not in ACCESS_DENIED_CODES:
                raise
            sleep(delay)


def _account_blocks_policies(ctx: DeployContext) -> bool:
    try:
        config = ctx.client("s3control").get_public_access_block(AccountId=ctx.account)
    except botocore.exceptions.ClientError:
        return True  # cannot tell; an account-level block is the common cause
    settings = config.get("PublicAccessBlockConfiguration", {})
    return bool(settings.get("BlockPublicPolicy") or settings.get("RestrictPublicBuckets"))


def delete_bucket(ctx: DeployContext) -> int:
    """Empty (every object version) and delete the bucket; -1 if there was none."""
    s3 = ctx.client("s3")
    name = ctx.bucket
    if not bucket_exists(ctx):
        return -1
    removed = 0
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=name):
        objects = [
            {"Key": item["Key"], "VersionId": item["VersionId"]}
            for item in (*page.get("Versions", []), *page.get("DeleteMarkers", []))
        ]
        for start in range(0, len(objects), 1000):
            s3.delete_objects(Bucket=name, Delete={"Objects": objects[start : start + 1000]})
        removed += len(objects)
    s3.delete_bucket(Bucket=name)
    return removed


class Bucket(Unit):
    kind = "bucket"
    title = "Site bucket"

    def name(self, ctx: DeployContext, key: str) -> str:
        return ctx.bucket

    def ensure(self, job: Job, key: str, inputs: Outputs) -> Outcome:
        return ensure_bucket(job.ctx)

    def find(self, ctx: DeployContext) -> list[Found]:
        if not bucket_exists(ctx):
            return []
        detail = "private, read by CloudFront" if ctx.settings.cdn else ctx.website_url
        return [Found(self.kind, ctx.bucket, "", detail)]

    def delete(self, ctx: DeployContext, found: Found) -> bool:
        return delete_bucket(ctx) >= 0
