"""Streamed answers and conversations kept on the server (issue 11), end to end: headless
Chromium against `chatbot-deploy local` (its WebSocket endpoint at /live, app_spec.SOCKET_PATH)
and the fake model server, which streams ``[[chunks:<count>x<seconds>]]`` answers piece by
piece."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from chatbot_deploy import app_spec
from chatbot_deploy.local import emulator
from tests.browser.conftest import DESKTOP, answers, send, sign_in
from tests.support.fake_openai import FakeOpenAI, stream_piece, stream_text
from tests.support.local_app import USERNAME, LocalApp

pytestmark = pytest.mark.browser

STREAMING = "article.msg-assistant.streaming"

# The text of the answer streaming in, read in the page while it still streams (the element
# exists only then), once it holds ``needle``.
READ_WHILE_STREAMING = """needle => {
  const answer = document.querySelector("article.msg-assistant.streaming");
  return answer && answer.getAttribute("aria-busy") === "true"
    && answer.textContent.includes(needle) ? answer.textContent : null;
}"""


def text_while_streaming(page: Any, needle: str) -> str:
    text: str = page.wait_for_function(READ_WHILE_STREAMING, arg=needle).json_value()
    return text.strip()


def nav(page: Any) -> Any:
    return page.get_by_role("navigation", name="Past conversations")


def test_the_answer_grows_while_it_streams(page: Any, fake_openai: FakeOpenAI) -> None:
    sign_in(page)
    count = 12
    first = len(fake_openai.streams)
    send(page, f"tell me slowly [[chunks:{count}x0.25]]")
    whole = stream_text(count).strip()
    # Seen part way: the start of the answer, rendered while the rest is still coming.
    early = text_while_streaming(page, stream_piece(2).strip())
    assert whole.startswith(early) and len(early) < len(whole)
    later = text_while_streaming(page, stream_piece(6).strip())
    assert whole.startswith(later) and len(early) < len(later) < len(whole)
    expect(page.get_by_role("button", name="Stop", exact=True)).to_be_visible()
    # Then the whole answer, kept as an answer; Send again.
    expect(answers(page)).to_have_text(whole)
    expect(page.locator(STREAMING)).to_have_count(0)
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    assert fake_openai.wait_for_stream(first).finished.wait(5)
    # The id came from the server's `started` frame; the answer was stored: a reload shows it.
    expect(page).to_have_url(re.compile(r"#/c/[0-9a-f]{28}$"))
    page.reload()
    expect(answers(page)).to_have_text(whole)


def test_stop_keeps_the_text_so_far_and_ends_the_model_request(
    page: Any, fake_openai: FakeOpenAI, capfd: Any
) -> None:
    sign_in(page)
    first = len(fake_openai.streams)
    send(page, "a long one [[chunks:40x0.3]]")
    text_while_streaming(page, stream_piece(2).strip())
    page.get_by_role("button", name="Stop", exact=True).click()
    expect(page.get_by_text("Stopped: the answer so far is kept.")).to_be_visible()
    kept = answers(page).inner_text().strip()
    assert kept.startswith(stream_piece(1) + stream_piece(2).strip())
    assert stream_piece(40).strip() not in kept
    # The server closed its request to the model: no tokens paid for text nobody reads.
    record = fake_openai.wait_for_stream(first)
    assert record.client_closed.wait(5)
    assert not record.finished.is_set()
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    # The text so far was stored.
    page.reload()
    expect(answers(page)).to_have_text(kept)
    captured = capfd.readouterr()
    assert "Traceback" not in captured.err + captured.out


def test_regenerate_replaces_the_last_answer(page: Any, fake_openai: FakeOpenAI) -> None:
    sign_in(page)
    send(page, "first question")
    expect(answers(page)).to_have_text("echo: first question")
    send(page, "second question")
    expect(answers(page)).to_have_text(["echo: first question", "echo: second question"])
    before = len(fake_openai.requests)
    # Only the last answer offers it.
    expect(page.get_by_role("button", name="Regenerate the answer")).to_have_count(1)
    page.get_by_role("button", name="Regenerate the answer").click()
    expect(answers(page)).to_have_text(["echo: first question", "echo: second question"])
    assert len(fake_openai.requests) == before + 1
    asked = fake_openai.requests[-1].body["messages"]
    assert [(m["role"], m["content"]) for m in asked if m["role"] != "system"] == [
        ("user", "first question"),
        ("assistant", "echo: first question"),
        ("user", "second question"),
    ]
    expect(page.locator(".msg-user")).to_have_count(2)
    page.reload()
    expect(answers(page)).to_have_text(["echo: first question", "echo: second question"])


def test_edit_replaces_the_message_and_what_came_after(page: Any, fake_openai: FakeOpenAI) -> None:
    sign_in(page)
    send(page, "hello one")
    expect(answers(page)).to_have_text("echo: hello one")
    send(page, "hello two")
    expect(answers(page)).to_have_text(["echo: hello one", "echo: hello two"])

    page.get_by_role("button", name="Edit message").first.click()
    editor = page.get_by_label("Edit your message")
    expect(editor).to_have_value("hello one")
    expect(editor).to_be_focused()
    expect(editor).to_have_accessible_description(re.compile("later messages will be replaced"))
    editor.fill("hello edited")
    page.get_by_role("button", name="Send", exact=True).first.click()
    expect(page.locator(".msg-user")).to_have_text(["hello edited"])
    expect(answers(page)).to_have_text(["echo: hello edited"])
    asked = fake_openai.requests[-1].body["messages"]
    assert [m["content"] for m in asked if m["role"] != "system"] == ["hello edited"]
    # The server truncated too.
    page.reload()
    expect(page.locator(".msg-user")).to_have_text(["hello edited"])
    expect(answers(page)).to_have_text(["echo: hello edited"])


def test_the_conversation_is_there_from_another_browser(
    browser: Any, page: Any, web_app: LocalApp
) -> None:
    sign_in(page)
    send(page, "remember this across devices")
    expect(answers(page)).to_have_text("echo: remember this across devices")

    other_context = browser.new_context(viewport=DESKTOP)
    try:
        other = other_context.new_page()
        other.goto(web_app.url + "/")
        sign_in(other)
        link = nav(other).get_by_role("link", name="remember this across devices")
        link.click()
        expect(other.locator(".msg-user")).to_have_text("remember this across devices")
        expect(answers(other)).to_have_text("echo: remember this across devices")
        # And goes on there.
        send(other, "and from here")
        expect(answers(other)).to_have_text(
            ["echo: remember this across devices", "echo: and from here"]
        )
    finally:
        other_context.close()
    page.reload()
    expect(answers(page)).to_have_text(
        ["echo: remember this across devices", "echo: and from here"]
    )


def test_rename_and_delete_are_kept_on_the_server(page: Any) -> None:
    sign_in(page)
    send(page, "name me")
    expect(answers(page)).to_have_text("echo: name me")
    page.get_by_role("button", name="New chat").first.click()
    send(page, "keep me")
    expect(answers(page)).to_have_text("echo: keep me")
    links = nav(page).get_by_role("link")
    expect(links).to_have_text(["keep me", "name me"])

    nav(page).get_by_role("button", name="Rename “name me”").click()
    title = page.get_by_label("New title for “name me”")
    expect(title).to_be_focused()
    title.fill("A better name")
    title.press("Enter")
    expect(links).to_have_text(["keep me", "A better name"])
    page.reload()
    expect(links).to_have_text(["keep me", "A better name"])

    page.once("dialog", lambda dialog: dialog.accept())
    nav(page).get_by_role("button", name="Delete “A better name”").click()
    expect(links).to_have_text(["keep me"])
    page.reload()
    expect(links).to_have_text(["keep me"])


def test_a_lost_connection_says_so_reconnects_and_retry_answers(
    page: Any, fake_openai: FakeOpenAI
) -> None:
    sockets: list[Any] = []

    def through(ws: Any) -> None:
        ws.connect_to_server()  # to `local`, watched by the test
        sockets.append(ws)

    page.route_web_socket(re.compile(rf"{re.escape(app_spec.SOCKET_PATH)}(\?|$)"), through)
    sign_in(page)
    first = len(fake_openai.streams)
    send(page, "cut me off [[chunks:6x0.3]]")
    text_while_streaming(page, stream_piece(1).strip())
    sockets[-1].close(code=4000, reason="the network went away")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("The connection was lost")
    expect(page.get_by_text("The answer is incomplete.")).to_be_visible()
    # It opens a new connection by itself (after 1 s), and says so meanwhile.
    expect(page.locator(".connection")).to_contain_text("Connection lost — retrying")
    expect(page.locator(".connection")).to_have_count(0)
    assert len(sockets) == 2
    # Once the server is done with the cut-off answer, Retry asks for it again.
    record = fake_openai.wait_for_stream(first)
    assert record.finished.wait(10) or record.client_closed.wait(10)
    alert.get_by_role("button", name="Retry").click()
    expect(answers(page)).to_have_text(stream_text(6).strip(), timeout=15_000)
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(page.locator(".msg-user")).to_have_count(1)


# Whether the chat's scroller shows its end (within a few pixels).
AT_THE_END = "() => { const s = document.querySelector('.scroller');"
AT_THE_END += " return s.scrollHeight - s.scrollTop - s.clientHeight < 8; }"


def test_the_view_follows_the_answer_unless_scrolled_up(page: Any) -> None:
    sign_in(page)
    tall = "\n".join(f"line {n}" for n in range(60))
    send(page, tall)
    expect(answers(page)).to_have_count(1)
    scroller = page.locator(".scroller")
    assert scroller.evaluate("s => s.scrollHeight > 2 * s.clientHeight")

    send(page, "follow me [[chunks:40x0.2]]")
    text_while_streaming(page, stream_piece(3).strip())
    assert page.evaluate(AT_THE_END)
    # Scrolled up to read: the growing answer no longer pulls the view down.
    scroller.evaluate("s => { s.scrollTop = 0; }")
    text_while_streaming(page, stream_piece(8).strip())
    assert scroller.evaluate("s => s.scrollTop") == 0
    # Back at the end, it follows again.
    scroller.evaluate("s => { s.scrollTop = s.scrollHeight; }")
    expect(answers(page).nth(1)).to_have_text(stream_text(40).strip(), timeout=15_000)
    assert page.evaluate(AT_THE_END)


def test_another_users_conversation_is_not_found(
    browser: Any, page: Any, web_app: LocalApp
) -> None:
    sign_in(page)
    send(page, "alice's secret")
    expect(answers(page)).to_have_text("echo: alice's secret")
    address = page.url

    web_app.aws.add_user(emulator.LocalUser("bob", "bob-password-1"))
    other_context = browser.new_context(viewport=DESKTOP)
    try:
        other = other_context.new_page()
        other.goto(address)
        sign_in(other, "bob", "bob-password-1")
        expect(other).to_have_url(address)  # back where bob was going, after signing in
        expect(other.get_by_role("heading", level=1)).to_have_text("Conversation not found")
        expect(other.get_by_text("This conversation was not found.")).to_be_visible()
        expect(other.get_by_label("Message", exact=True)).to_be_disabled()
        expect(nav(other).get_by_role("link")).to_have_count(0)
        assert "secret" not in other.content()
    finally:
        other_context.close()


def test_a_long_conversation_shows_earlier_messages_on_asking(
    page: Any, web_app: LocalApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server answers a long conversation a page at a time (docs/api.md); the app shows
    the newest page and, on asking, the ones before it, until the first message."""
    from chatbot_lambda import conversations

    texts = [f"message number {n:02d}" for n in range(30)]
    one = conversations.page_bytes(conversations.Message(29, "assistant", texts[-1]))
    monkeypatch.setattr(conversations, "PAGE_BYTES", one * 12)  # 12 messages a page
    db, table = web_app.aws.dynamodb, web_app.aws.names.table("conversations")
    made = conversations.create(db, table, USERNAME, model="test-model", title="A long one")
    for index, text in enumerate(texts):
        role = "user" if index % 2 == 0 else "assistant"
        made, _ = conversations.append(db, table, USERNAME, made, role, text)

    sign_in(page)
    nav(page).get_by_role("link", name="A long one").click()
    shown = page.locator("article.msg-user, article.msg-assistant")
    expect(shown).to_have_count(12)
    expect(shown.last).to_have_text(texts[-1])
    earlier = page.get_by_role("button", name="Show earlier messages")
    earlier.click()
    expect(shown).to_have_count(24)
    expect(shown.first).to_have_text(texts[6])
    earlier.click()
    expect(shown).to_have_text(texts)  # all of them, in order, each once
    expect(earlier).to_have_count(0)  # nothing is left before the first
    # And the conversation goes on from its newest message.
    send(page, "one more")
    expect(answers(page).last).to_have_text("echo: one more")
