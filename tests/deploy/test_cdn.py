"""The CloudFront CDN in front of the private site bucket (issue 12), against in-process moto
with CloudFront as AWS has it (conftest's `CloudFrontAsAws`).

moto's GetDistributionConfig drops fields we send (an origin's OriginAccessControlId and
S3OriginConfig), so the distribution's configuration is asserted as AWS receives it: the
parameters of CreateDistributionWithTags / UpdateDistribution, captured by a hook.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from typing import Any

import botocore.exceptions
import pytest

from chatbot_deploy import app_spec, site_headers
from chatbot_deploy.deploy import api, bucket, distribution, engine, inventory
from chatbot_deploy.deploy import teardown as teardown_engine
from chatbot_deploy.deploy.calls import is_write
from chatbot_deploy.errors import UserError
from chatbot_deploy.names import TAG_KEY
from tests.deploy.conftest import OPENAI_KEY, REGION, error_response

# CloudFront's managed policies, as AWS documents their IDs (the same in every account).
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
ALL_METHODS = {"GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"}
READ_METHODS = {"GET", "HEAD"}
# The workspace fixture's build CSP is "default-src 'self'; connect-src 'self' https: wss:".
SAME_ORIGIN_CSP = "default-src 'self'; connect-src 'self'; frame-ancestors 'none'"
DISTRIBUTION_CALLS = {
    "GetDistribution",
    "GetDistributionConfig",
    "UpdateDistribution",
    "DeleteDistribution",
}


def _capture(deployer, operation: str) -> list[dict[str, Any]]:
    """The parameters of every `operation` call (cloudfront) as sent."""
    captured: list[dict[str, Any]] = []

    def keep(params: dict[str, Any], **_: Any) -> None:
        captured.append(copy.deepcopy(params))

    deployer.on(f"provide-client-params.cloudfront.{operation}", keep)
    return captured


def _answers(deployer, operation: str) -> list[dict[str, Any]]:
    """What every `operation` call (cloudfront) answered, as parsed. Hooked on the service's
    event, after CloudFrontAsAws's own (a handler of the operation's event would run first)."""
    answers: list[dict[str, Any]] = []

    def keep(model: Any, parsed: dict[str, Any], **_: Any) -> None:
        if model.name == operation:
            answers.append(copy.deepcopy(parsed))

    deployer.on("after-call.cloudfront", keep)
    return answers


def _cloudfront(deployer) -> list[str]:
    """The CloudFront operations called since the call log was last cleared, in order."""
    return [operation for service, operation in deployer.log.calls if service == "cloudfront"]


def _writes(calls: list[str]) -> list[str]:
    return [operation for operation in calls if is_write(operation)]


def _distributions(deployer) -> list[dict[str, Any]]:
    listed = deployer.client("cloudfront").list_distributions()["DistributionList"]
    return list(listed.get("Items") or [])


def _access_controls(deployer) -> list[dict[str, Any]]:
    listed = deployer.client("cloudfront").list_origin_access_controls()
    return list(listed["OriginAccessControlList"].get("Items") or [])


def _api_ids(ctx) -> tuple[str, str]:
    [http] = api.find_apis(ctx, "HTTP")
    [socket] = api.find_apis(ctx, "WEBSOCKET")
    return http["ApiId"], socket["ApiId"]


def _config_json(deployer, ctx) -> dict[str, Any]:
    body = deployer.client("s3").get_object(Bucket=ctx.bucket, Key="config.json")["Body"]
    return dict(json.loads(body.read()))


def _bucket_policy(deployer, ctx) -> dict[str, Any]:
    return dict(json.loads(deployer.client("s3").get_bucket_policy(Bucket=ctx.bucket)["Policy"]))


def _public_access_block(deployer, ctx) -> dict[str, Any]:
    answer = deployer.client("s3").get_public_access_block(Bucket=ctx.bucket)
    return dict(answer["PublicAccessBlockConfiguration"])


def _has_website(deployer, ctx) -> bool:
    try:
        deployer.client("s3").get_bucket_website(Bucket=ctx.bucket)
    except botocore.exceptions.ClientError as exc:
        assert exc.response["Error"]["Code"] == "NoSuchWebsiteConfiguration"
        return False
    return True


def _cors(deployer, ctx) -> Any:
    http_id, _ = _api_ids(ctx)
    return deployer.client("apigatewayv2").get_api(ApiId=http_id).get("CorsConfiguration")


def _assert_private(deployer, ctx, distribution_arn: str) -> None:
    """Block Public Access fully on, no website, the policy grants CloudFront (this
    distribution) reading objects, and nothing else."""
    assert _public_access_block(deployer, ctx) == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    assert not _has_website(deployer, ctx)
    policy = _bucket_policy(deployer, ctx)
    [statement] = policy["Statement"]
    assert {key: value for key, value in statement.items() if key != "Sid"} == {
        "Effect": "Allow",
        "Principal": {"Service": "cloudfront.amazonaws.com"},
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{ctx.bucket}/*",
        "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}},
    }


def _items(value: dict[str, Any]) -> list[Any]:
    items = list(value.get("Items") or [])
    assert value["Quantity"] == len(items)
    return items


def _methods(behaviour: dict[str, Any]) -> tuple[set[str], set[str]]:
    allowed = behaviour["AllowedMethods"]
    cached = _items(allowed["CachedMethods"])
    return set(_items(allowed)), set(cached)


def test_fresh_up_sends_the_distribution_config_field_by_field(deployer, moto):
    moto.cloudfront.polls = 5  # InProgress for the first 5 reads (up's sweep makes one)
    created = _capture(deployer, "CreateDistributionWithTags")
    result = deployer.up()
    ctx = deployer.context()
    assert len(created) == 1
    sent = created[0]["DistributionConfigWithTags"]
    config = sent["DistributionConfig"]
    assert sent["Tags"] == {"Items": [{"Key": TAG_KEY, "Value": "chatbot"}]}

    # What it points at exists: the origin access control, the headers policy, the APIs.
    [control] = _access_controls(deployer)
    assert control["Name"] == ctx.names.site_access_control(REGION)
    assert (control["SigningProtocol"], control["SigningBehavior"]) == ("sigv4", "always")
    assert control["OriginAccessControlOriginType"] == "s3"
    [policy_id] = moto.cloudfront.policies
    http_id, socket_id = _api_ids(ctx)

    origins = {origin["Id"]: origin for origin in _items(config["Origins"])}
    assert set(origins) == {"site", "api", "socket"}
    assert origins["site"] == {
        "Id": "site",
        "DomainName": f"{ctx.bucket}.s3.{REGION}.amazonaws.com",  # REST, not the website
        "OriginAccessControlId": control["Id"],
        "S3OriginConfig": {"OriginAccessIdentity": ""},  # no legacy OAI
    }
    for origin_id, api_id in (("api", http_id), ("socket", socket_id)):
        origin = origins[origin_id]
        assert origin["DomainName"] == f"{api_id}.execute-api.{REGION}.amazonaws.com"
        assert "S3OriginConfig" not in origin and "OriginAccessControlId" not in origin
        custom = origin["CustomOriginConfig"]
        assert custom["OriginProtocolPolicy"] == "https-only"
        assert custom["HTTPSPort"] == 443
        assert _items(custom["OriginSslProtocols"]) == ["TLSv1.2"]
        assert custom["OriginReadTimeout"] >= app_spec.API_TIMEOUT_S  # API Gateway's limit

    default = config["DefaultCacheBehavior"]
    assert default["TargetOriginId"] == "site"
    assert default["ViewerProtocolPolicy"] == "redirect-to-https"
    assert default["Compress"] is True
    assert default["CachePolicyId"] == CACHING_OPTIMIZED
    assert "OriginRequestPolicyId" not in default
    assert "ForwardedValues" not in default  # the legacy settings conflict with a cache policy
    assert _methods(default) == (READ_METHODS, READ_METHODS)
    assert default["ResponseHeadersPolicyId"] == policy_id

    behaviours = _items(config["CacheBehaviors"])
    paths = [behaviour["PathPattern"] for behaviour in behaviours]
    api_paths = app_spec.site_api_paths()
    assert api_paths and app_spec.SOCKET_PATH not in api_paths
    assert sorted(paths) == sorted([*api_paths, app_spec.SOCKET_PATH])
    for behaviour in behaviours:
        socket = behaviour["PathPattern"] == app_spec.SOCKET_PATH
        assert behaviour["TargetOriginId"] == ("socket" if socket else "api")
        assert behaviour["ViewerProtocolPolicy"] == "https-only"
        assert _methods(behaviour) == (READ_METHODS if socket else ALL_METHODS, READ_METHODS)
        assert behaviour["CachePolicyId"] == CACHING_DISABLED
        assert behaviour["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST_HEADER
        assert behaviour["ResponseHeadersPolicyId"] == policy_id
        assert "ForwardedValues" not in behaviour

    assert config["HttpVersion"] == "http2and3"
    assert config["IsIPV6Enabled"] is True
    assert config["DefaultRootObject"] == "index.html"
    assert _items(config["CustomErrorResponses"]) == []
    assert config["ViewerCertificate"] == {"CloudFrontDefaultCertificate": True}
    assert _items(config["Aliases"]) == []
    assert config["Enabled"] is True
    assert config["Comment"].startswith(ctx.names.distribution_comment(REGION) + " ")
    assert config["CallerReference"]

    # The result: the distribution's https:// address, created and still deploying.
    [listed] = _distributions(deployer)
    info = result.distribution
    assert info is not None
    assert (info.distribution_id, info.arn, info.domain_name) == (
        listed["Id"],
        listed["ARN"],
        listed["DomainName"],
    )
    assert info.domain_name.endswith(".cloudfront.net")
    assert result.website_url == f"https://{info.domain_name}"
    assert info.status == "InProgress"
    assert result.as_dict()["cdn"]["status"] == "InProgress"

    # `status`'s inventory: InProgress until CloudFront has deployed it, then Deployed.
    seen = []
    for _ in range(moto.cloudfront.polls + 1):
        found = inventory.take(ctx)
        [row] = [resource for resource in found.resources if resource.kind == "distribution"]
        assert row.present and row.name == info.distribution_id
        assert found.website_url == result.website_url
        seen.append(row.detail)
    assert seen[0] == f"{result.website_url} (InProgress)"
    assert seen[-1] == f"{result.website_url} (Deployed)"
    kinds = {resource.kind for resource in found.present}
    assert {"distribution", "site-access", "headers-policy", "bucket"} <= kinds


def test_fresh_up_bucket_private_cors_closed_same_origin_config_and_headers(deployer, moto):
    result = deployer.up()
    ctx = deployer.context()
    assert result.distribution is not None
    [listed] = _distributions(deployer)
    assert listed["ARN"] == result.distribution.arn
    assert listed["ARN"].startswith(f"arn:aws:cloudfront::{ctx.account}:distribution/")

    # The bucket: private, read by this distribution only.
    _assert_private(deployer, ctx, listed["ARN"])

    # No cross-origin call: CORS closed; the web app calls its own origin.
    assert not _cors(deployer, ctx)
    assert _config_json(deployer, ctx) == {
        "apiUrl": "/",
        "stack": "chatbot",
        "socketUrl": app_spec.SOCKET_PATH,
        "models": list(ctx.settings.models),
    }

    # The response headers policy, as CloudFront keeps it.
    [policy] = moto.cloudfront.policies.values()
    stored = policy["ResponseHeadersPolicyConfig"]
    assert stored["Name"] == ctx.names.headers_policy(REGION)
    headers = stored["SecurityHeadersConfig"]
    assert site_headers.HSTS_MAX_AGE_S >= 31_536_000  # a year, as browsers' preload lists ask
    assert headers["StrictTransportSecurity"] == {
        "Override": True,
        "IncludeSubdomains": False,
        "Preload": False,
        "AccessControlMaxAgeSec": site_headers.HSTS_MAX_AGE_S,
    }
    assert headers["ContentSecurityPolicy"] == {
        "Override": True,
        "ContentSecurityPolicy": SAME_ORIGIN_CSP,
    }
    assert headers["FrameOptions"] == {"Override": True, "FrameOption": "DENY"}
    assert headers["ContentTypeOptions"] == {"Override": True}
    assert headers["ReferrerPolicy"] == {"Override": True, "ReferrerPolicy": "no-referrer"}
    assert set(headers) == {
        "StrictTransportSecurity",
        "ContentSecurityPolicy",
        "FrameOptions",
        "ContentTypeOptions",
        "ReferrerPolicy",
    }


def test_no_op_up_writes_nothing_and_unrelated_changes_leave_the_distribution(deployer, moto):
    deployer.up()
    [before] = _distributions(deployer)

    deployer.log.clear()
    again = deployer.up()
    assert deployer.log.writes == []
    assert again.changed == []
    # the log sees the calls CloudFrontAsAws answers itself (response headers policies)
    assert "ListResponseHeadersPolicies" in _cloudfront(deployer)

    # A change that does not concern the CDN.
    deployer.log.clear()
    deployer.up(log_retention_days=60)
    assert ("logs", "PutRetentionPolicy") in deployer.log.writes
    assert _writes(_cloudfront(deployer)) == []

    # A new CSP in the build: the headers policy follows, the distribution does not change.
    index = deployer.workspace.dist / "index.html"
    index.write_text(index.read_text().replace("default-src 'self';", "default-src 'none';"))
    deployer.log.clear()
    deployer.up(log_retention_days=60)
    assert _writes(_cloudfront(deployer)) == ["UpdateResponseHeadersPolicy"]
    assert ("s3", "PutObject") in deployer.log.writes  # the new index.html
    [policy] = moto.cloudfront.policies.values()
    csp = policy["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]["ContentSecurityPolicy"]
    assert csp["ContentSecurityPolicy"] == SAME_ORIGIN_CSP.replace("'self'", "'none'", 1)
    [after] = _distributions(deployer)
    assert after["Id"] == before["Id"] and after["Comment"] == before["Comment"]


def test_teardown_disables_waits_until_deployed_then_deletes(deployer, moto):
    created = _capture(deployer, "CreateDistributionWithTags")
    result = deployer.up()
    ctx = deployer.context()
    assert result.distribution is not None
    distribution_id = result.distribution.distribution_id
    found = inventory.take(ctx)
    updates = _capture(deployer, "UpdateDistribution")
    deletes = _capture(deployer, "DeleteDistribution")
    configs = _answers(deployer, "GetDistributionConfig")
    polls = _answers(deployer, "GetDistribution")
    deployer.log.clear()

    teardown_engine.teardown(ctx, found)

    sequence = [op for op in _cloudfront(deployer) if op in DISTRIBUTION_CALLS]
    waits = len(polls)
    assert waits >= 2  # at least one poll saw it InProgress
    assert sequence == [
        "GetDistributionConfig",
        "UpdateDistribution",
        *["GetDistribution"] * waits,
        "GetDistributionConfig",
        "DeleteDistribution",
    ]
    statuses = [poll["Distribution"]["Status"] for poll in polls]
    assert statuses == ["InProgress"] * (waits - 1) + ["Deployed"]
    assert all(poll["Distribution"]["Id"] == distribution_id for poll in polls)

    # Disable: the configuration read, with Enabled False, under its ETag.
    [update] = updates
    read = configs[0]
    assert update["Id"] == distribution_id
    assert update["IfMatch"] == read["ETag"]
    assert update["DistributionConfig"]["Enabled"] is False
    assert update["DistributionConfig"] == {**read["DistributionConfig"], "Enabled": False}
    first = created[0]["DistributionConfigWithTags"]["DistributionConfig"]
    sent = update["DistributionConfig"]
    for key in ("Comment", "CallerReference", "DefaultRootObject", "HttpVersion"):
        assert sent[key] == first[key]
    # Delete: with the ETag read after the wait.
    [delete] = deletes
    assert delete == {"Id": distribution_id, "IfMatch": configs[1]["ETag"]}

    # Nothing of the stack is left in CloudFront nor S3.
    assert _distributions(deployer) == []
    assert _access_controls(deployer) == []
    assert moto.cloudfront.policies == {}
    buckets = [item["Name"] for item in deployer.client("s3").list_buckets()["Buckets"]]
    assert ctx.bucket not in buckets
    assert inventory.take(ctx).present == []


@pytest.mark.parametrize("interruption", ["error", "timeout"])
def test_interrupted_teardown_is_continued(deployer, moto, monkeypatch, interruption):
    deployer.up()
    ctx = deployer.context()
    [listed] = _distributions(deployer)
    distribution_id = listed["Id"]
    if interruption == "error":
        state = {"fired": False}

        def fail_once(**_: Any) -> Any:
            if state["fired"]:
                return None
            state["fired"] = True
            return error_response("ServiceUnavailable", "injected: connection lost", 503)

        deployer.on("before-call.cloudfront.GetDistribution", fail_once)
    else:  # the waiter gives up (20 minutes on AWS) while CloudFront still deploys
        monkeypatch.setattr(distribution, "WAITER_CONFIG", {"Delay": 0, "MaxAttempts": 1})

    with pytest.raises(botocore.exceptions.WaiterError):
        teardown_engine.teardown(ctx, inventory.take(ctx))
    if interruption == "error":
        assert state["fired"]
    else:
        monkeypatch.setattr(distribution, "WAITER_CONFIG", {"Delay": 0, "MaxAttempts": 20})

    # Stopped disabled, not deleted.
    config = deployer.client("cloudfront").get_distribution_config(Id=distribution_id)
    assert config["DistributionConfig"]["Enabled"] is False
    found = inventory.take(ctx)
    [row] = [resource for resource in found.present if resource.kind == "distribution"]
    assert "disabled" in row.detail

    deployer.log.clear()
    teardown_engine.teardown(ctx, found)
    cloudfront = _cloudfront(deployer)
    assert "UpdateDistribution" not in cloudfront  # no second disable
    sequence = [op for op in cloudfront if op in DISTRIBUTION_CALLS]
    assert sequence[0] == "GetDistributionConfig"
    assert sequence[-2:] == ["GetDistributionConfig", "DeleteDistribution"]
    assert set(sequence[1:-2]) == {"GetDistribution"}  # the wait
    assert _distributions(deployer) == []
    assert _access_controls(deployer) == []
    assert moto.cloudfront.policies == {}
    assert inventory.take(ctx).present == []


def _origins(ctx: Any, **extra: Any) -> distribution.Origins:
    """Origins with made-up IDs, for calling the distribution unit directly."""
    return distribution.Origins(
        bucket=ctx.bucket,
        access_control_id="E2EXAMPLEOAC",
        headers_policy_id=None,
        api_id="httpapi123",
        socket_api_id="wsapi456",
        **extra,
    )


def test_cloudfront_refuses_to_delete_an_enabled_or_deploying_distribution(deployer):
    """What AWS refuses, the fake refuses: the tests above run AWS's sequence, not a
    shortcut moto alone would allow."""
    ctx = deployer.context()
    origins = _origins(ctx)
    info = distribution.ensure_distribution(ctx, origins).value
    client = deployer.client("cloudfront")

    def delete() -> str:
        etag = client.get_distribution_config(Id=info.distribution_id)["ETag"]
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            client.delete_distribution(Id=info.distribution_id, IfMatch=etag)
        return str(caught.value.response["Error"]["Code"])

    assert delete() == "DistributionNotDisabled"  # enabled
    current = client.get_distribution_config(Id=info.distribution_id)
    client.update_distribution(
        Id=info.distribution_id,
        IfMatch=current["ETag"],
        DistributionConfig={**current["DistributionConfig"], "Enabled": False},
    )
    assert delete() == "DistributionNotDisabled"  # disabled, still deploying
    assert [item["Id"] for item in _distributions(deployer)] == [info.distribution_id]
    assert distribution.delete_distribution(ctx, info.distribution_id) is True
    assert _distributions(deployer) == []


def test_switching_between_cdn_and_s3_website_both_ways(deployer, moto):
    deployer.up()
    ctx_cdn = deployer.context()
    assert len(_distributions(deployer)) == 1

    website = deployer.up(cdn=False)
    ctx = deployer.context(cdn=False)
    # The CDN's resources are swept.
    assert _distributions(deployer) == []
    assert _access_controls(deployer) == []
    assert moto.cloudfront.policies == {}
    # The bucket is a public website again.
    assert website.distribution is None
    assert website.website_url == ctx.website_url
    assert website.website_url == f"http://{ctx.bucket}.s3-website.{REGION}.amazonaws.com"
    assert _has_website(deployer, ctx)
    s3 = deployer.client("s3")
    hosting = s3.get_bucket_website(Bucket=ctx.bucket)
    assert hosting["IndexDocument"] == {"Suffix": "index.html"}
    assert _public_access_block(deployer, ctx) == bucket.PUBLIC_ACCESS_BLOCK
    assert bucket.PUBLIC_ACCESS_BLOCK["BlockPublicAcls"] is True  # ACLs stay blocked
    [statement] = _bucket_policy(deployer, ctx)["Statement"]
    assert statement["Principal"] == "*"
    assert statement["Action"] == "s3:GetObject"
    assert statement["Resource"] == f"arn:aws:s3:::{ctx.bucket}/*"
    assert "Condition" not in statement
    # CORS allows the S3 website only; config.json holds the API Gateway URLs.
    assert _cors(deployer, ctx)["AllowOrigins"] == [website.website_url]
    http_id, socket_id = _api_ids(ctx)
    assert website.api_url.startswith(f"https://{http_id}.execute-api.{REGION}.amazonaws.com")
    assert website.socket_url.startswith(f"wss://{socket_id}.execute-api.{REGION}.amazonaws.com")
    config = _config_json(deployer, ctx)
    assert config["apiUrl"] == website.api_url.rstrip("/")
    assert config["socketUrl"] == website.socket_url
    found = inventory.take(ctx)
    assert found.website_url == website.website_url
    assert "distribution" not in {resource.kind for resource in found.resources}

    # And back to the CDN.
    back = deployer.up()
    assert back.distribution is not None
    [listed] = _distributions(deployer)
    assert listed["ARN"] == back.distribution.arn
    assert back.website_url == f"https://{listed['DomainName']}"
    assert len(_access_controls(deployer)) == 1
    assert len(moto.cloudfront.policies) == 1
    _assert_private(deployer, ctx_cdn, listed["ARN"])
    assert not _cors(deployer, ctx_cdn)
    assert _config_json(deployer, ctx_cdn)["apiUrl"] == "/"
    assert _config_json(deployer, ctx_cdn)["socketUrl"] == app_spec.SOCKET_PATH


@pytest.mark.parametrize("partition", ["aws-cn", "aws-us-gov"])
def test_no_cdn_where_cloudfront_cannot_serve_the_site(deployer, partition):
    ctx = dataclasses.replace(deployer.context(), partition=partition)
    with pytest.raises(UserError) as caught:
        distribution.check_available(ctx)
    message = str(caught.value)
    assert "--no-cdn" in message and "\n" not in message
    assert partition in message or ctx.region in message

    # Before any change: `up` refuses without a write call.
    deployer.log.clear()
    job = engine.Job(ctx, deployer.workspace.sources(), OPENAI_KEY)
    with pytest.raises(UserError, match="--no-cdn"):
        engine.up(job)
    assert deployer.log.writes == []

    # Without the CDN there is nothing to refuse.
    plain = dataclasses.replace(deployer.context(cdn=False), partition=partition)
    distribution.check_available(plain)  # raises nothing


def test_a_domain_taken_by_another_distribution_is_one_clear_line(deployer):
    ctx = deployer.context()
    created = _capture(deployer, "CreateDistributionWithTags")
    deployer.on(
        "before-call.cloudfront.CreateDistributionWithTags",
        lambda **_: error_response(
            "CNAMEAlreadyExists",
            "One or more of the CNAMEs you provided are already associated with a different "
            "resource.",
            409,
        ),
    )
    origins = _origins(
        ctx,
        certificate_arn="arn:aws:acm:us-east-1:123456789012:certificate/x",
        domain="chat.example.com",
    )
    with pytest.raises(UserError) as caught:
        distribution.ensure_distribution(ctx, origins)
    message = str(caught.value)
    assert "chat.example.com" in message
    assert "\n" not in message
    assert isinstance(caught.value.__cause__, botocore.exceptions.ClientError)
    # What was asked: the domain as alternate name, served with its certificate.
    [sent] = created
    config = sent["DistributionConfigWithTags"]["DistributionConfig"]
    assert _items(config["Aliases"]) == ["chat.example.com"]
    assert config["ViewerCertificate"] == {
        "ACMCertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/x",
        "SSLSupportMethod": "sni-only",
        "MinimumProtocolVersion": "TLSv1.2_2021",
    }
    assert _distributions(deployer) == []


def test_up_after_a_teardown_stopped_once_disabled_serves_the_site_again(deployer, moto):
    """A teardown interrupted after the disable, then `up` (the user changed their mind):
    the distribution must be enabled again, not left "unchanged" and serving nothing."""
    deployer.up()
    ctx = deployer.context()
    [listed] = _distributions(deployer)
    failing = {"on": True}

    def fail(**_: Any) -> Any:
        if failing["on"]:
            return error_response("ServiceUnavailable", "injected: connection lost", 503)
        return None

    deployer.on("before-call.cloudfront.GetDistribution", fail)
    with pytest.raises(botocore.exceptions.WaiterError):
        teardown_engine.teardown(ctx, inventory.take(ctx))
    client = deployer.client("cloudfront")
    assert client.get_distribution_config(Id=listed["Id"])["DistributionConfig"]["Enabled"] is False
    failing["on"] = False

    result = deployer.up()
    assert result.distribution is not None
    assert result.distribution.distribution_id == listed["Id"]
    assert client.get_distribution_config(Id=listed["Id"])["DistributionConfig"]["Enabled"] is True
    assert result.distribution.enabled is True
