"""What the app is made of: its tables, parameters, functions and HTTP routes.

The one source of truth. `up` deploys exactly this, `local` serves exactly this, and the
tests check both against it. Each function declares what it needs (parameters, table access,
settings); its IAM policy (`deploy/iam.py`) and its environment (`function_environment`) are
derived from that, so adding a function or a route is a change here, its handler and its
tests, never the engine (see docs/deploy.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from chatbot_deploy.names import StackNames
from chatbot_lambda import attempts, conversations, sessions, settings, users
from chatbot_lambda.settings import DEFAULT_MODEL, DEFAULT_TOKEN_TTL

AUTHORIZER_IDENTITY_SOURCE = "$request.header.Authorization"
AUTHORIZER_CACHE_TTL_S = 300
API_TIMEOUT_S = 30  # API Gateway HTTP API integration limit


@dataclass(frozen=True)
class IndexSpec:
    """A local secondary index: the table's hash key, another (number) sort key. Sparse: it
    holds only the items that have `range_key`."""

    name: str
    range_key: str


@dataclass(frozen=True)
class TableSpec:
    key: str  # the table is named "<stack>-<key>"
    hash_key: str  # a string
    env: str  # the environment variable through which functions find it
    ttl_attribute: str | None = None  # DynamoDB deletes items once this time (epoch s) passed
    range_key: str | None = None  # a string sort key
    local_indexes: tuple[IndexSpec, ...] = ()  # made with the table (DynamoDB's rule)


@dataclass(frozen=True)
class ParameterSpec:
    key: str  # the parameter is named "/chatbot-deploy/<stack>/<key>"
    env: str  # the environment variable through which functions find it
    description: str


@dataclass(frozen=True)
class TableAccess:
    """What a function may do to a table: these actions only, and with `attributes`, only
    on those attributes (an IAM `dynamodb:Attributes` condition)."""

    table: str  # TableSpec.key
    actions: tuple[str, ...]
    sid: str  # the policy statement's id: says why
    attributes: tuple[str, ...] = ()


@dataclass(frozen=True)
class AppConfig:
    """User-chosen settings that end up in the functions' environment."""

    models: tuple[str, ...] = (DEFAULT_MODEL,)  # offered; the first is the default
    openai_base_url: str | None = None
    system_prompt: str | None = None
    token_ttl_s: int = DEFAULT_TOKEN_TTL


# A value a function may receive in its environment: the variable, and how it is computed.
# None (an optional setting left unset) leaves the variable out.
@dataclass(frozen=True)
class EnvValue:
    env: str
    name: str  # as used in FunctionSpec.values

    def value(self, names: StackNames, config: AppConfig) -> str | None:
        values: dict[str, str | None] = {
            "models": settings.format_models(config.models),
            "openai_base_url": config.openai_base_url,
            "system_prompt": config.system_prompt,
            "token_ttl": str(config.token_ttl_s),
            "token_issuer": names.token_issuer,
        }
        return values[self.name] or None


VALUES = {
    value.name: value
    for value in (
        EnvValue(settings.ENV_OPENAI_MODELS, "models"),
        EnvValue(settings.ENV_OPENAI_BASE_URL, "openai_base_url"),
        EnvValue(settings.ENV_SYSTEM_PROMPT, "system_prompt"),
        EnvValue(settings.ENV_TOKEN_TTL, "token_ttl"),
        EnvValue(settings.ENV_TOKEN_ISSUER, "token_issuer"),
    )
}


@dataclass(frozen=True)
class FunctionSpec:
    kind: str
    handler: str  # "module.attribute" inside the deployment package
    memory_mb: int
    timeout_s: int
    description: str
    parameters: tuple[str, ...] = ()  # ParameterSpec.key: may read, named in its environment
    tables: tuple[TableAccess, ...] = ()  # named in its environment, with these grants
    values: tuple[str, ...] = ()  # VALUES names put in its environment
    # may send to the WebSocket API's connections (execute-api:ManageConnections, that API's
    # stage only)
    manages_connections: bool = False


# What a function serving signed-in users reads to refuse ended sessions (a removed user's,
# an old password's, a signed-out token): the session attribute only, never the password hash.
SESSION_CHECKS = (
    TableAccess(
        "users",
        ("dynamodb:GetItem",),
        "ReadSessionStart",
        attributes=(users.KEY, users.SESSIONS_AFTER_ATTRIBUTE),
    ),
    TableAccess("revoked-tokens", ("dynamodb:GetItem",), "ReadSignedOutTokens"),
)

# How long one streamed answer may take, the provider included (Lambda allows 15 min).
STREAM_TIMEOUT_S = 300

