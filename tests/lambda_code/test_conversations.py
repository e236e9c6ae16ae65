"""The conversations store (`chatbot_lambda.conversations`) on moto, with the table made
as `up` makes it (app_spec: range key, sparse local index by activity, TTL)."""

from __future__ import annotations

import base64
import dataclasses
import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chatbot_deploy import app_spec
from chatbot_deploy.deploy import table as tables
from chatbot_lambda import conversations
from chatbot_lambda.conversations import Conversation

TABLE = "test-conversations"
ALICE, BOB = "alice", "bob"


@pytest.fixture
def db(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_SESSION_TOKEN": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        tables.create_on_demand(client, TABLE, app_spec.TABLES["conversations"], {})
        yield client


def new(db: Any, user: str = ALICE, title: str = "t", at_ms: int | None = None) -> Conversation:
    return conversations.create(db, TABLE, user, model="test-model", title=title, at_ms=at_ms)


def add(db: Any, conversation: Conversation, *texts: str, user: str = ALICE) -> Conversation:
    for text in texts:
        role = "user" if conversation.next_seq % 2 == 0 else "assistant"
        conversation, _ = conversations.append(db, TABLE, user, conversation, role, text)
    return conversation


def items(db: Any, user: str = ALICE) -> list[dict[str, Any]]:
    reply = db.query(
        TableName=TABLE,
        KeyConditionExpression="#u = :u",
        ExpressionAttributeNames={"#u": "user"},
        ExpressionAttributeValues={":u": {"S": user}},
    )
    return list(reply["Items"])


# -- conversations -----------------------------------------------------------------------------
def test_a_conversation_is_created_and_read_back(db):
    made = new(db, title="Haiku", at_ms=1_767_225_600_000)
    assert conversations.is_id(made.id) and made.id.startswith(f"{1_767_225_600_000:012x}")
    assert made.public() == {
        "id": made.id,
        "title": "Haiku",
        "model": "test-model",
        "created_at": 1_767_225_600_000,
        "updated_at": 1_767_225_600_000,
    }
    assert conversations.get(db, TABLE, ALICE, made.id) == made


def test_a_conversation_s_model_is_changed_not_its_activity(db):
    made = add(db, new(db, at_ms=1_767_225_600_000), "hi", "hello")
    switched = conversations.set_model(db, TABLE, ALICE, made, "other-model")
    assert switched == dataclasses.replace(made, model="other-model")
    assert conversations.get(db, TABLE, ALICE, made.id) == switched
    conversations.delete(db, TABLE, ALICE, made.id)
    with pytest.raises(conversations.NotFound):
        conversations.set_model(db, TABLE, ALICE, made, "m")
    assert items(db) == []  # no item made by updating a deleted conversation


@pytest.mark.parametrize("bad", ["", "x", "0" * 27, "0" * 29, "A" * 28, "../" + "0" * 25])
def test_a_string_that_is_not_an_id_is_not_found(db, bad):
    with pytest.raises(conversations.NotFound):
        conversations.get(db, TABLE, ALICE, bad)
    assert conversations.messages(db, TABLE, ALICE, bad) == []


def test_another_user_s_conversation_is_not_found(db):
    made = add(db, new(db), "alice's secret")
    for call in (
        lambda: conversations.get(db, TABLE, BOB, made.id),
        lambda: conversations.rename(db, TABLE, BOB, made.id, "mine now"),
        lambda: conversations.delete(db, TABLE, BOB, made.id),
    ):
        with pytest.raises(conversations.NotFound):
            call()
    assert conversations.messages(db, TABLE, BOB, made.id) == []
    assert conversations.context(db, TABLE, BOB, made.id) == []
    assert conversations.get(db, TABLE, ALICE, made.id).title == "t"  # untouched
    assert len(conversations.messages(db, TABLE, ALICE, made.id)) == 1


def test_titles_are_the_start_of_the_first_message():
    assert conversations.title_for("  " + "a" * 100) == "a" * conversations.TITLE_CHARS
    assert conversations.title_for("Short one\n") == "Short one"


def test_renaming_is_not_activity(db):
    made = add(db, new(db, at_ms=1000), "hi")
    renamed = conversations.rename(db, TABLE, ALICE, made.id, "A new title")
    assert renamed.title == "A new title"
    assert renamed.updated_at == made.updated_at
    with pytest.raises(conversations.NotFound):
        conversations.rename(db, TABLE, ALICE, "0" * 28, "x")
    assert not any(item["id"]["S"] == "c#" + "0" * 28 for item in items(db))  # not created


def test_delete_removes_the_conversation_and_all_its_messages(db):
    kept = add(db, new(db), "keep me")
    doomed = add(db, new(db), *[f"message {n}" for n in range(60)])  # over 2 batches of 25
    conversations.delete(db, TABLE, ALICE, doomed.id)
    assert {item["id"]["S"].split("#")[1] for item in items(db)} == {kept.id}
    with pytest.raises(conversations.NotFound):
        conversations.delete(db, TABLE, ALICE, doomed.id)  # a second DELETE


# -- the list ----------------------------------------------------------------------------------
def test_the_list_pages_newest_activity_first(db):
    made = [new(db, title=f"c{n}", at_ms=1_000_000 + n) for n in range(45)]
    add(db, made[3], "wakes up")  # now the most recently active
    titles: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page, cursor = conversations.list_page(db, TABLE, ALICE, cursor)
        pages += 1
        assert len(page) <= conversations.PAGE_SIZE
        titles += [item.title for item in page]
        if cursor is None:
            break
    assert pages == 3
    assert titles == ["c3"] + [f"c{n}" for n in range(44, -1, -1) if n != 3]


def test_a_page_of_exactly_20_is_the_last(db):
    for n in range(conversations.PAGE_SIZE):
        new(db, at_ms=1000 + n)
    page, cursor = conversations.list_page(db, TABLE, ALICE)
    assert (len(page), cursor) == (conversations.PAGE_SIZE, None)
    assert conversations.list_page(db, TABLE, BOB) == ([], None)


def test_messages_and_running_answers_are_not_listed(db):
    made = add(db, new(db), "hi", "hello")
    conversations.start_stream(db, TABLE, ALICE, "c1", "r1", expires_at=int(time.time()) + 60)
    page, _ = conversations.list_page(db, TABLE, ALICE)
    assert [item.id for item in page] == [made.id]


def _cursor(data: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!",
        "e30",  # {}
        _cursor([1, 2]),
        _cursor({"id": "zz", "at": 1}),
        _cursor({"id": "0" * 28, "at": "1"}),
        _cursor({"id": "0" * 28, "at": -1}),
        _cursor({"id": "0" * 28, "at": True}),
        _cursor({"id": "0" * 28, "at": 1, "user": BOB}),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_a_cursor_this_store_did_not_give_is_refused(db, cursor):
    with pytest.raises(ValueError):
        conversations.list_page(db, TABLE, ALICE, cursor)


def test_a_cursor_never_pages_into_another_user_s_conversations(db):
    for n in range(25):
        new(db, user=ALICE, at_ms=1000 + n)
    _, cursor = conversations.list_page(db, TABLE, ALICE)
    assert cursor is not None
    assert conversations.list_page(db, TABLE, BOB, cursor) == ([], None)
    page, _ = conversations.list_page(db, TABLE, ALICE, cursor)
    assert len(page) == 5


# -- messages ----------------------------------------------------------------------------------
def test_messages_come_back_in_order(db):
    made = add(db, new(db), "one", "two", "three")
    found = conversations.messages(db, TABLE, ALICE, made.id)
    assert [(m.seq, m.role, m.content) for m in found] == [
        (0, "user", "one"),
        (1, "assistant", "two"),
        (2, "user", "three"),
    ]
    assert made.next_seq == 3
    assert made.updated_at >= made.created_at


def test_a_message_over_300_kb_is_stored_in_parts_and_joined(db):
    # 4-byte characters across the part boundaries, then 2-byte ones
    text = "🙂" * 100_001 + "é" * 200_000
    made = add(db, new(db), "short", text, "after")
    parts = [item for item in items(db) if item["id"]["S"].startswith(f"m#{made.id}#000001#")]
    assert len(parts) == 3
    for part in parts:
        assert len(part["content"]["S"].encode()) <= conversations.PART_BYTES
    found = conversations.messages(db, TABLE, ALICE, made.id)
    assert [m.content for m in found] == ["short", text, "after"]
    assert conversations.context(db, TABLE, ALICE, made.id, budget_chars=10**6)[1].content == text


def _all_pages(db: Any, conversation_id: str, budget: int) -> list[list[int]]:
    """The seqs of each page, newest page first, following `earlier` to the end."""
    pages: list[list[int]] = []
    before: int | None = None
    while True:
        found, earlier = conversations.messages_page(
            db, TABLE, ALICE, conversation_id, before, budget_bytes=budget
        )
        pages.append([m.seq for m in found])
        assert [m.seq for m in found] == sorted(m.seq for m in found)  # oldest first
        if earlier is None:
            return pages
        assert earlier == found[0].seq  # the cursor is the page's oldest message
        before = earlier


def test_a_short_conversation_is_one_page_with_nothing_earlier(db):
    made = add(db, new(db), "one", "two", "three")
    found, earlier = conversations.messages_page(db, TABLE, ALICE, made.id)
    assert [(m.seq, m.content) for m in found] == [(0, "one"), (1, "two"), (2, "three")]
    assert earlier is None
    assert found == conversations.messages(db, TABLE, ALICE, made.id)


def test_pages_of_messages_walk_back_to_the_first_each_once(db):
    texts = [f"message {n} " + "x" * (n * 37 % 200) for n in range(30)]
    made = add(db, new(db), *texts)
    one = conversations.page_bytes(conversations.Message(0, "user", "x" * 150))
    pages = _all_pages(db, made.id, budget=one * 4)
    assert len(pages) > 3
    assert [seq for page in reversed(pages) for seq in page] == list(range(30))
    for page in pages:
        sizes = [
            conversations.page_bytes(m)
            for m in conversations.messages(db, TABLE, ALICE, made.id)
            if m.seq in page
        ]
        assert sum(sizes) <= one * 4 or len(page) == 1


def test_a_page_measures_the_answer_as_lambda_carries_it(db):
    """Quotes, control characters and non-ASCII text grow when the body is escaped inside
    the function's response: the budget counts them as they will be."""
    plain = conversations.Message(0, "user", "a" * 1000)
    quoted = conversations.Message(0, "user", '"' * 1000)
    controls = conversations.Message(0, "user", "\x01" * 1000)
    assert conversations.page_bytes(quoted) > 3 * 1000 > conversations.page_bytes(plain)
    accented = conversations.Message(0, "user", "é" * 1000)
    assert conversations.page_bytes(controls) > 6 * 1000  # \\u0001, escaped again
    assert conversations.page_bytes(accented) > 5 * 1000  # \\u00e9 (2 bytes of UTF-8)
    body = json.dumps(plain.public(), ensure_ascii=False, separators=(",", ":"))
    assert conversations.page_bytes(plain) == len(json.dumps(body)) + 1


def test_a_message_larger_than_the_budget_is_a_page_of_its_own(db):
    text = "🙂" * 100_001  # in two parts
    made = add(db, new(db), "short", text, "after")
    budget = conversations.page_bytes(conversations.Message(1, "assistant", text)) - 1
    pages = _all_pages(db, made.id, budget)
    assert pages == [[2], [1], [0]]
    found, _ = conversations.messages_page(db, TABLE, ALICE, made.id, 2, budget_bytes=budget)
    assert [m.content for m in found] == [text]  # its parts joined


def test_the_default_page_holds_a_megabyte_of_answer(db):
    made = add(db, new(db), *["y" * 300_000] * 4)  # 1.2 MB: the newest three fit
    found, earlier = conversations.messages_page(db, TABLE, ALICE, made.id)
    assert [m.seq for m in found] == [1, 2, 3] and earlier == 1
    assert sum(conversations.page_bytes(m) for m in found) <= conversations.PAGE_BYTES
    found, earlier = conversations.messages_page(db, TABLE, ALICE, made.id, earlier)
    assert [m.seq for m in found] == [0] and earlier is None


def test_a_page_of_another_users_or_a_bad_id_is_empty(db):
    made = add(db, new(db), "mine")
    assert conversations.messages_page(db, TABLE, BOB, made.id) == ([], None)
    assert conversations.messages_page(db, TABLE, ALICE, "not-an-id") == ([], None)
    assert conversations.messages_page(db, TABLE, ALICE, made.id, 1) == (
        conversations.messages(db, TABLE, ALICE, made.id),
        None,
    )


def test_split_parts_never_cuts_a_character():
    for text in ("", "abc", "é" * 10, "🙂" * 10, "a🙂" * 7):
        pieces = conversations.split_parts(text, part_bytes=5)
        assert "".join(pieces) == text
        assert all(len(piece.encode()) <= 5 for piece in pieces)


def test_the_context_is_the_newest_messages_that_fit(db):
    texts = [f"{n}" * 30_000 for n in range(5)]
    made = add(db, new(db), *texts)
    chosen = conversations.context(db, TABLE, ALICE, made.id)  # 100,000 characters
    assert [m.seq for m in chosen] == [2, 3, 4]  # oldest first
    assert [m.content for m in chosen] == texts[2:]
    assert [m.seq for m in conversations.context(db, TABLE, ALICE, made.id, 90_000)] == [2, 3, 4]
    assert [m.seq for m in conversations.context(db, TABLE, ALICE, made.id, 89_999)] == [3, 4]
    assert conversations.context(db, TABLE, ALICE, made.id, 10) == []


def test_the_context_does_not_read_a_long_conversation_whole(db, monkeypatch):
    made = add(db, new(db), *[f"message {n}" for n in range(300)])
    read: list[int] = []
    real = db.get_paginator

    def counting(name: str) -> Any:
        paginator = real(name)
        paginate = paginator.paginate

        def pages(**kw: Any) -> Iterator[Any]:
            for page in paginate(**kw):
                read.append(len(page["Items"]))
                yield page

        paginator.paginate = pages
        return paginator

    monkeypatch.setattr(db, "get_paginator", counting)
    chosen = conversations.context(db, TABLE, ALICE, made.id, budget_chars=100)
    assert [m.content for m in chosen][-1] == "message 299"
    assert len(chosen) < 20
    assert sum(read) < 100  # of 300 items


def test_truncate_deletes_from_a_seq_on(db):
    made = add(db, new(db), "zero", "one", "two", "three", "four")
    cut = conversations.truncate(db, TABLE, ALICE, made, 2)
    assert cut.next_seq == 2
    assert [m.content for m in conversations.messages(db, TABLE, ALICE, made.id)] == [
        "zero",
        "one",
    ]
    again, message = conversations.append(db, TABLE, ALICE, cut, "user", "two again")
    assert (message.seq, again.next_seq) == (2, 3)
    assert not [item for item in items(db) if "#000003#" in item["id"]["S"]]


def test_two_writers_cannot_take_the_same_seq(db):
    made = new(db)
    conversations.append(db, TABLE, ALICE, made, "user", "first")
    with pytest.raises(conversations.Conflict):
        conversations.append(db, TABLE, ALICE, made, "user", "second, from a stale read")
    with pytest.raises(conversations.Conflict):
        conversations.truncate(db, TABLE, ALICE, made, 0)
    assert [m.content for m in conversations.messages(db, TABLE, ALICE, made.id)] == ["first"]


def test_appending_to_a_deleted_conversation_is_not_found(db):
    made = new(db)
    conversations.delete(db, TABLE, ALICE, made.id)
    with pytest.raises(conversations.NotFound):
        conversations.append(db, TABLE, ALICE, made, "user", "hello?")


def test_a_conversation_holds_at_most_1000_messages(db):
    made = new(db)
    db.update_item(
        TableName=TABLE,
        Key={"user": {"S": ALICE}, "id": {"S": f"c#{made.id}"}},
        UpdateExpression="SET next_seq = :n",
        ExpressionAttributeValues={":n": {"N": str(conversations.MAX_MESSAGES - 1)}},
    )
    made = conversations.get(db, TABLE, ALICE, made.id)
    full, message = conversations.append(db, TABLE, ALICE, made, "user", "the last one")
    assert message.seq == conversations.MAX_MESSAGES - 1
    with pytest.raises(conversations.Full):
        conversations.append(db, TABLE, ALICE, full, "assistant", "one too many")


def test_unprocessed_deletes_are_sent_again(db, monkeypatch):
    made = add(db, new(db), *[f"m{n}" for n in range(30)])
    calls: list[int] = []
    real = db.batch_write_item

    def throttled(RequestItems: dict[str, Any]) -> dict[str, Any]:
        (requests,) = RequestItems.values()
        calls.append(len(requests))
        if len(calls) == 1:  # DynamoDB processes only part of the first request
            real(RequestItems={TABLE: requests[:10]})
            return {"UnprocessedItems": {TABLE: requests[10:]}}
        return dict(real(RequestItems=RequestItems))

    monkeypatch.setattr(db, "batch_write_item", throttled)
    conversations.truncate(db, TABLE, ALICE, made, 0)
    assert calls == [25, 20]  # the 10 left unprocessed went again with the last 10
    assert conversations.messages(db, TABLE, ALICE, made.id) == []


# -- running answers ---------------------------------------------------------------------------
def test_at_most_three_answers_stream_at_once_per_user(db):
    later = int(time.time()) + 300
    for n in range(conversations.MAX_STREAMS):
        conversations.start_stream(db, TABLE, ALICE, f"conn{n}", "r", expires_at=later)
    with pytest.raises(conversations.TooManyStreams):
        conversations.start_stream(db, TABLE, ALICE, "conn9", "r", expires_at=later)
    with pytest.raises(conversations.AlreadyStreaming):
        conversations.start_stream(db, TABLE, ALICE, "conn0", "r", expires_at=later)
    conversations.start_stream(db, TABLE, BOB, "conn9", "r", expires_at=later)  # bob's own
    conversations.end_stream(db, TABLE, ALICE, "conn0", "r")
    conversations.start_stream(db, TABLE, ALICE, "conn9", "r", expires_at=later)


def test_expired_records_are_not_counted(db):
    long_ago = int(time.time()) - 10
    for n in range(conversations.MAX_STREAMS):
        conversations.start_stream(db, TABLE, ALICE, "crashed", f"r{n}", expires_at=long_ago)
    later = int(time.time()) + 300
    conversations.start_stream(db, TABLE, ALICE, "crashed", "r0", expires_at=later)  # replaced
    conversations.start_stream(db, TABLE, ALICE, "fresh", "r", expires_at=later)


def test_stop_flags(db):
    later = int(time.time()) + 300
    assert conversations.request_stop(db, TABLE, ALICE, "conn", "r0") is False  # not running
    conversations.start_stream(db, TABLE, ALICE, "conn", "r1", expires_at=later)
    assert conversations.stop_requested(db, TABLE, ALICE, "conn", "r1") is False
    assert conversations.request_stop(db, TABLE, BOB, "conn", "r1") is False  # not bob's
    assert conversations.request_stop(db, TABLE, ALICE, "other-conn", "r1") is False
    assert conversations.request_stop(db, TABLE, ALICE, "conn", "r1") is True
    assert conversations.stop_requested(db, TABLE, ALICE, "conn", "r1") is True
    conversations.end_stream(db, TABLE, ALICE, "conn", "r1")
    assert conversations.stop_requested(db, TABLE, ALICE, "conn", "r1") is False


def _stream_records(db: Any) -> dict[str, dict[str, Any]]:
    return {item["id"]["S"]: item for item in items(db) if item["id"]["S"].startswith("s#")}


def test_a_stop_that_comes_before_its_answer_stops_it_when_it_starts(db):
    """Each socket message is its own invocation: a stop sent just after its `send` can be
    handled first. It is kept (a minute), and the answer starts stopped."""
    later = int(time.time()) + 300
    assert conversations.request_stop(db, TABLE, ALICE, "conn", "r1") is False
    kept = _stream_records(db)["s#conn#r1"]
    assert kept["stop"] == {"BOOL": True} and kept["early_stop"] == {"BOOL": True}
    assert int(kept["expires_at"]["N"]) <= time.time() + conversations.EARLY_STOP_S
    assert conversations.request_stop(db, TABLE, ALICE, "conn", "r1") is True  # said twice
    conversations.start_stream(db, TABLE, ALICE, "conn", "r1", expires_at=later)
    assert conversations.stop_requested(db, TABLE, ALICE, "conn", "r1") is True
    started = _stream_records(db)["s#conn#r1"]
    assert "early_stop" not in started and started["expires_at"]["N"] == str(later)
    with pytest.raises(conversations.AlreadyStreaming):  # now it runs
        conversations.start_stream(db, TABLE, ALICE, "conn", "r1", expires_at=later)
    # Only that request of that connection of that user.
    conversations.start_stream(db, TABLE, ALICE, "conn", "r2", expires_at=later)
    assert conversations.stop_requested(db, TABLE, ALICE, "conn", "r2") is False


def test_stops_that_came_first_are_not_running_answers(db):
    later = int(time.time()) + 300
    for n in range(5):
        conversations.request_stop(db, TABLE, ALICE, "conn", f"stopped{n}")
    for n in range(conversations.MAX_STREAMS):  # not counted against the limit
        conversations.start_stream(db, TABLE, ALICE, "conn", f"r{n}", expires_at=later)
    with pytest.raises(conversations.TooManyStreams):
        conversations.start_stream(db, TABLE, ALICE, "conn", "one-more", expires_at=later)


def test_an_expired_early_stop_stops_nothing(db):
    later = int(time.time()) + 300
    conversations.request_stop(db, TABLE, ALICE, "conn", "r1")
    future = time.time() + conversations.EARLY_STOP_S + 1
    conversations.start_stream(db, TABLE, ALICE, "conn", "r1", expires_at=later, now=future)
    assert conversations.stop_requested(db, TABLE, ALICE, "conn", "r1") is False


def test_a_stop_between_the_read_and_the_write_still_stops(db, monkeypatch):
    """The stop lands after start_stream read the records and before it wrote its own."""
    later = int(time.time()) + 300
    real_put = db.put_item
    landed: list[bool] = []

    def put_after_a_stop(**request: Any) -> Any:
        if not landed and "early_stop" not in request["Item"]:
            landed.append(conversations.request_stop(db, TABLE, ALICE, "conn", "r1"))
        return real_put(**request)

    monkeypatch.setattr(db, "put_item", put_after_a_stop)
    conversations.start_stream(db, TABLE, ALICE, "conn", "r1", expires_at=later)
    assert landed == [False]  # it came first
    assert conversations.stop_requested(db, TABLE, ALICE, "conn", "r1") is True


def test_a_closed_connection_stops_what_runs_there_and_writes_no_early_stop(db, monkeypatch):
    later = int(time.time()) + 300
    conversations.start_stream(db, TABLE, ALICE, "conn", "r1", expires_at=later)
    conversations.start_stream(db, TABLE, ALICE, "conn", "r2", expires_at=later)
    conversations.start_stream(db, TABLE, ALICE, "other", "r1", expires_at=later)
    real_update = db.update_item

    def r2_ends_first(**request: Any) -> Any:  # r2's answer ends between the read and the write
        if request["Key"]["id"]["S"] == "s#conn#r2":
            conversations.end_stream(db, TABLE, ALICE, "conn", "r2")
        return real_update(**request)

    monkeypatch.setattr(db, "update_item", r2_ends_first)
    assert conversations.stop_connection(db, TABLE, ALICE, "conn") == 1
    assert conversations.stop_requested(db, TABLE, ALICE, "conn", "r1") is True
    assert conversations.stop_requested(db, TABLE, ALICE, "other", "r1") is False
    assert set(_stream_records(db)) == {"s#conn#r1", "s#other#r1"}  # nothing left for r2
