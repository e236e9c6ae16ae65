"""docs/api.md, checked over real HTTP against `chatbot-deploy local`.

Every answer to POST /login and POST /chat must be a row of the page's status tables
(tests/support/contract.py reads them), and the last test checks that every row was
produced by some test here: the page and the server cannot drift apart either way.
"""

import base64
import concurrent.futures
import json
import time
from typing import Any

import jwt
import pytest

from chatbot_deploy import app_spec
from chatbot_deploy.local import LocalUser, emulator, gateway
from chatbot_lambda import chat as chat_handler
from chatbot_lambda import conversations, signed_in, upstream, users
from tests.support import contract, http
from tests.support.local_app import API_KEY, PASSWORD, USERNAME, LocalApp

SEEN: set[tuple[str, contract.Row]] = set()  # the rows some answer matched
RAN: set[str] = set()  # the tests that ran (with their answers checked)


@pytest.fixture(autouse=True)
def every_answer_is_documented(monkeypatch, app, request):
    """Each answer of a documented route must be a row of docs/api.md."""
    answers: list[tuple[str, http.Reply]] = []
    real = http.request

    def recording(method: str, url: str, *args, **kwargs) -> http.Reply:
        reply = real(method, url, *args, **kwargs)
        route = contract.route_of(method, url.removeprefix(app.url))
        if route is not None:
            answers.append((route, reply))
        return reply

    def recording_raw(base: str, data: bytes, *args, **kwargs) -> http.Reply:
        reply = real_raw(base, data, *args, **kwargs)
        method, target = data.decode("latin-1").split(" ", 2)[:2]
        route = contract.route_of(method, target)
        if route is not None:
            answers.append((route, reply))
        return reply

    real_raw = http.raw
    monkeypatch.setattr(http, "request", recording)
    monkeypatch.setattr(http, "raw", recording_raw)
    yield
    for route, reply in answers:
        row = contract.documented(route, reply.status, reply.body)
        answer = f"{reply.status} {reply.body[:200]!r}"
        assert row is not None, f"{route} answered {answer}: not in docs/api.md"
        SEEN.add((route, row))
    RAN.add(request.node.nodeid)


MODELS = ("test-model", "test-model-2")  # offered; the first is the default


@pytest.fixture(scope="module")
def app(fake_openai):
    from tests.support.local_app import running_local

    config = app_spec.AppConfig(models=MODELS, openai_base_url=fake_openai.base_url)
    with running_local(fake_openai.base_url, config=config) as running:
        yield running


@pytest.fixture(scope="module")
def token(app: LocalApp) -> str:
    return http.login(app.url, USERNAME, PASSWORD)


def chat(app, token, messages, **kw):
    return http.post(f"{app.url}/chat", {"messages": messages}, http.bearer(token), **kw)


def test_login_success_shape(app):
    reply = http.post(f"{app.url}/login", {"username": USERNAME, "password": PASSWORD})
    assert reply.status == 200
    body = reply.json()
    assert set(body) == {"token", "expires_at", "username"}
    assert body["username"] == USERNAME
    assert isinstance(body["expires_at"], int) and body["expires_at"] > time.time()
    assert reply.headers["content-type"] == "application/json"
    assert reply.headers["cache-control"] == "no-store"


def test_wrong_password_and_unknown_user_same_answer(app):
    wrong = http.post(f"{app.url}/login", {"username": USERNAME, "password": "nope-nope"})
    unknown = http.post(f"{app.url}/login", {"username": "nobody", "password": "nope-nope"})
    assert wrong.status == unknown.status == 401
    assert wrong.body == unknown.body == b'{"error":"invalid username or password"}'


BAD_LOGIN = [
    ("empty body", b"", 400),
    ("not json", b"{user", 400),
    ("json array", b"[]", 400),
    ("missing password", {"username": "alice"}, 400),
    ("password is a number", {"username": "alice", "password": 123}, 400),
    ("username too long", {"username": "a" * 65, "password": "x"}, 400),
    ("body over 256 KiB", {"username": "alice", "password": "x" * 300_000}, 413),
    ("invalid utf-8", b'{"username": "\xff\xfe", "password": "x"}', 400),
    ("lone surrogate username", b'{"username": "\\udfff", "password": "x"}', 400),
    ("lone surrogate password", b'{"username": "alice", "password": "pw\\ud800pw"}', 400),
]


