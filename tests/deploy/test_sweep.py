"""What the spec no longer has is removed by `up`, listed by `status` and deleted by
`teardown`: found by name and tag, not by the code's current list."""

from __future__ import annotations

import pytest

from chatbot_deploy import app_spec
from chatbot_deploy.deploy import api, distribution, inventory, permissions, planner
from chatbot_deploy.deploy import teardown as teardown_engine
from chatbot_deploy.deploy.resources import UNITS
from chatbot_deploy.names import TAG_KEY

EXTRA = app_spec.FunctionSpec(
    "extra",
    "chatbot_lambda.extra.handler",
    128,
    3,
    "an extra function",
    parameters=("jwt-secret",),
    values=("token_issuer",),
)
# a path the CDN forwards only while the route exists: its behaviours follow the route table
EXTRA_ROUTE = app_spec.Route("PUT", "/extra/{id}", "extra", authorized=True)


@pytest.fixture
def with_extra(deployer, monkeypatch):
    """The spec with one more function and route (its handler in the workspace's code)."""
    (deployer.workspace.code_dir / "extra.py").write_text("def handler(event, context):\n    ...\n")
    monkeypatch.setitem(app_spec.FUNCTIONS, "extra", EXTRA)
    monkeypatch.setattr(app_spec, "FUNCTION_KINDS", (*app_spec.FUNCTION_KINDS, "extra"))
    monkeypatch.setattr(app_spec, "ROUTES", (*app_spec.ROUTES, EXTRA_ROUTE))

    def drop() -> None:
        monkeypatch.delitem(app_spec.FUNCTIONS, "extra")
        monkeypatch.setattr(app_spec, "FUNCTION_KINDS", tuple(app_spec.FUNCTIONS))
        monkeypatch.setattr(app_spec, "ROUTES", app_spec.ROUTES[:-1])

    return drop


def _routes(deployer) -> set[str]:
    [found] = api.find_apis(deployer.context())
    items = deployer.client("apigatewayv2").get_routes(ApiId=found["ApiId"])["Items"]
    return {item["RouteKey"] for item in items}


def _forwarded_paths(deployer) -> set[str]:
    """The paths the stack's CloudFront distribution forwards to an origin of its own."""
    [cdn] = distribution.find_distributions(deployer.context())
    config = deployer.client("cloudfront").get_distribution_config(Id=cdn.distribution_id)
    return {b["PathPattern"] for b in config["DistributionConfig"]["CacheBehaviors"]["Items"]}


def _function_names(deployer) -> set[str]:
    return {f["FunctionName"] for f in deployer.client("lambda").list_functions()["Functions"]}


def test_a_function_and_route_dropped_from_the_spec_are_removed_by_up(deployer, with_extra):
    deployer.up()
    assert "PUT /extra/{id}" in _routes(deployer)
    assert "chatbot-extra" in _function_names(deployer)
    [found] = api.find_apis(deployer.context())
    assert "/extra/*" in _forwarded_paths(deployer)

    with_extra()  # the code no longer has it
    ctx = deployer.context()
    listed = {r.name: r for r in inventory.take(ctx).resources}
    assert listed["chatbot-extra"].present
    assert "not in the spec" in listed["chatbot-extra"].detail
    assert "not in the spec" in listed["chatbot-extra-role"].detail

    deployer.log.clear()
    result = deployer.up()
    assert _routes(deployer) == {route.route_key for route in app_spec.ROUTES}
    assert "chatbot-extra" not in _function_names(deployer)
    iam_roles = {r["RoleName"] for r in deployer.client("iam").list_roles()["Roles"]}
    assert "chatbot-extra-role" not in iam_roles
    groups = deployer.client("logs").describe_log_groups()["logGroups"]
    assert "/aws/lambda/chatbot-extra" not in {g["logGroupName"] for g in groups}
    gw = deployer.client("apigatewayv2")
    integrations = gw.get_integrations(ApiId=found["ApiId"])["Items"]
    assert {i["IntegrationUri"] for i in integrations} == {
        ctx.function_arn(route.function) for route in app_spec.ROUTES
    }
    assert "/extra/*" not in _forwarded_paths(deployer)
    removed = {key for key in result.changed if key.startswith("sweep:")}
    assert removed == {"sweep:function", "sweep:role", "sweep:log-group"}
    writes = set(deployer.log.writes)
    assert {
        ("apigatewayv2", "DeleteRoute"),
        ("apigatewayv2", "DeleteIntegration"),
        ("lambda", "DeleteFunction"),
        ("iam", "DeleteRole"),
        ("logs", "DeleteLogGroup"),
    } <= writes
    deployer.log.clear()
    deployer.up()
    assert deployer.log.writes == []  # nothing left to remove


