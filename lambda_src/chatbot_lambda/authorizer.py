"""Lambda REQUEST authorizer for POST /chat (HTTP API, payload 2.0, simple responses).

API Gateway answers 401 itself when the Authorization header is missing (it is the identity
source); this function answers ``isAuthorized: false`` -> 403 for every token that is not a
valid, unexpired HS256 token signed with our secret.
"""

from __future__ import annotations

from typing import Any

from chatbot_lambda import parameters, settings, tokens
from chatbot_lambda.http import Event, bearer_token

DENY: dict[str, Any] = {"isAuthorized": False}


def handler(event: Event, context: Any) -> dict[str, Any]:
    token = bearer_token(event)
    if token is None:
        return DENY
    config = settings.TokenSettings.from_env()
    secret = parameters.get_secure(config.secret_param)
    try:
        verified = tokens.verify(token, secret, config.issuer)
    except tokens.InvalidToken:
        return DENY
    # API Gateway caches this answer per token; the expiry and issue time travel along so
    # that the chat handler refuses a token that expired while its authorization was still
    # cached, or that was issued before the user's password changed or the user was removed.
    return {
        "isAuthorized": True,
        "context": {
            "username": verified.username,
            "expires_at": verified.expires_at,
            "issued_at": verified.issued_at,
        },
    }