@pytest.mark.parametrize(("case", "body", "status"), BAD_LOGIN, ids=[c[0] for c in BAD_LOGIN])
def test_bad_login_requests(app, case, body, status):
    reply = http.post(f"{app.url}/login", body)
    assert reply.status == status
    assert isinstance(reply.json()["error"], str)


def test_chat_success_shape(app, token):
    reply = chat(app, token, [{"role": "user", "content": "hi"}])
    assert reply.status == 200
    body = reply.json()
    assert body["message"] == {"role": "assistant", "content": "echo: hi"}
    assert body["model"] == "test-model"
    assert set(body["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}


def test_chat_asks_the_model_chosen_among_those_offered(app, token, fake_openai):
    messages = [{"role": "user", "content": "hi"}]
    for body, asked in (
        ({"messages": messages}, "test-model"),
        ({"messages": messages, "model": "test-model-2"}, "test-model-2"),
        ({"messages": messages, "model": "test-model"}, "test-model"),
        ({"messages": messages, "model": None}, "test-model"),
    ):
        reply = http.post(f"{app.url}/chat", body, http.bearer(token))
        assert reply.status == 200, reply.body
        assert fake_openai.requests[-1].body["model"] == asked
        assert reply.json()["model"] == asked


@pytest.mark.parametrize("model", ["gpt-4o-mini", "TEST-MODEL", "", 7, ["test-model"]])
def test_chat_with_a_model_not_offered_is_a_400_before_the_provider(app, token, fake_openai, model):
    asked = len(fake_openai.requests)
    body = {"messages": [{"role": "user", "content": "hi"}], "model": model}
    reply = http.post(f"{app.url}/chat", body, http.bearer(token))
    assert reply.status == 400
    error = reply.json()["error"]
    if isinstance(model, str):
        assert error == "field 'model' must be one of the models offered: test-model, test-model-2"
    else:
        assert error == "field 'model' must be a string"
    assert len(fake_openai.requests) == asked


BAD_CHAT = [
    ("not json", b"nope", 400),
    ("no messages", {}, 400),
    ("bad role", {"messages": [{"role": "root", "content": "x"}]}, 400),
    ("content not string", {"messages": [{"role": "user", "content": 1}]}, 400),
    ("last message not user", {"messages": [{"role": "assistant", "content": "x"}]}, 400),
    ("too many messages", {"messages": [{"role": "user", "content": "x"}] * 101}, 400),
    ("body over 256 KiB", {"messages": [{"role": "user", "content": "x" * 300_000}]}, 413),
    ("lone surrogate content", b'{"messages": [{"role": "user", "content": "\\ud800"}]}', 400),
]


@pytest.mark.parametrize(("case", "body", "status"), BAD_CHAT, ids=[c[0] for c in BAD_CHAT])
def test_bad_chat_requests(app, token, case, body, status):
    reply = http.post(f"{app.url}/chat", body, http.bearer(token))
    assert reply.status == status
    assert isinstance(reply.json()["error"], str)


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _secret(app):
    name = app.aws.names.jwt_secret_param
    return app.aws.ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]


def _claims(app, **over):
    now = int(time.time())
    return {"sub": USERNAME, "iss": app.aws.names.token_issuer, "iat": now, "exp": now + 60, **over}


FORGED = {
    "expired": lambda app: jwt.encode(_claims(app, exp=int(time.time()) - 1), _secret(app)),
    "signed with another key": lambda app: jwt.encode(_claims(app), "k" * 40),
    "alg none": lambda app: f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(app))}.",
    "HS384": lambda app: jwt.encode(_claims(app), _secret(app), algorithm="HS384"),
    "wrong issuer": lambda app: jwt.encode(_claims(app, iss="chatbot-deploy:other"), _secret(app)),
    "garbage": lambda app: "garbage",
}


@pytest.mark.parametrize("case", sorted(FORGED))
def test_forged_tokens_get_403(app, case):
    reply = chat(app, FORGED[case](app), [{"role": "user", "content": "hi"}])
    assert reply.status == 403
    assert reply.json() == {"message": "Forbidden"}


