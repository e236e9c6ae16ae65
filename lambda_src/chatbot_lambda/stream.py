"""The WebSocket API's function: answers streamed as the model writes them.

docs/api.md ("WebSocket: streamed answers") is the contract: the client's messages
(``send``, ``send`` with ``edit``, ``regenerate``, ``stop``) and the frames sent back
(``started``, ``delta``, ``done``, ``error``). Events are API Gateway's WebSocket proxy
events (``requestContext.eventType`` CONNECT, DISCONNECT or MESSAGE); the authorizer's
context (checked at ``$connect``) comes with each. Whatever a message holds, the handler
answers ``{"statusCode": 200}`` and tells the client by frames: nothing raises out of it.
``$connect`` is refused (403) for a token signed out since the authorizer allowed it;
``$disconnect`` stops the connection's running answers.

One answer, while it streams:

- the reading thread (the handler's) reads the model's deltas and stores them;
- a watchdog thread sends what arrived as delta frames, at most one per FRAME_INTERVAL_S
  (each at most MAX_FRAME_CHARS; more text, more frames), and every WATCH_INTERVAL_S looks
  for a reason to end the answer early: its ``stop`` flag in the conversations table (set
  by the ``stop`` message, handled by another invocation), the token's expiry, the
  function's remaining time. Any of them cancels the provider's call, which closes its
  connection at once, even while the model sends nothing;
- a connection that is gone (:class:`connections.Gone`) cancels the call too.

Whatever ends it, the text so far is stored as the answer, and the running-answer record
is removed.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from chatbot_lambda import (
    clients,
    connections,
    container,
    conversations,
    recent_contexts,
    settings,
    signed_in,
    upstream,
    validation,
)
from chatbot_lambda.connections import MAX_FRAME_BYTES, MAX_MESSAGE_BYTES
from chatbot_lambda.conversations import Conversation
from chatbot_lambda.http import HttpError, raw_body

logger = logging.getLogger("chatbot.stream")
logger.setLevel(logging.INFO)

OK = {"statusCode": 200}
REQUEST_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
ACTIONS = ("send", "regenerate", "stop")

FRAME_INTERVAL_S = 0.1  # at most one delta frame per 100 ms …
MAX_FRAME_CHARS = 8_000  # … of at most this much text (a frame stays within 32 KB)
WATCH_INTERVAL_S = 0.5  # how often the stop flag, the token and the time left are read
# An answer still streaming this long before the function's timeout is ended, so that its
# text is stored and the client told (504) before Lambda stops the function.
END_MARGIN_S = 10.0
# A running-answer record outlives the function by this much, then DynamoDB's TTL takes it.
RECORD_SLACK_S = 60
LAMBDA_MAX_S = 900.0  # the function's time when its context does not say (outside Lambda)

NOT_FOUND = "conversation not found"
INTERNAL = "internal error"
TOO_MANY = "too many answers at once; wait for one to finish"
ALREADY = "an answer with this request id is already streaming"
FULL = (
    f"this conversation holds {conversations.MAX_MESSAGES} messages, as many as it can; "
    "start a new one"
)
CHANGED = "the conversation changed meanwhile; try again"
NOTHING_TO_ANSWER = "the conversation has no message of yours to answer"


def reset() -> None:
    """Drop the cached client (a new container; for `local` and tests)."""
    upstream.reset()
    recent_contexts.reset()


# -- frames ------------------------------------------------------------------------------------
def frame(kind: str, request: str | None, **fields: Any) -> bytes:
    body = {"type": kind, "request": request, **fields}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def error_frame(request: str | None, status: int, message: str) -> bytes:
    return frame("error", request, status=status, error=message)


def pieces(text: str, size: int = MAX_FRAME_CHARS) -> list[str]:
    return [text[start : start + size] for start in range(0, len(text), size)]


def delta_frames(request: str, text: str) -> list[bytes]:
    """``text`` as delta frames of at most MAX_FRAME_CHARS characters, each within API
    Gateway's 32 KB (a piece whose JSON is longer, control characters escaped as
    ``\\u0001``, is halved)."""
    found: list[bytes] = []
    pending = pieces(text)
    while pending:
        piece = pending.pop(0)
        data = frame("delta", request, text=piece)
        if len(data) > MAX_FRAME_BYTES and len(piece) > 1:
            half = len(piece) // 2
            pending[:0] = [piece[:half], piece[half:]]
        else:
            found.append(data)
    return found


# -- the client's message ----------------------------------------------------------------------
@dataclass(frozen=True)
class ClientMessage:
    action: str
    request: str
    conversation: str | None = None
    content: str = ""
    edit: int | None = None
    model: str | None = None  # asked for (send, regenerate); None: the conversation's own


@dataclass(frozen=True)
class Regenerate:
    user_seq: int  # the message answered again
    answer_seq: int | None  # the answer deleted first, if the conversation ends with one


class Refused(HttpError):
    """A message answered with an error frame; ``request`` as far as it could be read."""

    def __init__(self, status: int, message: str, request: str | None = None) -> None:
        super().__init__(status, message)
        self.request = request


def _body(event: dict[str, Any]) -> dict[str, Any]:
    try:
        size = len(raw_body(event))
    except ValueError:
        raise Refused(400, "the message is not valid base64") from None
    if size > MAX_MESSAGE_BYTES:
        raise Refused(413, f"the message is larger than {MAX_MESSAGE_BYTES} bytes")
    try:
        return validation.json_object(event)
    except HttpError as exc:
        raise Refused(exc.status, exc.message.replace("request body", "the message")) from None


def parse_message(event: dict[str, Any]) -> ClientMessage:
    """The client's message, or :class:`Refused` (400/413) saying what is wrong with it."""
    body = _body(event)
    request = body.get("request")
    if not isinstance(request, str) or not REQUEST_ID.fullmatch(request):
        raise Refused(400, "field 'request' must be 1-64 characters of A-Za-z0-9_-")
    action = body.get("action")
    if action not in ACTIONS:
        raise Refused(400, f"field 'action' must be one of {', '.join(ACTIONS)}", request)
    if action == "stop":
        return ClientMessage("stop", request)
    conversation = body.get("conversation")
    if conversation is not None and not isinstance(conversation, str):
        raise Refused(400, "field 'conversation' must be a conversation's id or null", request)
    model = body.get("model")  # whether it is offered: Invocation.answer
    if model is not None and not isinstance(model, str):
        raise Refused(400, "field 'model' must be a string", request)
    if action == "regenerate":
        if conversation is None:
            raise Refused(400, "field 'conversation' is needed to regenerate", request)
        return ClientMessage("regenerate", request, conversation, model=model)
    content = body.get("content")
    if not isinstance(content, str):
        raise Refused(400, "field 'content' must be a string", request)
    if not content.strip():
        raise Refused(400, "field 'content' must not be empty or only spaces", request)
    if len(content) > validation.MAX_MESSAGE_CHARS:
        message = f"field 'content' is longer than {validation.MAX_MESSAGE_CHARS} characters"
        raise Refused(413, message, request)
    edit = body.get("edit")
    if edit is not None and (type(edit) is not int or edit < 0 or conversation is None):
        raise Refused(400, "field 'edit' must be the seq of one of your messages", request)
    return ClientMessage("send", request, conversation, content, edit, model)


