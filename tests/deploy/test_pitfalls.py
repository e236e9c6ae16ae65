"""The pitfalls users of Chalice, Zappa and SAM hit, each injected where moto is too kind."""

from __future__ import annotations

import json
from typing import Any, cast

import boto3
import botocore.exceptions
import pytest

from chatbot_deploy import app_spec
from chatbot_deploy.app_spec import FUNCTION_KINDS, AppConfig
from chatbot_deploy.aws import Aws
from chatbot_deploy.deploy import api, bucket, functions, iam, permissions
from chatbot_deploy.deploy.context import DeployContext, website_url
from chatbot_deploy.errors import UserError
from chatbot_deploy.names import StackNames
from chatbot_deploy.stack_settings import Settings
from tests.deploy.conftest import FakeHttp, error_response

ROLE_NOT_READY = "The role defined for the function cannot be assumed by Lambda."


def _fail(deployer, operation: str, code: str, message: str, times: int) -> dict[str, int]:
    """Make `operation` fail with `code` its first `times` calls; counts every call."""
    seen = {"calls": 0}

    def handler(model: Any, **_: Any) -> Any:
        if model.name != operation:
            return None
        seen["calls"] += 1
        if seen["calls"] <= times:
            return error_response(code, message)
        return None

    deployer.on("before-call", handler)
    return seen