@pytest.mark.parametrize("header", [None, ""])
def test_missing_authorization_gets_401(app, header):
    headers = {} if header is None else {"authorization": header}
    reply = http.post(f"{app.url}/chat", {"messages": [{"role": "user", "content": "x"}]}, headers)
    assert reply.status == 401
    assert reply.json() == {"message": "Unauthorized"}


def test_not_bearer_scheme_gets_403(app, token):
    reply = http.post(
        f"{app.url}/chat",
        {"messages": [{"role": "user", "content": "x"}]},
        {"authorization": f"Basic {token}"},
    )
    assert reply.status == 403


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/login"), ("PUT", "/chat"), ("POST", "/admin"), ("DELETE", "/")]
)
def test_unknown_routes_get_404(app, method, path):
    reply = http.request(method, f"{app.url}{path}", b"{}")
    assert reply.status == 404
    assert reply.json() == {"message": "Not Found"}


UPSTREAM_FAILURES = [
    ("[[rate-limit]]", 429),
    ("[[server-error]]", 502),
    ("[[reply:text]]", 502),  # a 200 whose body is not JSON (it was a 500)
    ("[[reply:bad-json]]", 502),
    ("[[reply:choices-object]]", 502),
    ("[[reply:content-null]]", 502),  # it was a 200 with an empty answer
]


@pytest.mark.parametrize(("content", "status"), UPSTREAM_FAILURES)
def test_upstream_errors_over_http(app, token, content, status):
    reply = chat(app, token, [{"role": "user", "content": content}])
    assert reply.status == status
    assert "error" in reply.json()


# --------------------------------- requests refused before any route, as API Gateway does
ROUTES = [route.path for route in app_spec.ROUTES]  # every route gets the early answers


def send(app, path, *headers, body=b"", host="", **kw):
    request = http.build(app.url, "POST", path, *headers, body=body, host=host)
    return http.raw(app.url, request, **kw)


BAD_FRAMING = [
    ("not a number", ["Content-Length: abc"]),  # it was a traceback and no answer
    ("negative", ["Content-Length: -1"]),  # it read until the client went away
    ("signed", ["Content-Length: +2"]),
    ("not ascii digits", ["Content-Length: \xb2"]),  # "²".isdigit() is True
    ("two values", ["Content-Length: 2, 3"]),
    ("two headers", ["Content-Length: 2", "Content-Length: 3"]),
    ("empty", ["Content-Length: "]),
]


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize(("case", "headers"), BAD_FRAMING, ids=[c[0] for c in BAD_FRAMING])
def test_a_malformed_content_length_is_a_400(app, path, case, headers):
    started = time.perf_counter()
    reply = send(app, path, *headers, body=b"{}", timeout=5)
    assert (reply.status, reply.json()) == (400, {"message": "Bad Request"})
    assert reply.headers["connection"] == "close"
    assert time.perf_counter() - started < 4  # answered, not waiting for the client to go


def test_the_same_content_length_twice_is_one(app):
    reply = send(app, "/login", "Content-Length: 2, 2", "Content-Length: 2", body=b"{}")
    assert reply.status == 400
    assert reply.json()["error"] == "missing field 'username'"  # the handler read the body


@pytest.mark.parametrize("path", ROUTES)
def test_a_chunked_body_is_a_411(app, path):
    body = b"2\r\n{}\r\n0\r\n\r\n"
    reply = send(app, path, "Transfer-Encoding: chunked", body=body)
    assert (reply.status, reply.json()) == (411, {"message": "Length Required"})


TOO_LARGE = gateway.MAX_PAYLOAD_BYTES + 1


@pytest.mark.parametrize("path", ROUTES)
def test_a_body_over_api_gateway_s_limit_gets_its_413(app, path):
    """The client sends the whole body before it reads (as browsers and urllib do): it must
    get the 413, not a connection reset (it did)."""
    reply = http.post(f"{app.url}{path}", b"x" * TOO_LARGE, timeout=20)
    assert (reply.status, reply.json()) == (413, {"message": "Request Entity Too Large"})


