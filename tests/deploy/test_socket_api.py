"""The WebSocket API (streamed answers): made as app_spec says, field by field; deployed
exactly when what it serves differs (also after a run killed before deploying), never by a
no-op `up`; its invoke permissions and the stream function's connections grant.

moto 5.2 has no deployments and no UpdateStage: `MotoDeployments` (conftest.py) answers the
deployments as AWS does, and the tests that need UpdateStage answer it themselves. Against a
moto server (an emulator endpoint) `up` finds it has no deployments and deploys nothing.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import botocore.exceptions
import pytest

from chatbot_deploy import app_spec
from chatbot_deploy.aws import connect
from chatbot_deploy.deploy import api, emulators, iam, inventory, permissions, socket_api
from chatbot_deploy.deploy import teardown as teardown_engine
from chatbot_deploy.deploy.calls import CallLog
from chatbot_deploy.names import TAG_KEY
from tests.deploy.conftest import REGION, Deployer, FakeHttp


def _socket(deployer: Deployer) -> dict[str, Any]:
    [found] = api.find_apis(deployer.context(), "WEBSOCKET")
    return found


def _stage(deployer: Deployer, api_id: str) -> dict[str, Any]:
    [stage] = deployer.client("apigatewayv2").get_stages(ApiId=api_id)["Items"]
    return dict(stage)


def _gateway_writes(deployer: Deployer) -> list[tuple[str, str]]:
    return [call for call in deployer.log.writes if call[0] == "apigatewayv2"]


def test_the_socket_api_is_as_specified(deployer):
    result = deployer.up()
    ctx = deployer.context()
    gw = deployer.client("apigatewayv2")
    found = _socket(deployer)
    api_id = found["ApiId"]
    assert found["Name"] == "chatbot-socket"
    assert found["ProtocolType"] == "WEBSOCKET"
    assert found["RouteSelectionExpression"] == app_spec.SOCKET_ROUTE_SELECTION
    assert found["Tags"] == {TAG_KEY: "chatbot"}
    assert result.socket_url == f"wss://{api_id}.execute-api.{REGION}.amazonaws.com/live"

    def uri(kind: str) -> str:
        return (
            f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/"
            f"{ctx.function_arn(kind)}/invocations"
        )

    routes = {route["RouteKey"]: route for route in gw.get_routes(ApiId=api_id)["Items"]}
    assert set(routes) == {"$connect", "$disconnect", "$default"}
    integrations = {i["IntegrationId"]: i for i in gw.get_integrations(ApiId=api_id)["Items"]}
    assert len(integrations) == len({route.function for route in app_spec.SOCKET_ROUTES})
    for route in app_spec.SOCKET_ROUTES:
        target = integrations[routes[route.key]["Target"].removeprefix("integrations/")]
        assert target["IntegrationType"] == "AWS_PROXY"
        assert target["IntegrationMethod"] == "POST"
        assert target["IntegrationUri"] == uri(route.function)
        assert target["TimeoutInMillis"] == 29_000
    # Only $connect is authorized (AWS's rule for WebSocket APIs), by the JWT authorizer.
    connect_route = routes["$connect"]
    assert connect_route["AuthorizationType"] == "CUSTOM"
    assert routes["$disconnect"]["AuthorizationType"] == "NONE"
    assert routes["$default"]["AuthorizationType"] == "NONE"
    authorizer = gw.get_authorizer(ApiId=api_id, AuthorizerId=connect_route["AuthorizerId"])
    assert authorizer["Name"] == "chatbot-jwt"
    assert authorizer["AuthorizerType"] == "REQUEST"
    assert authorizer["AuthorizerUri"] == uri(app_spec.AUTHORIZER_FUNCTION)
    assert authorizer["IdentitySource"] == ["route.request.querystring.token"]
    assert authorizer["IdentitySource"] == [app_spec.SOCKET_AUTHORIZER_IDENTITY_SOURCE]
    # HTTP API settings that a WebSocket authorizer does not have
    assert not {"AuthorizerPayloadFormatVersion", "EnableSimpleResponses"} & set(authorizer)

    stage = _stage(deployer, api_id)
    assert stage["StageName"] == "live" == app_spec.SOCKET_STAGE
    assert stage["DefaultRouteSettings"]["ThrottlingRateLimit"] == app_spec.SOCKET_THROTTLE.rate
    assert stage["DefaultRouteSettings"]["ThrottlingBurstLimit"] == app_spec.SOCKET_THROTTLE.burst
    assert stage["Tags"] == {TAG_KEY: "chatbot"}
    assert "AutoDeploy" not in stage  # HTTP APIs only: a WebSocket stage is deployed
    deployment = gw.get_deployment(ApiId=api_id, DeploymentId=stage["DeploymentId"])
    assert deployment["Description"].startswith(socket_api.DEPLOYMENT_PREFIX)
    assert deployer.log.writes.count(("apigatewayv2", "CreateDeployment")) == 1

    # Invoke permissions: the stream function from the stage's routes, the authorizer from
    # this authorizer; each its own statement next to the HTTP API's.
    prefix = f"arn:aws:execute-api:{REGION}:{ctx.account}:{api_id}"
    expected = {
        "stream": f"{prefix}/live/*",
        "authorizer": f"{prefix}/authorizers/{authorizer['AuthorizerId']}",
    }
    for kind in app_spec.FUNCTION_KINDS:
        socket_statements = [
            s
            for s in permissions.statements(ctx, kind)
            if s["Sid"] == permissions.SOCKET_STATEMENT_ID
        ]
        if kind not in expected:
            assert socket_statements == [], kind
            continue
        [statement] = socket_statements
        assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}
        assert statement["Action"] == "lambda:InvokeFunction"
        assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == expected[kind]
    assert {s["Sid"] for s in permissions.statements(ctx, "authorizer")} == {
        permissions.STATEMENT_ID,
        permissions.SOCKET_STATEMENT_ID,
    }

    # status lists it, with its URL
    found_now = inventory.take(ctx)
    assert found_now.socket_url == result.socket_url
    [row] = [r for r in found_now.resources if r.kind == "socket-api"]
    assert row.present and row.name == "chatbot-socket"


def _route(deployer: Deployer, api_id: str, key: str) -> dict[str, Any]:
    gw = deployer.client("apigatewayv2")
    [route] = [r for r in gw.get_routes(ApiId=api_id)["Items"] if r["RouteKey"] == key]
    return dict(route)


def test_a_route_changed_by_hand_is_put_back_without_a_deployment(deployer):
    """Changed in the console but not deployed: the stage still serves what `up` deployed,
    which is what the spec says, so putting the route back is all there is to do."""
    deployer.up()
    api_id = _socket(deployer)["ApiId"]
    before = _stage(deployer, api_id)["DeploymentId"]
    route = _route(deployer, api_id, "$connect")
    deployer.client("apigatewayv2").update_route(
        ApiId=api_id, RouteId=route["RouteId"], AuthorizationType="NONE"
    )
    deployer.log.clear()
    result = deployer.up()
    assert _gateway_writes(deployer) == [("apigatewayv2", "UpdateRoute")]
    assert result.changed == ["socket-api"]
    assert _route(deployer, api_id, "$connect")["AuthorizationType"] == "CUSTOM"
    assert _stage(deployer, api_id)["DeploymentId"] == before


def test_a_route_changed_and_deployed_by_hand_is_put_back_and_deployed(deployer):
    deployer.up()
    api_id = _socket(deployer)["ApiId"]
    gw = deployer.client("apigatewayv2")
    route = _route(deployer, api_id, "$connect")
    gw.update_route(ApiId=api_id, RouteId=route["RouteId"], AuthorizationType="NONE")
    by_hand = gw.create_deployment(ApiId=api_id, StageName="live")["DeploymentId"]
    deployer.log.clear()
    result = deployer.up()
    assert _gateway_writes(deployer) == [
        ("apigatewayv2", "UpdateRoute"),
        ("apigatewayv2", "CreateDeployment"),
    ]
    assert "deployed" in result.record.steps["socket-api"].outcome.summary
    assert _stage(deployer, api_id)["DeploymentId"] not in {by_hand, None}
    deployer.log.clear()
    deployer.up()
    assert deployer.log.writes == []  # deployed: nothing left to do


def test_a_run_killed_before_deploying_is_deployed_by_the_next(deployer, monkeypatch):
    """The spec changed (the authorizer's identity source); the run updated the authorizer
    and died before CreateDeployment: the stage still serves the old configuration, though
    the authorizer looks right. The next run sees it from the deployment's description and
    deploys, and only that."""
    deployer.up()
    api_id = _socket(deployer)["ApiId"]
    before = _stage(deployer, api_id)["DeploymentId"]
    source = "route.request.querystring.access_token"
    monkeypatch.setattr(app_spec, "SOCKET_AUTHORIZER_IDENTITY_SOURCE", source)

    def killed(model: Any, **_: Any) -> None:
        if model.name == "CreateDeployment":
            raise botocore.exceptions.EndpointConnectionError(endpoint_url="https://aws")

    deployer.on("before-call", killed)
    with pytest.raises(botocore.exceptions.EndpointConnectionError):
        deployer.up()
    assert ("apigatewayv2", "UpdateAuthorizer") in deployer.log.writes
    assert _stage(deployer, api_id)["DeploymentId"] == before
    deployer.aws.session.events.unregister("before-call", killed)
    for client in deployer.aws._clients.values():
        client.meta.events.unregister("before-call", killed)
    deployer.log.clear()
    result = deployer.up()
    assert _gateway_writes(deployer) == [("apigatewayv2", "CreateDeployment")]
    assert result.changed == ["socket-api"]
    assert _stage(deployer, api_id)["DeploymentId"] != before
    deployer.log.clear()
    deployer.up()
    assert deployer.log.writes == []


def test_stage_throttling_changed_by_hand_is_put_back_without_a_deployment(deployer):
    """Stage settings are not part of a deployment (AWS: "changes to anything other than
    stage settings require a redeployment"). moto has no UpdateStage: answered here."""
    deployer.up()
    api_id = _socket(deployer)["ApiId"]
    stage = _stage(deployer, api_id)
    updates: list[dict[str, Any]] = []

    def answer(model: Any, params: dict[str, Any], **_: Any) -> Any:
        if model.name == "GetStages" and f"/apis/{api_id}/" in params["url_path"]:
            lowered = {**stage, "DefaultRouteSettings": {"ThrottlingRateLimit": 1.0}}
            lowered.pop("CreatedDate", None)
            lowered.pop("LastUpdatedDate", None)
            return FakeHttp(200), {"Items": [lowered]}
        if model.name == "UpdateStage":
            return FakeHttp(200), {"StageName": "live", "DeploymentId": stage["DeploymentId"]}
        return None

    deployer.on(
        "before-parameter-build.apigatewayv2.UpdateStage",
        lambda params, **_: updates.append(dict(params)),
    )
    deployer.on("before-call", answer)
    deployer.log.clear()
    result = deployer.up()
    [update] = updates
    assert update["ApiId"] == api_id and update["StageName"] == "live"
    assert update["DefaultRouteSettings"] == {
        "ThrottlingBurstLimit": app_spec.SOCKET_THROTTLE.burst,
        "ThrottlingRateLimit": app_spec.SOCKET_THROTTLE.rate,
    }
    assert _gateway_writes(deployer) == [("apigatewayv2", "UpdateStage")]
    assert result.changed == ["socket-api"]


def test_a_function_that_no_longer_manages_connections_loses_its_grant(deployer, monkeypatch):
    deployer.up()
    ctx = deployer.context()
    spec = app_spec.FUNCTIONS["stream"]
    monkeypatch.setitem(app_spec.FUNCTIONS, "stream", replace(spec, manages_connections=False))
    deployer.log.clear()
    result = deployer.up()
    assert deployer.log.writes == [("iam", "DeleteRolePolicy")]
    assert result.changed == ["sweep:connection-grant"]
    names = deployer.client("iam").list_role_policies(RoleName=ctx.names.role("stream"))
    assert names["PolicyNames"] == [iam.POLICY_NAME]


def test_teardown_removes_the_socket_api_with_all_its_parts(deployer):
    deployer.up()
    ctx = deployer.context()
    api_id = _socket(deployer)["ApiId"]
    teardown_engine.teardown(ctx, inventory.take(ctx))
    gw = deployer.client("apigatewayv2")
    assert gw.get_apis()["Items"] == []
    with pytest.raises(gw.exceptions.NotFoundException):
        gw.get_routes(ApiId=api_id)
    lam = deployer.client("lambda")
    assert lam.list_functions()["Functions"] == []  # and their permissions with them
    assert deployer.client("iam").list_roles()["Roles"] == []  # and the grant with its role
    assert inventory.take(ctx).socket_url is None


def test_against_an_emulator_without_deployments_nothing_is_deployed(
    server, workspace, monkeypatch
):
    """A moto server (an endpoint that is not AWS's) has no deployments: `up` deploys
    nothing there, and a no-op `up` still writes nothing."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", server)
    aws = connect(None, None)
    deployer = Deployer(aws, CallLog().attach(aws.session), workspace)
    result = deployer.up()
    ctx = deployer.context()
    api_id = _socket(deployer)["ApiId"]
    assert emulators.lacks_deployments(ctx, api_id)
    assert ("apigatewayv2", "CreateDeployment") not in deployer.log.writes
    assert result.socket_url.endswith(f"{api_id}.execute-api.{REGION}.amazonaws.com/live")
    deployer.log.clear()
    deployer.up()
    assert deployer.log.writes == []
    teardown_engine.teardown(ctx, inventory.take(ctx))
    assert inventory.take(ctx).present == []


def test_against_aws_deployments_are_never_doubted(deployer):
    """In-process moto answers from AWS's own host names: no probe, no fallback."""
    ctx = deployer.context()
    deployer.log.clear()
    assert emulators.lacks_deployments(ctx, "abc") is False
    assert deployer.log.calls == []


def test_a_duplicate_socket_api_is_listed_then_removed_and_the_http_api_kept(deployer):
    """Two racing runs could leave two WebSocket APIs tagged for the stack: the one with the
    most routes is kept, the other removed; the HTTP API (same tag) is never taken for one."""
    first = deployer.up()
    gw = deployer.client("apigatewayv2")
    duplicate = gw.create_api(
        Name="chatbot-socket",
        ProtocolType="WEBSOCKET",
        RouteSelectionExpression=app_spec.SOCKET_ROUTE_SELECTION,
        Tags={TAG_KEY: "chatbot"},
    )
    ctx = deployer.context()
    listed = [r for r in inventory.take(ctx).resources if r.kind == "socket-api"]
    assert len(listed) == 2
    deployer.log.clear()
    result = deployer.up()
    assert result.socket_url == first.socket_url and result.api_url == first.api_url
    assert [a["ApiId"] for a in api.find_apis(ctx, "WEBSOCKET")] == [_socket(deployer)["ApiId"]]
    assert _socket(deployer)["ApiId"] != duplicate["ApiId"]
    assert len(api.find_apis(ctx)) == 1
    assert result.changed == ["sweep:socket-api"]
    assert _gateway_writes(deployer) == [("apigatewayv2", "DeleteApi")]


def test_every_function_api_gateway_invokes_gets_a_permission_from_each_api_that_does(deployer):
    ctx = deployer.context()
    http = permissions.InvokePermissions().wanted(ctx)
    socket = permissions.SocketInvokePermissions().wanted(ctx)
    assert set(http) | set(socket) == set(app_spec.invoked_functions())
    assert set(socket) == {"stream", app_spec.AUTHORIZER_FUNCTION}
    assert set(http) == {route.function for route in app_spec.ROUTES} | {"authorizer"}
