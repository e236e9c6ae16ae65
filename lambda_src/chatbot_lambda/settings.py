"""Configuration read from the function's environment.

(NamedTuple rather than dataclasses: importing ``dataclasses`` costs the authorizer's cold
start ~15 ms, and ``typing`` is loaded by PyJWT anyway. No ``from __future__ import
annotations`` here or in tokens.py: NamedTuple would compile each string annotation into a
ForwardRef, ~2 ms of the authorizer's cold start.)

The environment variable names are defined here once; the deploy engine and `local` import
them from this module to configure the functions.
"""

import os
from typing import NamedTuple, Self

# Environment variable names (one source of truth for `up`, `local` and the tests).
ENV_USERS_TABLE = "USERS_TABLE"
ENV_LOGIN_ATTEMPTS_TABLE = "LOGIN_ATTEMPTS_TABLE"
ENV_REVOKED_TOKENS_TABLE = "REVOKED_TOKENS_TABLE"
ENV_CONVERSATIONS_TABLE = "CONVERSATIONS_TABLE"
ENV_JWT_SECRET_PARAM = "JWT_SECRET_PARAM"  # noqa: S105 - a variable name
ENV_OPENAI_KEY_PARAM = "OPENAI_API_KEY_PARAM"
ENV_OPENAI_MODEL = "OPENAI_MODEL"
ENV_OPENAI_BASE_URL = "OPENAI_BASE_URL"
ENV_SYSTEM_PROMPT = "SYSTEM_PROMPT"
ENV_TOKEN_TTL = "TOKEN_TTL_SECONDS"  # noqa: S105 - a variable name
ENV_TOKEN_ISSUER = "TOKEN_ISSUER"  # noqa: S105 - a variable name

DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_TOKEN_TTL = 12 * 3600
DEFAULT_ISSUER = "chatbot-deploy"


def _require(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise RuntimeError(f"environment variable {name} is not set")
    return value


class TokenSettings(NamedTuple):
    secret_param: str
    ttl_seconds: int
    issuer: str

    @classmethod
    def from_env(cls) -> Self:
        return cls(
            secret_param=_require(ENV_JWT_SECRET_PARAM),
            ttl_seconds=int(os.environ.get(ENV_TOKEN_TTL) or DEFAULT_TOKEN_TTL),
            issuer=os.environ.get(ENV_TOKEN_ISSUER) or DEFAULT_ISSUER,
        )


class ChatSettings(NamedTuple):
    api_key_param: str
    model: str
    base_url: str | None
    system_prompt: str | None

    @classmethod
    def from_env(cls) -> Self:
        return cls(
            api_key_param=_require(ENV_OPENAI_KEY_PARAM),
            model=os.environ.get(ENV_OPENAI_MODEL) or DEFAULT_MODEL,
            base_url=os.environ.get(ENV_OPENAI_BASE_URL) or None,
            system_prompt=os.environ.get(ENV_SYSTEM_PROMPT) or None,
        )


def users_table_name() -> str:
    return _require(ENV_USERS_TABLE)


def login_attempts_table_name() -> str:
    return _require(ENV_LOGIN_ATTEMPTS_TABLE)


def revoked_tokens_table_name() -> str:
    return _require(ENV_REVOKED_TOKENS_TABLE)


def conversations_table_name() -> str:
    return _require(ENV_CONVERSATIONS_TABLE)
