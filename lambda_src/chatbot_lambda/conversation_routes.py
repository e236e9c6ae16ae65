"""The conversation routes: list, open, rename and delete (docs/api.md, "Conversations").

Conversations are created and added to by the WebSocket function (`stream.py`). Every read
and write is in the signed-in user's own partition (the user comes from the token): another
user's conversation is answered as one that does not exist.
"""

from __future__ import annotations

import re
from typing import Any

from chatbot_lambda import clients, container, conversations, settings, signed_in
from chatbot_lambda.handler import http_handler
from chatbot_lambda.http import (
    Event,
    HttpError,
    Response,
    authorizer_context,
    bearer_token,
    json_response,
)
from chatbot_lambda.validation import RequestError, json_object

NOT_FOUND = "conversation not found"
MAX_TITLE_CHARS = conversations.MAX_TITLE_CHARS
BEFORE = re.compile(r"[1-9][0-9]{0,5}")
BAD_BEFORE = "'before' is not one this API gave; open the conversation again without it"


def parse_title(event: Event) -> str:
    body = json_object(event)
    title = body.get("title")
    if "title" not in body:
        raise RequestError("missing field 'title'")
    if not isinstance(title, str):
        raise RequestError("field 'title' must be a string")
    if not title.strip():
        raise RequestError("field 'title' must not be empty or only spaces")
    if len(title) > MAX_TITLE_CHARS:
        raise RequestError(f"field 'title' is longer than {MAX_TITLE_CHARS} characters")
    return title


def _query(event: Event, name: str) -> str | None:
    query = event.get("queryStringParameters") or {}
    value = query.get(name)
    return value if isinstance(value, str) and value else None


def _before(event: Event) -> int | None:
    """`?before=`: an `earlier` cursor of a page of messages (a seq, 1 to the most a
    conversation holds), or None for the newest page."""
    given = _query(event, "before")
    if given is None:
        return None
    if BEFORE.fullmatch(given) and int(given) <= conversations.MAX_MESSAGES:
        return int(given)
    raise RequestError(BAD_BEFORE)


def _list(user: str, event: Event) -> Response:
    try:
        page, next_cursor = conversations.list_page(
            clients.client("dynamodb"),
            settings.conversations_table_name(),
            user,
            _query(event, "cursor"),
        )
    except ValueError:
        raise RequestError("'cursor' is not one this API gave; start again without it") from None
    return json_response(
        200, {"conversations": [item.public() for item in page], "next": next_cursor}
    )


def _one(user: str, method: str, conversation_id: str, event: Event) -> Response:
    dynamodb, table = clients.client("dynamodb"), settings.conversations_table_name()
    if method == "GET":
        before = _before(event)
        conversation = conversations.get(dynamodb, table, user, conversation_id)
        found, earlier = conversations.messages_page(dynamodb, table, user, conversation_id, before)
        return json_response(
            200,
            {
                "conversation": conversation.public(),
                "messages": [message.public() for message in found],
                "earlier": None if earlier is None else str(earlier),
            },
        )
    if method == "PATCH":
        title = parse_title(event)
        renamed = conversations.rename(dynamodb, table, user, conversation_id, title)
        return json_response(200, {"conversation": renamed.public()})
    conversations.delete(dynamodb, table, user, conversation_id)
    return json_response(200, {"deleted": conversation_id})


@http_handler
def handler(event: Event, context: Any) -> Response:
    user = signed_in.username(authorizer_context(event), bearer_token(event))
    route = str(event.get("routeKey") or "")
    method, _, path = route.partition(" ")
    if route == "GET /conversations":
        return _list(user, event)
    if path == "/conversations/{id}" and method in ("GET", "PATCH", "DELETE"):
        conversation_id = str((event.get("pathParameters") or {}).get("id") or "")
        try:
            return _one(user, method, conversation_id, event)
        except conversations.NotFound:
            raise HttpError(404, NOT_FOUND) from None
    raise HttpError(404, "no such route")  # API Gateway routes only the four above here


# Init, once per container on Lambda (`container`).
container.at_init(dynamodb=lambda: clients.client("dynamodb"))
