"""The three handlers, called in-process with hand-made payload-2.0 events.

AWS is moto (through the same emulator `local` uses); the model is the fake OpenAI server.
"""

import contextlib
import json
import logging
import socket
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest

from chatbot_deploy import app_spec
from chatbot_deploy.local import emulator
from chatbot_lambda import authorizer, chat, login, passwords, signed_in, upstream, users
from tests.support.fake_openai import MALFORMED, MALFORMED_STREAM, ODD_BUT_FINE

PASSWORD = "alice-password-1"
API_KEY = "sk-test-0123456789"


@contextlib.contextmanager
def with_alice(config: app_spec.AppConfig, api_key: str | None) -> Iterator[emulator.Emulator]:
    """The emulator with user alice (chat refuses tokens of users who do not exist)."""
    with emulator.running(config, api_key) as env:
        env.add_user(emulator.LocalUser("alice", PASSWORD))
        yield env


@pytest.fixture
def aws(fake_openai) -> Iterator[emulator.Emulator]:
    config = app_spec.AppConfig(models=("test-model",), openai_base_url=fake_openai.base_url)
    with with_alice(config, API_KEY) as env:
        yield env


def http_event(body, headers=None, context=None):
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "POST /x",
        "rawPath": "/x",
        "headers": headers or {"content-type": "application/json"},
        "requestContext": {"http": {"method": "POST", "path": "/x"}},
        "body": body if isinstance(body, str) else json.dumps(body),
        "isBase64Encoded": False,
    }
    if context is not None:
        event["requestContext"]["authorizer"] = {"lambda": context}
    return event


def body_of(response):
    assert response["headers"]["content-type"] == "application/json"
    return json.loads(response["body"])


def do_login(username="alice", password=PASSWORD):
    return login.handler(http_event({"username": username, "password": password}), None)


def secret(aws):
    name = aws.names.jwt_secret_param
    return aws.ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]


# -- login ------------------------------------------------------------------------------


def test_login_issues_a_token_for_the_right_password(aws):
    response = do_login()
    assert response["statusCode"] == 200
    body = body_of(response)
    assert body["username"] == "alice"
    claims = jwt.decode(
        body["token"], secret(aws), algorithms=["HS256"], issuer=aws.names.token_issuer
    )
    assert claims["sub"] == "alice"
    assert claims["exp"] == body["expires_at"]
    assert claims["exp"] - claims["iat"] == 12 * 3600


def test_wrong_password_and_unknown_user_look_the_same(aws):
    wrong = do_login(password="not-the-password")
    unknown = do_login(username="mallory")
    assert wrong["statusCode"] == unknown["statusCode"] == 401
    assert wrong["body"] == unknown["body"]
    assert body_of(wrong) == {"error": "invalid username or password"}


def test_the_table_holds_a_hash_never_the_password(aws):
    item = aws.dynamodb.get_item(TableName=aws.names.users_table, Key={"username": {"S": "alice"}})
    stored = item["Item"]["password_hash"]["S"]
    assert stored.startswith("scrypt$")
    assert PASSWORD not in json.dumps(item)


def _store_hash(aws, username: str, stored: str) -> None:
    aws.dynamodb.update_item(
        TableName=aws.names.users_table,
        Key=users.key(username),
        UpdateExpression="SET #h = :h",
        ExpressionAttributeNames={"#h": users.HASH_ATTRIBUTE},
        ExpressionAttributeValues={":h": {"S": stored}},
    )


def _stored_hash(aws, username: str) -> str:
    item = aws.dynamodb.get_item(TableName=aws.names.users_table, Key=users.key(username))
    return str(item["Item"][users.HASH_ATTRIBUTE]["S"])


CHEAP = passwords.ScryptParams(log2_n=10, r=8, p=1)  # a cost from before a raise


