"""The one place that talks to the model provider (official ``openai`` SDK).

Any OpenAI-compatible server works through ``base_url``. Errors are mapped to
:class:`UpstreamError` with a status and a message that is safe to show: the provider's own
error text is never passed on, since it may quote part of the API key.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import cast

import openai
from openai.types.chat import ChatCompletionMessageParam

from chatbot_lambda.http import HttpError
from chatbot_lambda.validation import is_unicode

logger = logging.getLogger("chatbot.upstream")

# API Gateway ends an HTTP API integration after 30 s; one attempt must end well before.
CONNECT_TIMEOUT_S = 3.0
READ_TIMEOUT_S = 25.0
MAX_RETRIES = 0
# A call given less time than this is not started: it could not be answered anyway.
MIN_ATTEMPT_S = 1.0
TIMED_OUT = "the model provider did not answer in time; try again"
NO_ANSWER = "the model provider returned no answer"
NOT_UNDERSTOOD = "the model provider sent an answer this app does not understand"
USAGE_FIELDS = ("prompt_tokens", "completion_tokens", "total_tokens")


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
        self, messages: Iterable[dict[str, str]], time_left_s: float | None = None
    ) -> Completion:
        """The assistant's answer. `time_left_s`: how long the caller can still wait (the
        function's remaining time less a margin); the SDK timeouts are shortened to fit."""
        try:
            # The raw body, read here: what a provider sends with its 200 is checked by
            # parse_completion, not trusted.
            reply = self._client.chat.completions.with_raw_response.create(
                model=self.model, messages=_params(messages), timeout=_timeout(time_left_s)
            )
            body = reply.content
        except openai.OpenAIError as exc:
            raise map_error(exc) from None
        return parse_completion(body, self.model)

    def stream(self, messages: Iterable[dict[str, str]]) -> Iterator[str]:
        """Yield the answer's text deltas as the provider sends them."""
        try:
            chunks = self._client.chat.completions.create(
                model=self.model, messages=_params(messages), stream=True
            )
            for chunk in chunks:
                for choice in chunk.choices or ():
                    delta = getattr(choice, "delta", None)
                    text = getattr(delta, "content", None)
                    if isinstance(text, str) and text:
                        if not is_unicode(text):
                            raise _malformed("streamed text that is not Unicode")
                        yield text
        except openai.OpenAIError as exc:
            raise map_error(exc) from None
        except (ValueError, TypeError):  # an event that is not JSON, or not a list of choices
            raise _malformed("a stream event it could not read") from None
