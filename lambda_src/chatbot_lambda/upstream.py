"""The one place that talks to the model provider (official ``openai`` SDK).

Any OpenAI-compatible server works through ``base_url``. Errors are mapped to
:class:`UpstreamError` with a status and a message that is safe to show: the provider's own
error text is never passed on, since it may quote part of the API key.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import json
import logging
import socket
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import httpx2
import openai
from openai.types.chat import ChatCompletionMessageParam

from chatbot_lambda import parameters, settings
from chatbot_lambda.http import HttpError
from chatbot_lambda.validation import is_unicode

logger = logging.getLogger("chatbot.upstream")

# API Gateway ends an HTTP API integration after 30 s; one attempt must end well before.
CONNECT_TIMEOUT_S = 3.0
READ_TIMEOUT_S = 25.0
# A streamed answer: how long the provider may send nothing (a reasoning model thinks
# silently); the answer's whole length is bounded by the caller (the function's timeout).
STREAM_READ_TIMEOUT_S = 60.0
MAX_RETRIES = 0
# A call given less time than this is not started: it could not be answered anyway.
MIN_ATTEMPT_S = 1.0
TIMED_OUT = "the model provider did not answer in time; try again"
NO_ANSWER = "the model provider returned no answer"
NOT_UNDERSTOOD = "the model provider sent an answer this app does not understand"
USAGE_FIELDS = ("prompt_tokens", "completion_tokens", "total_tokens")
KEY_MISSING = (
    "no OpenAI API key is configured: set OPENAI_API_KEY and run `chatbot-deploy up` "
    "again (or restart `chatbot-deploy local`)"
)


class UpstreamError(HttpError):
    """The model provider failed; mapped to 429/502/504 by :func:`map_error`."""


@dataclass(frozen=True)
class Completion:
    content: str
    model: str
    usage: dict[str, int] = field(default_factory=dict)


def map_error(exc: openai.OpenAIError) -> UpstreamError:
    status = getattr(exc, "status_code", None)
    logger.warning("upstream %s (status %s)", type(exc).__name__, status)
    if isinstance(exc, openai.APITimeoutError):
        return UpstreamError(504, TIMED_OUT)
    if isinstance(exc, openai.APIConnectionError):
        return UpstreamError(502, "could not connect to the model provider")
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return UpstreamError(
            502, "the model provider rejected the configured API key; check OPENAI_API_KEY"
        )
    if isinstance(exc, openai.RateLimitError):
        return UpstreamError(429, "the model provider is rate limiting requests; try again soon")
    if isinstance(exc, openai.NotFoundError):
        return UpstreamError(502, "the configured model or endpoint was not found")
    return UpstreamError(502, "the model provider returned an error")


def _malformed(what: str) -> UpstreamError:
    logger.warning("upstream answered 200 with %s", what)  # never the body: it is theirs
    return UpstreamError(502, NOT_UNDERSTOOD)


def parse_completion(body: bytes, default_model: str) -> Completion:
    """The answer in a chat-completions body, or :class:`UpstreamError` 502 when the body is
    not one (not JSON, not the shape, text that is not Unicode). Only what is used here is
    checked, so OpenAI-compatible servers that differ elsewhere (``object``,
    ``finish_reason`` …) still work; the SDK's own parsing checks nothing and returned a
    plain string for a body that is not JSON."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, nested too deep
        raise _malformed("a body that is not JSON") from None
    if not isinstance(data, dict):
        raise _malformed("JSON that is not an object")
    choices = data.get("choices")
    if choices is None and "error" in data:  # some servers send their errors with a 200
        logger.warning("upstream answered 200 with an error object")
        raise UpstreamError(502, "the model provider returned an error")
    if choices is None or choices == []:
        raise UpstreamError(502, NO_ANSWER)
    if not isinstance(choices, list) or not isinstance(choices[0], dict):
        raise _malformed("choices that are not a list of objects")
    message = choices[0].get("message")
    if not isinstance(message, dict):
        raise _malformed("a choice without a message object")
    content = message.get("content")
    if content is None:  # e.g. a tool call, or an answer its content filter withheld
        raise UpstreamError(502, NO_ANSWER)
    if not isinstance(content, str) or not is_unicode(content):
        raise _malformed("message content that is not text")
    model = data.get("model")
    usage = data.get("usage")
    return Completion(
        content=content,
        model=model if isinstance(model, str) and model and is_unicode(model) else default_model,
        usage={
            name: value
            for name in USAGE_FIELDS
            if isinstance(usage, dict)
            and type(value := usage.get(name)) is int  # not bool, not "12"
            and value >= 0
        },
    )


