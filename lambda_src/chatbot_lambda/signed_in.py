"""Who is signed in, for the functions serving signed-in users (chat, conversations, stream).

The authorizer has checked the token's signature, issuer and expiry, and API Gateway caches
its answer per token for 5 minutes; its context (``username``, ``expires_at``,
``issued_at``) travels with each request. Checked here, at each request: the token has not
expired since, its user still exists and has not ended its sessions since the token was
issued (password changed, signed out everywhere), and the token was not signed out. The two
reads are trusted for SESSION_CHECK_TTL_S per container (one read per user per 5 s, not per
request), so an ended session is refused within that time.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from chatbot_lambda import clients, sessions, settings, users
from chatbot_lambda.http import HttpError

SESSION_ENDED = "session ended; log in again"
SESSION_EXPIRED = "session expired; log in again"
NOT_AUTHENTICATED = "not authenticated"

SESSION_CHECK_TTL_S = 5.0

T = TypeVar("T")

_sessions: dict[str, tuple[float, int | None]] = {}  # username -> (read at, valid after)
_revoked: dict[str, tuple[float, bool]] = {}  # token hash -> (read at, revoked)
_lock = threading.Lock()
_NO_FINAL_ANSWER = object()
_DECIMAL = re.compile(r"-?[0-9]{1,18}")
_HASH = re.compile(r"[0-9a-f]{64}")


def number(value: object) -> int | None:
    """An authorizer context number: API Gateway passes the HTTP API's as numbers, the
    WebSocket API's as strings (``"1767225600"``). None for anything else."""
    if type(value) is int:
        return value
    if isinstance(value, str) and _DECIMAL.fullmatch(value):
        return int(value)
    return None


def _checked(
    cache: dict[str, tuple[float, T]],
    key: str,
    read: Callable[[], T],
    final: object = _NO_FINAL_ANSWER,
) -> T:
    """What `read` answers for `key`, read again once it is SESSION_CHECK_TTL_S old, unless
    it was `final` (an answer that cannot change back): one read per key per 5 s."""
    now = time.monotonic()
    with _lock:
        cached = cache.get(key)
    if cached is not None and (cached[1] is final or now - cached[0] < SESSION_CHECK_TTL_S):
        return cached[1]
    value = read()
    with _lock:
        cache[key] = (now, value)
    return value


def _is_revoked(digest: str) -> bool:
    """Signed out with POST /logout (the token whose hash is ``digest``)? A revoked token
    stays revoked, so that answer is kept."""
    return _checked(
        _revoked,
        digest,
        lambda: sessions.is_revoked_hash(
            clients.client("dynamodb"), settings.revoked_tokens_table_name(), digest
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


def expired(identity: Mapping[str, Any], now: float | None = None) -> bool:
    """Whether the token behind ``identity`` has expired (also: no expiry in it)."""
    expires_at = number(identity.get("expires_at"))
    return expires_at is None or expires_at <= (time.time() if now is None else now)


def username(identity: Mapping[str, Any], token: str | None = None) -> str:
    """The signed-in user of a request whose authorizer context is ``identity`` (and whose
    token is ``token``, when the request carries it), or HttpError 401 with the contract's
    text."""
    name = identity.get("username")
    expires_at = number(identity.get("expires_at"))
    if not isinstance(name, str) or not name or expires_at is None:
        raise HttpError(401, NOT_AUTHENTICATED)
    if expires_at <= time.time():
        raise HttpError(401, SESSION_EXPIRED)
    issued_at = number(identity.get("issued_at"))
    valid_after = _sessions_valid_after(name)
    if valid_after is None or (issued_at is not None and issued_at < valid_after):
        raise HttpError(401, SESSION_ENDED)
    # The token when the request carries it (HTTP), else its hash from the WebSocket
    # authorizer's context (a connection's messages do not carry the token).
    digest = sessions.token_hash(token) if token is not None else identity.get("token_hash")
    if isinstance(digest, str) and _HASH.fullmatch(digest) and _is_revoked(digest):
        raise HttpError(401, SESSION_ENDED)
    return name


def reset() -> None:
    """Forget the session checks (a new container; for `local` and tests)."""
    with _lock:
        _sessions.clear()
        _revoked.clear()