def test_a_413_comes_before_the_body_is_sent(app):
    """With Expect: 100-continue (curl's way) the client learns it without sending the body;
    without it, declaring the length is enough: the answer does not wait for the body."""
    for expect in (["Expect: 100-continue"], []):
        started = time.perf_counter()
        reply = send(app, "/chat", f"Content-Length: {TOO_LARGE}", *expect, timeout=5)
        assert (reply.status, reply.json()) == (413, {"message": "Request Entity Too Large"})
        assert time.perf_counter() - started < 1.5


def test_headers_over_api_gateway_s_limit_are_a_431(app):
    big = "x" * (gateway.MAX_HEADER_BYTES + 1)
    for header in (f"X-Big: {big}", "X-Huge: " + "y" * 100_000):  # the 100 KB one was HTML
        for path in ROUTES:
            reply = send(app, path, header, "Content-Length: 2", body=b"{}")
            expected = {"message": "Request Header Fields Too Large"}
            assert (reply.status, reply.json()) == (431, expected)


def test_headers_just_within_the_limit_pass(app):
    line = len("POST /login HTTP/1.1")
    values = len(app.url.removeprefix("http://")) + len("2")
    filler = "z" * (gateway.MAX_HEADER_BYTES - line - values)
    reply = send(app, "/login", f"X-Fill: {filler}", "Content-Length: 2", body=b"{}")
    assert reply.status == 400
    assert reply.json()["error"] == "missing field 'username'"


FOREIGN_HOSTS = [
    "evil.example",  # DNS rebinding: a name of someone else's that resolves to 127.0.0.1
    "evil.example:8000",
    "localhost.evil.example",
    "127.0.0.1.nip.io",
]


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize("host", FOREIGN_HOSTS)
def test_a_host_this_server_does_not_serve_is_a_421(app, path, host):
    reply = send(app, path, "Content-Length: 2", body=b"{}", host=host)
    assert reply.status == 421
    assert reply.json()["message"].startswith("Misdirected Request")


BAD_HOSTS = [
    ("no Host", None, []),
    ("two Hosts", "127.0.0.1", ["Host: evil.example"]),
    ("user info", "localhost@evil.example", []),
    ("a path", "localhost/x", []),
    ("port not a number", "localhost:http", []),
    ("empty", " ", []),
]


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize(("case", "host", "more"), BAD_HOSTS, ids=[c[0] for c in BAD_HOSTS])
def test_a_missing_or_malformed_host_is_a_400(app, path, case, host, more):
    reply = send(app, path, *more, "Content-Length: 2", body=b"{}", host=host)
    assert (reply.status, reply.json()) == (400, {"message": "Bad Request"})


def test_config_json_points_at_this_server(app):
    reply = http.request("GET", f"{app.url}/config.json")
    assert reply.status == 200
    socket_url = app.url.replace("http://", "ws://") + app_spec.SOCKET_PATH
    assert reply.json() == {
        "apiUrl": app.url,
        "socketUrl": socket_url,
        "stack": "local",
        "models": list(MODELS),
    }


def test_root_explains_when_the_web_app_is_not_built(app):
    reply = http.request("GET", f"{app.url}/")
    assert reply.status == 200
    assert b"npm run build" in reply.body


def test_a_slow_answer_does_not_stall_a_login(app, token):
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        slow = pool.submit(chat, app, token, [{"role": "user", "content": "[[slow:3]] think"}])
        time.sleep(0.2)
        started = time.perf_counter()
        fast = http.post(f"{app.url}/login", {"username": USERNAME, "password": PASSWORD})
        login_seconds = time.perf_counter() - started
        assert not slow.done()
        assert fast.status == 200
        assert slow.result().status == 200
    assert login_seconds < 2.0


# ------------------------------------------------- the rows no test above reaches by itself


def test_a_rejected_api_key_is_a_502_that_says_so(app, token):
    app.aws.set_openai_key("sk-bad")  # the fake provider answers 401 to this key
    try:
        reply = chat(app, token, [{"role": "user", "content": "hi"}])
    finally:
        app.aws.set_openai_key(API_KEY)
    assert reply.status == 502
    assert "OPENAI_API_KEY" in reply.json()["error"]