def test_role_propagation_is_retried_with_backoff(deployer, monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr(functions, "sleep", slept.append)
    seen = _fail(deployer, "CreateFunction", "InvalidParameterValueException", ROLE_NOT_READY, 3)
    deployer.up()
    assert seen["calls"] == 3 + len(FUNCTION_KINDS)  # three refusals, then the three creates
    # The three functions are created concurrently, so the refusals may hit any of them.
    assert len(slept) == 3
    assert set(slept) <= set(functions.ROLE_PROPAGATION_DELAYS[:3])


def test_role_retry_backs_off(monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr(functions, "sleep", slept.append)
    attempts = {"n": 0}
    refusal = botocore.exceptions.ClientError(
        cast(Any, error_response("InvalidParameterValueException", ROLE_NOT_READY)[1]),
        "CreateFunction",
    )

    def create() -> str:
        attempts["n"] += 1
        if attempts["n"] <= 4:
            raise refusal
        return "created"

    assert functions.create_with_role_retry(create) == "created"
    assert slept == list(functions.ROLE_PROPAGATION_DELAYS[:4])
    assert slept == sorted(slept)


def test_role_propagation_retry_is_bounded(deployer, monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr(functions, "sleep", slept.append)
    _fail(deployer, "CreateFunction", "InvalidParameterValueException", ROLE_NOT_READY, 10**6)
    with pytest.raises(botocore.exceptions.ClientError, match="cannot be assumed"):
        deployer.up()
    assert sum(slept) <= len(FUNCTION_KINDS) * sum(functions.ROLE_PROPAGATION_DELAYS)


def test_other_create_errors_are_not_retried(deployer, monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr(functions, "sleep", slept.append)
    _fail(deployer, "CreateFunction", "InvalidParameterValueException", "bad handler", 1)
    with pytest.raises(botocore.exceptions.ClientError, match="bad handler"):
        deployer.up()
    assert slept == []


def test_update_in_progress_waits_then_retries(deployer):
    deployer.up()
    seen = _fail(
        deployer,
        "UpdateFunctionConfiguration",
        "ResourceConflictException",
        "The operation cannot be performed at this time. An update is in progress",
        1,
    )
    deployer.log.clear()
    deployer.up(config=AppConfig(models=("gpt-4.1",)))
    changed = [kind for kind, spec in app_spec.FUNCTIONS.items() if "models" in spec.values]
    assert changed == ["chat", "stream"]
    assert seen["calls"] == 1 + len(changed)  # one refusal, then each function's update
    calls = [op for _, op in deployer.log.calls]
    updates = [i for i, op in enumerate(calls) if op == "UpdateFunctionConfiguration"]
    assert "GetFunction" in calls[updates[0] + 1 : updates[-1]]  # function_updated_v2 polled


def test_pending_function_is_waited_for_before_update(deployer):
    deployer.up()
    state = {"patched": 0}

    def pending(model: Any, parsed: dict[str, Any], **_: Any) -> None:
        if model.name == "GetFunction" and state["patched"] == 0:
            state["patched"] += 1
            parsed["Configuration"]["State"] = "Pending"
            parsed["Configuration"]["LastUpdateStatus"] = "InProgress"

    deployer.on("after-call", pending)
    deployer.log.clear()
    deployer.up(config=AppConfig(models=("gpt-4.1",)))
    assert state["patched"] == 1
    # The patched function got two extra GetFunction polls (function_active_v2 and
    # function_updated_v2) before anything was written.
    assert deployer.log.calls.count(("lambda", "GetFunction")) >= len(FUNCTION_KINDS) + 2


def test_log_groups_exist_with_retention_before_functions(deployer):
    # A log group Lambda made on a first invocation never expires: `up` sets the retention.
    deployer.client("logs").create_log_group(logGroupName="/aws/lambda/chatbot-chat")
    deployer.up()
    ops = [op for _, op in deployer.log.calls]
    assert max(i for i, op in enumerate(ops) if op == "PutRetentionPolicy") < min(
        i for i, op in enumerate(ops) if op == "CreateFunction"
    )
    [group] = deployer.client("logs").describe_log_groups(
        logGroupNamePrefix="/aws/lambda/chatbot-chat"
    )["logGroups"]
    assert group["retentionInDays"] == 30


def test_permissions_follow_a_replaced_api_without_piling_up(deployer):
    deployer.up()
    ctx = deployer.context()
    [old] = api.find_apis(ctx)
    deployer.client("apigatewayv2").delete_api(ApiId=old["ApiId"])
    deployer.log.clear()
    deployer.up()
    [new] = api.find_apis(ctx)
    assert new["ApiId"] != old["ApiId"]
    invoked = permissions.InvokePermissions().wanted(ctx)
    for kind in invoked:
        [statement] = [
            s for s in permissions.statements(ctx, kind) if s["Sid"] == permissions.STATEMENT_ID
        ]
        assert f":{new['ApiId']}/" in statement["Condition"]["ArnLike"]["AWS:SourceArn"]
    # only the HTTP API's statements: the WebSocket API's still point at the right one
    assert deployer.log.writes.count(("lambda", "RemovePermission")) == len(invoked)


def test_apis_are_found_by_tag_not_name(deployer):
    # Another API with the same name but no tag is not ours: it is neither reused nor deleted.
    gw = deployer.client("apigatewayv2")
    other = gw.create_api(Name="chatbot-api", ProtocolType="HTTP")
    deployer.up()
    [ours] = api.find_apis(deployer.context())
    assert ours["ApiId"] != other["ApiId"]


def test_account_level_public_access_block_is_explained(deployer):
    ctx = deployer.context(cdn=False)  # the S3 website needs a public policy
    deployer.client("s3control").put_public_access_block(
        AccountId=ctx.account,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    _fail(deployer, "PutBucketPolicy", "AccessDenied", "Access Denied", 10**6)
    with pytest.raises(UserError, match="Block Public Access is on for this AWS account"):
        bucket.ensure_bucket(ctx)


def test_policy_refused_just_after_relaxing_the_block_is_retried(deployer):
    seen = _fail(deployer, "PutBucketPolicy", "AccessDenied", "Access Denied", 2)
    ctx = deployer.context(cdn=False)  # the S3 website's public policy
    bucket.ensure_bucket(ctx)
    assert seen["calls"] == 3
    policy = deployer.client("s3").get_bucket_policy(Bucket=ctx.bucket)
    assert json.loads(policy["Policy"]) == bucket.bucket_policy(ctx)


def test_bucket_name_taken_by_another_account(deployer):
    _fail(deployer, "HeadBucket", "403", "Forbidden", 1)
    with pytest.raises(UserError, match="already taken by another AWS account"):
        bucket.ensure_bucket(deployer.context())


def test_partition_comes_from_the_region():
    session = boto3.Session(
        region_name="cn-north-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    aws = Aws(session=session, region="cn-north-1")
    ctx = DeployContext(
        aws=aws,
        names=StackNames("chatbot"),
        account="123456789012",
        region="cn-north-1",
        partition=aws.partition,
        settings=Settings(),
    )
    assert ctx.partition == "aws-cn"
    for kind in FUNCTION_KINDS:
        resources = [r for s in iam.function_policy(ctx, kind)["Statement"] for r in s["Resource"]]
        assert all(r.startswith("arn:aws-cn:") for r in resources)
    assert json.dumps(bucket.bucket_policy(ctx)).count("arn:aws-cn:s3:::") == 1
    assert permissions.route_source_arn(ctx, "abc").startswith("arn:aws-cn:execute-api:")
    assert ctx.website_url.endswith(".s3-website.cn-north-1.amazonaws.com.cn")
    assert website_url("b", "us-east-1") == "http://b.s3-website-us-east-1.amazonaws.com"


def test_clients_retry_adaptively(deployer):
    client = deployer.context().client("lambda")
    assert client.meta.config.retries["mode"] == "adaptive"


def test_a_stage_changed_by_hand_is_put_back(deployer):
    """Someone turned off auto-deploy and lowered the throttling in the console. (moto has
    no UpdateStage: GetStages reports that stage, and UpdateStage is answered here.)"""
    deployer.up()
    updates: list[dict[str, Any]] = []

    [http] = api.find_apis(deployer.context())

    def answer(model: Any, params: dict[str, Any], **_: Any) -> Any:
        if model.name == "GetStages" and f"/apis/{http['ApiId']}/" in params["url_path"]:
            stage = {"StageName": "$default", "AutoDeploy": False}
            stage["DefaultRouteSettings"] = {**api.THROTTLING, "ThrottlingRateLimit": 1.0}
            return FakeHttp(200), {"Items": [stage]}
        if model.name == "UpdateStage":
            return FakeHttp(200), {"StageName": "$default"}
        return None

    def record(params: dict[str, Any], **_: Any) -> None:
        updates.append(dict(params))

    deployer.on("before-parameter-build.apigatewayv2.UpdateStage", record)
    deployer.on("before-call", answer)  # not ".apigatewayv2": that would run before the log
    deployer.log.clear()
    result = deployer.up()
    [update] = updates
    assert update["StageName"] == "$default"
    assert update["AutoDeploy"] is True
    assert update["DefaultRouteSettings"] == api.THROTTLING
    assert result.changed == ["api"]
    assert "stage updated" in result.record.steps["api"].outcome.summary
    assert [call for call in deployer.log.writes if call[0] == "apigatewayv2"] == [
        ("apigatewayv2", "UpdateStage")
    ]
