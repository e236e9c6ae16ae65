"""The authorizer's answer to the WebSocket API's $connect: an IAM policy (docs/api.md,
"WebSocket: streamed answers"), called in-process with API Gateway's event shape."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest

from chatbot_deploy import app_spec
from chatbot_deploy.local import emulator
from chatbot_lambda import authorizer, sessions, tokens
from tests.support.fake_openai import FakeOpenAI

METHOD_ARN = "arn:aws:execute-api:eu-west-1:123456789012:abcdef123/live/$connect"


@pytest.fixture
def aws(fake_openai: FakeOpenAI) -> Iterator[emulator.Emulator]:
    config = app_spec.AppConfig(models=("test-model",), openai_base_url=fake_openai.base_url)
    with emulator.running(config, "sk-test") as env:
        yield env


def secret(aws: emulator.Emulator) -> str:
    name = aws.names.jwt_secret_param
    value: str = aws.ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    return value


def connect_event(token: str | None) -> dict[str, Any]:
    """API Gateway's $connect REQUEST authorizer event (the documented example's shape)."""
    query = {} if token is None else {"token": token}
    return {
        "type": "REQUEST",
        "methodArn": METHOD_ARN,
        "headers": {"Host": "abcdef123.execute-api.eu-west-1.amazonaws.com"},
        "queryStringParameters": query or None,
        "stageVariables": {},
        "requestContext": {
            "routeKey": "$connect",
            "eventType": "CONNECT",
            "connectionId": "abcDEF123=",
            "stage": "live",
            "apiId": "abcdef123",
            "domainName": "abcdef123.execute-api.eu-west-1.amazonaws.com",
        },
    }


def statement(answer: dict[str, Any]) -> dict[str, Any]:
    (only,) = answer["policyDocument"]["Statement"]
    assert answer["policyDocument"]["Version"] == "2012-10-17"
    return dict(only)


def test_a_valid_token_is_allowed_on_the_connect_route(aws: emulator.Emulator) -> None:
    issued = tokens.issue("alice", secret(aws), aws.names.token_issuer, 3600)
    answer = authorizer.handler(connect_event(issued.token), None)
    assert answer["principalId"] == "alice"
    assert statement(answer) == {
        "Action": "execute-api:Invoke",
        "Effect": "Allow",
        "Resource": METHOD_ARN,
    }
    issued_at = jwt.decode(issued.token, options={"verify_signature": False})["iat"]
    assert answer["context"] == {
        "username": "alice",
        "expires_at": issued.expires_at,
        "issued_at": issued_at,
        # the token's hash (never the token): the connection's messages do not carry it
        "token_hash": sessions.token_hash(issued.token),
    }
    assert "isAuthorized" not in answer  # not the HTTP API's simple response


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda aws: "not-a-jwt", id="garbage"),
        pytest.param(
            lambda aws: jwt.encode(
                {"sub": "alice", "iss": aws.names.token_issuer, "iat": 1, "exp": 2},
                secret(aws),
                "HS256",
            ),
            id="expired",
        ),
        pytest.param(
            lambda aws: (
                tokens.issue(
                    "alice", "another-secret-of-thirty-two-bytes!", aws.names.token_issuer, 60
                ).token
            ),
            id="other-key",
        ),
        pytest.param(
            lambda aws: tokens.issue("alice", secret(aws), "chatbot-deploy:other", 60).token,
            id="other-issuer",
        ),
        pytest.param(
            lambda aws: jwt.encode(
                {
                    "sub": "alice",
                    "iss": aws.names.token_issuer,
                    "iat": int(time.time()),
                    "exp": int(time.time()) + 60,
                },
                "",
                "none",
            ),
            id="alg-none",
        ),
    ],
)
def test_a_token_that_is_not_valid_gets_an_explicit_deny(
    aws: emulator.Emulator, make_token: Any
) -> None:
    answer = authorizer.handler(connect_event(make_token(aws)), None)
    assert statement(answer) == {
        "Action": "execute-api:Invoke",
        "Effect": "Deny",
        "Resource": METHOD_ARN,
    }
    assert "context" not in answer
    assert answer["principalId"] != "alice"


@pytest.mark.parametrize("token", [None, "", "   "])
def test_no_token_raises_unauthorized_as_api_gateway_documents(
    aws: emulator.Emulator, token: str | None
) -> None:
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer.handler(connect_event(token), None)


def test_the_http_api_still_gets_simple_responses(aws: emulator.Emulator) -> None:
    issued = tokens.issue("alice", secret(aws), aws.names.token_issuer, 3600)
    event = {
        "version": "2.0",
        "type": "REQUEST",
        "headers": {"authorization": f"Bearer {issued.token}"},
    }
    assert authorizer.handler(event, None)["isAuthorized"] is True
    event["headers"] = {"authorization": "Bearer forged"}
    assert authorizer.handler(event, None) == {"isAuthorized": False}
