"""JWT issue and verification (PyJWT, HS256 only)."""

import secrets
import time
from typing import NamedTuple

import jwt

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["exp", "iat", "sub", "iss"]


class IssuedToken(NamedTuple):
    token: str
    expires_at: int


class VerifiedToken(NamedTuple):
    username: str
    expires_at: int
    issued_at: int


class InvalidToken(Exception):
    pass


def issue(username: str, secret: str, issuer: str, ttl_seconds: int) -> IssuedToken:
    now = int(time.time())
    expires_at = now + ttl_seconds
    # jti: two logins in the same second get different tokens, so signing one out
    # (POST /logout revokes a token by its hash) leaves the other signed in.
    claims = {
        "sub": username,
        "iss": issuer,
        "iat": now,
        "exp": expires_at,
        "jti": secrets.token_urlsafe(16),
    }
    return IssuedToken(jwt.encode(claims, secret, algorithm=ALGORITHM), expires_at)


def verify(token: str, secret: str, issuer: str) -> VerifiedToken:
    """The subject, expiry and issue time of a valid token; InvalidToken for anything else."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=issuer,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from exc
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise InvalidToken("token has no subject")
    return VerifiedToken(subject, int(claims["exp"]), int(claims["iat"]))
