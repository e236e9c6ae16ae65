"""The OpenAI key and JWT secret: where the key comes from, and what is kept across runs."""

from __future__ import annotations

import pytest

from chatbot_deploy.deploy import api, params
from chatbot_deploy.deploy import teardown as teardown_engine
from chatbot_deploy.deploy.inventory import take
from chatbot_deploy.errors import UserError


def test_key_from_environment_wins(deployer):
    ctx = deployer.context()
    assert params.resolve_openai_key(ctx, {"OPENAI_API_KEY": " sk-env "}) == "sk-env"


def test_key_is_asked_once_then_kept(deployer):
    ctx = deployer.context()
    asked: list[int] = []

    def prompt() -> str:
        asked.append(1)
        return "sk-typed"

    key = params.resolve_openai_key(ctx, {}, prompt)
    assert key == "sk-typed"
    deployer.up(key=key)
    # Next time the stored key is kept: no question, nothing rewritten.
    assert params.resolve_openai_key(ctx, {}, prompt) is None
    assert asked == [1]
    stored = deployer.client("ssm").get_parameter(
        Name=ctx.names.openai_key_param, WithDecryption=True
    )["Parameter"]["Value"]
    assert stored == "sk-typed"


def test_empty_answer_is_an_error(deployer):
    with pytest.raises(UserError, match="no OpenAI API key"):
        params.resolve_openai_key(deployer.context(), {}, lambda: "  ")


def test_jwt_secret_is_made_once(deployer):
    deployer.up()
    ctx = deployer.context()
    ssm = deployer.client("ssm")
    first = ssm.get_parameter(Name=ctx.names.jwt_secret_param, WithDecryption=True)
    deployer.up(key="sk-other")
    second = ssm.get_parameter(Name=ctx.names.jwt_secret_param, WithDecryption=True)
    assert first["Parameter"]["Value"] == second["Parameter"]["Value"]
    assert first["Parameter"]["Version"] == second["Parameter"]["Version"]


def test_teardown_leaves_an_untagged_api_of_the_same_name(deployer):
    gw = deployer.client("apigatewayv2")
    other = gw.create_api(Name="chatbot-api", ProtocolType="HTTP")
    deployer.up()
    ctx = deployer.context()
    teardown_engine.teardown(ctx, take(ctx))
    assert api.find_apis(ctx) == []
    assert [item["ApiId"] for item in gw.get_apis()["Items"]] == [other["ApiId"]]
