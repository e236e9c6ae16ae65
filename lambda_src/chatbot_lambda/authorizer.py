"""Lambda REQUEST authorizer for both APIs.

- The HTTP API's authorized routes (payload 2.0, simple responses): API Gateway answers 401
  itself when the Authorization header is missing (it is the identity source); this function
  answers ``isAuthorized: false`` -> 403 for every token that is not a valid, unexpired HS256
  token signed with our secret.
- The WebSocket API's ``$connect`` (the event has ``methodArn``; the token is the query
  string's ``token``, its identity source): WebSocket authorizers answer with an IAM policy.
  A valid token gets ``Allow execute-api:Invoke`` on the event's ``methodArn``; any other
  gets an explicit ``Deny``, which API Gateway answers 403 during the handshake, as /chat's
  refused tokens. Without a token API Gateway answers 401 itself; should the function be
  called anyway, it raises ``Exception("Unauthorized")``, the documented way to a 401.

Either way the context carries the username, the token's expiry and issue time: the
handlers refuse a token that expired while its authorization was still cached, or that was
issued before the user's password changed or the user was removed. (API Gateway hands a
policy authorizer's context values to the integration as strings.)
"""

from __future__ import annotations

from typing import Any

from chatbot_lambda import container, parameters, sessions, settings, tokens
from chatbot_lambda.http import Event, bearer_token

DENY: dict[str, Any] = {"isAuthorized": False}
# What API Gateway turns into 401 Unauthorized (its documented message for a policy
# authorizer; anything else raised is a 500).
UNAUTHORIZED = "Unauthorized"


def _verify(token: str) -> tokens.VerifiedToken | None:
    secret = parameters.jwt_secret()
    try:
        return tokens.verify(token, secret, settings.TokenSettings.from_env().issuer)
    except tokens.InvalidToken:
        return None


def _context(verified: tokens.VerifiedToken) -> dict[str, Any]:
    return {
        "username": verified.username,
        "expires_at": verified.expires_at,
        "issued_at": verified.issued_at,
    }


def policy(principal: str, effect: str, resource: str) -> dict[str, Any]:
    """An IAM policy answer: ``effect`` ("Allow" or "Deny") on ``execute-api:Invoke``."""
    return {
        "principalId": principal,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
        },
    }


def socket_handler(event: Event) -> dict[str, Any]:
    """``$connect`` of the WebSocket API: an IAM policy for the connection."""
    query = event.get("queryStringParameters") or {}
    token = query.get("token") if isinstance(query, dict) else None
    if not isinstance(token, str) or not token.strip():
        raise Exception(UNAUTHORIZED)  # API Gateway matches this message: 401
    resource = str(event.get("methodArn") or "")
    verified = _verify(token.strip())
    if verified is None:
        return policy("anonymous", "Deny", resource)
    # Messages on the connection do not carry the token: its hash (never the token) lets
    # the stream function refuse it once it is signed out (POST /logout).
    context = {**_context(verified), "token_hash": sessions.token_hash(token.strip())}
    return {**policy(verified.username, "Allow", resource), "context": context}


def handler(event: Event, context: Any) -> dict[str, Any]:
    if "methodArn" in event:  # the WebSocket API's $connect (HTTP APIs send routeArn)
        return socket_handler(event)
    token = bearer_token(event)
    if token is None:
        return DENY
    verified = _verify(token)
    if verified is None:
        return DENY
    # API Gateway caches this answer per token (see the module's docstring).
    return {"isAuthorized": True, "context": _context(verified)}


# Init, once per container on Lambda (`container`): boto3 is imported with `parameters`; the
# SSM client and the secret are ready before the first token arrives.
container.at_init(jwt_secret=parameters.jwt_secret)