def test_no_api_key_configured_is_a_503(app, token):
    app.aws.ssm.delete_parameter(Name=app.aws.names.openai_key_param)
    emulator.new_container()
    try:
        reply = chat(app, token, [{"role": "user", "content": "hi"}])
    finally:
        app.aws.set_openai_key(API_KEY)
    assert reply.status == 503


def test_a_provider_too_slow_is_a_504(app, token, monkeypatch):
    monkeypatch.setattr(upstream, "READ_TIMEOUT_S", 0.3)
    reply = chat(app, token, [{"role": "user", "content": "[[slow:1.5]] hi"}])
    assert reply.status == 504


def test_a_token_expiring_while_its_authorization_is_cached_is_a_401(app):
    expires = int(time.time()) + 2
    token = jwt.encode(_claims(app, exp=expires), _secret(app))
    assert chat(app, token, [{"role": "user", "content": "hi"}]).status == 200  # now cached
    time.sleep(max(0.0, expires - time.time()) + 0.1)
    reply = chat(app, token, [{"role": "user", "content": "hi"}])
    assert reply.status == 401
    assert reply.json() == {"error": "session expired; log in again"}


def test_a_removed_user_s_session_ends(app, monkeypatch):
    monkeypatch.setattr(signed_in, "SESSION_CHECK_TTL_S", 0)  # else within 5 s
    app.aws.add_user(LocalUser("bob", "bob-password-1"))
    token = http.login(app.url, "bob", "bob-password-1")
    assert chat(app, token, [{"role": "user", "content": "hi"}]).status == 200
    app.aws.dynamodb.delete_item(TableName=app.aws.names.users_table, Key=users.key("bob"))
    reply = chat(app, token, [{"role": "user", "content": "hi"}])
    assert reply.status == 401
    assert reply.json() == {"error": "session ended; log in again"}


def logout(app, token, body=None, **kw):
    raw = b"" if body is None else body
    return http.post(f"{app.url}/logout", raw, http.bearer(token) if token else {}, **kw)


def test_signing_out_ends_that_session_only(app, monkeypatch):
    monkeypatch.setattr(signed_in, "SESSION_CHECK_TTL_S", 0)  # else within 5 s
    token, other = http.login(app.url, USERNAME, PASSWORD), http.login(app.url, USERNAME, PASSWORD)
    reply = logout(app, token)
    assert (reply.status, reply.json()) == (200, {"signed_out": "this session"})
    refused = chat(app, token, [{"role": "user", "content": "hi"}])
    assert (refused.status, refused.json()) == (401, {"error": "session ended; log in again"})
    assert chat(app, other, [{"role": "user", "content": "hi"}]).status == 200


def test_signing_out_everywhere_ends_every_session(app, monkeypatch):
    monkeypatch.setattr(signed_in, "SESSION_CHECK_TTL_S", 0)
    app.aws.add_user(LocalUser("carol", "carol-password-1"))
    phone = http.login(app.url, "carol", "carol-password-1")
    laptop = http.login(app.url, "carol", "carol-password-1")
    time.sleep(1.1)  # token times are whole seconds
    reply = logout(app, phone, {"everywhere": True})
    assert (reply.status, reply.json()) == (200, {"signed_out": "everywhere"})
    assert chat(app, laptop, [{"role": "user", "content": "hi"}]).status == 401
    time.sleep(1.1)
    fresh = http.login(app.url, "carol", "carol-password-1")
    assert chat(app, fresh, [{"role": "user", "content": "hi"}]).status == 200


def test_logout_needs_a_valid_token_and_a_sane_body(app, token):
    assert logout(app, None).json() == {"message": "Unauthorized"}
    assert logout(app, "forged.token.here").json() == {"message": "Forbidden"}
    reply = logout(app, token, {"everywhere": "yes"})
    assert (reply.status, reply.json()) == (
        400,
        {"error": "field 'everywhere' must be true or false"},
    )


def test_repeated_failed_logins_lock_the_username_with_a_429(app):
    """Per username, the same for one that does not exist; the answer reveals nothing."""
    for username in ("dave-does-not-exist", USERNAME + "-nobody"):
        replies = [
            http.post(f"{app.url}/login", {"username": username, "password": f"guess-{n:03d}"})
            for n in range(6)
        ]
        assert [r.status for r in replies] == [401] * 5 + [429]
        assert replies[-1].headers["retry-after"] == "1"
        assert replies[-1].json()["error"].startswith("too many failed logins")


