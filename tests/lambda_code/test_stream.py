"""The WebSocket function (`chatbot_lambda.stream`), driven in-process with API Gateway's
WebSocket proxy events; frames are captured through `connections.set_sender`. AWS is moto
(the emulator `local` uses), the model the fake OpenAI server (tests/support/fake_openai.py),
which records when the function closed its connection."""

from __future__ import annotations

import base64
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from chatbot_deploy import app_spec
from chatbot_deploy.local import emulator, gateway
from chatbot_lambda import (
    clients,
    connections,
    conversations,
    sessions,
    signed_in,
    stream,
    upstream,
    users,
)
from tests.support.fake_openai import BAD_KEY, FakeOpenAI, stream_text

API_KEY = "sk-test-0123456789"
USER = "alice"
CONNECTION = "conn-A="


class Frames:
    """What the function sent, per connection; a connection in ``gone`` raises Gone."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, float, dict[str, Any]]] = []
        self.gone: set[str] = set()
        self.after_send: Callable[[str, dict[str, Any]], None] | None = None
        self._changed = threading.Condition()

    def __call__(self, connection_id: str, data: bytes) -> None:
        if connection_id in self.gone:
            raise connections.Gone(connection_id)
        assert len(data) <= 32 * 1024  # API Gateway's frame limit
        body = json.loads(data)
        with self._changed:
            self.sent.append((connection_id, time.monotonic(), body))
            self._changed.notify_all()
        if self.after_send is not None:
            self.after_send(connection_id, body)

    def of(self, request: str | None, kind: str | None = None) -> list[dict[str, Any]]:
        with self._changed:
            return [
                body
                for _, _, body in self.sent
                if body.get("request") == request and kind in (None, body["type"])
            ]

    def wait(self, request: str, kind: str, timeout: float = 10.0) -> dict[str, Any]:
        with self._changed:
            found = self._changed.wait_for(lambda: self.of(request, kind), timeout)
        assert found, f"no {kind} frame for {request} within {timeout} s: {self.sent}"
        return self.of(request, kind)[0]


@pytest.fixture
def aws(fake_openai: FakeOpenAI) -> Iterator[emulator.Emulator]:
    config = app_spec.AppConfig(models=("test-model",), openai_base_url=fake_openai.base_url)
    with emulator.running(config, API_KEY) as env:
        env.add_user(emulator.LocalUser(USER, "alice-password-1"))
        env.add_user(emulator.LocalUser("bob", "bob-password-1"))
        yield env


@pytest.fixture
def frames(aws: emulator.Emulator) -> Iterator[Frames]:
    captured = Frames()
    connections.set_sender(captured)
    try:
        yield captured
    finally:
        connections.set_sender(None)


def table(aws: emulator.Emulator) -> str:
    return aws.names.table("conversations")


def event(
    body: Any,
    *,
    connection: str = CONNECTION,
    user: str = USER,
    expires_at: int | str | None = None,
    issued_at: int | str = 0,
    kind: str = "MESSAGE",
) -> dict[str, Any]:
    """API Gateway's WebSocket proxy event; the authorizer's context values as strings, as
    API Gateway passes a policy authorizer's context."""
    expires = int(time.time()) + 3600 if expires_at is None else expires_at
    raw: str | bytes = body if isinstance(body, str | bytes) else json.dumps(body)
    return {
        "requestContext": {
            "routeKey": "$default",
            "eventType": kind,
            "connectionId": connection,
            "domainName": "abc.execute-api.eu-west-1.amazonaws.com",
            "stage": "live",
            "authorizer": {
                "principalId": user,
                "username": user,
                "expires_at": str(expires),
                "issued_at": str(issued_at),
            },
        },
        "body": base64.b64encode(raw).decode() if isinstance(raw, bytes) else raw,
        "isBase64Encoded": isinstance(raw, bytes),
    }


def call(body: Any, timeout_s: int = app_spec.STREAM_TIMEOUT_S, **kw: Any) -> dict[str, Any]:
    context = gateway.LambdaContext("stream", timeout_s)
    result = stream.handler(event(body, **kw), context)
    assert result == {"statusCode": 200}
    return result


def send(
    request: str, content: str, conversation: str | None = None, **more: Any
) -> dict[str, Any]:
    return {
        "action": "send",
        "request": request,
        "conversation": conversation,
        "content": content,
        **more,
    }