def test_login_upgrades_a_hash_below_the_current_cost(aws):
    _store_hash(aws, "alice", passwords.hash_password(PASSWORD, CHEAP))
    assert passwords.needs_rehash(_stored_hash(aws, "alice"))
    assert do_login()["statusCode"] == 200
    upgraded = _stored_hash(aws, "alice")
    assert upgraded.startswith(f"scrypt${passwords.CURRENT.encode()}$")
    assert passwords.verify_password(PASSWORD, upgraded)
    assert do_login()["statusCode"] == 200  # and nothing to do the second time
    assert _stored_hash(aws, "alice") == upgraded


def test_hash_upgrade_never_undoes_a_password_change(aws, monkeypatch):
    old = passwords.hash_password(PASSWORD, CHEAP)
    _store_hash(aws, "alice", old)
    changed = passwords.hash_password("a password set meanwhile")
    real = users.replace_hash

    def change_first(dynamodb, table, username, stored, new):
        _store_hash(aws, "alice", changed)  # add-user --update wins the race
        return real(dynamodb, table, username, stored, new)

    monkeypatch.setattr(users, "replace_hash", change_first)
    assert do_login()["statusCode"] == 200
    assert _stored_hash(aws, "alice") == changed


def test_a_failing_hash_upgrade_does_not_fail_the_login(aws, monkeypatch, caplog):
    _store_hash(aws, "alice", passwords.hash_password(PASSWORD, CHEAP))

    def denied(*args, **kwargs):
        raise RuntimeError("AccessDenied")

    monkeypatch.setattr(users, "replace_hash", denied)
    assert do_login()["statusCode"] == 200
    assert "password hash upgrade failed: RuntimeError" in caplog.text


def test_login_never_logs_the_password(aws, caplog):
    caplog.set_level(logging.DEBUG)
    do_login()
    do_login(password="wrong-secret-guess")
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert PASSWORD not in text and "wrong-secret-guess" not in text


def test_unexpected_failure_is_a_bare_500(aws, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("table exploded: password=hunter2")

    monkeypatch.setattr(users, "get_password_hash", boom)
    response = do_login()
    assert response["statusCode"] == 500
    assert body_of(response) == {"error": "internal error"}


# -- authorizer ------------------------------------------------------------------------


def authorize(header_value):
    headers = {} if header_value is None else {"authorization": header_value}
    return authorizer.handler({"version": "2.0", "type": "REQUEST", "headers": headers}, None)


def test_authorizer_allows_a_fresh_token_and_passes_the_username(aws):
    body = body_of(do_login())
    issued_at = jwt.decode(body["token"], options={"verify_signature": False})["iat"]
    assert authorize(f"Bearer {body['token']}") == {
        "isAuthorized": True,
        "context": {"username": "alice", "expires_at": body["expires_at"], "issued_at": issued_at},
    }


@pytest.mark.parametrize("value", [None, "", "Basic abc", "Bearer", "Bearer    ", "token-only"])
def test_authorizer_denies_malformed_headers(aws, value):
    assert authorize(value) == {"isAuthorized": False}


def test_authorizer_denies_an_expired_token(aws):
    token = jwt.encode(
        {"sub": "alice", "iss": aws.names.token_issuer, "iat": 1, "exp": 2}, secret(aws), "HS256"
    )
    assert authorize(f"Bearer {token}") == {"isAuthorized": False}


# -- chat ------------------------------------------------------------------------------


def chat_call(messages, username="alice", expires_at=None, lambda_context=None, issued_at=None):
    expires_at = int(time.time()) + 60 if expires_at is None else expires_at
    issued_at = int(time.time()) if issued_at is None else issued_at
    context = (
        {"username": username, "expires_at": expires_at, "issued_at": issued_at} if username else {}
    )
    return chat.handler(http_event({"messages": messages}, context=context), lambda_context)


def test_chat_sends_the_whole_conversation(aws, fake_openai):
    fake_openai.requests.clear()
    conversation = [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "echo: first"},
        {"role": "user", "content": "second"},
    ]
    response = chat_call(conversation)
    assert response["statusCode"] == 200
    assert body_of(response)["message"] == {"role": "assistant", "content": "echo: second"}
    sent = fake_openai.requests[-1]
    assert sent.body["messages"] == conversation
    assert sent.body["model"] == "test-model"
    assert sent.api_key == API_KEY