def _timeout(time_left_s: float | None) -> openai.Timeout:
    if time_left_s is None:
        return openai.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
    if time_left_s < MIN_ATTEMPT_S:
        logger.warning("upstream not called: %.1f s left", time_left_s)
        raise UpstreamError(504, TIMED_OUT)
    return openai.Timeout(
        min(READ_TIMEOUT_S, time_left_s), connect=min(CONNECT_TIMEOUT_S, time_left_s)
    )


def _params(messages: Iterable[dict[str, str]]) -> list[ChatCompletionMessageParam]:
    return cast("list[ChatCompletionMessageParam]", list(messages))


class Upstream:
    def __init__(self, api_key: str, model: str, base_url: str | None = None) -> None:
        self.model = model
        self._client = openai.OpenAI(
            api_key=api_key,
            base_url=base_url,
            timeout=_timeout(None),  # the default; a call given a deadline passes its own
            max_retries=MAX_RETRIES,
        )

    def complete(
        self,
        messages: Iterable[dict[str, str]],
        time_left_s: float | None = None,
        model: str | None = None,
    ) -> Completion:
        """The assistant's answer (of ``model``, by default the configured one).
        `time_left_s`: how long the caller can still wait (the function's remaining time
        less a margin); the SDK timeouts are shortened to fit."""
        model = model or self.model
        try:
            # The raw body, read here: what a provider sends with its 200 is checked by
            # parse_completion, not trusted.
            reply = self._client.chat.completions.with_raw_response.create(
                model=model, messages=_params(messages), timeout=_timeout(time_left_s)
            )
            body = reply.content
        except openai.OpenAIError as exc:
            raise map_error(exc) from None
        return parse_completion(body, model)

    def stream(self, messages: Iterable[dict[str, str]], model: str | None = None) -> AnswerStream:
        """The answer (of ``model``, by default the configured one), streamed: iterate for
        its text deltas as the provider sends them."""
        return AnswerStream(self._stream_client, model or self.model, list(messages))

    def prepare_streaming(self) -> None:
        """Create the streaming client now (at init, see `container`), not at the first
        answer: it loads the TLS trust store."""
        self._stream_client  # noqa: B018 - a cached property, created here

    @functools.cached_property
    def _stream_client(self) -> openai.OpenAI:
        # Streams get their own connections, never kept alive: each one is opened by the
        # thread that reads it, so its socket is known (see AnswerStream.cancel).
        http_client = openai.DefaultHttpxClient(
            limits=httpx2.Limits(max_connections=None, max_keepalive_connections=0),
            event_hooks={"request": [_trace_connections]},
        )
        return self._client.with_options(
            http_client=http_client,
            timeout=openai.Timeout(STREAM_READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
        )


# The stream whose request the current thread is making: its connection is recorded.
_opening: contextvars.ContextVar[AnswerStream | None] = contextvars.ContextVar(
    "opening", default=None
)


def _trace_connections(request: httpx2.Request) -> None:
    """httpx's request hook: follow the connection through httpcore's trace extension."""
    stream = _opening.get()
    if stream is not None:
        request.extensions["trace"] = stream._traced


class AnswerStream:
    """One streamed answer. Iterating yields its text deltas, and ends quietly once
    :meth:`cancel` was called; afterwards ``usage`` (maybe empty) and ``model`` hold what
    the provider said. Errors are :class:`UpstreamError` as for :meth:`Upstream.complete`;
    more than STREAM_READ_TIMEOUT_S without a byte is a 504.

    :meth:`cancel` may be called from any thread, at any time: it shuts the connection to
    the provider down at once, also while the reading thread waits for the provider's next
    byte (closing the SDK's response from another thread does not wake that thread, nor
    close the connection before it wakes), so the provider stops writing (and charging)."""

    def __init__(self, client: openai.OpenAI, model: str, messages: list[dict[str, str]]) -> None:
        self._client = client
        self._messages = messages
        self.model = model
        self.usage: dict[str, int] = {}
        self._lock = threading.Lock()
        self._cancelled = False
        self._ended = False
        self._socket: socket.socket | None = None

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            sock = None if self._ended else self._socket
            if sock is not None:
                _shut_down(sock)

    def _traced(self, event: str, info: dict[str, Any]) -> None:
        if event in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            stream = info.get("return_value")
            sock = stream.get_extra_info("socket") if stream is not None else None
            if isinstance(sock, socket.socket):
                with self._lock:
                    self._socket = sock
                    if self._cancelled:  # cancelled while connecting
                        _shut_down(sock)

    def __iter__(self) -> Iterator[str]:
        chunks: Any = None
        token: contextvars.Token[AnswerStream | None] | None = _opening.set(self)
        try:
            if self._cancelled:
                return
            chunks = self._client.chat.completions.create(
                model=self.model,
                messages=_params(self._messages),
                stream=True,
                stream_options={"include_usage": True},
            )
            if token is not None:  # the connection is open: stop following others
                _opening.reset(token)
                token = None
            for chunk in chunks:
                self._read_usage(chunk)
                for choice in getattr(chunk, "choices", None) or ():
                    text = getattr(getattr(choice, "delta", None), "content", None)
                    if isinstance(text, str) and text:
                        if not is_unicode(text):
                            raise _malformed("streamed text that is not Unicode")
                        yield text
                if self._cancelled:
                    return
        except UpstreamError:
            if self._cancelled:
                return
            raise
        except openai.OpenAIError as exc:
            if self._cancelled:  # our own shutdown, seen as a broken connection
                return
            raise map_error(exc) from None
        except (ValueError, TypeError, AttributeError):  # an event that is not JSON …
            if self._cancelled:
                return
            raise _malformed("a stream event it could not read") from None
        finally:
            if token is not None:
                _opening.reset(token)
            with self._lock:
                self._ended = True  # its socket may be closed and its number reused
                self._socket = None
            if chunks is not None:
                chunks.close()

    def _read_usage(self, chunk: Any) -> None:
        model = getattr(chunk, "model", None)
        if isinstance(model, str) and model and is_unicode(model):
            self.model = model
        usage = getattr(chunk, "usage", None)
        if usage is None:
            return
        values = usage if isinstance(usage, dict) else getattr(usage, "__dict__", {})
        self.usage = {
            name: value
            for name in USAGE_FIELDS
            if type(value := values.get(name)) is int and value >= 0
        }


def _shut_down(sock: socket.socket) -> None:
    """End the connection both ways (the peer sees it closed; a thread blocked reading it
    wakes). The plain socket's method even for a TLS socket: it leaves the TLS state, which
    the reading thread may be using, alone."""
    with contextlib.suppress(OSError):  # already closed
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


_container: Upstream | None = None
_container_lock = threading.Lock()


def for_container(config: settings.ChatSettings) -> Upstream:
    """The container's provider client, its key read from SSM once per container; no key
    configured is an :class:`UpstreamError` 503 that says what to set."""
    global _container
    with _container_lock:
        if _container is None:
            try:
                api_key = parameters.get_secure(config.api_key_param)
            except parameters.ParameterMissing:
                raise UpstreamError(503, KEY_MISSING) from None
            _container = Upstream(api_key, config.model, config.base_url)
        return _container


def reset() -> None:
    """Drop the container's client (a new container; for `local` and tests)."""
    global _container
    with _container_lock:
        _container = None
