"""POST /login: check a username and password, answer a signed JWT."""

from __future__ import annotations

import json
import time
from typing import Any

from chatbot_lambda import (
    attempts,
    clients,
    container,
    parameters,
    passwords,
    settings,
    tokens,
    users,
)
from chatbot_lambda.handler import http_handler, logger
from chatbot_lambda.http import Event, Response, error_response, json_response
from chatbot_lambda.validation import parse_login

INVALID_CREDENTIALS = "invalid username or password"
clock = time.time  # replaced in tests

TOO_MANY_FAILURES = "too many failed logins for this username; try again in {seconds} s"


def _source_ip(event: Event) -> str:
    return str(((event.get("requestContext") or {}).get("http") or {}).get("sourceIp") or "?")


def _refused(event: Event, username: str, reason: str) -> None:
    """One log line per refused login: who was tried, from where, why. Never the password;
    the username JSON-quoted, so a hostile one cannot forge log lines."""
    logger.warning(
        "login refused: %s",
        json.dumps({"username": username, "source_ip": _source_ip(event), "reason": reason}),
    )


def _throttled(seconds: int) -> Response:
    response = error_response(429, TOO_MANY_FAILURES.format(seconds=seconds))
    response["headers"]["retry-after"] = str(seconds)
    return response


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
    dynamodb = clients.client("dynamodb")
    attempts_table = settings.login_attempts_table_name()
    now = clock()
    before = attempts.standing(dynamodb, attempts_table, request.username, now)
    if before.wait_s:  # locked: answered before any password work, the same for everyone
        _refused(event, request.username, "locked")
        return _throttled(before.wait_s)
    stored = users.get_password_hash(dynamodb, settings.users_table_name(), request.username)
    if stored is None:
        ok = passwords.verify_unknown_user(request.password)
    else:
        ok = passwords.verify_password(request.password, stored)
    if not ok:
        attempts.record_failure(dynamodb, attempts_table, request.username, now)
        _refused(event, request.username, "unknown user" if stored is None else "wrong password")
        return error_response(401, INVALID_CREDENTIALS)
    if before.failures:
        attempts.clear(dynamodb, attempts_table, request.username)
    if stored is not None and passwords.needs_rehash(stored):
        _upgrade_hash(request.username, request.password, stored)
    config = settings.TokenSettings.from_env()
    issued = tokens.issue(
        request.username, parameters.jwt_secret(), config.issuer, config.ttl_seconds
    )
    logger.info("login ok for %s", request.username)
    return json_response(
        200,
        {"token": issued.token, "expires_at": issued.expires_at, "username": request.username},
    )


# Init, once per container on Lambda (`container`).
container.at_init(dynamodb=lambda: clients.client("dynamodb"), jwt_secret=parameters.jwt_secret)