def in_thread(body: Any, **kw: Any) -> threading.Thread:
    thread = threading.Thread(target=call, args=(body,), kwargs=kw, daemon=True)
    thread.start()
    return thread


def stored(
    aws: emulator.Emulator, conversation_id: str, user: str = USER
) -> list[tuple[int, str, str]]:
    found = conversations.messages(aws.dynamodb, table(aws), user, conversation_id)
    return [(m.seq, m.role, m.content) for m in found]


def deltas(frames: Frames, request: str) -> str:
    return "".join(body["text"] for body in frames.of(request, "delta"))


# -- the happy paths ---------------------------------------------------------------------------
def connect(token: str, user: str = USER) -> dict[str, Any]:
    message = event(None, kind="CONNECT", user=user)
    message["queryStringParameters"] = {"token": token}
    return stream.handler(message, None)


def test_connect_and_disconnect_are_accepted(aws, frames):
    assert connect("header.claims.signature") == {"statusCode": 200}
    assert stream.handler(event(None, kind="DISCONNECT"), None) == {"statusCode": 200}
    assert frames.sent == []


def test_a_connection_with_a_signed_out_token_is_refused(aws, frames, monkeypatch):
    monkeypatch.setattr(signed_in, "SESSION_CHECK_TTL_S", 0)
    token = "header.claims.signature"
    later = int(time.time()) + 60
    sessions.revoke(aws.dynamodb, aws.names.table("revoked-tokens"), token, USER, later)
    assert connect(token) == {"statusCode": 403}
    assert connect("another.session.token") == {"statusCode": 200}
    assert connect("another.session.token", user="nobody") == {"statusCode": 403}


def test_a_closed_connection_stops_its_answers_at_once(aws, frames, fake_openai):
    first = len(fake_openai.streams)
    thread = in_thread(send("r1", "[[chunks:2x30]]"))  # silent: no frame would find it gone
    record = fake_openai.wait_for_stream(first)
    frames.wait("r1", "started")
    frames.gone.add(CONNECTION)
    closed = time.monotonic()
    assert stream.handler(event(None, kind="DISCONNECT"), None) == {"statusCode": 200}
    assert record.client_closed.wait(5)
    assert time.monotonic() - closed < 1.0
    thread.join(10)
    assert not thread.is_alive()


