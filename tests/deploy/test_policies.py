"""Least privilege, read from the generated policies: no function but login can read a
password hash, and every route has its own throttle so logins cannot starve chat."""

from __future__ import annotations

from typing import Any

from chatbot_deploy import app_spec
from chatbot_deploy.deploy import api, iam
from chatbot_lambda import users


def _users_statements(deployer: Any, kind: str) -> list[dict[str, Any]]:
    ctx = deployer.context()
    table = ctx.arn("dynamodb", f"table/{ctx.names.users_table}")
    policy = iam.function_policy(ctx, kind)
    return [s for s in policy["Statement"] if table in s["Resource"]]


def test_the_chat_role_cannot_read_password_hashes(deployer):
    [statement] = _users_statements(deployer, "chat")
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == ["dynamodb:GetItem"]
    condition = statement["Condition"]
    # Every attribute a request names must be one of these, and a read must name them:
    # a GetItem without a projection (Select ALL_ATTRIBUTES) is refused.
    assert set(condition) == {"ForAllValues:StringEquals", "StringEqualsIfExists"}
    allowed = condition["ForAllValues:StringEquals"]["dynamodb:Attributes"]
    assert set(allowed) == {users.KEY, users.SESSIONS_AFTER_ATTRIBUTE}
    assert users.HASH_ATTRIBUTE not in allowed
    assert condition["StringEqualsIfExists"] == {"dynamodb:Select": "SPECIFIC_ATTRIBUTES"}


def test_only_login_may_read_whole_user_items(deployer):
    for kind in app_spec.FUNCTIONS:
        for statement in _users_statements(deployer, kind):
            reads = {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan"} & set(
                statement["Action"]
            )
            if kind == "login" or not reads:
                continue
            allowed = statement["Condition"]["ForAllValues:StringEquals"]["dynamodb:Attributes"]
            assert users.HASH_ATTRIBUTE not in allowed, kind


def test_each_route_has_its_own_throttle_and_login_the_tightest(deployer):
    deployer.up()
    gateway = deployer.client("apigatewayv2")
    [found] = api.find_apis(deployer.context())
    [stage] = gateway.get_stages(ApiId=found["ApiId"])["Items"]
    settings = stage["RouteSettings"]
    assert set(settings) == {route.route_key for route in app_spec.ROUTES}
    login, chat = settings["POST /login"], settings["POST /chat"]
    assert login["ThrottlingRateLimit"] < chat["ThrottlingRateLimit"]
    assert login["ThrottlingBurstLimit"] < chat["ThrottlingBurstLimit"]
    assert (
        stage["DefaultRouteSettings"]["ThrottlingRateLimit"]
        == api.THROTTLING["ThrottlingRateLimit"]
    )
