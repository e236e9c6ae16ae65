"""POST /chat: send the conversation to the model, answer the assistant's message."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from chatbot_lambda import clients, parameters, sessions, settings, users
from chatbot_lambda.handler import http_handler
from chatbot_lambda.http import (
    Event,
    Response,
    authorizer_context,
    bearer_token,
    error_response,
    json_response,
)
from chatbot_lambda.upstream import Upstream
from chatbot_lambda.validation import parse_chat

SESSION_ENDED = "session ended; log in again"
KEY_MISSING = (
    "no OpenAI API key is configured: set OPENAI_API_KEY and run `chatbot-deploy up` "
    "again (or restart `chatbot-deploy local`)"
)

# Kept back from the function's remaining time to answer before Lambda's own timeout (whose
# bare 500 would reach the browser instead of our 504).
ANSWER_MARGIN_S = 1.0

# How long a container trusts what it read about a user's sessions: a removed user or a
# changed password ends sessions within this time (one read per user per 5 s, not per request).
SESSION_CHECK_TTL_S = 5.0

T = TypeVar("T")

_upstream: Upstream | None = None
_upstream_lock = threading.Lock()
_sessions: dict[str, tuple[float, int | None]] = {}  # username -> (read at, valid after)
_revoked: dict[str, tuple[float, bool]] = {}  # token hash -> (read at, revoked)
_sessions_lock = threading.Lock()
_NO_FINAL_ANSWER = object()


def _checked(
    cache: dict[str, tuple[float, T]],
    key: str,
    read: Callable[[], T],
    final: object = _NO_FINAL_ANSWER,
) -> T:
    """What `read` answers for `key`, read again once it is SESSION_CHECK_TTL_S old, unless
    it was `final` (an answer that cannot change back): one read per key per 5 s."""
    now = time.monotonic()
    with _sessions_lock:
        cached = cache.get(key)
    if cached is not None and (cached[1] is final or now - cached[0] < SESSION_CHECK_TTL_S):
        return cached[1]
    value = read()
    with _sessions_lock:
        cache[key] = (now, value)
    return value


def _is_revoked(token: str) -> bool:
    """Signed out with POST /logout? A revoked token stays revoked, so that answer is kept."""
    return _checked(
        _revoked,
        sessions.token_hash(token),
        lambda: sessions.is_revoked(
            clients.client("dynamodb"), settings.revoked_tokens_table_name(), token
        ),
        final=True,
    )


def _sessions_valid_after(username: str) -> int | None:
    return _checked(
        _sessions,
        username,
        lambda: users.sessions_valid_after(
            clients.client("dynamodb"), settings.users_table_name(), username
        ),
    )


def _get_upstream(config: settings.ChatSettings) -> Upstream:
    global _upstream
    with _upstream_lock:
        if _upstream is None:
            api_key = parameters.get_secure(config.api_key_param)
            _upstream = Upstream(api_key, config.model, config.base_url)
        return _upstream


def reset() -> None:
    """Drop the cached client and session checks (a new container; for `local` and tests)."""
    global _upstream
    with _upstream_lock:
        _upstream = None
    with _sessions_lock:
        _sessions.clear()
        _revoked.clear()


def time_left_s(context: Any) -> float | None:
    """Seconds the upstream call may take, from Lambda's context (None: no deadline known)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return None
    return float(remaining()) / 1000 - ANSWER_MARGIN_S


@http_handler
def handler(event: Event, context: Any) -> Response:
    identity = authorizer_context(event)
    username = identity.get("username")
    expires_at = identity.get("expires_at")
    if not isinstance(username, str) or not username or not isinstance(expires_at, int):
        return error_response(401, "not authenticated")
    if expires_at <= time.time():
        return error_response(401, "session expired; log in again")
    # Checked here, not in the authorizer (whose answer API Gateway caches per token for
    # 5 min): a removed user, or a token issued before the password last changed, is refused
    # within SESSION_CHECK_TTL_S.
    issued_at = identity.get("issued_at")
    valid_after = _sessions_valid_after(username)
    if valid_after is None or (isinstance(issued_at, int) and issued_at < valid_after):
        return error_response(401, SESSION_ENDED)
    token = bearer_token(event)
    if token is not None and _is_revoked(token):
        return error_response(401, SESSION_ENDED)
    request = parse_chat(event)
    config = settings.ChatSettings.from_env()
    try:
        upstream = _get_upstream(config)
    except parameters.ParameterMissing:
        return error_response(503, KEY_MISSING)
    messages = [message.as_dict() for message in request.messages]
    if config.system_prompt:
        messages.insert(0, {"role": "system", "content": config.system_prompt})
    # UpstreamError -> its status, via http_handler
    completion = upstream.complete(messages, time_left_s(context))
    return json_response(
        200,
        {
            "message": {"role": "assistant", "content": completion.content},
            "model": completion.model,
            "usage": completion.usage,
        },
    )