def test_chat_asks_the_model_chosen_among_those_offered(fake_openai):
    config = app_spec.AppConfig(models=("m-one", "m-two"), openai_base_url=fake_openai.base_url)
    with with_alice(config, API_KEY):
        context = {"username": "alice", "expires_at": int(time.time()) + 60, "issued_at": 0}
        messages = [{"role": "user", "content": "hi"}]
        for body, asked in (
            ({"messages": messages}, "m-one"),
            ({"messages": messages, "model": "m-two"}, "m-two"),
        ):
            response = chat.handler(http_event(body, context=context), None)
            assert response["statusCode"] == 200
            assert fake_openai.requests[-1].body["model"] == asked
            assert body_of(response)["model"] == asked
        asked_before = len(fake_openai.requests)
        response = chat.handler(
            http_event({"messages": messages, "model": "m-three"}, context=context), None
        )
        assert response["statusCode"] == 400
        assert body_of(response)["error"] == (
            "field 'model' must be one of the models offered: m-one, m-two"
        )
        assert len(fake_openai.requests) == asked_before


def test_complete_asks_the_model_given_else_the_configured_one(fake_openai):
    client = upstream.Upstream(API_KEY, "test-model", fake_openai.base_url)
    messages = [{"role": "user", "content": "hi"}]
    assert client.complete(messages).model == "test-model"
    assert fake_openai.requests[-1].body["model"] == "test-model"
    assert client.complete(messages, None, "other-model").model == "other-model"
    assert fake_openai.requests[-1].body["model"] == "other-model"
    assert client.model == "test-model"  # the default stays


def test_chat_puts_the_system_prompt_first(fake_openai):
    config = app_spec.AppConfig(
        models=("m",), openai_base_url=fake_openai.base_url, system_prompt="Be terse."
    )
    with with_alice(config, API_KEY):
        fake_openai.requests.clear()
        assert chat_call([{"role": "user", "content": "hi"}])["statusCode"] == 200
    assert fake_openai.requests[-1].body["messages"][0] == {
        "role": "system",
        "content": "Be terse.",
    }


def test_chat_without_authorizer_context_is_refused(aws):
    assert chat_call([{"role": "user", "content": "hi"}], username=None)["statusCode"] == 401


def test_chat_refuses_a_token_that_expired_while_its_authorization_was_cached(aws):
    response = chat_call([{"role": "user", "content": "hi"}], expires_at=int(time.time()) - 1)
    assert response["statusCode"] == 401
    assert "expired" in body_of(response)["error"]


def test_a_removed_user_s_tokens_stop_working_within_the_check_ttl(aws, monkeypatch):
    monkeypatch.setattr(signed_in, "SESSION_CHECK_TTL_S", 1.5)
    hi = [{"role": "user", "content": "hi"}]
    read_at = time.monotonic()
    assert chat_call(hi)["statusCode"] == 200
    aws.dynamodb.delete_item(TableName=aws.names.users_table, Key=users.key("alice"))
    status = chat_call(hi)["statusCode"]
    if time.monotonic() - read_at < 1.4:  # (a very slow machine may be past the TTL already)
        assert status == 200  # this container read it just now
    time.sleep(max(0.0, 1.6 - (time.monotonic() - read_at)))
    response = chat_call(hi)
    assert response["statusCode"] == 401
    assert body_of(response) == {"error": "session ended; log in again"}


