"""`local`'s WebSocket API, through a real WebSocket client (docs/api.md, "WebSocket: streamed
answers"; chatbot_deploy/local/socket_api.py).

The gateway's own behaviour (handshake, authorizer, route selection, events, limits, close)
is checked with a stand-in for the stream function that records its events; the real
function's answers are checked end to end below it.

(Its own module: `local` is process-global, so it cannot run beside another module's app.)
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from chatbot_deploy import app_spec
from chatbot_deploy.local import LocalUser, socket_api
from chatbot_deploy.local.server import LocalServer
from chatbot_lambda import connections, conversations, signed_in
from tests.support import http
from tests.support.fake_openai import FakeOpenAI, stream_piece, stream_text
from tests.support.local_app import PASSWORD, USERNAME, LocalApp, running_local
from tests.test_cli_local import start_local, url_of

OK = {"statusCode": 200}
OTHER, OTHER_PASSWORD = "bob", "bob-password-22"
MODELS = ("test-model", "test-model-2")  # offered; the first is the default


class StandIn:
    """The stream function's stand-in: records events; a message's action says what to do."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.release = threading.Event()
        self.changed = threading.Condition()
        self.gone_after_close: set[str] = set()

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        request = event["requestContext"]
        if request["eventType"] == "DISCONNECT":
            try:
                connections.send(event, request["connectionId"], b'{"too": "late"}')
            except connections.Gone:
                self.gone_after_close.add(request["connectionId"])
        with self.changed:
            self.events.append(event)
            self.changed.notify_all()
        if request["eventType"] != "MESSAGE":
            return OK
        try:
            message = json.loads(event["body"])
        except ValueError:
            message = None
        action = message.get("action") if isinstance(message, dict) else None

        def reply(frame: dict[str, Any]) -> None:
            connections.send(event, request["connectionId"], json.dumps(frame).encode())

        if action == "wait":
            reply({"released": self.release.wait(10)})
        elif action == "release":
            self.release.set()
        elif action == "crash":
            raise RuntimeError("the function failed")
        elif action == "size":
            reply({"size": len(event["body"].encode())})
        elif action == "nap":
            time.sleep(0.5)
            reply({"woke": True})
        else:
            reply({"echo": event["body"], "route": request["routeKey"]})
        return OK

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        with self.changed:
            return [e for e in self.events if e["requestContext"]["eventType"] == event_type]

    def wait_for(self, event_type: str, connection_id: str) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            return next(
                (
                    e
                    for e in self.of_type(event_type)
                    if e["requestContext"]["connectionId"] == connection_id
                ),
                None,
            )

        with self.changed:
            assert self.changed.wait_for(lambda: found() is not None, 5)
        event = found()
        assert event is not None
        return event


@pytest.fixture(scope="module")
def app(fake_openai: FakeOpenAI) -> Iterator[LocalApp]:
    users = (LocalUser(USERNAME, PASSWORD), LocalUser(OTHER, OTHER_PASSWORD))
    before = set(threading.enumerate())
    config = app_spec.AppConfig(models=MODELS, openai_base_url=fake_openai.base_url)
    with running_local(fake_openai.base_url, users=users, config=config) as running:
        yield running
    # Stopping waited for every connection and function: no thread of ours is left.
    left = [thread for thread in set(threading.enumerate()) - before if thread.is_alive()]
    for thread in left:
        thread.join(2)
    assert [thread.name for thread in left if thread.is_alive()] == []


@pytest.fixture
def stand_in(app: LocalApp, monkeypatch: pytest.MonkeyPatch) -> StandIn:
    """The stream function replaced, for this test, by a stand-in (same app, same gateway)."""
    replacement = StandIn()
    monkeypatch.setitem(app.api.handlers, "stream", replacement)
    return replacement


@pytest.fixture(scope="module")
def token(app: LocalApp) -> str:
    return http.login(app.url, USERNAME, PASSWORD)


def socket_url(app: LocalApp, query: str = "") -> str:
    return app.url.replace("http://", "ws://") + app_spec.SOCKET_PATH + query