def identity(event: dict[str, Any]) -> dict[str, Any]:
    """The authorizer's context (API Gateway's WebSocket API gives it as is; an HTTP API
    under ``lambda``)."""
    context = (event.get("requestContext") or {}).get("authorizer") or {}
    if isinstance(context.get("lambda"), dict):
        context = context["lambda"]
    return context if isinstance(context, dict) else {}


# -- one invocation ----------------------------------------------------------------------------
class Invocation:
    """One MESSAGE event: who sent it, on which connection, and how to answer it."""

    def __init__(self, event: dict[str, Any], context: Any) -> None:
        self.event = event
        self.context = context
        self.connection_id = str((event.get("requestContext") or {}).get("connectionId") or "")
        self.identity = identity(event)
        self.dynamodb = clients.client("dynamodb")
        self.table = settings.conversations_table_name()

    def send(self, data: bytes) -> None:
        connections.send(self.event, self.connection_id, data)

    def time_left_s(self) -> float | None:
        remaining = getattr(self.context, "get_remaining_time_in_millis", None)
        return None if remaining is None else float(remaining()) / 1000

    def handle(self) -> None:
        request: str | None = None
        try:
            message = parse_message(self.event)
            request = message.request
            user = signed_in.username(self.identity)
            if message.action == "stop":
                # Not streaming (finished, unknown): ignored, no frame.
                conversations.request_stop(
                    self.dynamodb, self.table, user, self.connection_id, request
                )
                return
            self.answer(user, message)
        except Refused as refused:
            self.send(error_frame(refused.request, refused.status, refused.message))
        except HttpError as error:
            self.send(error_frame(request, error.status, error.message))

    # -- an answer ---------------------------------------------------------------------------
    def answer(self, user: str, message: ClientMessage) -> None:
        db, table = self.dynamodb, self.table
        config = settings.ChatSettings.from_env()
        if message.model is not None and not config.offers(message.model):
            raise HttpError(400, validation.not_offered(config.models))
        conversation: Conversation | None = None
        if message.conversation is not None:
            conversation = self._get(user, message.conversation)
        regenerate: Regenerate | None = None
        if message.action == "regenerate":
            assert conversation is not None
            regenerate = self._to_regenerate(user, conversation)
        if message.edit is not None:
            assert conversation is not None
            edited = conversations.message(db, table, user, conversation.id, message.edit)
            if edited is None or edited.role != "user":
                raise HttpError(400, "field 'edit' must be the seq of one of your messages")
            if message.edit >= conversations.MAX_MESSAGES:
                raise HttpError(409, FULL)
        elif (
            message.action == "send"
            and conversation is not None
            and conversation.next_seq >= conversations.MAX_MESSAGES
        ):
            raise HttpError(409, FULL)
        provider = upstream.for_container(config)
        left = self.time_left_s()
        lifetime = (left if left is not None else LAMBDA_MAX_S) + RECORD_SLACK_S
        try:
            conversations.start_stream(
                db,
                table,
                user,
                self.connection_id,
                message.request,
                expires_at=int(time.time() + lifetime),
            )
        except conversations.TooManyStreams:
            raise HttpError(429, TOO_MANY) from None
        except conversations.AlreadyStreaming:
            raise HttpError(409, ALREADY) from None
        try:
            self._answer_recorded(user, message, conversation, regenerate, config, provider)
        finally:
            conversations.end_stream(db, table, user, self.connection_id, message.request)

    def _to_regenerate(self, user: str, conversation: Conversation) -> Regenerate:
        """What regenerating answers: the last user message (the answer after it goes)."""
        last = conversations.last_messages(self.dynamodb, self.table, user, conversation.id, 2)
        answer_seq: int | None = None
        if last and last[-1].role == "assistant":
            answer_seq = last[-1].seq
            last = last[:-1]
        if not last or last[-1].role != "user":
            raise HttpError(409, NOTHING_TO_ANSWER)
        return Regenerate(user_seq=last[-1].seq, answer_seq=answer_seq)

    def _get(self, user: str, conversation_id: str) -> Conversation:
        try:
            return conversations.get(self.dynamodb, self.table, user, conversation_id)
        except conversations.NotFound:
            raise HttpError(404, NOT_FOUND) from None

    def _answer_recorded(
        self,
        user: str,
        message: ClientMessage,
        conversation: Conversation | None,
        regenerate: Regenerate | None,
        config: settings.ChatSettings,
        provider: upstream.Upstream,
    ) -> None:
        db, table = self.dynamodb, self.table
        cached: list[conversations.Message] | None = None
        try:
            if conversation is None:
                cached = []  # a new conversation has nothing before this message
                conversation = conversations.create(
                    db,
                    table,
                    user,
                    model=message.model or config.model,
                    title=conversations.title_for(message.content),
                )
            else:
                cached = recent_contexts.get(user, conversation.id, conversation.revision)
                model = answering_model(conversation, message.model, config)
                if model != conversation.model:
                    conversation = conversations.set_model(db, table, user, conversation, model)
            if regenerate is not None:
                if regenerate.answer_seq is not None:
                    conversation = conversations.truncate(
                        db, table, user, conversation, regenerate.answer_seq
                    )
                user_seq = regenerate.user_seq
                cached = None
            else:
                if message.edit is not None:
                    cached = None
                    conversation = conversations.truncate(
                        db, table, user, conversation, message.edit
                    )
                seen = conversation.revision
                conversation, asked = conversations.append(
                    db, table, user, conversation, "user", message.content
                )
                user_seq = conversation.next_seq - 1
                if cached is not None and conversation.revision == seen + 1:  # ours only
                    history = conversations.newest_within(reversed([*cached, asked]))
                else:
                    cached = None
            if cached is None:
                history = conversations.context(db, table, user, conversation.id)
        except conversations.NotFound:
            raise HttpError(404, NOT_FOUND) from None
        except conversations.Full:
            raise HttpError(409, FULL) from None
        except conversations.Conflict:
            raise HttpError(409, CHANGED) from None
        prompt = [item.as_dict() for item in history]
        if config.system_prompt:
            prompt.insert(0, {"role": "system", "content": config.system_prompt})
        answer = Answer(self, user, message.request, provider.stream(prompt, conversation.model))
        answer.history = history
        self.send(
            frame(
                "started",
                message.request,
                conversation=conversation.public(),
                user_seq=user_seq,
                answer_seq=conversation.next_seq,
            )
        )
        answer.run(conversation)


