"""Configuration read from the function's environment.

(NamedTuple rather than dataclasses: chosen when the authorizer imported nothing else that
loads ``dataclasses``; boto3, imported at init since the cold-start work (docs/cold-starts.md),
loads it anyway. No ``from __future__ import annotations`` here or in tokens.py: NamedTuple
would compile each string annotation into a ForwardRef, ~2 ms of init.)

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
# The models offered, the default first, comma-separated ("gpt-4o-mini,gpt-4.1"): a model name
# is letters, digits and . _ - : / @ + (`up` refuses any other), never a comma.
ENV_OPENAI_MODELS = "OPENAI_MODELS"
MODELS_SEPARATOR = ","
# Before several models were offered (issue 11) the one model was in OPENAI_MODEL; read only
# to adopt the settings of a stack deployed before settings were stored (deploy/adopt.py).
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


def parse_models(text: str | None) -> tuple[str, ...]:
    """OPENAI_MODELS' value as a tuple, in order, each once; empty for none."""
    found: list[str] = []
    for item in (text or "").split(MODELS_SEPARATOR):
        name = item.strip()
        if name and name not in found:
            found.append(name)
    return tuple(found)


def format_models(models: tuple[str, ...] | list[str]) -> str:
    """The models as OPENAI_MODELS holds them (the inverse of :func:`parse_models`)."""
    return MODELS_SEPARATOR.join(models)


class ChatSettings(NamedTuple):
    api_key_param: str
    models: tuple[str, ...]  # never empty; the first is the default
    base_url: str | None
    system_prompt: str | None

    @property
    def model(self) -> str:
        """The default model: the first offered."""
        return self.models[0]

    def offers(self, model: str) -> bool:
        return model in self.models

    @classmethod
    def from_env(cls) -> Self:
        return cls(
            api_key_param=_require(ENV_OPENAI_KEY_PARAM),
            models=parse_models(os.environ.get(ENV_OPENAI_MODELS)) or (DEFAULT_MODEL,),
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
