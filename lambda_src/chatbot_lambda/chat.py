"""POST /chat: send the conversation to the model, answer the assistant's message."""

from __future__ import annotations

from typing import Any

from chatbot_lambda import clients, container, settings, signed_in, upstream
from chatbot_lambda.handler import http_handler
from chatbot_lambda.http import (
    Event,
    Response,
    authorizer_context,
    bearer_token,
    json_response,
)
from chatbot_lambda.validation import parse_chat

# Kept back from the function's remaining time to answer before Lambda's own timeout (whose
# bare 500 would reach the browser instead of our 504).
ANSWER_MARGIN_S = 1.0


def reset() -> None:
    """Drop the cached client and session checks (a new container; for `local` and tests)."""
    upstream.reset()
    signed_in.reset()


def time_left_s(context: Any) -> float | None:
    """Seconds the upstream call may take, from Lambda's context (None: no deadline known)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return None
    return float(remaining()) / 1000 - ANSWER_MARGIN_S


@http_handler
def handler(event: Event, context: Any) -> Response:
    # Checked here, not in the authorizer (whose answer API Gateway caches per token for
    # 5 min): an expired token, a removed user, a token issued before the password last
    # changed or signed out, is refused within signed_in.SESSION_CHECK_TTL_S.
    signed_in.username(authorizer_context(event), bearer_token(event))
    config = settings.ChatSettings.from_env()
    request = parse_chat(event, config.models)
    provider = upstream.for_container(config)  # 503 when no key is configured
    messages = [message.as_dict() for message in request.messages]
    if config.system_prompt:
        messages.insert(0, {"role": "system", "content": config.system_prompt})
    # UpstreamError -> its status, via http_handler
    completion = provider.complete(messages, time_left_s(context), request.model)
    return json_response(
        200,
        {
            "message": {"role": "assistant", "content": completion.content},
            "model": completion.model,
            "usage": completion.usage,
        },
    )


# Init, once per container on Lambda (`container`): the session checks' client, and the
# provider's client with its key from SSM (a key not set yet is answered 503 per request).
container.at_init(
    dynamodb=lambda: clients.client("dynamodb"),
    openai=lambda: upstream.for_container(settings.ChatSettings.from_env()),
)