def test_a_password_change_ends_the_sessions_before_it(aws, monkeypatch):
    monkeypatch.setattr(signed_in, "SESSION_CHECK_TTL_S", 0)
    hi = [{"role": "user", "content": "hi"}]
    changed_at = int(time.time())
    aws.dynamodb.update_item(
        TableName=aws.names.users_table,
        Key=users.key("alice"),
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": users.SESSIONS_AFTER_ATTRIBUTE},
        ExpressionAttributeValues={":s": {"N": str(changed_at)}},
    )
    assert chat_call(hi, issued_at=changed_at - 1)["statusCode"] == 401  # an older login
    assert chat_call(hi, issued_at=changed_at)["statusCode"] == 200  # logged in since
    # An authorization cached before the issue time was passed along: only removal counts.
    context = {"username": "alice", "expires_at": int(time.time()) + 60}
    event = http_event({"messages": hi}, context=context)
    assert chat.handler(event, None)["statusCode"] == 200


def test_a_user_item_from_before_session_ends_existed_still_works(aws, monkeypatch):
    monkeypatch.setattr(signed_in, "SESSION_CHECK_TTL_S", 0)
    aws.dynamodb.update_item(
        TableName=aws.names.users_table,
        Key=users.key("alice"),
        UpdateExpression="REMOVE #s",
        ExpressionAttributeNames={"#s": users.SESSIONS_AFTER_ATTRIBUTE},
    )
    assert chat_call([{"role": "user", "content": "hi"}], issued_at=0)["statusCode"] == 200


@pytest.mark.parametrize(
    ("content", "status", "needle"),
    [
        ("[[rate-limit]]", 429, "rate limiting"),
        ("[[server-error]]", 502, "returned an error"),
        ("[[empty]]", 502, "no answer"),
    ],
)
def test_upstream_failures_are_mapped(aws, content, status, needle):
    response = chat_call([{"role": "user", "content": content}])
    assert response["statusCode"] == status
    assert needle in body_of(response)["error"]


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_a_provider_200_that_is_not_a_chat_completion_is_a_502(aws, name, caplog):
    """Not JSON, not UTF-8, or JSON of the wrong shape: a 502 that says so (it was a 500, or a
    200 with an empty answer), quoting nothing of what the provider sent."""
    caplog.set_level(logging.INFO)
    response = chat_call([{"role": "user", "content": f"[[reply:{name}]]"}])
    assert response["statusCode"] == 502
    error = body_of(response)["error"]
    assert error in (
        upstream.NOT_UNDERSTOOD,
        upstream.NO_ANSWER,
        "the model provider returned an error",
    )
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for text in (response["body"], logged):
        assert "sk-" not in text and "Hello" not in text and "Sign in" not in text


@pytest.mark.parametrize("name", sorted(ODD_BUT_FINE))
def test_a_provider_200_of_odd_but_usable_shape_gets_its_answer_through(aws, name):
    response = chat_call([{"role": "user", "content": f"[[reply:{name}]]"}])
    assert response["statusCode"] == 200
    body = body_of(response)
    assert body["message"] == {"role": "assistant", "content": "fine"}
    assert body["model"] == ("fake" if name == "bad-usage" else "test-model")
    # Only counts that are non-negative integers are passed on.
    assert body["usage"] == ({"total_tokens": 3} if name == "bad-usage" else {})


def test_provider_text_with_a_lone_surrogate_never_reaches_the_body(aws):
    response = chat_call([{"role": "user", "content": "[[reply:content-surrogate]]"}])
    response["body"].encode("utf-8")  # the body is always valid UTF-8
    assert response["statusCode"] == 502


def test_a_refused_api_key_is_a_502_that_quotes_nothing_of_the_key(fake_openai, caplog):
    caplog.set_level(logging.INFO)  # what Lambda records by default
    config = app_spec.AppConfig(models=("m",), openai_base_url=fake_openai.base_url)
    with with_alice(config, "sk-bad"):
        response = chat_call([{"role": "user", "content": "hi"}])
    assert response["statusCode"] == 502
    error = body_of(response)["error"]
    assert "API key" in error
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for text in (response["body"], logged):
        assert "sk-" not in text and "***" not in text