def _boom(*args: object, **kwargs: object) -> None:
    raise RuntimeError("secret detail that must not reach the client")


def test_a_failing_handler_is_a_bare_500(app, token, monkeypatch):
    monkeypatch.setattr(users, "get_password_hash", _boom)
    monkeypatch.setattr(chat_handler, "parse_chat", _boom)
    replies = [
        http.post(f"{app.url}/login", {"username": USERNAME, "password": PASSWORD}),
        chat(app, token, [{"role": "user", "content": "hi"}]),
    ]
    for reply in replies:
        assert reply.status == 500
        assert reply.json() == {"error": "internal error"}


def test_a_failing_authorizer_is_api_gateway_s_500(app, monkeypatch):
    monkeypatch.setitem(app.api.handlers, "authorizer", _boom)
    reply = chat(app, "never.seen.before", [{"role": "user", "content": "hi"}])
    assert reply.status == 500
    assert reply.json() == {"message": "Internal Server Error"}


# ------------------------------------------------------------------ the conversation routes
def _store(app: LocalApp) -> tuple[Any, str]:
    return app.aws.dynamodb, app.aws.names.table("conversations")


def _conversation(app: LocalApp, user: str, title: str, *texts: str) -> str:
    """A conversation made as the WebSocket function makes them (through the store)."""
    db, table = _store(app)
    made = conversations.create(db, table, user, model="test-model", title=title)
    for index, text in enumerate(texts):
        role = "user" if index % 2 == 0 else "assistant"
        made, _ = conversations.append(db, table, user, made, role, text)
    return made.id


def _get(app: LocalApp, path: str, token: str | None) -> http.Reply:
    return http.request("GET", f"{app.url}{path}", None, http.bearer(token) if token else {})


def test_the_conversation_list_pages_newest_activity_first(app):
    app.aws.add_user(LocalUser("erin", "erin-password-1"))
    token = http.login(app.url, "erin", "erin-password-1")
    first = _get(app, "/conversations", token)
    assert (first.status, first.json()) == (200, {"conversations": [], "next": None})
    made = [_conversation(app, "erin", f"c{n}", "hi") for n in range(22)]
    _conversation(app, "frank", "not erin's", "hi")
    page = _get(app, "/conversations", token)
    assert page.status == 200
    assert page.headers["cache-control"] == "no-store"
    listed = page.json()["conversations"]
    assert [item["id"] for item in listed] == made[::-1][:20]
    assert set(listed[0]) == {"id", "title", "model", "created_at", "updated_at"}
    cursor = page.json()["next"]
    assert isinstance(cursor, str)
    rest = _get(app, f"/conversations?cursor={cursor}", token)
    assert rest.status == 200
    assert [item["id"] for item in rest.json()["conversations"]] == made[1::-1]
    assert rest.json()["next"] is None


@pytest.mark.parametrize("cursor", ["garbage", "e30", "eyJpZCI6ICJ4In0"])
def test_a_cursor_the_api_did_not_give_is_a_400(app, token, cursor):
    reply = _get(app, f"/conversations?cursor={cursor}", token)
    assert reply.status == 400
    assert isinstance(reply.json()["error"], str)


def test_a_conversation_is_opened_with_its_messages(app, token):
    conversation = _conversation(app, USERNAME, "Haiku", "Hi", "Hello!")
    reply = _get(app, f"/conversations/{conversation}", token)
    assert reply.status == 200
    body = reply.json()
    assert body["conversation"]["id"] == conversation
    assert body["conversation"]["title"] == "Haiku"
    assert body["messages"] == [
        {"seq": 0, "role": "user", "content": "Hi"},
        {"seq": 1, "role": "assistant", "content": "Hello!"},
    ]
    assert body["earlier"] is None