def answering_model(
    conversation: Conversation, asked: str | None, config: settings.ChatSettings
) -> str:
    """The model that answers an existing conversation, and is its model from then on: the
    one asked for (already checked as offered), else its own while it is offered, else the
    default (`up --model` no longer offers it)."""
    if asked is not None:
        return asked
    return conversation.model if config.offers(conversation.model) else config.model


class Answer:
    """One answer streaming to one connection (see the module's docstring)."""

    def __init__(
        self, invocation: Invocation, user: str, request: str, stream: upstream.AnswerStream
    ) -> None:
        self.invocation = invocation
        self.user = user
        self.request = request
        self.stream = stream
        self.text: list[str] = []  # everything received
        self._pending: list[str] = []  # received, not sent yet
        self._lock = threading.Lock()  # text and _pending
        self._send_lock = threading.Lock()  # one frame at a time, in order
        self._last_frame = 0.0  # monotonic time of the last delta frame
        self._ended = threading.Event()
        self.reason: str | None = None  # why it ended early: stopped, expired, timeout, gone
        self.history: list[conversations.Message] = []  # the context the model was given

    # -- delta frames ------------------------------------------------------------------------
    def received(self, text: str) -> None:
        with self._lock:
            self.text.append(text)
            self._pending.append(text)
        # Sent at once if no frame went out in the last 100 ms (the first token is not held
        # back); otherwise the watchdog sends it with what follows, within 100 ms.
        if self._send_lock.acquire(blocking=False):
            try:
                self._flush(due_only=True)
            finally:
                self._send_lock.release()

    def flush(self, due_only: bool = False) -> None:
        with self._send_lock:
            self._flush(due_only)

    def flush_last(self) -> None:
        """Send what is left once the answer ended: also this frame keeps to the rule,
        after at least FRAME_INTERVAL_S since the one before."""
        with self._send_lock:
            with self._lock:
                waiting = bool(self._pending)
            wait = self._last_frame + FRAME_INTERVAL_S - time.monotonic()
            if waiting and wait > 0 and self.reason != "gone":
                time.sleep(wait)
            self._flush(due_only=False)

    def _flush(self, due_only: bool) -> None:
        if self.reason == "gone":
            return
        if due_only and time.monotonic() - self._last_frame < FRAME_INTERVAL_S:
            return
        with self._lock:
            text = "".join(self._pending)
            self._pending.clear()
        if not text:
            return
        self._last_frame = time.monotonic()
        try:
            for data in delta_frames(self.request, text):
                self.invocation.send(data)
        except connections.Gone:
            self.end_early("gone")

    def end_early(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
            logger.info("answer %s ended early: %s", self.request, reason)
        self.stream.cancel()

    # -- the watchdog ------------------------------------------------------------------------
    def watch(self) -> None:
        next_check = 0.0
        while not self._ended.wait(FRAME_INTERVAL_S / 2):
            try:
                self.flush(due_only=True)
                now = time.monotonic()
                if now < next_check or self.reason is not None:
                    continue
                next_check = now + WATCH_INTERVAL_S
                left = self.invocation.time_left_s()
                if signed_in.expired(self.invocation.identity):
                    self.end_early("expired")
                elif left is not None and left < END_MARGIN_S:
                    self.end_early("timeout")
                elif conversations.stop_requested(
                    self.invocation.dynamodb,
                    self.invocation.table,
                    self.user,
                    self.invocation.connection_id,
                    self.request,
                ):
                    self.end_early("stopped")
            except Exception as exc:  # a failed read: the answer goes on; looked at again
                logger.warning("watchdog of %s: %s", self.request, type(exc).__name__)

    # -- the whole answer --------------------------------------------------------------------
    def run(self, conversation: Conversation) -> None:
        watchdog = threading.Thread(target=self.watch, name=f"watch-{self.request}", daemon=True)
        watchdog.start()
        failure: HttpError | None = None
        try:
            try:
                for text in self.stream:
                    self.received(text)
            except upstream.UpstreamError as exc:
                failure = exc
            finally:
                self.stream.cancel()  # nothing to do after its end; ends it on an error
                self._ended.set()
                watchdog.join()
            self.flush_last()
        finally:
            self._store(conversation)  # whatever ended it, even an unexpected error
        if self.reason == "gone":
            return
        if failure is not None:
            self.invocation.send(error_frame(self.request, failure.status, failure.message))
        elif self.reason == "expired":
            self.invocation.send(error_frame(self.request, 401, signed_in.SESSION_EXPIRED))
        elif self.reason == "timeout":
            self.invocation.send(error_frame(self.request, 504, upstream.TIMED_OUT))
        else:
            stopped = self.reason == "stopped"
            done = frame("done", self.request, stopped=stopped, usage=self.stream.usage)
            self.invocation.send(done)

    def _store(self, conversation: Conversation) -> None:
        """Store the answer (also what arrived before it ended early); nothing if no text
        came. Should another message have taken its seq meanwhile, after that one."""
        content = "".join(self.text)
        if not content:
            return
        db, table = self.invocation.dynamodb, self.invocation.table
        try:
            try:
                stored, answer = conversations.append(
                    db, table, self.user, conversation, "assistant", content
                )
            except conversations.Conflict:
                recent_contexts.forget(self.user, conversation.id)
                latest = conversations.get(db, table, self.user, conversation.id)
                conversations.append(db, table, self.user, latest, "assistant", content)
                return
            if stored.revision == conversation.revision + 1:  # nobody wrote in between
                context = conversations.newest_within(reversed([*self.history, answer]))
                recent_contexts.put(self.user, conversation.id, stored.revision, context)
        except conversations.NotFound:
            logger.info("answer %s not stored: its conversation was deleted", self.request)


# -- the handler -------------------------------------------------------------------------------
def on_connect(event: dict[str, Any]) -> dict[str, Any]:
    """The authorizer has allowed the token; refused here (403) is a token whose session
    ended, which only the token itself tells (signed out with POST /logout): messages do
    not carry it. A non-2xx answer to ``$connect`` refuses the handshake."""
    query = event.get("queryStringParameters") or {}
    token = query.get("token") if isinstance(query, dict) else None
    try:
        signed_in.username(identity(event), token.strip() if isinstance(token, str) else None)
    except HttpError as refused:
        logger.info("connection refused: %s", refused.message)
        return {"statusCode": 403}
    return dict(OK)


def on_disconnect(event: dict[str, Any]) -> dict[str, Any]:
    """Answers still running on the closed connection stop now, not at their next frame
    (a model may think silently for a long time)."""
    user = identity(event).get("username")
    connection_id = (event.get("requestContext") or {}).get("connectionId")
    if isinstance(user, str) and user and isinstance(connection_id, str) and connection_id:
        dynamodb, table = clients.client("dynamodb"), settings.conversations_table_name()
        conversations.stop_connection(dynamodb, table, user, connection_id)
    return dict(OK)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    kind = (event.get("requestContext") or {}).get("eventType")
    try:
        if kind == "CONNECT":
            return on_connect(event)
        if kind == "DISCONNECT":
            return on_disconnect(event)
    except Exception as exc:
        logger.error("unhandled %s in %s (%s)", type(exc).__name__, __name__, kind)
        return {"statusCode": 500} if kind == "CONNECT" else dict(OK)
    if kind != "MESSAGE":
        return dict(OK)
    invocation: Invocation | None = None
    try:
        invocation = Invocation(event, context)
        invocation.handle()
    except connections.Gone:
        pass  # nobody to tell
    except Exception as exc:
        # Type only: exception text may quote request data.
        logger.error("unhandled %s in %s", type(exc).__name__, __name__)
        if invocation is not None:
            try:
                invocation.send(error_frame(_request_of(event), 500, INTERNAL))
            except Exception as again:  # gone, or sending is what failed
                logger.warning("could not tell the client: %s", type(again).__name__)
    return dict(OK)


def _request_of(event: dict[str, Any]) -> str | None:
    """The message's request id, if it has a valid one (for a 500 frame)."""
    try:
        body = json.loads(raw_body(event))
    except (ValueError, RecursionError):
        return None
    request = body.get("request") if isinstance(body, dict) else None
    return request if isinstance(request, str) and REQUEST_ID.fullmatch(request) else None


# Init, once per container on Lambda (`container`): the tables' client, and the provider's
# streaming client with its key from SSM (a key not set yet is answered 503 per message).
container.at_init(
    dynamodb=lambda: clients.client("dynamodb"),
    openai=lambda: upstream.for_container(settings.ChatSettings.from_env()).prepare_streaming(),
)