def test_a_new_conversation_streams_and_is_stored(aws, frames, fake_openai):
    call(send("r1", "one two three"))
    started = frames.wait("r1", "started")
    conversation = started["conversation"]
    assert set(conversation) == {"id", "title", "model", "created_at", "updated_at"}
    assert conversations.is_id(conversation["id"])
    assert (conversation["title"], conversation["model"]) == ("one two three", "test-model")
    assert (started["user_seq"], started["answer_seq"]) == (0, 1)
    done = frames.wait("r1", "done")
    assert done["stopped"] is False
    assert set(done["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}
    assert deltas(frames, "r1") == "echo: one two three"
    kinds = [body["type"] for body in frames.of("r1")]
    assert kinds[0] == "started" and kinds[-1] == "done"
    assert set(kinds[1:-1]) == {"delta"}
    assert stored(aws, conversation["id"]) == [
        (0, "user", "one two three"),
        (1, "assistant", "echo: one two three"),
    ]
    sent = fake_openai.requests[-1].body
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    # the running-answer record is gone: the same request id may start again
    conversations.start_stream(
        aws.dynamodb, table(aws), USER, CONNECTION, "r1", expires_at=int(time.time()) + 60
    )


def test_the_model_gets_the_stored_conversation_with_the_system_prompt(fake_openai):
    config = app_spec.AppConfig(
        models=("test-model",), openai_base_url=fake_openai.base_url, system_prompt="Be terse."
    )
    captured = Frames()
    with emulator.running(config, API_KEY) as env:
        env.add_user(emulator.LocalUser(USER, "alice-password-1"))
        connections.set_sender(captured)
        try:
            call(send("r1", "first"))
            conversation = captured.wait("r1", "started")["conversation"]["id"]
            call(send("r2", "second", conversation))
            assert captured.wait("r2", "started")["user_seq"] == 2
        finally:
            connections.set_sender(None)
    assert fake_openai.requests[-1].body["messages"] == [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "echo: first"},
        {"role": "user", "content": "second"},
    ]


def count_queries(aws: emulator.Emulator, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The handlers' conversations-table Queries, as they make them (their client is the
    container's: `clients.client`)."""
    made: list[str] = []
    client = clients.client("dynamodb")
    real = client.query

    def query(**kwargs: Any) -> Any:
        values = kwargs["ExpressionAttributeValues"].values()
        made.append(" ".join(value.get("S", "") for value in values))
        return real(**kwargs)

    monkeypatch.setattr(client, "query", query)
    return made


def test_a_next_turn_on_the_same_container_reads_no_messages(aws, frames, fake_openai, monkeypatch):
    """The context this container gave the model, with the answer, is kept by revision: the
    next turn reads the conversation's header, not its messages, and the model gets the
    same context as a read would give."""
    call(send("r1", "first"))
    conversation = frames.wait("r1", "started")["conversation"]["id"]
    queries = count_queries(aws, monkeypatch)
    call(send("r2", "second", conversation))
    frames.wait("r2", "done")
    assert not [query for query in queries if " m#" in query]  # messages read: none
    expected = [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "echo: first"},
        {"role": "user", "content": "second"},
    ]
    assert fake_openai.requests[-1].body["messages"] == expected
    given = conversations.context(aws.dynamodb, table(aws), USER, conversation)
    assert [m.as_dict() for m in given[:3]] == expected


def test_a_conversation_changed_elsewhere_is_read_again(aws, frames, fake_openai, monkeypatch):
    call(send("r1", "first"))
    conversation = frames.wait("r1", "started")["conversation"]["id"]
    # another container (another device) answers a turn meanwhile
    current = conversations.get(aws.dynamodb, table(aws), USER, conversation)
    current, _ = conversations.append(aws.dynamodb, table(aws), USER, current, "user", "b")
    conversations.append(aws.dynamodb, table(aws), USER, current, "assistant", "elsewhere")
    queries = count_queries(aws, monkeypatch)
    call(send("r2", "second", conversation))
    frames.wait("r2", "done")
    assert [query for query in queries if " m#" in query]  # its messages were read
    assert [m["content"] for m in fake_openai.requests[-1].body["messages"]] == [
        "first",
        "echo: first",
        "b",
        "elsewhere",
        "second",
    ]


def test_edit_truncates_and_regenerate_replaces_the_last_answer(aws, frames):
    call(send("r1", "one"))
    conversation = frames.wait("r1", "started")["conversation"]["id"]
    call(send("r2", "two", conversation))
    call(send("r3", "uno", conversation, edit=0))
    started = frames.wait("r3", "started")
    assert (started["user_seq"], started["answer_seq"]) == (0, 1)
    assert stored(aws, conversation) == [(0, "user", "uno"), (1, "assistant", "echo: uno")]
    call({"action": "regenerate", "request": "r4", "conversation": conversation})
    started = frames.wait("r4", "started")
    assert (started["user_seq"], started["answer_seq"]) == (0, 1)
    frames.wait("r4", "done")
    assert stored(aws, conversation) == [(0, "user", "uno"), (1, "assistant", "echo: uno")]


def test_regenerate_answers_a_conversation_that_ends_with_the_user_s_message(aws, frames):
    call(send("r1", "[[server-error]] hi"))
    conversation = frames.wait("r1", "started")["conversation"]["id"]
    assert frames.wait("r1", "error")["status"] == 502
    assert stored(aws, conversation) == [(0, "user", "[[server-error]] hi")]  # no answer
    conversations.truncate(
        aws.dynamodb,
        table(aws),
        USER,
        conversations.get(aws.dynamodb, table(aws), USER, conversation),
        0,
    )
    # (a conversation whose user message is gone has nothing to regenerate)
    call({"action": "regenerate", "request": "r2", "conversation": conversation})
    assert frames.wait("r2", "error")["status"] == 409


def test_authorizer_context_numbers_may_be_numbers_or_strings(aws, frames):
    body = send("r1", "hi")
    message = event(body)
    message["requestContext"]["authorizer"]["expires_at"] = int(time.time()) + 60
    message["requestContext"]["authorizer"]["issued_at"] = 0
    stream.handler(message, gateway.LambdaContext("stream", 300))
    frames.wait("r1", "done")


# -- batching ----------------------------------------------------------------------------------
def test_deltas_are_batched_at_most_one_frame_per_100_ms(aws, frames):
    call(send("r1", "[[chunks:40x0.01]]"))  # 40 chunks in 0.4 s
    frames.wait("r1", "done")
    assert deltas(frames, "r1") == stream_text(40)
    times = [at for _, at, body in frames.sent if body["type"] == "delta"]
    assert 2 <= len(times) <= 8  # not 40
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert min(gaps) >= stream.FRAME_INTERVAL_S * 0.9


def test_the_first_delta_is_not_held_back(aws, frames):
    call(send("r1", "[[chunks:2x0.5]]"))
    frames.wait("r1", "done")
    started = next(at for _, at, body in frames.sent if body["type"] == "started")
    first = next(at for _, at, body in frames.sent if body["type"] == "delta")
    assert first - started < 0.5 + 0.3  # the first chunk's wait, not the next tick after


def test_a_long_delta_is_cut_into_frames_of_8000_characters(aws, frames):
    word = "x" * 20_000  # the fake model echoes it as one delta
    call(send("r1", word))
    frames.wait("r1", "done")
    sizes = [len(body["text"]) for body in frames.of("r1", "delta")]
    assert max(sizes) <= stream.MAX_FRAME_CHARS
    assert deltas(frames, "r1") == f"echo: {word}"
    assert len(sizes) == 4  # "echo: " (sent at once), then 20,000 in three frames


# -- ending early ------------------------------------------------------------------------------
def test_stop_closes_the_provider_s_connection_within_a_second(aws, frames, fake_openai):
    first = len(fake_openai.streams)
    thread = in_thread(send("r1", "[[chunks:40x0.2]]"))
    record = fake_openai.wait_for_stream(first)
    frames.wait("r1", "delta")
    asked = time.monotonic()
    call({"action": "stop", "request": "r1"})
    assert record.client_closed.wait(5)
    assert time.monotonic() - asked < 1.0
    thread.join(10)
    assert not thread.is_alive()
    done = frames.wait("r1", "done")
    assert done["stopped"] is True
    conversation = frames.of("r1", "started")[0]["conversation"]["id"]
    text = deltas(frames, "r1")
    assert text and text == stream_text(40)[: len(text)]
    assert stored(aws, conversation)[-1] == (1, "assistant", text)
    assert not record.finished.is_set()


def test_stop_while_the_model_is_silent_still_closes_at_once(aws, frames, fake_openai):
    first = len(fake_openai.streams)
    thread = in_thread(send("r1", "[[chunks:2x30]]"))  # thinks for 30 s before a word
    record = fake_openai.wait_for_stream(first)
    frames.wait("r1", "started")
    asked = time.monotonic()
    call({"action": "stop", "request": "r1"})
    assert record.client_closed.wait(5)
    assert time.monotonic() - asked < 1.0
    thread.join(10)
    assert frames.wait("r1", "done")["stopped"] is True
    conversation = frames.of("r1", "started")[0]["conversation"]["id"]
    assert stored(aws, conversation) == [(0, "user", "[[chunks:2x30]]")]  # no text: no answer


def test_a_stop_handled_before_its_answer_starts_stops_it(aws, frames, fake_openai):
    """The stop's invocation ran first (each message is its own): the answer still stops,
    as soon as it starts, and what it stored is kept."""
    first = len(fake_openai.streams)
    call({"action": "stop", "request": "r1"})
    assert frames.of("r1") == []  # nothing to say yet
    started = time.monotonic()
    call(send("r1", "[[chunks:40x0.2]]"))
    assert time.monotonic() - started < 3  # not the 8 s of the whole answer
    assert frames.wait("r1", "done")["stopped"] is True
    assert fake_openai.wait_for_stream(first).client_closed.wait(5)
    conversation = frames.of("r1", "started")[0]["conversation"]["id"]
    assert stored(aws, conversation)[0] == (0, "user", "[[chunks:40x0.2]]")


def test_stop_of_a_request_that_is_not_streaming_is_ignored(aws, frames):
    call({"action": "stop", "request": "nothing-running"})
    call(send("r1", "hi"))
    frames.wait("r1", "done")
    call({"action": "stop", "request": "r1"})
    assert frames.of("nothing-running") == []
    assert [body["type"] for body in frames.of("r1")][-1] == "done"


def test_stop_from_another_connection_does_not_stop_it(aws, frames, fake_openai):
    first = len(fake_openai.streams)
    thread = in_thread(send("r1", "[[chunks:3x0.3]]"))
    record = fake_openai.wait_for_stream(first)
    call({"action": "stop", "request": "r1"}, connection="someone-else")
    thread.join(10)
    assert record.finished.wait(5)  # set just after the last write
    assert frames.wait("r1", "done")["stopped"] is False


def test_a_closed_tab_ends_the_answer_and_keeps_its_text(aws, frames, fake_openai):
    first = len(fake_openai.streams)

    def close_after_first_delta(connection_id: str, body: dict[str, Any]) -> None:
        if body["type"] == "delta":
            frames.gone.add(connection_id)

    frames.after_send = close_after_first_delta
    thread = in_thread(send("r1", "[[chunks:40x0.2]]"))
    record = fake_openai.wait_for_stream(first)
    assert record.client_closed.wait(5)
    thread.join(10)
    assert not thread.is_alive()
    conversation = frames.of("r1", "started")[0]["conversation"]["id"]
    (_, _, answer) = stored(aws, conversation)[-1]
    assert answer.startswith("part1 ")
    assert [body["type"] for body in frames.of("r1")] == ["started", "delta"]


def test_a_token_expiring_mid_answer_ends_it_with_a_401(aws, frames, fake_openai):
    first = len(fake_openai.streams)
    thread = in_thread(send("r1", "[[chunks:40x0.2]]"), expires_at=int(time.time()) + 2)
    record = fake_openai.wait_for_stream(first)
    error = frames.wait("r1", "error", timeout=10)
    assert (error["status"], error["error"]) == (401, "session expired; log in again")
    assert record.client_closed.wait(2)
    thread.join(10)
    conversation = frames.of("r1", "started")[0]["conversation"]["id"]
    assert stored(aws, conversation)[-1][2] == deltas(frames, "r1") != ""


def test_an_answer_running_into_the_function_s_timeout_is_a_504(aws, frames, fake_openai):
    first = len(fake_openai.streams)
    timeout_s = int(stream.END_MARGIN_S) + 2
    thread = in_thread(send("r1", "[[chunks:40x0.2]]"), timeout_s=timeout_s)
    record = fake_openai.wait_for_stream(first)
    error = frames.wait("r1", "error", timeout=10)
    assert (error["status"], error["error"]) == (504, upstream.TIMED_OUT)
    assert record.client_closed.wait(2)
    thread.join(10)


def test_a_provider_silent_for_the_read_timeout_is_a_504(aws, frames, monkeypatch):
    monkeypatch.setattr(upstream, "STREAM_READ_TIMEOUT_S", 0.5)
    emulator.new_container()  # the stream client is made with it
    call(send("r1", "[[chunks:2x3]]"))
    error = frames.wait("r1", "error")
    assert (error["status"], error["error"]) == (504, upstream.TIMED_OUT)


# -- limits ------------------------------------------------------------------------------------
def test_a_fourth_answer_at_once_is_a_429_and_a_running_request_id_a_409(aws, frames, fake_openai):
    first = len(fake_openai.streams)
    threads = [in_thread(send(f"r{n}", "[[chunks:2x30]]"), connection=f"tab-{n}") for n in range(3)]
    for n in range(3):
        fake_openai.wait_for_stream(first + n)
    call(send("r9", "one more"), connection="tab-9")
    error = frames.wait("r9", "error")
    assert (error["status"], error["error"]) == (429, stream.TOO_MANY)
    call(send("r0", "again"), connection="tab-0")
    assert frames.wait("r0", "error")["status"] == 409
    call(send("r9", "bob is not counted with alice"), user="bob", connection="bob-tab")
    frames.wait("r9", "done")
    for n in range(3):
        call({"action": "stop", "request": f"r{n}"}, connection=f"tab-{n}")
    for thread in threads:
        thread.join(10)
        assert not thread.is_alive()
    call(send("r5", "now there is room"), connection="tab-5")
    frames.wait("r5", "done")


def test_a_conversation_holds_1000_messages(aws, frames):
    call(send("r1", "hi"))
    conversation = frames.wait("r1", "started")["conversation"]["id"]
    aws.dynamodb.update_item(
        TableName=table(aws),
        Key={"user": {"S": USER}, "id": {"S": f"c#{conversation}"}},
        UpdateExpression="SET next_seq = :n",
        ExpressionAttributeValues={":n": {"N": str(conversations.MAX_MESSAGES)}},
    )
    call(send("r2", "one more", conversation))
    error = frames.wait("r2", "error")
    assert error["status"] == 409


# -- every error frame -------------------------------------------------------------------------
BAD_MESSAGES = [
    ("not json", "nope", 400, None),
    ("an array", "[]", 400, None),
    ("not utf-8", b'{"action": "send", "request": "r1", "content": "\xff"}', 400, None),
    ("over 128 KB", json.dumps(send("r1", "x" * 140_000)), 413, None),
    ("no request", {"action": "send", "content": "hi"}, 400, None),
    ("request malformed", {"action": "send", "request": "no spaces", "content": "hi"}, 400, None),
    ("request too long", {"action": "send", "request": "r" * 65, "content": "hi"}, 400, None),
    ("no action", {"request": "r1", "content": "hi"}, 400, "r1"),
    ("unknown action", {"action": "fly", "request": "r1"}, 400, "r1"),
    ("no content", {"action": "send", "request": "r1"}, 400, "r1"),
    ("content not a string", send("r1", 5), 400, "r1"),  # type: ignore[arg-type]
    ("empty content", send("r1", ""), 400, "r1"),
    ("only spaces", send("r1", " \n\t "), 400, "r1"),
    ("content over 32,000", send("r1", "x" * 32_001), 413, "r1"),
    ("conversation not a string", send("r1", "hi", 7), 400, "r1"),  # type: ignore[arg-type]
    ("lone surrogate", '{"action":"send","request":"r1","content":"\\ud800"}', 400, None),
    ("edit without conversation", send("r1", "hi", None, edit=0), 400, "r1"),
    ("edit not a number", send("r1", "hi", "0" * 28, edit="0"), 400, "r1"),
    ("model not a string", send("r1", "hi", model=4), 400, "r1"),
    ("model not offered", send("r1", "hi", model="gpt-5"), 400, "r1"),
    ("model not offered, unknown conversation", send("r1", "hi", "0" * 28, model="x"), 400, "r1"),
    (
        "regenerate with a model not offered",
        {"action": "regenerate", "request": "r1", "conversation": "f" * 28, "model": "x"},
        400,
        "r1",
    ),
    ("unknown conversation", send("r1", "hi", "0" * 28), 404, "r1"),
    ("not an id", send("r1", "hi", "../../etc"), 404, "r1"),
    (
        "regenerate unknown",
        {"action": "regenerate", "request": "r1", "conversation": "f" * 28},
        404,
        "r1",
    ),
]


@pytest.mark.parametrize(
    ("case", "body", "status", "request_id"), BAD_MESSAGES, ids=[c[0] for c in BAD_MESSAGES]
)
def test_bad_messages_get_error_frames(aws, frames, case, body, status, request_id):
    call(body)
    (only,) = [item for _, _, item in frames.sent]
    assert only["type"] == "error"
    assert (only["status"], only["request"]) == (status, request_id)
    assert isinstance(only["error"], str) and only["error"]
    if status == 404:
        assert only["error"] == "conversation not found"


def test_another_user_s_conversation_is_not_found(aws, frames):
    call(send("r1", "alice's secret"))
    conversation = frames.wait("r1", "started")["conversation"]["id"]
    for body in (
        send("r2", "hi", conversation),
        send("r3", "hi", conversation, edit=0),
        {"action": "regenerate", "request": "r4", "conversation": conversation},
    ):
        call(body, user="bob", connection="bob-tab")
        error = frames.wait(body["request"], "error")
        assert (error["status"], error["error"]) == (404, "conversation not found")
    assert "secret" not in json.dumps([body for _, _, body in frames.sent if _ == "bob-tab"])
    assert len(stored(aws, conversation)) == 2


def test_edit_of_an_answer_is_refused(aws, frames):
    call(send("r1", "hi"))
    conversation = frames.wait("r1", "started")["conversation"]["id"]
    call(send("r2", "hi", conversation, edit=1))  # seq 1 is the answer
    assert frames.wait("r2", "error")["status"] == 400
    call(send("r3", "hi", conversation, edit=7))
    assert frames.wait("r3", "error")["status"] == 400


def test_regenerate_without_a_user_message_is_a_409(aws, frames):
    empty = conversations.create(aws.dynamodb, table(aws), USER, model="m", title="t")
    call({"action": "regenerate", "request": "r1", "conversation": empty.id})
    error = frames.wait("r1", "error")
    assert error["status"] == 409


def test_an_expired_token_is_a_401(aws, frames):
    call(send("r1", "hi"), expires_at=int(time.time()) - 1)
    error = frames.wait("r1", "error")
    assert (error["status"], error["error"]) == (401, "session expired; log in again")


def test_an_ended_session_is_a_401(aws, frames, monkeypatch):
    monkeypatch.setattr(signed_in, "SESSION_CHECK_TTL_S", 0)
    aws.dynamodb.delete_item(TableName=aws.names.users_table, Key=users.key(USER))
    call(send("r1", "hi"))
    call({"action": "stop", "request": "r2"})
    for request in ("r1", "r2"):
        error = frames.wait(request, "error")
        assert (error["status"], error["error"]) == (401, "session ended; log in again")


PROVIDER_FAILURES = [
    ("[[rate-limit]]", 429, "the model provider is rate limiting requests; try again soon"),
    ("[[server-error]]", 502, None),
    ("[[reply:bad-json]]", 502, upstream.NOT_UNDERSTOOD),
    ("[[reply:choices-number]]", 502, upstream.NOT_UNDERSTOOD),
    ("[[reply:content-surrogate]]", 502, upstream.NOT_UNDERSTOOD),
]


@pytest.mark.parametrize(("content", "status", "message"), PROVIDER_FAILURES)
def test_provider_failures_are_error_frames(aws, frames, content, status, message):
    call(send("r1", content))
    frames.wait("r1", "started")
    error = frames.wait("r1", "error")
    assert error["status"] == status
    if message is not None:
        assert error["error"] == message


def test_a_rejected_key_is_a_502_that_says_so(aws, frames):
    aws.set_openai_key(BAD_KEY)
    call(send("r1", "hi"))
    error = frames.wait("r1", "error")
    assert error["status"] == 502 and "OPENAI_API_KEY" in error["error"]
    assert BAD_KEY[-2:] + "." not in json.dumps(error)


def test_no_key_is_a_503(aws, frames):
    aws.ssm.delete_parameter(Name=aws.names.openai_key_param)
    emulator.new_container()
    call(send("r1", "hi"))
    error = frames.wait("r1", "error")
    assert error["status"] == 503 and error["error"].startswith("no OpenAI API key")


def test_an_unexpected_failure_is_a_bare_500(aws, frames, monkeypatch, caplog):
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(conversations, "create", boom)
    call(send("r1", "hi"))
    error = frames.wait("r1", "error")
    assert error == {"type": "error", "request": "r1", "status": 500, "error": "internal error"}
    assert "secret detail" not in caplog.text
    # the running-answer record was ended: the same request id can stream again
    monkeypatch.undo()
    call(send("r1", "hi"))
    frames.wait("r1", "done")


def test_pieces_cut_text_into_frames():
    assert stream.pieces("") == []
    assert stream.pieces("abc", 2) == ["ab", "c"]
    assert "".join(stream.pieces("y" * 20_001)) == "y" * 20_001


@pytest.mark.parametrize("text", ["a" * 20_000, "🙂" * 8_000, "\x01" * 9_000, "\n\x02é" * 5000])
def test_delta_frames_stay_within_32_kb(text):
    found = stream.delta_frames("r1", text)
    assert all(len(data) <= connections.MAX_FRAME_BYTES for data in found)
    bodies = [json.loads(data) for data in found]
    assert all(len(body["text"]) <= stream.MAX_FRAME_CHARS for body in bodies)
    assert "".join(body["text"] for body in bodies) == text
    assert len(found) <= 2 * (len(text) // stream.MAX_FRAME_CHARS + 1)
