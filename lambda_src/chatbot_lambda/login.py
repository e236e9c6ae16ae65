"""POST /login: check a username and password, answer a signed JWT."""

from __future__ import annotations

from typing import Any

from chatbot_lambda import clients, parameters, passwords, settings, tokens, users
from chatbot_lambda.handler import http_handler, logger
from chatbot_lambda.http import Event, Response, error_response, json_response
from chatbot_lambda.validation import parse_login

INVALID_CREDENTIALS = "invalid username or password"


def _upgrade_hash(username: str, password: str, stored: str) -> None:
    """Re-hash at the current cost, now that the password is known to be right (the cost
    of stored hashes rises as users log in). A failure here never fails the login."""
    try:
        new = passwords.hash_password(password)
        if users.replace_hash(
            clients.client("dynamodb"), settings.users_table_name(), username, stored, new
        ):
            logger.info("password hash of %s upgraded", username)
    except Exception as exc:  # e.g. a role without dynamodb:UpdateItem (older stack)
        logger.warning("password hash upgrade failed: %s", type(exc).__name__)


@http_handler
def handler(event: Event, context: Any) -> Response:
    request = parse_login(event)
    stored = users.get_password_hash(
        clients.client("dynamodb"), settings.users_table_name(), request.username
    )
    if stored is None:
        ok = passwords.verify_unknown_user(request.password)
    else:
        ok = passwords.verify_password(request.password, stored)
    if not ok:
        logger.info("login refused")
        return error_response(401, INVALID_CREDENTIALS)
    if stored is not None and passwords.needs_rehash(stored):
        _upgrade_hash(request.username, request.password, stored)
    config = settings.TokenSettings.from_env()
    secret = parameters.get_secure(config.secret_param)
    issued = tokens.issue(request.username, secret, config.issuer, config.ttl_seconds)
    logger.info("login ok for %s", request.username)
    return json_response(
        200,
        {"token": issued.token, "expires_at": issued.expires_at, "username": request.username},
    )