def test_teardown_deletes_a_function_the_code_no_longer_has(deployer, with_extra):
    deployer.up()
    with_extra()
    ctx = deployer.context()
    teardown_engine.teardown(ctx, inventory.take(ctx))
    assert inventory.take(ctx).present == []
    assert _function_names(deployer) == set()
    assert deployer.client("iam").list_roles()["Roles"] == []


def test_a_duplicate_api_is_listed_then_removed(deployer):
    """Two racing `up` runs of an older version could leave two APIs tagged for the stack."""
    first = deployer.up()
    gw = deployer.client("apigatewayv2")
    duplicate = gw.create_api(Name="chatbot-api", ProtocolType="HTTP", Tags={TAG_KEY: "chatbot"})
    ctx = deployer.context()
    apis = [r for r in inventory.take(ctx).resources if r.kind == "api"]
    assert len(apis) == 2
    result = deployer.up()
    assert result.api_url == first.api_url  # the oldest is kept
    assert [a["ApiId"] for a in api.find_apis(ctx)] != [duplicate["ApiId"]]
    assert len(api.find_apis(ctx)) == 1
    assert "sweep:api" in result.changed


def test_a_permission_is_removed_from_a_function_the_api_no_longer_invokes(deployer, monkeypatch):
    deployer.up()
    ctx = deployer.context()
    monkeypatch.setattr(app_spec, "ROUTES", app_spec.ROUTES[1:])  # POST /login dropped
    deployer.up()
    assert permissions.statements(ctx, "login") == []
    assert len(permissions.statements(ctx, "chat")) == 1


def test_another_stack_with_a_longer_name_is_left_alone(deployer):
    """Names are prefixes of each other ("chatbot-login" / "chatbot-dev-login"): the tag
    decides."""
    deployer.up()
    deployer.stack = "chatbot-dev"
    deployer.up()
    deployer.stack = "chatbot"
    ctx = deployer.context()
    found = inventory.take(ctx)
    assert all("chatbot-dev" not in resource.name for resource in found.resources)
    assert found.deployed
    deployer.log.clear()
    deployer.up()
    assert deployer.log.writes == []  # nothing of the other stack is swept
    teardown_engine.teardown(ctx, inventory.take(ctx))
    deployer.stack = "chatbot-dev"
    assert inventory.take(deployer.context()).deployed


def test_teardown_order_is_the_reverse_of_up():
    """Derived from the units: for every `after` edge, teardown deletes the dependent
    first."""
    from chatbot_deploy.deploy.unit import Found

    found = [Found(unit.kind, f"{unit.kind}-x", "x") for unit in UNITS if unit.listed]
    steps = {step.key: step for step in planner.plan_teardown(None, found)}  # type: ignore[arg-type]
    for unit in UNITS:
        for before in unit.after:
            if f"delete:{before}:x" in steps and f"delete:{unit.kind}:x" in steps:
                assert f"delete:{unit.kind}:x" in steps[f"delete:{before}:x"].after
    assert "delete:permission:x" not in steps  # part of the function
