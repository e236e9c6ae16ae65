"""POST /logout: end this session (the token is revoked until it expires), or with
``{"everywhere": true}`` every session of the user (`sessions.py` says how)."""

from __future__ import annotations

import time
from typing import Any

from chatbot_lambda import clients, container, sessions, settings, users
from chatbot_lambda.handler import http_handler, logger
from chatbot_lambda.http import (
    Event,
    Response,
    authorizer_context,
    bearer_token,
    error_response,
    json_response,
)
from chatbot_lambda.validation import parse_logout


@http_handler
def handler(event: Event, context: Any) -> Response:
    identity = authorizer_context(event)
    username = identity.get("username")
    expires_at = identity.get("expires_at")
    token = bearer_token(event)
    if not isinstance(username, str) or not isinstance(expires_at, int) or token is None:
        return error_response(401, "not authenticated")
    request = parse_logout(event)
    dynamodb = clients.client("dynamodb")
    if request.everywhere:
        users.end_sessions(dynamodb, settings.users_table_name(), username, time.time())
        logger.info("signed out everywhere: %s", username)
        return json_response(200, {"signed_out": "everywhere"})
    sessions.revoke(dynamodb, settings.revoked_tokens_table_name(), token, username, expires_at)
    logger.info("signed out one session: %s", username)
    return json_response(200, {"signed_out": "this session"})


# Init, once per container on Lambda (`container`).
container.at_init(dynamodb=lambda: clients.client("dynamodb"))
