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


def _resources(policy: dict[str, Any]) -> list[str]:
    return [r for statement in policy["Statement"] for r in statement["Resource"]]


def test_conversation_functions_query_their_tables_index_by_its_exact_arn(deployer):
    ctx = deployer.context()
    prefix = f"arn:aws:dynamodb:{ctx.region}:{ctx.account}:table/chatbot-conversations"
    for kind, spec in app_spec.FUNCTIONS.items():
        policy = iam.function_policy(ctx, kind)
        statements = {s["Sid"]: s for s in policy["Statement"]}
        queries = any(
            access.table == "conversations" and "dynamodb:Query" in access.actions
            for access in spec.tables
        )
        if not queries:
            assert not any("/index/" in r for r in _resources(policy)), kind
            continue
        index = statements["OwnConversationsIndexes"]
        assert index["Action"] == ["dynamodb:Query"]  # nothing but queries on the index
        assert index["Resource"] == [f"{prefix}/index/by-activity"]
        assert statements["OwnConversations"]["Resource"] == [prefix]
    assert {
        kind for kind in app_spec.FUNCTIONS if "/index/" in str(iam.function_policy(ctx, kind))
    } == {
        "conversations",
        "stream",
    }


def test_only_the_stream_function_may_send_to_connections_of_its_own_api_and_stage(deployer):
    result = deployer.up()
    ctx = deployer.context()
    gw_api = result.socket_url.split("//")[1].split(".")[0]
    expected = {
        "Sid": "SendToOwnSocketConnections",
        "Effect": "Allow",
        "Action": ["execute-api:ManageConnections"],
        "Resource": [
            f"arn:aws:execute-api:{ctx.region}:{ctx.account}:{gw_api}/live/POST/@connections/*"
        ],
    }
    assert iam.connections_policy(ctx, gw_api)["Statement"] == [expected]
    client = deployer.client("iam")
    for kind, spec in app_spec.FUNCTIONS.items():
        role = ctx.names.role(kind)
        names = client.list_role_policies(RoleName=role)["PolicyNames"]
        assert (
            (iam.CONNECTIONS_POLICY_NAME in names) == spec.manages_connections == (kind == "stream")
        )
        # the function's own policy never grants execute-api
        assert "execute-api" not in str(iam.function_policy(ctx, kind))
    deployed = client.get_role_policy(
        RoleName=ctx.names.role("stream"), PolicyName=iam.CONNECTIONS_POLICY_NAME
    )["PolicyDocument"]
    assert deployed["Statement"] == [expected]


def test_no_policy_has_a_wildcard_account_region_or_resource(deployer):
    deployer.up()
    ctx = deployer.context()
    [socket] = api.find_apis(ctx, "WEBSOCKET")
    policies = [iam.function_policy(ctx, kind) for kind in app_spec.FUNCTIONS]
    policies.append(iam.connections_policy(ctx, socket["ApiId"]))
    for policy in policies:
        for resource in _resources(policy):
            parts = resource.split(":", 5)
            assert parts[:2] == ["arn", "aws"] and "*" not in parts[2:5], resource
            # only a log group's streams and an API stage's connections end in a wildcard
            name = parts[5]
            assert "*" not in name or name.endswith((":*", "/POST/@connections/*")), resource
