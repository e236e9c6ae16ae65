import base64
import json

import pytest

from chatbot_lambda import validation
from chatbot_lambda.validation import RequestError, parse_chat, parse_login


def event(body, b64=False):
    if not isinstance(body, str | bytes):
        body = json.dumps(body)
    if b64:
        raw = body if isinstance(body, bytes) else body.encode()
        return {"body": base64.b64encode(raw).decode(), "isBase64Encoded": True}
    return {"body": body, "isBase64Encoded": False}


def test_valid_login_and_base64_body():
    request = parse_login(event({"username": "alice", "password": "pw"}, b64=True))
    assert (request.username, request.password) == ("alice", "pw")


LOGIN_BAD = [
    ("no body", None, 400),
    ("not json", "{nope", 400),
    ("array", [1, 2], 400),
    ("string", '"alice"', 400),
    ("missing password", {"username": "alice"}, 400),
    ("missing username", {"password": "x"}, 400),
    ("number username", {"username": 5, "password": "x"}, 400),
    ("null password", {"username": "a", "password": None}, 400),
    ("empty username", {"username": "", "password": "x"}, 400),
    ("long username", {"username": "a" * 65, "password": "x"}, 400),
    ("long password", {"username": "a", "password": "x" * 1025}, 400),
    ("huge body", {"username": "a", "password": "x" * (validation.MAX_BODY_BYTES + 1)}, 413),
    ("deep nesting", "[" * 100_000 + "]" * 100_000, 400),
]


@pytest.mark.parametrize(("case", "body", "status"), LOGIN_BAD, ids=[c[0] for c in LOGIN_BAD])
def test_bad_login_bodies(case, body, status):
    with pytest.raises(RequestError) as info:
        parse_login({"body": None} if body is None else event(body))
    assert info.value.status == status


def user(content="hi"):
    return {"role": "user", "content": content}


CHAT_BAD = [
    ("no messages", {}, 400),
    ("messages not list", {"messages": "hi"}, 400),
    ("empty list", {"messages": []}, 400),
    ("item not object", {"messages": ["hi"]}, 400),
    ("bad role", {"messages": [{"role": "tool", "content": "x"}]}, 400),
    ("missing role", {"messages": [{"content": "x"}]}, 400),
    ("content not string", {"messages": [{"role": "user", "content": ["x"]}]}, 400),
    ("last not user", {"messages": [user(), {"role": "assistant", "content": "x"}]}, 400),
    ("too many", {"messages": [user()] * (validation.MAX_MESSAGES + 1)}, 400),
    ("message too long", {"messages": [user("x" * (validation.MAX_MESSAGE_CHARS + 1))]}, 400),
    ("total too long", {"messages": [user("x" * 30_000)] * 4}, 400),
]


@pytest.mark.parametrize(("case", "body", "status"), CHAT_BAD, ids=[c[0] for c in CHAT_BAD])
def test_bad_chat_bodies(case, body, status):
    with pytest.raises(RequestError) as info:
        chat(event(body))
    assert info.value.status == status


MODELS = ("gpt-4o-mini", "gpt-4.1")  # offered; the first is the default


def chat(request):
    return parse_chat(request, MODELS)


def test_chat_model_is_the_default_unless_one_offered_is_asked_for():
    assert chat(event({"messages": [user()]})).model == "gpt-4o-mini"
    assert chat(event({"messages": [user()], "model": None})).model == "gpt-4o-mini"
    assert chat(event({"messages": [user()], "model": "gpt-4.1"})).model == "gpt-4.1"
    assert parse_chat(event({"messages": [user()]}), ("other",)).model == "other"


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("gpt-5", "field 'model' must be one of the models offered: gpt-4o-mini, gpt-4.1"),
        ("GPT-4.1", "field 'model' must be one of the models offered"),
        ("", "field 'model' must be one of the models offered"),
        (7, "field 'model' must be a string"),
        (["gpt-4.1"], "field 'model' must be a string"),
    ],
)
def test_chat_model_not_offered_is_a_400(model, message):
    with pytest.raises(RequestError) as info:
        chat(event({"messages": [user()], "model": model}))
    assert info.value.status == 400
    assert info.value.message.startswith(message)


# A lone surrogate escape parses into a str that UTF-8 cannot encode; it failed later
# (scrypt, DynamoDB, the model's HTTP client) as a 500.
NOT_UNICODE = [
    ("login username", '{"username": "\\udfff", "password": "x"}', parse_login),
    ("login password", '{"username": "alice", "password": "pw\\ud800"}', parse_login),
    ("login unknown key", '{"username": "a", "password": "b", "\\udc00": 1}', parse_login),
    ("login nested", '{"username": "a", "password": "b", "x": [{"y": ["\\ud800"]}]}', parse_login),
    ("chat content", '{"messages": [{"role": "user", "content": "\\ud800"}]}', chat),
    ("chat role", '{"messages": [{"role": "\\udbff", "content": "x"}]}', chat),
    ("chat item key", '{"messages": [{"role": "user", "content": "x", "\\ud800": 1}]}', chat),
    ("raw surrogate bytes", b'{"username": "\xed\xa0\x80", "password": "x"}', parse_login),
]


@pytest.mark.parametrize(("case", "body", "parse"), NOT_UNICODE, ids=[c[0] for c in NOT_UNICODE])
def test_text_that_is_not_unicode_is_a_400(case, body, parse):
    for b64 in (False, True):
        with pytest.raises(RequestError) as info:
            parse(event(body, b64=b64) if isinstance(body, str) else event(body, b64=True))
        assert info.value.status == 400
        assert "not valid Unicode" in info.value.message


def test_surrogate_pairs_and_other_unicode_are_fine():
    body = '{"messages": [{"role": "user", "content": "\\ud83d\\ude00 \\u00e9 \\u0000 \u4f60"}]}'
    request = chat(event(body))
    assert request.messages[0].content == "\U0001f600 \u00e9 \u0000 \u4f60"


def test_a_body_nested_as_deep_as_json_allows_is_checked_without_recursion():
    depth = 900  # json.loads accepts it (the default recursion limit is 1000)
    nested = "[" * depth + '"\\udfff"' + "]" * depth
    body = '{"username": "a", "password": "b", "x": ' + nested + "}"
    with pytest.raises(RequestError) as info:
        parse_login(event(body))
    assert info.value.status == 400


def test_valid_chat_keeps_order_and_roles():
    body = {
        "messages": [
            {"role": "system", "content": "be brief"},
            user("one"),
            {"role": "assistant", "content": "two"},
            user("three"),
        ]
    }
    request = chat(event(body))
    assert [m.as_dict() for m in request.messages] == body["messages"]
