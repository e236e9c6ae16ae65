"""POST /logout through the real handlers (login, authorizer, logout, chat) in-process: a
signed-out token is refused by chat, "everywhere" ends every session of the user, and
nothing else is touched."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from chatbot_deploy.local import emulator
from chatbot_lambda import authorizer, chat, logout, sessions, signed_in
from tests.lambda_code.test_handlers import PASSWORD, aws, body_of, do_login, http_event

__all__ = ["aws"]  # the fixture, used by name

HELLO = [{"role": "user", "content": "hello"}]


def authorized(token: str, body: Any, raw: str | None = None) -> dict[str, Any]:
    """An event as API Gateway passes it on: the header, and the authorizer's context."""
    headers = {"content-type": "application/json", "authorization": f"Bearer {token}"}
    verdict = authorizer.handler({"headers": headers}, None)
    assert verdict["isAuthorized"] is True
    event: dict[str, Any] = http_event(
        body if raw is None else raw, headers, context=verdict["context"]
    )
    return event


def login_token(username: str = "alice") -> str:
    return str(body_of(do_login(username))["token"])


def chat_status(token: str) -> tuple[int, Any]:
    emulator.new_container()  # past the 5 s a container trusts its session checks
    response = chat.handler(authorized(token, {"messages": HELLO}), None)
    return response["statusCode"], body_of(response)


def test_signing_out_ends_that_session_only(aws: Any) -> None:
    first, second = login_token(), login_token()
    response = logout.handler(authorized(first, None, raw=""), None)
    assert response["statusCode"] == 200
    assert body_of(response) == {"signed_out": "this session"}
    assert chat_status(first) == (401, {"error": "session ended; log in again"})
    assert chat_status(second)[0] == 200  # the other device stays signed in
    # The table holds a hash of the token, never the token, until the token expires.
    table = aws.names.table("revoked-tokens")
    [item] = aws.dynamodb.scan(TableName=table)["Items"]
    assert item[sessions.KEY]["S"] == sessions.token_hash(first) != first
    expires = int(item[sessions.EXPIRES_ATTRIBUTE]["N"])
    assert abs(expires - body_of(do_login())["expires_at"]) <= 2
    assert first not in json.dumps(aws.dynamodb.scan(TableName=table))


def test_a_signed_out_token_is_refused_even_by_a_warm_container(aws: Any) -> None:
    token = login_token()
    assert chat.handler(authorized(token, {"messages": HELLO}), None)["statusCode"] == 200
    logout.handler(authorized(token, None, raw=""), None)
    time.sleep(signed_in.SESSION_CHECK_TTL_S + 0.1)  # the container's cached check has expired
    response = chat.handler(authorized(token, {"messages": HELLO}), None)
    assert response["statusCode"] == 401


def test_signing_out_everywhere_ends_every_session_of_the_user(aws: Any) -> None:
    aws.add_user(emulator.LocalUser("bob", PASSWORD))
    alice_phone, alice_laptop, bob = login_token(), login_token(), login_token("bob")
    time.sleep(1.1)  # token times are whole seconds: the next login is a later second
    response = logout.handler(authorized(alice_phone, {"everywhere": True}), None)
    assert body_of(response) == {"signed_out": "everywhere"}
    assert chat_status(alice_phone)[0] == 401
    assert chat_status(alice_laptop) == (401, {"error": "session ended; log in again"})
    assert chat_status(bob)[0] == 200
    time.sleep(1.1)
    assert chat_status(login_token())[0] == 200  # a new login works


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("[]", "request body must be a JSON object"),
        ('{"everywhere": "yes"}', "field 'everywhere' must be true or false"),
        ("{nope", "request body is not valid JSON"),
    ],
)
def test_a_bad_body_is_a_400_and_signs_nothing_out(aws: Any, raw: str, message: str) -> None:
    token = login_token()
    response = logout.handler(authorized(token, None, raw=raw), None)
    assert (response["statusCode"], body_of(response)) == (400, {"error": message})
    assert chat_status(token)[0] == 200
