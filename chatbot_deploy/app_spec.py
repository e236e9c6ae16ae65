"""What the app is made of: its functions and its HTTP routes.

`up` deploys exactly this, `local` serves exactly this, and the tests check both against it.
"""

from __future__ import annotations

from dataclasses import dataclass

from chatbot_deploy.names import StackNames
from chatbot_lambda import settings
from chatbot_lambda.settings import DEFAULT_MODEL, DEFAULT_TOKEN_TTL

AUTHORIZER_IDENTITY_SOURCE = "$request.header.Authorization"
AUTHORIZER_CACHE_TTL_S = 300
API_TIMEOUT_S = 30  # API Gateway HTTP API integration limit


@dataclass(frozen=True)
class FunctionSpec:
    kind: str
    handler: str  # "module.attribute" inside the deployment package
    memory_mb: int
    timeout_s: int
    description: str


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    function: str  # FunctionSpec.kind
    authorized: bool

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"


FUNCTIONS: dict[str, FunctionSpec] = {
    spec.kind: spec
    for spec in (
        # scrypt needs CPU: Lambda gives one full vCPU at 1,769 MB.
        FunctionSpec("login", "chatbot_lambda.login.handler", 1769, 10, "chatbot login"),
        FunctionSpec("chat", "chatbot_lambda.chat.handler", 512, API_TIMEOUT_S - 1, "chatbot chat"),
        FunctionSpec(
            "authorizer", "chatbot_lambda.authorizer.handler", 256, 5, "chatbot JWT authorizer"
        ),
    )
}

AUTHORIZER_FUNCTION = "authorizer"

ROUTES: tuple[Route, ...] = (
    Route("POST", "/login", "login", authorized=False),
    Route("POST", "/chat", "chat", authorized=True),
)


@dataclass(frozen=True)
class AppConfig:
    """User-chosen settings that end up in the functions' environment."""

    model: str = DEFAULT_MODEL
    openai_base_url: str | None = None
    system_prompt: str | None = None
    token_ttl_s: int = DEFAULT_TOKEN_TTL


def function_environment(kind: str, names: StackNames, config: AppConfig) -> dict[str, str]:
    """The environment of one function: only what that function needs."""
    if kind == "login":
        env = {
            settings.ENV_USERS_TABLE: names.users_table,
            settings.ENV_JWT_SECRET_PARAM: names.jwt_secret_param,
            settings.ENV_TOKEN_ISSUER: names.token_issuer,
            settings.ENV_TOKEN_TTL: str(config.token_ttl_s),
        }
    elif kind == "authorizer":
        env = {
            settings.ENV_JWT_SECRET_PARAM: names.jwt_secret_param,
            settings.ENV_TOKEN_ISSUER: names.token_issuer,
        }
    elif kind == "chat":
        env = {
            settings.ENV_USERS_TABLE: names.users_table,  # sessions end with the user
            settings.ENV_OPENAI_KEY_PARAM: names.openai_key_param,
            settings.ENV_OPENAI_MODEL: config.model,
        }
        if config.openai_base_url:
            env[settings.ENV_OPENAI_BASE_URL] = config.openai_base_url
        if config.system_prompt:
            env[settings.ENV_SYSTEM_PROMPT] = config.system_prompt
    else:
        raise KeyError(f"unknown function kind {kind!r}")
    return env