TABLES: dict[str, TableSpec] = {
    spec.key: spec
    for spec in (
        TableSpec("users", users.KEY, settings.ENV_USERS_TABLE),
        # failed logins per username, for the growing delays (`chatbot_lambda.attempts`)
        TableSpec(
            "login-attempts",
            attempts.KEY,
            settings.ENV_LOGIN_ATTEMPTS_TABLE,
            ttl_attribute=attempts.EXPIRES_ATTRIBUTE,
        ),
        # signed-out tokens, until they expire (`chatbot_lambda.sessions`)
        TableSpec(
            "revoked-tokens",
            sessions.KEY,
            settings.ENV_REVOKED_TOKENS_TABLE,
            ttl_attribute=sessions.EXPIRES_ATTRIBUTE,
        ),
        # each user's conversations, their messages and running answers
        # (`chatbot_lambda.conversations`: the item layout is described there)
        TableSpec(
            "conversations",
            conversations.KEY,
            settings.ENV_CONVERSATIONS_TABLE,
            ttl_attribute=conversations.EXPIRES_ATTRIBUTE,
            range_key=conversations.RANGE_KEY,
            local_indexes=(
                IndexSpec(conversations.ACTIVITY_INDEX, conversations.ACTIVITY_ATTRIBUTE),
            ),
        ),
    )
}

PARAMETERS: dict[str, ParameterSpec] = {
    spec.key: spec
    for spec in (
        ParameterSpec("jwt-secret", settings.ENV_JWT_SECRET_PARAM, "JWT signing secret"),
        ParameterSpec("openai-api-key", settings.ENV_OPENAI_KEY_PARAM, "OpenAI API key"),
    )
}

# Each function's memory is chosen from the cold-start model (`benchmarks/cold_start.py`;
# the table and the reasons are in docs/cold-starts.md): Lambda gives CPU in proportion to
# memory, and the per-container work runs at init, with burst CPU, whatever the size.
FUNCTIONS: dict[str, FunctionSpec] = {
    spec.kind: spec
    for spec in (
        # scrypt is CPU work in the invocation: one full vCPU at 1,769 MB.
        FunctionSpec(
            "login",
            "chatbot_lambda.login.handler",
            1769,
            10,
            "chatbot login",
            parameters=("jwt-secret",),
            tables=(
                TableAccess("users", ("dynamodb:GetItem",), "ReadUsers"),
                TableAccess(
                    "login-attempts",
                    ("dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"),
                    "CountFailedLogins",
                ),
                # re-hash at the current cost on login: the hash attribute only
                TableAccess(
                    "users",
                    ("dynamodb:UpdateItem",),
                    "UpgradePasswordHashes",
                    attributes=(users.KEY, users.HASH_ATTRIBUTE),
                ),
            ),
            values=("token_issuer", "token_ttl"),
        ),
        # Mostly waits for the model, billed at its memory; 256 MB keeps the cold first token
        # under 1 s.
        FunctionSpec(
            "chat",
            "chatbot_lambda.chat.handler",
            256,
            API_TIMEOUT_S - 1,
            "chatbot chat",
            parameters=("openai-api-key",),
            tables=SESSION_CHECKS,
            values=("models", "openai_base_url", "system_prompt"),
        ),
        FunctionSpec(
            "conversations",
            "chatbot_lambda.conversation_routes.handler",
            256,
            10,
            "chatbot conversations",
            tables=(
                *SESSION_CHECKS,
                TableAccess(
                    "conversations",
                    (
                        "dynamodb:GetItem",
                        "dynamodb:Query",
                        "dynamodb:UpdateItem",
                        "dynamodb:DeleteItem",
                        "dynamodb:BatchWriteItem",
                    ),
                    "OwnConversations",
                ),
            ),
        ),
        # The WebSocket API's function: answers stream to the browser as the model writes
        # them, for up to its timeout (the gateway stops waiting after 29 s; it runs on).
        # 512 MB: its first delta needs more CPU than chat's answer (three new connections).
        FunctionSpec(
            "stream",
            "chatbot_lambda.stream.handler",
            512,
            STREAM_TIMEOUT_S,
            "chatbot streaming chat",
            parameters=("openai-api-key",),
            tables=(
                *SESSION_CHECKS,
                TableAccess(
                    "conversations",
                    (
                        "dynamodb:GetItem",
                        "dynamodb:Query",
                        "dynamodb:PutItem",
                        "dynamodb:UpdateItem",
                        "dynamodb:DeleteItem",
                        "dynamodb:BatchWriteItem",
                    ),
                    "OwnConversations",
                ),
            ),
            values=("models", "openai_base_url", "system_prompt"),
            manages_connections=True,
        ),
        FunctionSpec(
            "logout",
            "chatbot_lambda.logout.handler",
            256,
            5,
            "chatbot logout",
            tables=(
                TableAccess("revoked-tokens", ("dynamodb:PutItem",), "SignOutOneSession"),
                # "sign out everywhere": the session start only, of an existing user
                TableAccess(
                    "users",
                    ("dynamodb:UpdateItem",),
                    "SignOutEverywhere",
                    attributes=(users.KEY, users.SESSIONS_AFTER_ATTRIBUTE),
                ),
            ),
        ),
        # All its work is at init; an invocation is a signature check (~0.1 ms at 128 MB).
        FunctionSpec(
            "authorizer",
            "chatbot_lambda.authorizer.handler",
            128,
            5,
            "chatbot JWT authorizer",
            parameters=("jwt-secret",),
            values=("token_issuer",),
        ),
    )
}
FUNCTION_KINDS = tuple(FUNCTIONS)