def test_a_long_conversation_is_opened_a_page_at_a_time(app, token):
    """1.2 MB of messages: the newest that fit in the page come first, and `earlier` leads
    to the rest; each answer stays far under Lambda's 6 MB."""
    texts = [f"{n}" + "z" * 299_999 for n in range(4)]
    conversation = _conversation(app, USERNAME, "Long", *texts)
    first = _get(app, f"/conversations/{conversation}", token)
    assert first.status == 200
    assert len(first.body) <= conversations.PAGE_BYTES
    body = first.json()
    assert [m["seq"] for m in body["messages"]] == [1, 2, 3]
    assert [m["content"] for m in body["messages"]] == texts[1:]
    assert isinstance(body["earlier"], str)
    rest = _get(app, f"/conversations/{conversation}?before={body['earlier']}", token)
    assert rest.status == 200
    assert rest.json() == {
        "conversation": body["conversation"],
        "messages": [{"seq": 0, "role": "user", "content": texts[0]}],
        "earlier": None,
    }


@pytest.mark.parametrize("before", ["abc", "0", "-1", "1.5", "01", "1001", "9" * 40, "%C2%B9"])
def test_a_before_the_api_did_not_give_is_a_400(app, token, before):
    conversation = _conversation(app, USERNAME, "Short", "Hi")
    reply = _get(app, f"/conversations/{conversation}?before={before}", token)
    assert (reply.status, reply.json()) == (
        400,
        {"error": "'before' is not one this API gave; open the conversation again without it"},
    )


def test_rename_keeps_the_activity_time(app, token):
    conversation = _conversation(app, USERNAME, "Old", "Hi")
    before = _get(app, f"/conversations/{conversation}", token).json()["conversation"]
    reply = http.request(
        "PATCH", f"{app.url}/conversations/{conversation}", {"title": "New"}, http.bearer(token)
    )
    assert reply.status == 200
    assert reply.json() == {"conversation": {**before, "title": "New"}}


BAD_TITLES = [
    ("not json", b"nope"),
    ("not an object", b"[]"),
    ("no title", {}),
    ("not a string", {"title": 5}),
    ("empty", {"title": ""}),
    ("only spaces", {"title": "   "}),
    ("too long", {"title": "x" * 201}),
]


@pytest.mark.parametrize(("case", "body"), BAD_TITLES, ids=[c[0] for c in BAD_TITLES])
def test_bad_renames_are_a_400(app, token, case, body):
    conversation = _conversation(app, USERNAME, "Old", "Hi")
    url = f"{app.url}/conversations/{conversation}"
    reply = http.request("PATCH", url, body, http.bearer(token))
    assert reply.status == 400
    assert isinstance(reply.json()["error"], str)
    assert _get(app, f"/conversations/{conversation}", token).json()["conversation"]["title"] == (
        "Old"
    )


def test_a_rename_over_256_kib_is_a_413(app, token):
    conversation = _conversation(app, USERNAME, "Old", "Hi")
    url = f"{app.url}/conversations/{conversation}"
    reply = http.request("PATCH", url, {"title": "x" * 300_000}, http.bearer(token))
    assert reply.status == 413
    assert isinstance(reply.json()["error"], str)


def test_delete_then_every_route_answers_404(app, token):
    conversation = _conversation(app, USERNAME, "Doomed", "Hi", "Hello")
    url = f"{app.url}/conversations/{conversation}"
    reply = http.request("DELETE", url, None, http.bearer(token))
    assert (reply.status, reply.json()) == (200, {"deleted": conversation})
    not_found = {"error": "conversation not found"}
    for method, body in (("GET", None), ("PATCH", {"title": "x"}), ("DELETE", None)):
        reply = http.request(method, url, body, http.bearer(token))
        assert (reply.status, reply.json()) == (404, not_found)


@pytest.mark.parametrize("conversation", ["0" * 28, "not-an-id", "0" * 27 + "G"])
def test_no_such_conversation_is_a_404(app, token, conversation):
    for method, body in (("GET", None), ("PATCH", {"title": "x"}), ("DELETE", None)):
        url = f"{app.url}/conversations/{conversation}"
        reply = http.request(method, url, body, http.bearer(token))
        assert (reply.status, reply.json()) == (404, {"error": "conversation not found"})


