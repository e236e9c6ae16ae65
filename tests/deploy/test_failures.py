"""A failure injected at every write step of `up`, then a clean re-run.

Two kinds of failure per write operation: before the call reaches AWS (a network error: the
write did not happen) and after it (the write happened but the process died before using the
answer, like SIGKILL or Ctrl-C at the worst moment). Either way the next `up` must finish the
job with no duplicate resource, and the one after that must have nothing left to do.
"""

from __future__ import annotations

from typing import Any

import botocore.exceptions
import pytest
from moto.apigatewayv2.models import apigatewayv2_backends

from chatbot_deploy import app_spec
from chatbot_deploy.app_spec import FUNCTION_KINDS
from chatbot_deploy.deploy import (
    api,
    distribution,
    headers_policy,
    iam,
    layer_versions,
    permissions,
    site_access,
    socket_api,
)
from tests.deploy.conftest import FakeHttp

# Every write a fresh `up` makes (checked by test_fresh_up_writes_are_the_injected_ones).
FRESH_UP_WRITES = [
    ("apigatewayv2", "CreateApi"),
    ("apigatewayv2", "CreateAuthorizer"),
    ("apigatewayv2", "CreateDeployment"),
    ("apigatewayv2", "CreateIntegration"),
    ("apigatewayv2", "CreateRoute"),
    ("apigatewayv2", "CreateStage"),
    ("cloudfront", "CreateDistributionWithTags"),
    ("cloudfront", "CreateOriginAccessControl"),
    ("cloudfront", "CreateResponseHeadersPolicy"),
    ("dynamodb", "CreateTable"),
    ("dynamodb", "UpdateTimeToLive"),
    ("iam", "CreateRole"),
    ("iam", "PutRolePolicy"),
    ("lambda", "AddPermission"),
    ("lambda", "CreateFunction"),
    ("lambda", "PublishLayerVersion"),
    ("logs", "CreateLogGroup"),
    ("logs", "PutRetentionPolicy"),
    ("s3", "CreateBucket"),
    ("s3", "PutBucketPolicy"),
    ("s3", "PutBucketTagging"),
    ("s3", "PutObject"),
    ("s3", "PutPublicAccessBlock"),
    ("ssm", "PutParameter"),
]


class Injected(Exception):
    pass


def _fail_once(service: str, operation: str, when: str) -> Any:
    state = {"fired": False}

    def handler(model: Any, **_: Any) -> None:
        if state["fired"]:
            return
        if model.service_model.service_name == service and model.name == operation:
            state["fired"] = True
            if when == "before":
                raise botocore.exceptions.EndpointConnectionError(endpoint_url="https://aws")
            raise Injected(f"killed after {operation}")

    return handler, state


def _backend(deployer) -> Any:
    return apigatewayv2_backends[deployer.context().account][deployer.aws.region]


def _authorizer_count(deployer, api_id: str) -> int:
    # moto has no GetAuthorizers; count in its backend.
    return len(_backend(deployer).apis[api_id].authorizers)


@pytest.fixture
def get_authorizers(deployer) -> None:
    """Answer GetAuthorizers from moto's backend (moto 5.2 lacks it), so these tests run the
    path real AWS takes: an authorizer created just before a kill is found again by name."""

    def answer(model: Any, params: dict[str, Any], **_: Any) -> Any:
        if model.service_model.service_name != "apigatewayv2" or model.name != "GetAuthorizers":
            return None
        api_id = params["url_path"].split("/")[3]  # /v2/apis/<id>/authorizers
        authorizers = _backend(deployer).apis[api_id].authorizers.values()
        items = [_pascal(authorizer.to_json()) for authorizer in authorizers]
        return FakeHttp(200), {"Items": items}

    deployer.on("before-call", answer)


def _pascal(item: dict[str, Any]) -> dict[str, Any]:
    return {key[:1].upper() + key[1:]: value for key, value in item.items()}


def assert_converged(deployer) -> None:
    ctx = deployer.context()
    gw = deployer.client("apigatewayv2")
    for protocol, routes in (
        ("HTTP", [route.function for route in app_spec.ROUTES]),
        ("WEBSOCKET", [route.function for route in app_spec.SOCKET_ROUTES]),
    ):
        [found] = api.find_apis(ctx, protocol)
        # one integration per function, one route per route of the spec
        assert len(gw.get_integrations(ApiId=found["ApiId"])["Items"]) == len(set(routes))
        assert len(gw.get_routes(ApiId=found["ApiId"])["Items"]) == len(routes)
        assert len(gw.get_stages(ApiId=found["ApiId"])["Items"]) == 1
        assert _authorizer_count(deployer, found["ApiId"]) == 1
    [socket] = api.find_apis(ctx, "WEBSOCKET")
    [stage] = gw.get_stages(ApiId=socket["ApiId"])["Items"]
    deployment = gw.get_deployment(ApiId=socket["ApiId"], DeploymentId=stage["DeploymentId"])
    assert deployment["Description"].startswith(socket_api.DEPLOYMENT_PREFIX)
    assert len(layer_versions.list_versions(ctx)) == 1
    # one of each CloudFront resource: a run killed after creating one finds it again
    assert len(distribution.find_distributions(ctx)) == 1
    assert len(site_access.find_controls(ctx)) == 1
    assert len(headers_policy.find_policies(ctx)) == 1
    invokers = {
        kind: [
            sid
            for sid, targets in (
                (permissions.STATEMENT_ID, app_spec.ROUTES),
                (permissions.SOCKET_STATEMENT_ID, app_spec.SOCKET_ROUTES),
            )
            if kind in {route.function for route in targets} | {app_spec.AUTHORIZER_FUNCTION}
        ]
        for kind in FUNCTION_KINDS
    }
    for kind in FUNCTION_KINDS:
        assert sorted(s["Sid"] for s in permissions.statements(ctx, kind)) == sorted(invokers[kind])
        grants = deployer.client("iam").list_role_policies(RoleName=ctx.names.role(kind))
        assert (iam.CONNECTIONS_POLICY_NAME in grants["PolicyNames"]) == (
            app_spec.FUNCTIONS[kind].manages_connections
        )
    deployer.log.clear()
    deployer.up()
    assert deployer.log.writes == []


def test_fresh_up_writes_are_the_injected_ones(deployer):
    deployer.up()
    assert sorted(set(deployer.log.writes)) == FRESH_UP_WRITES


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize(("service", "operation"), FRESH_UP_WRITES)
def test_failure_then_rerun_finishes_the_job(deployer, get_authorizers, service, operation, when):
    handler, state = _fail_once(service, operation, when)
    event = "before-call" if when == "before" else "after-call"
    deployer.on(event, handler)
    with pytest.raises((botocore.exceptions.EndpointConnectionError, Injected)):
        deployer.up()
    assert state["fired"]
    result = deployer.up()
    assert result.api_url
    assert_converged(deployer)


def test_layer_replaced_then_old_versions_cleaned(deployer, monkeypatch):
    deployer.up()
    ctx = deployer.context()
    [old] = layer_versions.list_versions(ctx)
    from chatbot_deploy.deploy import layer

    monkeypatch.setattr(layer, "requirements_hash", lambda *args, **kwargs: "f" * 64)
    deployer.log.clear()
    deployer.up()
    [new] = layer_versions.list_versions(ctx)
    assert new["Version"] > old["Version"]
    writes = deployer.log.writes
    assert ("lambda", "PublishLayerVersion") in writes
    assert writes.count(("lambda", "UpdateFunctionConfiguration")) == len(app_spec.FUNCTIONS)
    assert ("lambda", "DeleteLayerVersion") in writes