AUTHORIZER_FUNCTION = "authorizer"


@dataclass(frozen=True)
class Throttle:
    """API Gateway's token bucket for one route: requests per second, and burst."""

    rate: float
    burst: int


DEFAULT_THROTTLE = Throttle(rate=20.0, burst=50)  # also the stage's default for any route
# Guessing is slowed per username by the login function (`chatbot_lambda.attempts`); this
# bounds the whole route, and so the scrypt work an attacker can cause.
SIGN_IN_THROTTLE = Throttle(rate=5.0, burst=10)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    function: str  # FunctionSpec.kind
    authorized: bool
    # Each route has its own bucket, so a flood of one (logins) never starves another (chat).
    throttle: Throttle = DEFAULT_THROTTLE

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"


ROUTES: tuple[Route, ...] = (
    Route("POST", "/login", "login", authorized=False, throttle=SIGN_IN_THROTTLE),
    Route("POST", "/chat", "chat", authorized=True),
    Route("POST", "/logout", "logout", authorized=True, throttle=SIGN_IN_THROTTLE),
    Route("GET", "/conversations", "conversations", authorized=True),
    Route("GET", "/conversations/{id}", "conversations", authorized=True),
    Route("PATCH", "/conversations/{id}", "conversations", authorized=True),
    Route("DELETE", "/conversations/{id}", "conversations", authorized=True),
)

# -- the WebSocket API (streamed answers; docs/api.md "WebSocket") ---------------------------
# Browsers cannot set headers on a WebSocket: the token travels in the query string, and
# only `$connect` is authorized (the authorizer answers with an IAM policy there).
SOCKET_AUTHORIZER_IDENTITY_SOURCE = "route.request.querystring.token"
SOCKET_ROUTE_SELECTION = "$request.body.action"  # the route is the message's "action"
SOCKET_STAGE = "live"
# API Gateway waits at most 29 s for a WebSocket integration (the function runs on).
SOCKET_INTEGRATION_TIMEOUT_S = 29
# Where the website serves the WebSocket API, on its own origin: CloudFront forwards this path
# to the API's stage (API Gateway takes no path after the stage name), `local` serves it.
SOCKET_PATH = f"/{SOCKET_STAGE}"
SOCKET_THROTTLE = Throttle(rate=20.0, burst=50)


@dataclass(frozen=True)
class SocketRoute:
    key: str  # "$connect", "$disconnect", "$default" or an action
    function: str  # FunctionSpec.kind


# One function reads every message's action and answers unknown ones with an error frame.
SOCKET_ROUTES: tuple[SocketRoute, ...] = (
    SocketRoute("$connect", "stream"),
    SocketRoute("$disconnect", "stream"),
    SocketRoute("$default", "stream"),
)


def site_api_paths() -> list[str]:
    """The HTTP API's paths as the website's CDN matches them (a `{param}` segment is `*`),
    each once, in route order: CloudFront forwards these to the API."""
    patterns: list[str] = []
    for route in ROUTES:
        pattern = "/".join("*" if part.startswith("{") else part for part in route.path.split("/"))
        if pattern not in patterns:
            patterns.append(pattern)
    return patterns


def cors_methods() -> list[str]:
    """The methods the browser may use cross-origin: those of the routes."""
    return sorted({route.method for route in ROUTES})


def invoked_functions() -> list[str]:
    """The functions API Gateway invokes (routes' targets and the authorizer): each gets an
    invoke permission."""
    targets = (
        {route.function for route in ROUTES}
        | {route.function for route in SOCKET_ROUTES}
        | {AUTHORIZER_FUNCTION}
    )
    return [kind for kind in FUNCTIONS if kind in targets]


def function_environment(kind: str, names: StackNames, config: AppConfig) -> dict[str, str]:
    """The environment of one function, derived from what its spec says it needs."""
    spec = FUNCTIONS[kind]
    env = {PARAMETERS[key].env: names.parameter(key) for key in spec.parameters}
    env |= {TABLES[access.table].env: names.table(access.table) for access in spec.tables}
    for name in spec.values:
        value = VALUES[name].value(names, config)
        if value is not None:
            env[VALUES[name].env] = value
    return env
