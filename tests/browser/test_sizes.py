"""Message sizes in the browser (docs/api.md, "Sizes"): API Gateway, and `local` likewise,
closes the WebSocket (1009) on a frame over 32 KB, so the web app measures each message's
UTF-8 before sending it and tells the person, keeping their text."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from chatbot_deploy import app_spec
from tests.browser.conftest import answered, answers, send, sign_in
from tests.support.fake_openai import FakeOpenAI

pytestmark = pytest.mark.browser

MAX_FRAME_BYTES = 32 * 1024
TOO_LARGE = re.compile(r"^This message is too long to send \(32\.\d kB of 32 kB\); shorten it\.$")


def frames_sent(page: Any) -> list[str]:
    """Every text frame the page sends over its WebSockets, as they go."""
    sent: list[str] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(payload)))
    return sent


def test_a_message_too_large_to_send_is_kept_and_explained(
    page: Any, fake_openai: FakeOpenAI
) -> None:
    sent = frames_sent(page)
    sign_in(page)
    before = len(fake_openai.requests)
    # 11,000 characters (under the 32,000-character limit) but 33,000 bytes of UTF-8.
    text = "€" * 11_000
    box = page.get_by_label("Message", exact=True)
    box.fill(text)
    box.press("Enter")
    expect(page.get_by_role("alert")).to_have_text(TOO_LARGE)
    expect(box).to_have_value(text)
    expect(box).to_have_attribute("aria-invalid", "true")
    expect(page.locator(".msg-user")).to_have_count(0)

    # Shortened, it is sent and answered: the one message that reached the model.
    shorter = "€" * 10_000
    box.fill(shorter)
    expect(page.get_by_role("alert")).to_have_count(0)
    box.press("Enter")
    expect(answers(page)).to_have_text(f"echo: {shorter}")
    assert len(fake_openai.requests) == before + 1
    messages = fake_openai.requests[-1].body["messages"]
    assert [m["content"] for m in messages if m["role"] == "user"] == [shorter]
    # No frame over the limit ever left the page.
    assert sent, "no WebSocket frame was seen"
    assert max(len(payload.encode()) for payload in sent) <= MAX_FRAME_BYTES
    assert not any(text in payload for payload in sent)


def test_a_1009_close_says_the_last_message_was_too_large(
    page: Any, fake_openai: FakeOpenAI
) -> None:
    # API Gateway's answer to a frame it finds too large, played between the page and `local`.
    def gateway(ws: Any) -> None:
        server = ws.connect_to_server()

        def from_page(message: str | bytes) -> None:
            if isinstance(message, str) and "[[too-big-for-the-gateway]]" in message:
                ws.close(code=1009, reason="message too big")
            else:
                server.send(message)

        ws.on_message(from_page)

    page.route_web_socket(re.compile(rf"{re.escape(app_spec.SOCKET_PATH)}(\?|$)"), gateway)
    sign_in(page)
    send(page, "first")
    answered(page, "echo: first")
    before = len(fake_openai.requests)

    box = page.get_by_label("Message", exact=True)
    send(page, "[[too-big-for-the-gateway]]")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("The last message was too large to send (over 32 kB)")
    expect(alert).not_to_contain_text("connection was lost")
    expect(alert.get_by_role("button", name="Retry")).to_have_count(0)
    expect(page.locator(".connection")).to_have_count(0)  # not "connection lost — retrying"
    assert len(fake_openai.requests) == before

    # The next message opens a new connection and is answered.
    send(page, "second")
    answered(page, "echo: first", "echo: second")
    expect(box).to_have_value("")