def open_socket(app: LocalApp, token: str | None, **kwargs: Any) -> ClientConnection:
    query = "" if token is None else f"?token={token}"
    ws: ClientConnection = connect(socket_url(app, query), proxy=None, open_timeout=5, **kwargs)
    return ws


def receive(ws: ClientConnection, timeout: float = 5) -> dict[str, Any]:
    frame = json.loads(ws.recv(timeout))
    assert isinstance(frame, dict)
    return frame


def refused(app: LocalApp, query: str) -> tuple[int, Any]:
    with pytest.raises(InvalidStatus) as caught:
        connect(socket_url(app, query), proxy=None, open_timeout=5)
    response = caught.value.response
    assert response.headers["content-type"] == "application/json"
    return response.status_code, json.loads(response.body or b"null")


# -- the handshake ---------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["", "?token=", "?other=1"])
def test_without_a_token_the_handshake_is_refused_401(app: LocalApp, query: str) -> None:
    assert refused(app, query) == (401, {"message": "Unauthorized"})


@pytest.mark.parametrize("bad", ["not-a-jwt", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9."])
def test_a_token_that_is_not_valid_is_refused_403(app: LocalApp, bad: str) -> None:
    assert refused(app, f"?token={bad}") == (403, {"message": "Forbidden"})


def test_an_expired_token_is_refused_403(app: LocalApp) -> None:
    name = app.aws.names.jwt_secret_param
    secret = app.aws.ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    claims = {"sub": USERNAME, "iss": app.aws.names.token_issuer, "iat": 1, "exp": 2}
    expired = jwt.encode(claims, secret, "HS256")
    assert refused(app, f"?token={expired}") == (403, {"message": "Forbidden"})


def test_a_plain_get_of_the_socket_path_is_not_an_upgrade(app: LocalApp) -> None:
    reply = http.request("GET", f"{app.url}{app_spec.SOCKET_PATH}?token=x")
    assert reply.status == 426
    assert reply.json() == {"message": "Upgrade Required"}


def test_a_malformed_handshake_is_refused_400_before_the_authorizer(
    app: LocalApp, token: str, stand_in: StandIn
) -> None:
    request = http.build(
        app.url,
        "GET",
        f"{app_spec.SOCKET_PATH}?token={token}",
        "Connection: Upgrade",
        "Upgrade: websocket",
        "Sec-WebSocket-Version: 13",  # and no Sec-WebSocket-Key
    )
    reply = http.raw(app.url, request)
    assert (reply.status, reply.json()) == (400, {"message": "Bad Request"})
    assert stand_in.of_type("CONNECT") == []


def test_connect_runs_the_authorizer_and_the_connect_route(
    app: LocalApp, token: str, stand_in: StandIn
) -> None:
    before = len(stand_in.of_type("CONNECT"))
    with open_socket(app, token, user_agent_header="socket-test"):
        pass
    event = stand_in.of_type("CONNECT")[before]
    request = event["requestContext"]
    assert request["routeKey"] == "$connect"
    assert request["stage"] == "live"
    assert request["identity"]["sourceIp"] == "127.0.0.1"
    assert request["identity"]["userAgent"] == "socket-test"
    assert request["domainName"] == app.url.removeprefix("http://")
    assert event["queryStringParameters"] == {"token": token}
    authorizer = request["authorizer"]
    assert authorizer["principalId"] == USERNAME
    assert authorizer["username"] == USERNAME
    # API Gateway hands a policy authorizer's context values on as strings.
    assert authorizer["expires_at"].isdigit() and authorizer["issued_at"].isdigit()
    assert int(authorizer["expires_at"]) > time.time()


def test_the_authorizer_failing_refuses_500(app: LocalApp, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(event: dict[str, Any], context: Any) -> Any:
        raise RuntimeError("authorizer bug")

    monkeypatch.setitem(app.api.handlers, "authorizer", broken)
    assert refused(app, "?token=abc") == (500, {"message": "Internal Server Error"})


def test_the_authorizer_answering_unauthorized_refuses_401(
    app: LocalApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unauthorized(event: dict[str, Any], context: Any) -> Any:
        raise Exception("Unauthorized")  # what API Gateway documents for a 401

    monkeypatch.setitem(app.api.handlers, "authorizer", unauthorized)
    assert refused(app, "?token=abc") == (401, {"message": "Unauthorized"})


def test_the_connect_route_failing_refuses_500(
    app: LocalApp, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(event: dict[str, Any], context: Any) -> Any:
        raise RuntimeError("connect bug")

    monkeypatch.setitem(app.api.handlers, "stream", broken)
    assert refused(app, f"?token={token}") == (500, {"message": "Internal Server Error"})


# -- messages --------------------------------------------------------------------------------


def test_a_message_reaches_the_function_with_the_connection_s_context(
    app: LocalApp, token: str, stand_in: StandIn
) -> None:
    with open_socket(app, token) as ws:
        ws.send(json.dumps({"action": "send", "request": "r1", "content": "hi"}))
        frame = receive(ws)
    assert frame["route"] == "$default"  # every action goes to $default (SOCKET_ROUTES)
    assert json.loads(frame["echo"]) == {"action": "send", "request": "r1", "content": "hi"}
    event = stand_in.of_type("MESSAGE")[-1]
    request = event["requestContext"]
    assert request["eventType"] == "MESSAGE"
    assert request["authorizer"]["username"] == USERNAME
    assert request["connectionId"] and request["messageId"] and request["requestId"]
    assert event["isBase64Encoded"] is False


@pytest.mark.parametrize("body", ["{not json", "[1, 2]", '{"action": 5}', '{"no": "action"}'])
def test_any_text_goes_to_the_default_route(
    app: LocalApp, token: str, body: str, stand_in: StandIn
) -> None:
    with open_socket(app, token) as ws:
        ws.send(body)
        frame = receive(ws)
    assert frame == {"echo": body, "route": "$default"}


def test_each_message_runs_in_its_own_thread(app: LocalApp, token: str, stand_in: StandIn) -> None:
    stand_in.release.clear()
    with open_socket(app, token) as ws:
        ws.send(json.dumps({"action": "wait"}))  # blocks until the next message arrives
        ws.send(json.dumps({"action": "release"}))
        assert receive(ws) == {"released": True}


def test_a_failing_function_gets_api_gateway_s_error_frame(
    app: LocalApp, token: str, stand_in: StandIn
) -> None:
    with open_socket(app, token) as ws:
        ws.send(json.dumps({"action": "crash"}))
        frame = receive(ws)
        assert frame["message"] == "Internal server error"
        assert frame["connectionId"] and frame["requestId"]
        ws.send(json.dumps({"action": "echo"}))  # the connection stays open
        assert receive(ws)["route"] == "$default"


def test_a_function_past_the_integration_timeout_gets_the_gateway_s_frame_and_runs_on(
    app: LocalApp, token: str, monkeypatch: pytest.MonkeyPatch, stand_in: StandIn
) -> None:
    monkeypatch.setattr(socket_api, "INTEGRATION_TIMEOUT_S", 0.1)
    with open_socket(app, token) as ws:
        ws.send(json.dumps({"action": "nap"}))
        assert receive(ws)["message"] == "Endpoint request timed out"
        assert receive(ws) == {"woke": True}


def in_frames(message: str, size: int = 32 * 1024) -> list[str]:
    """``message`` in fragments of at most ``size`` bytes (ASCII), one frame each."""
    return [message[start : start + size] for start in range(0, len(message), size)]


def test_a_message_of_128_kb_passes_and_a_larger_one_closes_1009(
    app: LocalApp, token: str, stand_in: StandIn
) -> None:
    assert connections.MAX_MESSAGE_BYTES == 128 * 1024
    envelope = json.dumps({"action": "size", "pad": ""})
    largest = json.dumps({"action": "size", "pad": "x" * (128 * 1024 - len(envelope))})
    assert len(largest.encode()) == 128 * 1024
    with open_socket(app, token) as ws:
        ws.send(in_frames(largest))  # four frames of 32 KB, as API Gateway requires
        assert receive(ws) == {"size": 128 * 1024}
        with pytest.raises(ConnectionClosed) as closed:
            # one byte more: the close may come while its frames are still being sent
            ws.send(in_frames(largest[:-2] + 'x"}'))
            ws.recv(5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


def test_a_frame_of_32_kb_passes_and_a_larger_one_closes_1009(
    app: LocalApp, token: str, stand_in: StandIn
) -> None:
    assert connections.MAX_FRAME_BYTES == 32 * 1024
    envelope = json.dumps({"action": "size", "pad": ""})
    largest = json.dumps({"action": "size", "pad": "x" * (32 * 1024 - len(envelope))})
    with open_socket(app, token) as ws:
        ws.send(largest)  # one frame, as a browser sends any message
        assert receive(ws) == {"size": 32 * 1024}
        ws.send(largest[:-2] + 'x"}')
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


def test_a_binary_frame_closes_1003(app: LocalApp, token: str) -> None:
    with open_socket(app, token) as ws:
        ws.send(b'{"action": "echo"}')
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1003


# -- closing ---------------------------------------------------------------------------------


def test_close_runs_the_disconnect_route_and_the_connection_is_gone(
    app: LocalApp, token: str, stand_in: StandIn
) -> None:
    with open_socket(app, token) as ws:
        ws.send(json.dumps({"action": "echo", "request": "close-test"}))
        receive(ws)
        connection_id = next(
            e["requestContext"]["connectionId"]
            for e in stand_in.of_type("MESSAGE")
            if "close-test" in e["body"]
        )
    event = stand_in.wait_for("DISCONNECT", connection_id)
    assert event["requestContext"]["routeKey"] == "$disconnect"
    assert event["requestContext"]["disconnectStatusCode"] == 1000
    assert event["requestContext"]["authorizer"]["username"] == USERNAME
    assert connection_id in stand_in.gone_after_close
    with pytest.raises(connections.Gone):
        connections.send(event, connection_id, b"{}")


def test_an_idle_connection_is_closed_1001(
    app: LocalApp, token: str, monkeypatch: pytest.MonkeyPatch, stand_in: StandIn
) -> None:
    assert socket_api.IDLE_TIMEOUT_S == 600  # API Gateway's 10 minutes
    assert socket_api.MAX_CONNECTION_S == 2 * 60 * 60
    monkeypatch.setattr(socket_api, "IDLE_TIMEOUT_S", 0.5)
    with open_socket(app, token) as ws:
        ws.send(json.dumps({"action": "echo"}))
        receive(ws)
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001


def test_stopping_local_closes_open_sockets_1001(app: LocalApp, token: str) -> None:
    # A second server on the same emulator and functions, stopped as `local` stops.
    other = LocalServer(("127.0.0.1", 0), app.api, None, app.aws.names.stack)
    thread = threading.Thread(target=other.serve_forever, daemon=True)
    thread.start()
    url = f"ws://127.0.0.1:{other.server_address[1]}{app_spec.SOCKET_PATH}?token={token}"
    try:
        with connect(url, proxy=None) as ws:
            other.shutdown()
            other.server_close()
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(10)
    finally:
        other.shutdown()
        other.server_close()
        thread.join(5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    assert not thread.is_alive()


def test_config_json_gives_the_socket_url(app: LocalApp) -> None:
    reply = http.request("GET", f"{app.url}/config.json")
    host = app.url.removeprefix("http://")
    assert reply.json()["socketUrl"] == f"ws://{host}{app_spec.SOCKET_PATH}"
    assert reply.json()["apiUrl"] == app.url


# -- end to end: the real stream function (docs/api.md's messages and frames) ---------------


def frames_until_end(
    ws: ClientConnection,
    request: str,
    timeout: float = 10,
    gateway: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """The frames about ``request`` until its ``done`` or ``error``; frames from API Gateway
    itself (``{"message": ...}``, e.g. "Endpoint request timed out") are skipped, as clients
    must."""
    frames: list[dict[str, Any]] = []
    while True:
        frame = receive(ws, timeout)
        if "message" in frame and "type" not in frame:
            if gateway is not None:
                gateway.append(frame)
            continue
        assert frame.get("request") == request, frame
        frames.append(frame)
        if frame["type"] in ("done", "error"):
            return frames


def answer_text(frames: list[dict[str, Any]]) -> str:
    return "".join(frame["text"] for frame in frames if frame["type"] == "delta")


def send(ws: ClientConnection, request: str, content: str, **more: Any) -> None:
    ws.send(json.dumps({"action": "send", "request": request, "content": content, **more}))


def test_an_answer_streams_and_is_stored(app: LocalApp, token: str) -> None:
    with open_socket(app, token) as ws:
        send(ws, "r1", "hello there")
        frames = frames_until_end(ws, "r1")
    started, done = frames[0], frames[-1]
    assert started["type"] == "started" and started["user_seq"] == 0
    assert done["type"] == "done" and done["stopped"] is False
    assert answer_text(frames) == "echo: hello there"
    conversation = started["conversation"]["id"]
    reply = http.request(
        "GET", f"{app.url}/conversations/{conversation}", headers=http.bearer(token)
    )
    assert reply.status == 200
    assert [m["content"] for m in reply.json()["messages"]] == ["hello there", "echo: hello there"]


def test_an_unknown_action_gets_an_error_frame(app: LocalApp, token: str) -> None:
    with open_socket(app, token) as ws:
        ws.send(json.dumps({"action": "dance", "request": "r9"}))
        frame = receive(ws)
        assert frame["type"] == "error" and frame["request"] == "r9" and frame["status"] == 400
        send(ws, "r10", "still open")  # the connection stays usable
        assert frames_until_end(ws, "r10")[-1]["type"] == "done"


@pytest.mark.parametrize("body", ["{not json", "[1, 2]", '"just a string"'])
def test_malformed_json_gets_an_error_frame_without_a_request(
    app: LocalApp, token: str, body: str
) -> None:
    with open_socket(app, token) as ws:
        ws.send(body)
        frame = receive(ws)
    assert frame["type"] == "error" and frame["status"] == 400
    assert frame["request"] is None


def test_another_user_cannot_read_a_conversation_over_the_socket(app: LocalApp, token: str) -> None:
    with open_socket(app, token) as ws:
        send(ws, "mine", "a secret of alice's")
        conversation = frames_until_end(ws, "mine")[0]["conversation"]["id"]
    other = http.login(app.url, OTHER, OTHER_PASSWORD)
    with open_socket(app, other) as ws:
        send(ws, "b1", "what did she say?", conversation=conversation)
        refused_send = frames_until_end(ws, "b1")
        ws.send(json.dumps({"action": "regenerate", "request": "b2", "conversation": conversation}))
        refused_regenerate = frames_until_end(ws, "b2")
    for frames in (refused_send, refused_regenerate):
        assert frames == [frames[0]]  # one frame: nothing started, nothing of hers
        assert {key: frames[0][key] for key in ("type", "status", "error")} == {
            "type": "error",
            "status": 404,
            "error": "conversation not found",
        }
        assert "secret" not in json.dumps(frames)
    reply = http.request(
        "GET", f"{app.url}/conversations/{conversation}", headers=http.bearer(other)
    )
    assert (reply.status, reply.json()) == (404, {"error": "conversation not found"})


NOT_OFFERED = "field 'model' must be one of the models offered: test-model, test-model-2"


def asked_model(fake_openai: FakeOpenAI) -> str:
    """The model the provider was last asked for."""
    return str(fake_openai.requests[-1].body["model"])


def regenerate(ws: ClientConnection, request: str, conversation: str, **more: Any) -> None:
    message = {"action": "regenerate", "request": request, "conversation": conversation, **more}
    ws.send(json.dumps(message))


def conversation_of(app: LocalApp, token: str, conversation: str) -> dict[str, Any]:
    reply = http.request(
        "GET", f"{app.url}/conversations/{conversation}", headers=http.bearer(token)
    )
    assert reply.status == 200
    return dict(reply.json()["conversation"])


def test_a_model_not_offered_is_a_400_frame_and_nothing_is_asked(
    app: LocalApp, token: str, fake_openai: FakeOpenAI
) -> None:
    with open_socket(app, token) as ws:
        send(ws, "k1", "first", model="test-model-2")
        conversation = frames_until_end(ws, "k1")[0]["conversation"]["id"]
        asked = len(fake_openai.requests)
        refusals = []
        for request, model in (("k2", "gpt-4o-mini"), ("k3", "TEST-MODEL"), ("k4", "")):
            send(ws, request, "hi", model=model)  # a new conversation
            refusals.append((frames_until_end(ws, request), NOT_OFFERED))
        send(ws, "k5", "hi", conversation=conversation, model="retired")
        refusals.append((frames_until_end(ws, "k5"), NOT_OFFERED))
        regenerate(ws, "k6", conversation, model="gpt-5")
        refusals.append((frames_until_end(ws, "k6"), NOT_OFFERED))
        send(ws, "k7", "hi", model=7)
        refusals.append((frames_until_end(ws, "k7"), "field 'model' must be a string"))
        regenerate(ws, "k8", conversation, model=["test-model"])
        refusals.append((frames_until_end(ws, "k8"), "field 'model' must be a string"))
    for frames, error in refusals:
        assert len(frames) == 1, frames
        assert {key: frames[0][key] for key in ("type", "status", "error")} == {
            "type": "error",
            "status": 400,
            "error": error,
        }
    assert len(fake_openai.requests) == asked  # the provider was never asked
    assert conversation_of(app, token, conversation)["model"] == "test-model-2"  # unchanged
    messages = http.request(
        "GET", f"{app.url}/conversations/{conversation}", headers=http.bearer(token)
    ).json()["messages"]
    assert [m["content"] for m in messages] == ["first", "echo: first"]


def test_a_conversation_keeps_its_model_and_switches_when_sent_another(
    app: LocalApp, token: str, fake_openai: FakeOpenAI
) -> None:
    with open_socket(app, token) as ws:
        send(ws, "m1", "one")  # a new conversation without a model: the default
        frames = frames_until_end(ws, "m1")
        assert frames[-1]["type"] == "done"
        started = frames[0]["conversation"]
        assert (started["model"], asked_model(fake_openai)) == ("test-model", "test-model")
        conversation = started["id"]

        send(ws, "m2", "two", conversation=conversation, model="test-model-2")
        frames = frames_until_end(ws, "m2")
        assert frames[-1]["type"] == "done"
        assert frames[0]["conversation"]["model"] == "test-model-2"
        assert asked_model(fake_openai) == "test-model-2"
        assert conversation_of(app, token, conversation)["model"] == "test-model-2"

        send(ws, "m3", "three", conversation=conversation)  # no model: it keeps its own
        frames = frames_until_end(ws, "m3")
        assert frames[0]["conversation"]["model"] == "test-model-2"
        assert asked_model(fake_openai) == "test-model-2"

        regenerate(ws, "m4", conversation, model="test-model")  # regenerate switches too
        frames = frames_until_end(ws, "m4")
        assert frames[-1]["type"] == "done"
        assert frames[0]["conversation"]["model"] == "test-model"
        assert asked_model(fake_openai) == "test-model"
        regenerate(ws, "m5", conversation)
        assert frames_until_end(ws, "m5")[0]["conversation"]["model"] == "test-model"
        assert asked_model(fake_openai) == "test-model"

        send(ws, "m6", "new", model="test-model-2")  # a new conversation with a model
        frames = frames_until_end(ws, "m6")
        assert frames[0]["conversation"]["model"] == "test-model-2"
        assert asked_model(fake_openai) == "test-model-2"
        assert frames[0]["conversation"]["id"] != conversation
    mine = conversation_of(app, token, conversation)
    assert mine["model"] == "test-model"
    messages = http.request(
        "GET", f"{app.url}/conversations/{conversation}", headers=http.bearer(token)
    ).json()["messages"]
    assert [m["content"] for m in messages] == [
        "one",
        "echo: one",
        "two",
        "echo: two",
        "three",
        "echo: three",
    ]


def test_a_conversation_whose_model_is_no_longer_offered_gets_the_default(
    app: LocalApp, token: str, fake_openai: FakeOpenAI
) -> None:
    with open_socket(app, token) as ws:
        send(ws, "o1", "before", model="test-model-2")
        conversation = frames_until_end(ws, "o1")[0]["conversation"]
        # As if `up --model` had since stopped offering it.
        db, table = app.aws.dynamodb, app.aws.names.table("conversations")
        stored = conversations.get(db, table, USERNAME, conversation["id"])
        conversations.set_model(db, table, USERNAME, stored, "retired-model")
        assert conversation_of(app, token, conversation["id"])["model"] == "retired-model"

        send(ws, "o2", "after", conversation=conversation["id"])
        frames = frames_until_end(ws, "o2")
        assert frames[-1]["type"] == "done"
        assert frames[0]["conversation"]["model"] == "test-model"
        assert asked_model(fake_openai) == "test-model"
        assert conversation_of(app, token, conversation["id"])["model"] == "test-model"

        conversations.set_model(
            db, table, USERNAME, conversations.get(db, table, USERNAME, conversation["id"]), "old"
        )
        regenerate(ws, "o3", conversation["id"])
        frames = frames_until_end(ws, "o3")
        assert frames[0]["conversation"]["model"] == "test-model"
        assert asked_model(fake_openai) == "test-model"
    assert conversation_of(app, token, conversation["id"])["model"] == "test-model"


def test_config_json_lists_the_models_offered(app: LocalApp) -> None:
    assert http.request("GET", f"{app.url}/config.json").json()["models"] == list(MODELS)


def test_stop_closes_the_upstream_request_within_a_second(
    app: LocalApp, token: str, fake_openai: FakeOpenAI
) -> None:
    first = len(fake_openai.streams)
    with open_socket(app, token) as ws:
        send(ws, "long", "[[chunks:60x0.5]]")
        assert receive(ws)["type"] == "started"
        record = fake_openai.wait_for_stream(first)
        delta = receive(ws)  # the model is writing
        assert delta["type"] == "delta" and delta["text"] == stream_piece(1)
        ws.send(json.dumps({"action": "stop", "request": "long"}))
        stopped_at = time.monotonic()
        # "~1 s": the stop flag is read every 0.5 s, then the call is cancelled at once.
        assert record.client_closed.wait(1.5)
        seen = time.monotonic() - stopped_at
        frames = frames_until_end(ws, "long")
    assert seen < 1.5
    assert frames[-1]["type"] == "done" and frames[-1]["stopped"] is True
    assert not record.finished.is_set() and record.sent < 60
    text = delta["text"] + answer_text(frames)
    assert stream_text(60).startswith(text)


def test_closing_the_socket_mid_answer_closes_the_upstream_request(
    app: LocalApp, token: str, fake_openai: FakeOpenAI
) -> None:
    first = len(fake_openai.streams)
    with open_socket(app, token) as ws:
        send(ws, "tab", "[[chunks:60x0.5]]")
        assert receive(ws)["type"] == "started"
        record = fake_openai.wait_for_stream(first)
    assert record.client_closed.wait(5)
    assert not record.finished.is_set()


def test_a_signed_out_token_is_refused_at_the_handshake(app: LocalApp) -> None:
    token = http.login(app.url, USERNAME, PASSWORD)  # its own token: nothing cached about it
    assert http.post(f"{app.url}/logout", None, http.bearer(token)).status == 200
    # The authorizer checks the token alone; the $connect function refuses an ended session.
    assert refused(app, f"?token={token}") == (403, {"message": "Forbidden"})


def test_signing_out_ends_an_open_connection_s_session(
    app: LocalApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Messages do not carry the token: the authorizer's context carries its hash, so a
    token signed out while its connection is open is refused at the next message."""
    token = http.login(app.url, USERNAME, PASSWORD)
    other = http.login(app.url, USERNAME, PASSWORD)  # another session of the same user
    monkeypatch.setattr(signed_in, "SESSION_CHECK_TTL_S", 0)
    with open_socket(app, token) as ws, open_socket(app, other) as still_open:
        send(ws, "before", "hello")
        assert frames_until_end(ws, "before")[-1]["type"] == "done"
        assert http.post(f"{app.url}/logout", None, http.bearer(token)).status == 200
        send(ws, "after", "hello again")
        assert frames_until_end(ws, "after") == [
            {
                "type": "error",
                "request": "after",
                "status": 401,
                "error": "session ended; log in again",
            }
        ]
        send(still_open, "other", "hello")  # only that session ended
        assert frames_until_end(still_open, "other")[-1]["type"] == "done"


@pytest.mark.slow
def test_a_40_second_answer_arrives_whole(
    app: LocalApp, token: str, fake_openai: FakeOpenAI
) -> None:
    # One chunk a second for 40 s: past /chat's 25 s and the gateway's 29 s (whose
    # "Endpoint request timed out" frame the client skips), the whole answer arrives.
    first = len(fake_openai.streams)
    gateway: list[dict[str, Any]] = []
    with open_socket(app, token) as ws:
        send(ws, "forty", "[[chunks:40x1]]")
        frames = frames_until_end(ws, "forty", timeout=10, gateway=gateway)
    assert [frame["message"] for frame in gateway] == ["Endpoint request timed out"]
    record = fake_openai.wait_for_stream(first)
    assert record.finished.wait(5) and record.sent == 40  # set just after the last write
    assert frames[-1]["type"] == "done" and frames[-1]["stopped"] is False
    assert answer_text(frames) == stream_text(40)
    assert sum(frame["type"] == "delta" for frame in frames) >= 20  # it streamed


# -- `chatbot-deploy local` as a user runs it ------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_local_stops_cleanly_with_a_socket_streaming(
    fake_openai: FakeOpenAI, signum: signal.Signals
) -> None:
    env = {"OPENAI_API_KEY": "sk-from-env", "OPENAI_BASE_URL": fake_openai.base_url}
    proc, output = start_local("--user", f"{USERNAME}:{PASSWORD}", env=env)
    try:
        base = url_of(output)
        token = http.login(base, USERNAME, PASSWORD)
        first = len(fake_openai.streams)
        with connect(
            f"{base.replace('http', 'ws')}{app_spec.SOCKET_PATH}?token={token}", proxy=None
        ) as ws:
            send(ws, "r1", "[[chunks:60x0.5]]")
            assert receive(ws)["type"] == "started"
            record = fake_openai.wait_for_stream(first)
            proc.send_signal(signum)
            with pytest.raises(ConnectionClosed) as closed:
                while True:  # the deltas so far, then the close
                    receive(ws)
        rest, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    assert record.client_closed.wait(5)  # the answer's provider call ended with it
    assert proc.returncode == 0, rest
    assert "Stopped." in rest and "Traceback" not in rest
    assert f"{base.replace('http', 'ws')}{app_spec.SOCKET_PATH}?token=<JWT>" in output
    assert (
        f"WS {app_spec.SOCKET_PATH} connect 101" in rest + output
        and f"WS {app_spec.SOCKET_PATH} close 1001" in rest
    )
    assert token not in output + rest
    assert "connection open" not in output + rest  # the library's own lines are quiet


# -- the policy check, as IAM evaluates it ---------------------------------------------------

ARN = "arn:aws:execute-api:local:000000000000:local/live/$connect"


def statement(effect: str, resource: Any, action: Any = "execute-api:Invoke") -> dict[str, Any]:
    return {"Effect": effect, "Action": action, "Resource": resource}


@pytest.mark.parametrize(
    ("statements", "allowed"),
    [
        ([statement("Allow", ARN)], True),
        ([statement("Allow", "arn:aws:execute-api:local:000000000000:local/*")], True),
        ([statement("Allow", [ARN], ["execute-api:*"])], True),
        ([statement("Allow", "arn:aws:execute-api:local:000000000000:other/*")], False),
        ([statement("Allow", ARN, "execute-api:ManageConnections")], False),
        ([statement("Deny", ARN)], False),
        ([statement("Allow", "*"), statement("Deny", ARN)], False),  # an explicit Deny wins
        ([], False),
    ],
)
def test_policy_allows_as_iam(statements: list[dict[str, Any]], allowed: bool) -> None:
    document = {"Version": "2012-10-17", "Statement": statements}
    assert socket_api.policy_allows(document, ARN) is allowed


def test_a_policy_without_statements_is_malformed() -> None:
    with pytest.raises(ValueError, match="without statements"):
        socket_api.policy_allows({"Version": "2012-10-17"}, ARN)
