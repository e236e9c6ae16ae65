"""Each user's conversations, kept on the server in one DynamoDB table.

The table (`app_spec.TABLES["conversations"]`) is keyed by the user (hash key ``user``, the
token's username) and a string sort key ``id``; every read is a GetItem or a Query on the
signed-in user's own partition, so no request can reach another user's items. Items:

- a conversation: ``id = "c#<conversation id>"``, with ``title``, ``model``,
  ``created_at`` and ``updated_at`` (epoch ms) and ``next_seq`` (the number its next message
  gets). Only these items have ``updated_at``, so the sparse local index ``by-activity``
  lists a user's conversations most recently active first, without their messages.
- a message: ``id = "m#<conversation id>#<seq, 6 digits>#<part, 3 digits>"`` with ``role``
  and ``content``. A message is one item unless its text is over ``PART_BYTES`` in UTF-8: it
  is then cut into parts, read back in order and joined. That is how DynamoDB's 400 KB item
  limit is kept whatever the length of an answer.
- a running answer: ``id = "s#<connection id>#<request id>"`` with ``stop`` (set by the
  ``stop`` action) and ``expires_at`` (DynamoDB's TTL removes what a crashed function left).

Conversation ids sort by creation time (12 hex digits of epoch ms, then 16 random hex).

Writes without transactions (the functions may not use them): a message takes its ``seq``
with a conditional update of its conversation's ``next_seq`` (two writers cannot take the
same one), then its parts are put. Truncating checks that ``next_seq`` is still what its
caller read, deletes the messages, then moves ``next_seq`` back (conditionally again), so a
crash in between leaves a gap in the numbers, never old parts that a new message of the
same ``seq`` would be joined with. Deleting a conversation deletes its
messages first and its item last: a DELETE that failed half way can be repeated.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from chatbot_lambda import validation

KEY = "user"
RANGE_KEY = "id"
ACTIVITY_INDEX = "by-activity"
ACTIVITY_ATTRIBUTE = "updated_at"
REVISION_ATTRIBUTE = "revision"
EXPIRES_ATTRIBUTE = "expires_at"
# A stop handled before its answer started (request_stop): kept this long for the answer.
EARLY_STOP_ATTRIBUTE = "early_stop"
EARLY_STOP_S = 60

CONVERSATION_PREFIX = "c#"
MESSAGE_PREFIX = "m#"
STREAM_PREFIX = "s#"
# A message's text per item; with the other attributes an item stays far below 400 KB.
PART_BYTES = 300_000

MAX_MESSAGES = 1_000  # per conversation
PAGE_SIZE = 20  # conversations per page of the list
TITLE_CHARS = 80  # a new conversation's title: the start of its first message
MAX_TITLE_CHARS = 200  # a title given by renaming
MAX_STREAMS = 3  # answers streaming at once, per user
BATCH_ITEMS = 25  # BatchWriteItem's limit per request
# A page of `GET /conversations/{id}`: far under Lambda's 6 MB answer, whatever the text.
PAGE_BYTES = 1_000_000
_CONTEXT_PAGE_ITEMS = 50  # a newest-first read of messages stops once the budget is spent

_ID = re.compile(r"[0-9a-f]{28}")


class NotFound(Exception):
    """No such conversation of this user (also: another user's, or not an id at all)."""


class Full(Exception):
    """The conversation holds MAX_MESSAGES messages."""


class Conflict(Exception):
    """The conversation changed meanwhile (another writer took the seq)."""


class TooManyStreams(Exception):
    """The user already has MAX_STREAMS answers streaming."""


class AlreadyStreaming(Exception):
    """An answer with this request id is streaming on this connection."""


@dataclass(frozen=True)
class Conversation:
    id: str
    title: str
    model: str
    created_at: int  # epoch ms
    updated_at: int  # epoch ms: the last message's
    next_seq: int
    # Grows by one at every change of its messages (append, truncate): two reads of the same
    # revision saw the same messages (a container's cached context is still right).
    revision: int = 0

    def public(self) -> dict[str, Any]:
        """As the API shows it (docs/api.md, "Conversations")."""
        return {
            "id": self.id,
            "title": self.title,
            "model": self.model,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True)
class Message:
    seq: int
    role: str
    content: str

    def public(self) -> dict[str, Any]:
        return {"seq": self.seq, "role": self.role, "content": self.content}

    def as_dict(self) -> dict[str, str]:
        """As the model is given it."""
        return {"role": self.role, "content": self.content}


# -- keys --------------------------------------------------------------------------------------
def now_ms() -> int:
    return int(time.time() * 1000)


def new_id(at_ms: int | None = None) -> str:
    """28 lowercase hex: creation time (ms, 12 digits) then 64 random bits."""
    at = now_ms() if at_ms is None else at_ms
    return f"{at:012x}{secrets.token_hex(8)}"


def is_id(value: object) -> bool:
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def _key(user: str, sort_key: str) -> dict[str, dict[str, str]]:
    return {KEY: {"S": user}, RANGE_KEY: {"S": sort_key}}


def _header_key(user: str, conversation_id: str) -> dict[str, dict[str, str]]:
    return _key(user, f"{CONVERSATION_PREFIX}{conversation_id}")


def _messages_prefix(conversation_id: str) -> str:
    return f"{MESSAGE_PREFIX}{conversation_id}#"


def _message_id(conversation_id: str, seq: int, part: int) -> str:
    return f"{_messages_prefix(conversation_id)}{seq:06d}#{part:03d}"


def _stream_key(user: str, connection_id: str, request_id: str) -> dict[str, dict[str, str]]:
    return _key(user, f"{STREAM_PREFIX}{connection_id}#{request_id}")


def _conversation(item: dict[str, Any]) -> Conversation:
    return Conversation(
        id=item[RANGE_KEY]["S"].removeprefix(CONVERSATION_PREFIX),
        title=item["title"]["S"],
        model=item["model"]["S"],
        created_at=int(item["created_at"]["N"]),
        updated_at=int(item[ACTIVITY_ATTRIBUTE]["N"]),
        next_seq=int(item["next_seq"]["N"]),
        revision=int(item[REVISION_ATTRIBUTE]["N"]) if REVISION_ATTRIBUTE in item else 0,
    )


def _seq_and_part(item: dict[str, Any]) -> tuple[int, int]:
    seq, part = item[RANGE_KEY]["S"].rsplit("#", 2)[1:]
    return int(seq), int(part)


def _condition_failed(dynamodb: Any, exc: BaseException) -> bool:
    return isinstance(exc, dynamodb.exceptions.ConditionalCheckFailedException)


def split_parts(content: str, part_bytes: int = PART_BYTES) -> list[str]:
    """``content`` cut into pieces of at most ``part_bytes`` of UTF-8, never inside a
    character (one piece, possibly empty, for a short text)."""
    data = content.encode("utf-8")
    parts: list[str] = []
    start = 0
    while True:
        end = min(start + part_bytes, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:  # a continuation byte
            end -= 1
        parts.append(data[start:end].decode("utf-8"))
        if end >= len(data):
            return parts
        start = end


# -- conversations -----------------------------------------------------------------------------
def title_for(first_message: str) -> str:
    return first_message.strip()[:TITLE_CHARS]


def create(
    dynamodb: Any, table: str, user: str, *, model: str, title: str, at_ms: int | None = None
) -> Conversation:
    """A new, empty conversation of ``user``."""
    at = now_ms() if at_ms is None else at_ms
    conversation = Conversation(
        id=new_id(at), title=title, model=model, created_at=at, updated_at=at, next_seq=0
    )
    dynamodb.put_item(
        TableName=table,
        Item={
            **_header_key(user, conversation.id),
            "title": {"S": title},
            "model": {"S": model},
            "created_at": {"N": str(at)},
            ACTIVITY_ATTRIBUTE: {"N": str(at)},
            "next_seq": {"N": "0"},
        },
        ConditionExpression="attribute_not_exists(#id)",  # 64 random bits: never, but never
        ExpressionAttributeNames={"#id": RANGE_KEY},
    )
    return conversation


def get(dynamodb: Any, table: str, user: str, conversation_id: str) -> Conversation:
    """The conversation, or :class:`NotFound` (also for a string that is not an id)."""
    if not is_id(conversation_id):
        raise NotFound(conversation_id)
    reply = dynamodb.get_item(
        TableName=table, Key=_header_key(user, conversation_id), ConsistentRead=True
    )
    item = reply.get("Item")
    if not item:
        raise NotFound(conversation_id)
    return _conversation(item)


def _encode_cursor(conversation: Conversation) -> str:
    data = json.dumps({"id": conversation.id, "at": conversation.updated_at}).encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _decode_cursor(cursor: str) -> tuple[str, int]:
    """(conversation id, updated_at) of the last conversation of a page; ValueError for
    anything this module did not make. The user is never in it: it comes from the token."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError, RecursionError):
        raise ValueError("not a cursor") from None
    if not isinstance(data, dict) or set(data) != {"id", "at"}:
        raise ValueError("not a cursor")
    conversation_id, at = data["id"], data["at"]
    if not is_id(conversation_id) or type(at) is not int or not 0 <= at < 2**53:
        raise ValueError("not a cursor")
    return conversation_id, at


def list_page(
    dynamodb: Any, table: str, user: str, cursor: str | None = None, limit: int = PAGE_SIZE
) -> tuple[list[Conversation], str | None]:
    """One page of ``user``'s conversations, most recently active first, and the cursor of
    the next page (None on the last). ValueError for a cursor this function did not give."""
    request: dict[str, Any] = {
        "TableName": table,
        "IndexName": ACTIVITY_INDEX,
        "KeyConditionExpression": "#u = :u",
        "ExpressionAttributeNames": {"#u": KEY},
        "ExpressionAttributeValues": {":u": {"S": user}},
        "ScanIndexForward": False,
        "Limit": limit + 1,  # one more tells whether there is a next page
        "ConsistentRead": True,  # a local index can: a conversation just made is listed
    }
    if cursor is not None:
        conversation_id, at = _decode_cursor(cursor)
        request["ExclusiveStartKey"] = {
            **_header_key(user, conversation_id),
            ACTIVITY_ATTRIBUTE: {"N": str(at)},
        }
    items = dynamodb.query(**request).get("Items", [])
    page = [_conversation(item) for item in items[:limit]]
    more = len(items) > limit
    return page, (_encode_cursor(page[-1]) if more and page else None)


def rename(dynamodb: Any, table: str, user: str, conversation_id: str, title: str) -> Conversation:
    """Give the conversation ``title``; its ``updated_at`` stays (renaming is not activity)."""
    if not is_id(conversation_id):
        raise NotFound(conversation_id)
    return _set_attribute(dynamodb, table, user, conversation_id, "title", title)


def set_model(
    dynamodb: Any, table: str, user: str, conversation: Conversation, model: str
) -> Conversation:
    """Answer the conversation with ``model`` from now on (its ``updated_at`` stays: only a
    message is activity)."""
    return _set_attribute(dynamodb, table, user, conversation.id, "model", model)


def _set_attribute(
    dynamodb: Any, table: str, user: str, conversation_id: str, attribute: str, value: str
) -> Conversation:
    """Set one string attribute of an existing conversation's item: the conversation as it
    is now, :class:`NotFound` if there is none."""
    try:
        reply = dynamodb.update_item(
            TableName=table,
            Key=_header_key(user, conversation_id),
            UpdateExpression="SET #a = :v",
            ConditionExpression="attribute_exists(#id)",
            ExpressionAttributeNames={"#a": attribute, "#id": RANGE_KEY},
            ExpressionAttributeValues={":v": {"S": value}},
            ReturnValues="ALL_NEW",
        )
    except Exception as exc:
        if _condition_failed(dynamodb, exc):
            raise NotFound(conversation_id) from None
        raise
    return _conversation(reply["Attributes"])


def delete(dynamodb: Any, table: str, user: str, conversation_id: str) -> None:
    """Delete the conversation and all its messages; :class:`NotFound` if there is none."""
    get(dynamodb, table, user, conversation_id)
    _delete_keys(dynamodb, table, _message_keys(dynamodb, table, user, conversation_id, 0))
    try:
        dynamodb.delete_item(
            TableName=table,
            Key=_header_key(user, conversation_id),
            ConditionExpression="attribute_exists(#id)",
            ExpressionAttributeNames={"#id": RANGE_KEY},
        )
    except Exception as exc:
        if _condition_failed(dynamodb, exc):  # deleted meanwhile by another request
            raise NotFound(conversation_id) from None
        raise


# -- messages ----------------------------------------------------------------------------------
def _query_pages(dynamodb: Any, page_items: int | None = None, **request: Any) -> Iterator[Any]:
    """Items of a Query, page after page (boto3's paginator), read only as far as used."""
    config = {"PageSize": page_items} if page_items else {}
    for page in dynamodb.get_paginator("query").paginate(**request, PaginationConfig=config):
        yield from page.get("Items", [])


def _message_items(
    dynamodb: Any,
    table: str,
    user: str,
    conversation_id: str,
    *,
    from_seq: int = 0,
    below_seq: int | None = None,
    newest_first: bool = False,
    keys_only: bool = False,
    page_items: int | None = None,
) -> Iterator[dict[str, Any]]:
    lowest = f"{_messages_prefix(conversation_id)}{from_seq:06d}#"
    # "~" sorts after digits: the highest key of all messages, or of the one before below_seq
    highest = f"{_messages_prefix(conversation_id)}" + (
        "~" if below_seq is None else f"{below_seq - 1:06d}#~"
    )
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "#u = :u AND #id BETWEEN :lo AND :hi",
        "ExpressionAttributeNames": {"#u": KEY, "#id": RANGE_KEY},
        "ExpressionAttributeValues": {
            ":u": {"S": user},
            ":lo": {"S": lowest},
            ":hi": {"S": highest},
        },
        "ScanIndexForward": not newest_first,
        "ConsistentRead": True,
    }
    if keys_only:
        request["ProjectionExpression"] = "#u, #id"
    return _query_pages(dynamodb, page_items, **request)


def _joined(items: Iterator[dict[str, Any]]) -> Iterator[Message]:
    """Messages from their items in key order, either way: parts of one seq joined."""
    seq: int | None = None
    role = ""
    parts: list[tuple[int, str]] = []
    for item in items:
        item_seq, part = _seq_and_part(item)
        if item_seq != seq:
            if seq is not None:
                yield Message(seq, role, "".join(text for _, text in sorted(parts)))
            seq, parts = item_seq, []
        role = item.get("role", {}).get("S", role)
        parts.append((part, item.get("content", {}).get("S", "")))
    if seq is not None:
        yield Message(seq, role, "".join(text for _, text in sorted(parts)))


def messages(dynamodb: Any, table: str, user: str, conversation_id: str) -> list[Message]:
    """All of the conversation's messages, oldest first (none for an unknown id)."""
    if not is_id(conversation_id):
        return []
    return list(_joined(_message_items(dynamodb, table, user, conversation_id)))


def page_bytes(message: Message) -> int:
    """What a message adds to a `GET /conversations/{id}` answer as Lambda carries it: the
    body's JSON, itself a JSON string in the function's response (escaped twice)."""
    body = json.dumps(message.public(), ensure_ascii=False, separators=(",", ":"))
    return len(json.dumps(body)) + 1  # and a comma


def _text_chars(message: Message) -> int:
    return len(message.content)


def _newest_first(
    dynamodb: Any, table: str, user: str, conversation_id: str, below_seq: int | None = None
) -> Iterator[Message]:
    """The conversation's messages (those before seq ``below_seq``, if given), newest first,
    read a page at a time and no further than used."""
    items = _message_items(
        dynamodb,
        table,
        user,
        conversation_id,
        below_seq=below_seq,
        newest_first=True,
        page_items=_CONTEXT_PAGE_ITEMS,
    )
    return _joined(items)


def _fitting(
    newest_first: Iterable[Message],
    budget: int,
    size: Callable[[Message], int],
    *,
    at_least_one: bool = False,
) -> tuple[list[Message], bool]:
    """The newest messages whose sizes fit in ``budget`` together (with ``at_least_one``, the
    newest even if it alone does not), oldest first, and whether an older one was left out."""
    chosen: list[Message] = []
    used = 0
    for message in newest_first:
        used += size(message)
        if used > budget and (chosen or not at_least_one):
            chosen.reverse()
            return chosen, True
        chosen.append(message)
    chosen.reverse()
    return chosen, False


def messages_page(
    dynamodb: Any,
    table: str,
    user: str,
    conversation_id: str,
    before: int | None = None,
    budget_bytes: int | None = None,
) -> tuple[list[Message], int | None]:
    """The newest messages (those before seq ``before``, if given) that fit in
    ``budget_bytes`` (default PAGE_BYTES) of answer (at least one), oldest first, and the
    seq to ask for the ones before them, or None when there are none."""
    if not is_id(conversation_id):
        return [], None
    chosen, more = _fitting(
        _newest_first(dynamodb, table, user, conversation_id, before),
        PAGE_BYTES if budget_bytes is None else budget_bytes,
        page_bytes,
        at_least_one=True,
    )
    return chosen, chosen[0].seq if more else None


def context(
    dynamodb: Any,
    table: str,
    user: str,
    conversation_id: str,
    budget_chars: int = validation.MAX_TOTAL_CHARS,
) -> list[Message]:
    """The newest messages whose texts fit in ``budget_chars`` together, oldest first: what
    the model is given."""
    if not is_id(conversation_id):
        return []
    return newest_within(_newest_first(dynamodb, table, user, conversation_id), budget_chars)


def newest_within(
    newest_first: Iterable[Message], budget_chars: int = validation.MAX_TOTAL_CHARS
) -> list[Message]:
    """The newest messages whose texts fit in ``budget_chars`` together, oldest first."""
    return _fitting(newest_first, budget_chars, _text_chars)[0]


def last_messages(
    dynamodb: Any, table: str, user: str, conversation_id: str, count: int = 2
) -> list[Message]:
    """The conversation's last ``count`` messages, oldest first (for regenerate)."""
    if not is_id(conversation_id):
        return []
    newest_first = _message_items(
        dynamodb, table, user, conversation_id, newest_first=True, page_items=count + 2
    )
    found: list[Message] = []
    for message in _joined(newest_first):
        found.append(message)
        if len(found) == count:
            break
    found.reverse()
    return found


def message(dynamodb: Any, table: str, user: str, conversation_id: str, seq: int) -> Message | None:
    """One message, or None."""
    if not is_id(conversation_id) or not 0 <= seq < MAX_MESSAGES:
        return None
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "#u = :u AND begins_with(#id, :p)",
        "ExpressionAttributeNames": {"#u": KEY, "#id": RANGE_KEY},
        "ExpressionAttributeValues": {
            ":u": {"S": user},
            ":p": {"S": f"{_messages_prefix(conversation_id)}{seq:06d}#"},
        },
        "ConsistentRead": True,
    }
    found = list(_joined(_query_pages(dynamodb, **request)))
    return found[0] if found else None


def append(
    dynamodb: Any,
    table: str,
    user: str,
    conversation: Conversation,
    role: str,
    content: str,
    *,
    at_ms: int | None = None,
) -> tuple[Conversation, Message]:
    """Add a message at ``conversation.next_seq`` (as read): :class:`Conflict` if another
    writer took that seq meanwhile, :class:`NotFound` if the conversation was deleted,
    :class:`Full` at MAX_MESSAGES. The conversation as it is now, and the message."""
    seq = conversation.next_seq
    if seq >= MAX_MESSAGES:
        raise Full(conversation.id)
    at = now_ms() if at_ms is None else at_ms
    updated = _change_messages(
        dynamodb,
        table,
        user,
        conversation,
        "SET #n = :next, #a = :at",
        {"#a": ACTIVITY_ATTRIBUTE},
        {":next": {"N": str(seq + 1)}, ":at": {"N": str(max(at, conversation.updated_at))}},
    )
    for part, text in enumerate(split_parts(content)):
        dynamodb.put_item(
            TableName=table,
            Item={
                **_key(user, _message_id(conversation.id, seq, part)),
                "role": {"S": role},
                "content": {"S": text},
            },
        )
    return updated, Message(seq, role, content)


def truncate(
    dynamodb: Any, table: str, user: str, conversation: Conversation, from_seq: int
) -> Conversation:
    """Delete the messages from ``from_seq`` on; the next message gets ``from_seq``.
    :class:`Conflict` if another writer added a message meanwhile."""
    from_seq = max(0, min(from_seq, conversation.next_seq))
    # Checked before deleting, not only when moving next_seq: a stale read must not delete
    # what another writer added since. (Without transactions a writer coming in between
    # this check and the update below still can, within those few milliseconds; the
    # update then fails and the client is told, 409.)
    if get(dynamodb, table, user, conversation.id).next_seq != conversation.next_seq:
        raise Conflict(conversation.id)
    keys = _message_keys(dynamodb, table, user, conversation.id, from_seq)
    _delete_keys(dynamodb, table, keys)
    return _change_messages(
        dynamodb,
        table,
        user,
        conversation,
        "SET #n = :from",
        {},
        {":from": {"N": str(from_seq)}},
    )


def _change_messages(
    dynamodb: Any,
    table: str,
    user: str,
    conversation: Conversation,
    update: str,
    names: dict[str, str],
    values: dict[str, Any],
) -> Conversation:
    """Apply ``update`` ("SET …") to the conversation's item if its ``next_seq`` is still the
    one read, and raise its revision by one: the conversation as it is now,
    :class:`Conflict` if another writer changed it, :class:`NotFound` if it was deleted."""
    try:
        reply = dynamodb.update_item(
            TableName=table,
            Key=_header_key(user, conversation.id),
            UpdateExpression=f"{update} ADD #r :one",
            ConditionExpression="#n = :seen",
            ExpressionAttributeNames={"#n": "next_seq", "#r": REVISION_ATTRIBUTE, **names},
            ExpressionAttributeValues={
                ":seen": {"N": str(conversation.next_seq)},
                ":one": {"N": "1"},
                **values,
            },
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except Exception as exc:
        if not _condition_failed(dynamodb, exc):
            raise
        if not getattr(exc, "response", {}).get("Item"):
            raise NotFound(conversation.id) from None
        raise Conflict(conversation.id) from None
    return _conversation(reply["Attributes"])


def _message_keys(
    dynamodb: Any, table: str, user: str, conversation_id: str, from_seq: int
) -> list[dict[str, Any]]:
    items = _message_items(
        dynamodb, table, user, conversation_id, from_seq=from_seq, keys_only=True
    )
    return [{KEY: item[KEY], RANGE_KEY: item[RANGE_KEY]} for item in items]


def _delete_keys(dynamodb: Any, table: str, keys: list[dict[str, Any]]) -> None:
    """Delete items with BatchWriteItem, 25 a request, through boto3's batch writer, which
    sends again what DynamoDB leaves unprocessed (throttled)."""
    from boto3.dynamodb.table import BatchWriter

    with BatchWriter(table, dynamodb, flush_amount=BATCH_ITEMS) as batch:
        for key in keys:
            batch.delete_item(Key=key)


# -- running answers ---------------------------------------------------------------------------
def start_stream(
    dynamodb: Any,
    table: str,
    user: str,
    connection_id: str,
    request_id: str,
    *,
    expires_at: int,
    now: float | None = None,
) -> None:
    """Record an answer as running until :func:`end_stream` (or ``expires_at``, epoch s, if
    the function dies). :class:`AlreadyStreaming` if this request id runs on this
    connection, :class:`TooManyStreams` if the user has MAX_STREAMS running. A stop that
    came first (:func:`request_stop`) is kept: the answer starts stopped."""
    current = time.time() if now is None else now
    key = _stream_key(user, connection_id, request_id)
    records = list(
        _query_pages(
            dynamodb,
            TableName=table,
            KeyConditionExpression="#u = :u AND begins_with(#id, :s)",
            FilterExpression="#e > :now",  # DynamoDB's TTL removes items late: ignore those
            ProjectionExpression="#id, #early",
            ExpressionAttributeNames={
                "#u": KEY,
                "#id": RANGE_KEY,
                "#e": EXPIRES_ATTRIBUTE,
                "#early": EARLY_STOP_ATTRIBUTE,
            },
            ExpressionAttributeValues={
                ":u": {"S": user},
                ":s": {"S": STREAM_PREFIX},
                ":now": {"N": str(int(current))},
            },
            ConsistentRead=True,
        )
    )
    running = [item for item in records if EARLY_STOP_ATTRIBUTE not in item]
    if any(item[RANGE_KEY] == key[RANGE_KEY] for item in running):
        raise AlreadyStreaming(request_id)
    if len(running) >= MAX_STREAMS:
        raise TooManyStreams(user)
    stopped_early = any(item[RANGE_KEY] == key[RANGE_KEY] for item in records)
    # Not running, or expired (a function that died), or, once a stop came first, that stop.
    if _put_running(dynamodb, table, key, expires_at, current, stop=stopped_early):
        return
    # A stop came between the read and the write: the answer starts stopped; anything else
    # there is this request id running.
    if not _put_running(dynamodb, table, key, expires_at, current, stop=True):
        raise AlreadyStreaming(request_id)


def _put_running(
    dynamodb: Any, table: str, key: dict[str, Any], expires_at: int, now: float, *, stop: bool
) -> bool:
    """Write the running-answer record where there is none, or an expired one, or (with
    ``stop``) a stop that came before it; False if something else is there."""
    condition = "attribute_not_exists(#id) OR #e <= :now"
    names = {"#id": RANGE_KEY, "#e": EXPIRES_ATTRIBUTE}
    if stop:
        condition += " OR attribute_exists(#early)"
        names["#early"] = EARLY_STOP_ATTRIBUTE
    try:
        dynamodb.put_item(
            TableName=table,
            Item={**key, "stop": {"BOOL": stop}, EXPIRES_ATTRIBUTE: {"N": str(expires_at)}},
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={":now": {"N": str(int(now))}},
        )
    except Exception as exc:
        if _condition_failed(dynamodb, exc):
            return False
        raise
    return True


def request_stop(dynamodb: Any, table: str, user: str, connection_id: str, request_id: str) -> bool:
    """Ask a running answer to stop; False if it is not running.

    Each WebSocket message is its own invocation, so a stop sent right after its answer can
    be handled before the answer has started. Then it is kept for EARLY_STOP_S, and the
    answer, if it comes, starts stopped (:func:`start_stream`)."""
    key = _stream_key(user, connection_id, request_id)
    if _set_stop(dynamodb, table, key):
        return True
    try:
        dynamodb.put_item(
            TableName=table,
            Item={
                **key,
                "stop": {"BOOL": True},
                EARLY_STOP_ATTRIBUTE: {"BOOL": True},
                EXPIRES_ATTRIBUTE: {"N": str(int(time.time()) + EARLY_STOP_S)},
            },
            ConditionExpression="attribute_not_exists(#id)",
            ExpressionAttributeNames={"#id": RANGE_KEY},
        )
    except Exception as exc:
        if not _condition_failed(dynamodb, exc):
            raise
        return _set_stop(dynamodb, table, key)  # it started between the two writes
    return False


def _set_stop(dynamodb: Any, table: str, key: dict[str, Any]) -> bool:
    """Set the stop flag of a record that is there; False (nothing written) if none is."""
    try:
        dynamodb.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="SET #s = :t",
            ConditionExpression="attribute_exists(#id)",
            ExpressionAttributeNames={"#s": "stop", "#id": RANGE_KEY},
            ExpressionAttributeValues={":t": {"BOOL": True}},
        )
    except Exception as exc:
        if _condition_failed(dynamodb, exc):
            return False
        raise
    return True


def stop_connection(dynamodb: Any, table: str, user: str, connection_id: str) -> int:
    """Ask every answer running on a connection to stop (it closed); how many there were."""
    running = _query_pages(
        dynamodb,
        TableName=table,
        KeyConditionExpression="#u = :u AND begins_with(#id, :s)",
        ProjectionExpression="#id",
        ExpressionAttributeNames={"#u": KEY, "#id": RANGE_KEY},
        ExpressionAttributeValues={
            ":u": {"S": user},
            ":s": {"S": f"{STREAM_PREFIX}{connection_id}#"},
        },
        ConsistentRead=True,
    )
    # Only the records there: a stop that came first is for an answer this connection will
    # not send now (request_stop would write one for an answer that ended meanwhile).
    return sum(_set_stop(dynamodb, table, _key(user, item[RANGE_KEY]["S"])) for item in running)


def stop_requested(
    dynamodb: Any, table: str, user: str, connection_id: str, request_id: str
) -> bool:
    reply = dynamodb.get_item(
        TableName=table,
        Key=_stream_key(user, connection_id, request_id),
        ProjectionExpression="#s",
        ExpressionAttributeNames={"#s": "stop"},
        ConsistentRead=True,
    )
    return bool((reply.get("Item") or {}).get("stop", {}).get("BOOL", False))


def end_stream(dynamodb: Any, table: str, user: str, connection_id: str, request_id: str) -> None:
    dynamodb.delete_item(TableName=table, Key=_stream_key(user, connection_id, request_id))
