"""The one place that talks to the model provider (official ``openai`` SDK).

Any OpenAI-compatible server works through ``base_url``. Errors are mapped to
:class:`UpstreamError` with a status and a message that is safe to show: the provider's own
error text is never passed on, since it may quote part of the API key.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import openai
from openai.types.chat import ChatCompletionMessageParam

from chatbot_lambda.http import HttpError

logger = logging.getLogger("chatbot.upstream")

# API Gateway ends an HTTP API integration after 30 s; one attempt must end well before.
CONNECT_TIMEOUT_S = 3.0
READ_TIMEOUT_S = 25.0
MAX_RETRIES = 0
# A call given less time than this is not started: it could not be answered anyway.
MIN_ATTEMPT_S = 1.0
TIMED_OUT = "the model provider did not answer in time; try again"


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


def _usage(raw: Any) -> dict[str, int]:
    if raw is None:
        return {}
    fields = ("prompt_tokens", "completion_tokens", "total_tokens")
    return {
        name: int(getattr(raw, name)) for name in fields if getattr(raw, name, None) is not None
    }


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
            reply = self._client.chat.completions.create(
                model=self.model, messages=_params(messages), timeout=_timeout(time_left_s)
            )
        except openai.OpenAIError as exc:
            raise map_error(exc) from None
        if not reply.choices:
            raise UpstreamError(502, "the model provider returned no answer")
        content = reply.choices[0].message.content or ""
        return Completion(
            content=content, model=reply.model or self.model, usage=_usage(reply.usage)
        )

    def stream(self, messages: Iterable[dict[str, str]]) -> Iterator[str]:
        """Yield the answer's text deltas as the provider sends them."""
        try:
            chunks = self._client.chat.completions.create(
                model=self.model, messages=_params(messages), stream=True
            )
            for chunk in chunks:
                for choice in chunk.choices:
                    if choice.delta and choice.delta.content:
                        yield choice.delta.content
        except openai.OpenAIError as exc:
            raise map_error(exc) from None
