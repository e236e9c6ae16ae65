"""The private site bucket's policy: CloudFront may read its objects, for the stack's
distribution only (the `AWS:SourceArn` condition). Made once the distribution exists (its
ARN); with `--no-cdn` the bucket unit puts the public website policy instead. Goes with the
bucket."""

from __future__ import annotations

import json
from typing import Any

from chatbot_deploy.deploy import bucket
from chatbot_deploy.deploy.context import DeployContext
from chatbot_deploy.deploy.distribution import DistributionInfo
from chatbot_deploy.deploy.graph import Outcome, Outputs
from chatbot_deploy.deploy.unit import Job, Unit


def grant_policy(ctx: DeployContext, distribution_arn: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "CloudFrontReadsObjects",
                "Effect": "Allow",
                "Principal": {"Service": "cloudfront.amazonaws.com"},
                "Action": "s3:GetObject",
                "Resource": f"arn:{ctx.partition}:s3:::{ctx.bucket}/*",
                "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}},
            }
        ],
    }


def ensure_grant(ctx: DeployContext, distribution: DistributionInfo) -> Outcome:
    desired = grant_policy(ctx, distribution.arn)
    if bucket.current_policy(ctx) == desired:
        return Outcome("unchanged", distribution.arn)
    ctx.client("s3").put_bucket_policy(Bucket=ctx.bucket, Policy=json.dumps(desired))
    return Outcome("CloudFront may read the site", distribution.arn, True)


class SiteGrant(Unit):
    kind = "site-grant"
    title = "Site bucket policy"
    after = ("bucket", "distribution")
    part_of = "bucket"
    listed = False
    sweeps = False

    def wanted(self, ctx: DeployContext) -> list[str]:
        return [""] if ctx.settings.cdn else []

    def ensure(self, job: Job, key: str, inputs: Outputs) -> Outcome:
        return ensure_grant(job.ctx, inputs["distribution"])