def test_unknown_model_is_a_502(fake_openai):
    config = app_spec.AppConfig(models=("missing-model",), openai_base_url=fake_openai.base_url)
    with with_alice(config, API_KEY):
        response = chat_call([{"role": "user", "content": "hi"}])
    assert response["statusCode"] == 502
    assert "model" in body_of(response)["error"]


def test_upstream_timeout_is_a_504(aws, monkeypatch):
    monkeypatch.setattr(upstream, "READ_TIMEOUT_S", 0.3)
    chat.reset()
    response = chat_call([{"role": "user", "content": "[[slow:1.5]] hi"}])
    assert response["statusCode"] == 504


class ContextWithTimeLeft:
    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


def test_a_slow_upstream_gets_our_504_before_the_function_times_out(aws, fake_openai):
    # 2.5 s left in the function: the call gets 1.5 s, then 504, with ~1 s to spare.
    started = time.monotonic()
    response = chat_call(
        [{"role": "user", "content": "[[slow:5]] hi"}], lambda_context=ContextWithTimeLeft(2.5)
    )
    took = time.monotonic() - started
    assert response["statusCode"] == 504
    assert "in time" in body_of(response)["error"]
    assert 1.2 < took < 2.5  # answered before the function's time ran out


def test_too_little_time_left_does_not_call_upstream(aws, fake_openai):
    fake_openai.requests.clear()
    response = chat_call(
        [{"role": "user", "content": "hi"}], lambda_context=ContextWithTimeLeft(1.5)
    )
    assert response["statusCode"] == 504
    assert fake_openai.requests == []


def test_unreachable_upstream_is_a_502():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once closed
    config = app_spec.AppConfig(models=("m",), openai_base_url=f"http://127.0.0.1:{port}/v1")
    with with_alice(config, API_KEY):
        response = chat_call([{"role": "user", "content": "hi"}])
    assert response["statusCode"] == 502
    assert "connect" in body_of(response)["error"]


def test_no_api_key_configured_is_a_clear_503(fake_openai):
    config = app_spec.AppConfig(models=("m",), openai_base_url=fake_openai.base_url)
    with with_alice(config, None):
        response = chat_call([{"role": "user", "content": "hi"}])
    assert response["statusCode"] == 503
    assert "OPENAI_API_KEY" in body_of(response)["error"]


def test_the_sdk_timeout_fits_inside_api_gateway():
    total = upstream.CONNECT_TIMEOUT_S + upstream.READ_TIMEOUT_S
    assert upstream.MAX_RETRIES == 0
    assert total < app_spec.API_TIMEOUT_S
    assert app_spec.FUNCTIONS["chat"].timeout_s < app_spec.API_TIMEOUT_S


def test_streamed_answers_arrive_as_deltas(fake_openai):
    client = upstream.Upstream(API_KEY, "test-model", fake_openai.base_url)
    deltas = list(client.stream([{"role": "user", "content": "one two three"}]))
    assert len(deltas) > 1
    assert "".join(deltas) == "echo: one two three"


def test_streamed_errors_are_mapped(fake_openai):
    client = upstream.Upstream(API_KEY, "test-model", fake_openai.base_url)
    with pytest.raises(upstream.UpstreamError) as info:
        list(client.stream([{"role": "user", "content": "[[rate-limit]]"}]))
    assert info.value.status == 429


@pytest.mark.parametrize("name", sorted(MALFORMED_STREAM))
def test_a_stream_that_is_not_chat_completion_chunks_is_a_502(fake_openai, name):
    client = upstream.Upstream(API_KEY, "test-model", fake_openai.base_url)
    with pytest.raises(upstream.UpstreamError) as info:
        list(client.stream([{"role": "user", "content": f"[[reply:{name}]]"}]))
    assert (info.value.status, info.value.message) == (502, upstream.NOT_UNDERSTOOD)