def test_another_user_s_conversation_is_a_404_and_stays_as_it_was(app, token):
    app.aws.add_user(LocalUser("grace", "grace-password-1"))
    theirs = _conversation(app, "grace", "Grace's secret", "my secret")
    url = f"{app.url}/conversations/{theirs}"
    for method, body in (("GET", None), ("PATCH", {"title": "mine"}), ("DELETE", None)):
        reply = http.request(method, url, body, http.bearer(token))
        assert (reply.status, reply.json()) == (404, {"error": "conversation not found"})
        assert b"secret" not in reply.body
    listed = _get(app, "/conversations", token).json()["conversations"]
    assert theirs not in [item["id"] for item in listed]
    grace = http.login(app.url, "grace", "grace-password-1")
    assert _get(app, f"/conversations/{theirs}", grace).json()["conversation"]["title"] == (
        "Grace's secret"
    )


CONVERSATION_ROUTES = [
    ("GET", "/conversations", None),
    ("GET", "/conversations/{id}", None),
    ("PATCH", "/conversations/{id}", {"title": "x"}),
    ("DELETE", "/conversations/{id}", None),
]


@pytest.mark.parametrize(("method", "path", "body"), CONVERSATION_ROUTES)
def test_the_conversation_routes_need_a_valid_token(app, token, method, path, body):
    url = f"{app.url}{path.replace('{id}', _conversation(app, USERNAME, 'Mine', 'Hi'))}"
    missing = http.request(method, url, body, {})
    assert (missing.status, missing.json()) == (401, {"message": "Unauthorized"})
    forged = http.request(method, url, body, http.bearer(FORGED["garbage"](app)))
    assert (forged.status, forged.json()) == (403, {"message": "Forbidden"})


def test_the_conversation_routes_refuse_an_ended_session(app, monkeypatch):
    monkeypatch.setattr(signed_in, "SESSION_CHECK_TTL_S", 0)
    app.aws.add_user(LocalUser("heidi", "heidi-password-1"))
    token = http.login(app.url, "heidi", "heidi-password-1")
    conversation = _conversation(app, "heidi", "Hers", "Hi")
    assert _get(app, "/conversations", token).status == 200
    assert logout(app, token).status == 200
    ended = {"error": "session ended; log in again"}
    for method, path, body in CONVERSATION_ROUTES:
        url = f"{app.url}{path.replace('{id}', conversation)}"
        reply = http.request(method, url, body, http.bearer(token))
        assert (reply.status, reply.json()) == (401, ended)
    assert (
        _get(
            app, f"/conversations/{conversation}", http.login(app.url, "heidi", "heidi-password-1")
        ).status
        == 200
    )  # nothing was deleted


def test_the_conversation_routes_refuse_a_token_that_expired_while_cached(app):
    conversation = _conversation(app, USERNAME, "Mine", "Hi")
    expires = int(time.time()) + 2
    token = jwt.encode(_claims(app, exp=expires), _secret(app))
    assert _get(app, "/conversations", token).status == 200  # its authorization is cached
    time.sleep(max(0.0, expires - time.time()) + 0.1)
    expired = {"error": "session expired; log in again"}
    for method, path, body in CONVERSATION_ROUTES:
        url = f"{app.url}{path.replace('{id}', conversation)}"
        reply = http.request(method, url, body, http.bearer(token))
        assert (reply.status, reply.json()) == (401, expired)


def test_the_contract_documents_exactly_the_route_table():
    """docs/api.md's route sections are the route table's routes (the web app's dev proxy
    reads them from the page), no more, no fewer."""
    from chatbot_deploy import app_spec

    assert set(contract.ROUTES) == {route.route_key for route in app_spec.ROUTES}


def test_zz_every_documented_answer_was_produced(request):
    """Runs last (file order): each row of docs/api.md's tables matched some answer above,
    so the page describes nothing that no longer happens."""
    everything = {item.nodeid for item in request.node.parent.collect()}  # even deselected
    if not everything - {request.node.nodeid} <= RAN:
        pytest.skip("needs every test of this module to run first")
    missing = [
        f"{route} {row.status} {json.dumps(row.body)}"
        for route, rows in contract.ROUTES.items()
        for row in rows
        if (route, row) not in SEEN
    ]
    assert missing == []
