"""Request parsing and validation: every bad input becomes a 400/413 with a message."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from chatbot_lambda.http import Event, HttpError, raw_body

MAX_BODY_BYTES = 256 * 1024
MAX_USERNAME_CHARS = 64
MAX_PASSWORD_CHARS = 1024
MAX_MESSAGES = 100
MAX_MESSAGE_CHARS = 32_000
MAX_TOTAL_CHARS = 100_000
ROLES = ("system", "user", "assistant")
# The only code points a Python str can hold that UTF-8 cannot encode.
_SURROGATE = re.compile("[\ud800-\udfff]")


class RequestError(HttpError):
    """A client error: 400, or 413 for a body over the limit."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(status, message)


@dataclass(frozen=True)
class LoginRequest:
    username: str
    password: str


@dataclass(frozen=True)
class ChatMessage:
    role: str
    content: str

    def as_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class ChatRequest:
    messages: tuple[ChatMessage, ...]
    model: str  # one of the models offered: the one asked for, else the default


def not_offered(models: tuple[str, ...]) -> str:
    """The 400 message for a `model` that is not offered (they are public: /config.json)."""
    return f"field 'model' must be one of the models offered: {', '.join(models)}"


def chosen_model(body: dict[str, Any], models: tuple[str, ...]) -> str | None:
    """The body's optional `model`: None when absent (or null), else one of `models` (the
    models offered, the first the default), else :class:`RequestError`."""
    model = body.get("model")
    if model is None:
        return None
    if not isinstance(model, str):
        raise RequestError("field 'model' must be a string")
    if model not in models:
        raise RequestError(not_offered(models))
    return model


def json_object(event: Event) -> dict[str, Any]:
    try:
        data = raw_body(event)
    except ValueError as exc:
        raise RequestError("request body is not valid base64") from exc
    if len(data) > MAX_BODY_BYTES:
        raise RequestError(f"request body is larger than {MAX_BODY_BYTES} bytes", 413)
    if not data:
        raise RequestError("request body is empty; expected a JSON object")
    try:
        parsed = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise RequestError("request body is not valid JSON") from exc
    if not isinstance(parsed, dict):
        raise RequestError("request body must be a JSON object")
    _check_text(parsed)
    return parsed


NOT_UNICODE = (
    "request body holds text that is not valid Unicode (a lone surrogate escape such as "
    "\\udfff); send UTF-8 text"
)


def is_unicode(text: str) -> bool:
    """Whether ``text`` can be encoded as UTF-8 (holds no lone surrogate)."""
    return _SURROGATE.search(text) is None


def _check_text(parsed: dict[str, Any]) -> None:
    """Refuse a body with a string, key or value at any depth, that cannot be encoded as
    UTF-8: JSON's ``\\ud800``-``\\udfff`` escapes (and ``json.loads``' surrogatepass
    decoding) let a lone surrogate through, and it fails later (hashing, DynamoDB, the
    model's HTTP client) as a 500. Iterative: a body nested as deep as ``json.loads``
    allows must not overflow the stack here."""
    pending: list[Any] = [parsed]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str) and not is_unicode(item):
            raise RequestError(NOT_UNICODE)


def _string_field(body: dict[str, Any], name: str, max_chars: int) -> str:
    if name not in body:
        raise RequestError(f"missing field '{name}'")
    value = body[name]
    if not isinstance(value, str):
        raise RequestError(f"field '{name}' must be a string")
    if not value:
        raise RequestError(f"field '{name}' must not be empty")
    if len(value) > max_chars:
        raise RequestError(f"field '{name}' is longer than {max_chars} characters")
    return value


def parse_login(event: Event) -> LoginRequest:
    body = json_object(event)
    return LoginRequest(
        username=_string_field(body, "username", MAX_USERNAME_CHARS),
        password=_string_field(body, "password", MAX_PASSWORD_CHARS),
    )


def parse_chat(event: Event, models: tuple[str, ...]) -> ChatRequest:
    """`models`: those offered, the first the default (a body without `model` gets it)."""
    body = json_object(event)
    raw = body.get("messages")
    if not isinstance(raw, list):
        raise RequestError("field 'messages' must be a list of {role, content} objects")
    if not raw:
        raise RequestError("field 'messages' must not be empty")
    if len(raw) > MAX_MESSAGES:
        raise RequestError(f"too many messages: at most {MAX_MESSAGES} per request")
    messages: list[ChatMessage] = []
    total = 0
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise RequestError(f"messages[{index}] must be an object")
        role = item.get("role")
        content = item.get("content")
        if role not in ROLES:
            raise RequestError(f"messages[{index}].role must be one of {', '.join(ROLES)}")
        if not isinstance(content, str):
            raise RequestError(f"messages[{index}].content must be a string")
        if len(content) > MAX_MESSAGE_CHARS:
            raise RequestError(
                f"messages[{index}].content is longer than {MAX_MESSAGE_CHARS} characters"
            )
        total += len(content)
        messages.append(ChatMessage(role=str(role), content=content))
    if total > MAX_TOTAL_CHARS:
        raise RequestError(f"conversation is longer than {MAX_TOTAL_CHARS} characters in all")
    if messages[-1].role != "user":
        raise RequestError("the last message must have role 'user'")
    return ChatRequest(messages=tuple(messages), model=chosen_model(body, models) or models[0])


@dataclass(frozen=True)
class LogoutRequest:
    everywhere: bool


def parse_logout(event: Event) -> LogoutRequest:
    """An empty body ends this session; ``{"everywhere": true}`` ends all of the user's."""
    if not raw_body(event):
        return LogoutRequest(everywhere=False)
    body = json_object(event)
    everywhere = body.get("everywhere", False)
    if not isinstance(everywhere, bool):
        raise RequestError("field 'everywhere' must be true or false")
    return LogoutRequest(everywhere=everywhere)
