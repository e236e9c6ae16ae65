"""The web app end to end: headless Chromium against `chatbot-deploy local` + fake OpenAI."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import jwt
import pytest
from playwright.sync_api import expect

from chatbot_deploy.local import emulator
from tests.browser.conftest import (
    ARTIFACTS,
    DESKTOP,
    PHONE,
    SESSION_KEY,
    answers,
    send,
    sign_in,
)
from tests.support import http
from tests.support.fake_openai import FakeOpenAI
from tests.support.local_app import PASSWORD, USERNAME, LocalApp

pytestmark = pytest.mark.browser


def stored_session(page: Any) -> dict[str, Any] | None:
    raw = page.evaluate(f"localStorage.getItem({json.dumps(SESSION_KEY)})")
    return json.loads(raw) if raw else None


def set_token(page: Any, token: str) -> None:
    """Put ``token`` in the stored session (the app reads it at its next start)."""
    session = stored_session(page)
    assert session is not None
    session["token"] = token
    page.evaluate(
        "([key, value]) => localStorage.setItem(key, value)", [SESSION_KEY, json.dumps(session)]
    )


def make_token(web_app: LocalApp, *, secret: str | None = None, exp_offset: int) -> str:
    names = web_app.aws.names
    real_secret = web_app.aws.ssm.get_parameter(Name=names.jwt_secret_param, WithDecryption=True)[
        "Parameter"
    ]["Value"]
    now = int(time.time())
    claims = {"sub": USERNAME, "iss": names.token_issuer, "iat": now - 60, "exp": now + exp_offset}
    return jwt.encode(claims, secret or real_secret, algorithm="HS256")


def test_login_page_refuses_a_wrong_password_with_a_clear_message(page: Any) -> None:
    expect(page).to_have_url(re.compile(r"#/login$"))
    expect(page.get_by_label("Username")).to_be_focused()
    expect(page.get_by_text("Loading…")).to_have_count(0)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Enter your username.")).to_be_visible()
    expect(page.get_by_label("Username")).to_have_attribute("aria-invalid", "true")

    page.get_by_label("Username").fill(USERNAME)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong username or password.")
    expect(page.get_by_label("Password")).to_have_value("")
    expect(page.get_by_label("Password")).to_be_focused()
    expect(page).to_have_url(re.compile(r"#/login$"))
    assert stored_session(page) is None


def test_signing_in_shows_progress_and_cannot_be_sent_twice(page: Any) -> None:
    held: list[Any] = []

    def hold(route: Any) -> None:
        held.append(route)  # the request waits until the test lets it go

    page.route("**/login", hold)
    page.get_by_label("Username").fill(USERNAME)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    button = page.get_by_role("button", name="Signing in…")
    expect(button).to_be_disabled()
    expect(page.locator("form")).to_have_attribute("aria-busy", "true")
    page.get_by_label("Password").press("Enter")  # a second Enter sends nothing
    page.wait_for_timeout(200)
    assert len(held) == 1
    held[0].continue_()
    page.get_by_label("Message", exact=True).wait_for()
    assert len(held) == 1


def test_sign_in_chat_and_the_conversation_is_the_context(
    page: Any, fake_openai: FakeOpenAI
) -> None:
    sign_in(page)
    expect(page).to_have_url(re.compile(r"#/$"))
    session = stored_session(page)
    assert session is not None and session["username"] == USERNAME
    assert session["expiresAt"] > time.time() + 3600

    send(page, "hello there")
    expect(answers(page).nth(0)).to_have_text("echo: hello there")
    expect(page).to_have_url(re.compile(r"#/c/[0-9a-f]{28}$"))  # the server's id
    expect(page.get_by_role("heading", level=1)).to_have_text("hello there")
    expect(page.get_by_label("Message", exact=True)).to_be_focused()
    # The answer is announced to screen readers.
    expect(page.locator("[aria-live=polite]")).to_have_text("Answer: echo: hello there")

    send(page, "and again")
    expect(answers(page).nth(1)).to_have_text("echo: and again")
    sent = fake_openai.requests[-1].body["messages"]
    assert [(m["role"], m["content"]) for m in sent if m["role"] != "system"] == [
        ("user", "hello there"),
        ("assistant", "echo: hello there"),
        ("user", "and again"),
    ]


def test_shift_enter_is_a_new_line_and_waiting_is_visible(page: Any) -> None:
    sign_in(page)
    box = page.get_by_label("Message", exact=True)
    box.fill("line one")
    box.press("Shift+Enter")
    box.press_sequentially("line two [[slow:1.5]]")
    expect(box).to_have_value("line one\nline two [[slow:1.5]]")
    box.press("Enter")
    waiting = page.get_by_role("status").filter(has_text="Waiting for the answer")
    expect(waiting).to_be_visible()
    expect(page.get_by_role("button", name="Stop", exact=True)).to_be_visible()
    expect(page.locator(".msg-user .bubble")).to_have_text("line one\nline two [[slow:1.5]]")
    expect(answers(page)).to_have_text("echo: line one\nline two [[slow:1.5]]", timeout=15_000)
    expect(waiting).to_have_count(0)


def test_markdown_answer_renders_and_its_script_does_not_run(page: Any) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    sign_in(page)
    send(page, "show me [[markdown]]")
    answer = answers(page).nth(0)
    expect(answer.locator("h1")).to_have_text("Title")
    expect(answer.locator("strong")).to_have_text("bold")
    expect(answer.locator("li")).to_have_count(2)
    code = answer.locator(".codeblock pre")
    expect(code).to_have_text("print('hello')")
    assert code.evaluate("el => getComputedStyle(el).fontFamily").lower().find("mono") >= 0
    assert answer.locator("script").count() == 0
    assert page.evaluate("window.__pwned") is None

    answer.get_by_role("button", name="Copy python code").click()
    expect(answer.get_by_role("button", name="Copy python code")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == "print('hello')\n"


def test_rate_limit_shows_in_place_with_a_retry(page: Any, fake_openai: FakeOpenAI) -> None:
    sign_in(page)
    send(page, "too fast [[rate-limit]]")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("rate limiting requests")
    before = len(fake_openai.requests)
    alert.get_by_role("button", name="Retry").click()
    expect(alert).to_contain_text("rate limiting requests")
    assert len(fake_openai.requests) == before + 1
    # The question stays, and a new message can still be sent.
    expect(page.locator(".msg-user")).to_have_count(1)


def test_provider_failure_shows_the_api_error_text(page: Any) -> None:
    sign_in(page)
    send(page, "break [[server-error]]")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("model provider")
    expect(alert.get_by_role("button", name="Retry")).to_be_visible()
    expect(answers(page)).to_have_count(0)


def test_reload_keeps_the_conversation_and_any_address_opens(page: Any, web_app: LocalApp) -> None:
    sign_in(page)
    send(page, "remember me")
    expect(answers(page)).to_have_text("echo: remember me")
    address = page.url
    page.reload()
    expect(page).to_have_url(address)
    expect(page.locator(".msg-user")).to_have_text("remember me")
    expect(answers(page)).to_have_text("echo: remember me")
    nav = page.get_by_role("navigation", name="Past conversations")
    expect(nav.get_by_role("link", name="remember me")).to_have_attribute("aria-current", "page")

    # The same address opened fresh (as an S3 website would serve it: only index.html).
    other = page.context.new_page()
    other.goto(address)
    expect(other.locator(".msg-user")).to_have_text("remember me")
    other.goto(web_app.url + "/index.html#/")
    expect(other.get_by_role("heading", level=1)).to_have_text("New chat")
    other.close()


def test_new_chat_switch_and_delete(page: Any) -> None:
    sign_in(page)
    send(page, "first topic")
    expect(answers(page)).to_have_text("echo: first topic")
    page.get_by_role("button", name="New chat").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New chat")
    expect(page.get_by_label("Message", exact=True)).to_be_focused()
    send(page, "second topic")
    expect(answers(page)).to_have_text("echo: second topic")

    nav = page.get_by_role("navigation", name="Past conversations")
    links = nav.get_by_role("link")
    expect(links).to_have_text(["second topic", "first topic"])
    links.filter(has_text="first topic").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("first topic")
    expect(page.get_by_role("heading", level=1)).to_be_focused()
    expect(answers(page)).to_have_text("echo: first topic")

    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_response(lambda answer: answer.request.method == "DELETE") as deleted:
        nav.get_by_role("button", name="Delete “first topic”").click()
    assert deleted.value.request.method == "DELETE"
    assert deleted.value.status == 200
    expect(links).to_have_text(["second topic"])
    expect(page.get_by_role("heading", level=1)).to_have_text("New chat")
    # Deleted on the server: a reload lists what the server has.
    page.reload()
    expect(links).to_have_text(["second topic"])


def test_forged_token_sends_you_to_login_and_back(page: Any, web_app: LocalApp) -> None:
    sign_in(page)
    send(page, "before")
    expect(answers(page)).to_have_text("echo: before")
    conversation = page.url
    forged = make_token(web_app, secret="another-secret-of-a-proper-length-0123", exp_offset=3600)
    set_token(page, forged)
    page.reload()  # the app reads the stored session at start; the server refuses it at once
    expect(page).to_have_url(re.compile(r"#/login$"))
    expect(page.get_by_role("status")).to_have_text("Your session has ended. Please sign in again.")
    assert stored_session(page) is None
    # Signing in again returns to the conversation, kept on the server.
    expect(page.get_by_label("Username")).to_have_value(USERNAME)
    expect(page.get_by_label("Password")).to_be_focused()
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(conversation)
    expect(answers(page)).to_have_text(["echo: before"])
    send(page, "after")
    expect(answers(page)).to_have_text(["echo: before", "echo: after"])


def test_expired_token_refused_by_the_api_sends_you_to_login(page: Any, web_app: LocalApp) -> None:
    sign_in(page)
    # A token the server finds expired (the browser's clock said otherwise).
    set_token(page, make_token(web_app, exp_offset=-10))
    page.reload()
    expect(page).to_have_url(re.compile(r"#/login$"))
    expect(page.get_by_role("status")).to_contain_text("sign in again")


def test_session_past_expires_at_is_dropped_on_reload(page: Any) -> None:
    sign_in(page)
    session = stored_session(page)
    assert session is not None
    session["expiresAt"] = int(time.time()) - 5
    page.evaluate(
        "([key, value]) => localStorage.setItem(key, value)", [SESSION_KEY, json.dumps(session)]
    )
    page.reload()
    expect(page).to_have_url(re.compile(r"#/login$"))
    expect(page.get_by_role("status")).to_have_text(
        "Your session has expired. Please sign in again."
    )
    assert stored_session(page) is None


def test_session_expiring_while_open_sends_you_to_login(page: Any) -> None:
    sign_in(page)
    session = stored_session(page)
    assert session is not None
    # Expires (with the app's 30 s safety margin) five seconds from now; reload to re-arm.
    session["expiresAt"] = int(time.time()) + 35
    page.evaluate(
        "([key, value]) => localStorage.setItem(key, value)", [SESSION_KEY, json.dumps(session)]
    )
    page.reload()
    expect(page.get_by_label("Message", exact=True)).to_be_visible()
    expect(page).to_have_url(re.compile(r"#/login$"), timeout=10_000)
    expect(page.get_by_role("status")).to_have_text(
        "Your session has expired. Please sign in again."
    )


def test_logout(page: Any) -> None:
    sign_in(page)
    page.get_by_role("button", name="Sign out", exact=True).click()
    expect(page).to_have_url(re.compile(r"#/login$"))
    expect(page.get_by_role("status")).to_have_text("You have signed out.")
    assert stored_session(page) is None
    page.reload()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()


OTHER_USERS_KEY = "chatbot-deploy:cache:bob"
OTHER_USERS_DATA = json.dumps(
    {
        "list": [{"id": "b0b", "title": "bob's", "model": "m", "created_at": 1, "updated_at": 1}],
        "opened": [],
    }
)


def conversations_key(username: str = USERNAME) -> str:
    """Where this browser caches a user's conversations (the server keeps them)."""
    return f"chatbot-deploy:cache:{username}"


def stored(page: Any, key: str) -> str | None:
    value: str | None = page.evaluate("key => localStorage.getItem(key)", key)
    return value


def chat_directly(web_app: LocalApp, token: str) -> http.Reply:
    """POST /chat with ``token`` from outside the browser, after the chat function's 5 s
    cache of who signed out is forgotten (a fresh container)."""
    emulator.new_container()
    return http.request(
        "POST",
        web_app.url + "/chat",
        {"messages": [{"role": "user", "content": "still me?"}]},
        headers={"authorization": f"Bearer {token}"},
    )


def test_sign_out_ends_the_session_on_the_server_and_forgets_the_conversations(
    page: Any, web_app: LocalApp
) -> None:
    sign_in(page)
    send(page, "keep this private")
    expect(answers(page)).to_have_text("echo: keep this private")
    session = stored_session(page)
    assert session is not None
    token = session["token"]
    assert chat_directly(web_app, token).status == 200
    cached = stored(page, conversations_key())
    assert cached is not None and "keep this private" in cached
    # Another user's conversations kept in this browser are not this sign-out's business.
    page.evaluate("([k, v]) => localStorage.setItem(k, v)", [OTHER_USERS_KEY, OTHER_USERS_DATA])
    sign_out = page.get_by_role("button", name="Sign out", exact=True)
    expect(sign_out).to_have_accessible_description(re.compile("removes your conversations"))

    with page.expect_response("**/logout") as answer:
        sign_out.click()
    assert answer.value.status == 200
    assert answer.value.json() == {"signed_out": "this session"}
    sent = answer.value.request
    assert sent.method == "POST"
    assert sent.headers["authorization"] == f"Bearer {token}"
    assert not sent.post_data  # an empty body: this session only

    expect(page).to_have_url(re.compile(r"#/login$"))
    expect(page.get_by_role("status")).to_have_text("You have signed out.")
    assert stored_session(page) is None
    assert stored(page, conversations_key()) is None
    assert stored(page, OTHER_USERS_KEY) == OTHER_USERS_DATA

    # The server refuses the old token from now on.
    refused = chat_directly(web_app, token)
    assert refused.status == 401
    assert refused.json() == {"error": "session ended; log in again"}

    # Signing in again: a new token that works, and the conversations, kept on the server.
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Message", exact=True).wait_for()
    nav = page.get_by_role("navigation", name="Past conversations")
    expect(nav.get_by_role("link")).to_have_text(["keep this private"])
    session = stored_session(page)
    assert session is not None and session["token"] != token
    send(page, "a new start")
    expect(answers(page)).to_have_text("echo: a new start")


def test_sign_out_goes_ahead_when_the_server_cannot_be_reached(page: Any) -> None:
    sign_in(page)
    send(page, "hello")
    expect(answers(page)).to_have_text("echo: hello")
    assert stored(page, conversations_key()) is not None
    page.route("**/logout", lambda route: route.abort("connectionrefused"))
    page.get_by_role("button", name="Sign out", exact=True).click()
    expect(page).to_have_url(re.compile(r"#/login$"))
    expect(page.get_by_role("status")).to_contain_text("the server did not confirm it")
    assert stored_session(page) is None
    assert stored(page, conversations_key()) is None


def test_sign_out_everywhere_ends_the_other_devices_sessions(
    browser: Any, page: Any, web_app: LocalApp
) -> None:
    # Two devices: this page, and another browser profile signed in as the same user.
    other_context = browser.new_context(viewport=DESKTOP)
    other = other_context.new_page()
    other.goto(web_app.url + "/")
    sign_in(other)
    send(other, "from my phone")
    expect(answers(other)).to_have_text("echo: from my phone")

    sign_in(page)
    send(page, "from my laptop")
    expect(answers(page)).to_have_text("echo: from my laptop")
    session = stored_session(page)
    assert session is not None
    everywhere = page.get_by_role("button", name="Sign out everywhere")
    expect(everywhere).to_have_accessible_description(re.compile("removes your conversations"))

    # Not confirmed: nothing happens.
    page.once("dialog", lambda dialog: dialog.dismiss())
    everywhere.click()
    expect(page.get_by_label("Message", exact=True)).to_be_visible()
    assert stored_session(page) == session

    asked: list[str] = []

    def accept(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    with page.expect_response("**/logout") as answer:
        everywhere.click()
    assert answer.value.status == 200
    assert answer.value.json() == {"signed_out": "everywhere"}
    assert json.loads(answer.value.request.post_data) == {"everywhere": True}
    assert "everywhere" in asked[0]
    expect(page).to_have_url(re.compile(r"#/login$"))
    expect(page.get_by_role("status")).to_have_text("You have signed out everywhere.")
    assert stored_session(page) is None
    assert stored(page, conversations_key()) is None

    # This device's old token is refused, and so is the other device's.
    assert chat_directly(web_app, session["token"]).status == 401
    emulator.new_container()
    send(other, "still signed in?")
    expect(other).to_have_url(re.compile(r"#/login$"))
    expect(other.get_by_role("status")).to_have_text(
        "Your session has ended. Please sign in again."
    )
    other_context.close()


def test_login_locked_after_failed_logins_says_when_to_try_again(page: Any) -> None:
    page.get_by_label("Username").fill(USERNAME)
    statuses = []
    for attempt in range(10):  # the 5th failure locks the username for 1 s, the next 2 s ...
        page.get_by_label("Password").fill(f"wrong-{attempt}")
        with page.expect_response("**/login") as answer:
            page.get_by_role("button", name="Sign in").click()
        statuses.append(answer.value.status)
        if answer.value.status == 429:
            break
    assert statuses[:5] == [401] * 5 and statuses[-1] == 429, statuses
    wait = int(answer.value.headers["retry-after"])
    assert 1 <= wait < 60
    expect(page.get_by_role("alert")).to_have_text(
        f"Too many failed logins for this username; try again in {wait} s."
    )
    # The password stays for the next try; after the lock, the right one signs in.
    expect(page.get_by_label("Password")).to_have_value(f"wrong-{len(statuses) - 1}")
    page.wait_for_timeout(wait * 1000 + 200)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Message", exact=True).wait_for()


def test_follows_the_system_dark_preference(browser: Any, web_app: LocalApp) -> None:
    colours = {}
    for scheme in ("light", "dark"):
        context = browser.new_context(viewport={"width": 1000, "height": 700}, color_scheme=scheme)
        page = context.new_page()
        page.goto(web_app.url + "/")
        page.get_by_label("Username").wait_for()
        colours[scheme] = page.evaluate("getComputedStyle(document.body).backgroundColor")
        context.close()
    assert colours["light"] == "rgb(255, 255, 255)"
    assert colours["dark"] != colours["light"]


def _chat_with_history(page: Any) -> None:
    sign_in(page)
    send(page, "What is AWS Lambda?")
    expect(answers(page)).to_have_text("echo: What is AWS Lambda?")
    page.get_by_role("button", name="New chat").first.click()
    send(page, "Format this as Markdown please [[markdown]]")
    expect(answers(page).locator("h1")).to_have_text("Title")
    send(page, "Thanks!")
    expect(answers(page).nth(1)).to_have_text("echo: Thanks!")


def test_phone_drawer_keeps_focus_and_closes_when_the_window_widens(
    browser: Any, web_app: LocalApp
) -> None:
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto(web_app.url + "/")
    sign_in(page)
    send(page, "first question")
    expect(answers(page)).to_have_text("echo: first question")
    menu = page.get_by_role("button", name="Conversations")
    menu.click()
    sidebar = page.locator("#sidebar")
    expect(sidebar.get_by_role("button", name="New chat")).to_be_focused()
    # Tab and Shift+Tab reach the drawer's controls (and the browser's own), never the chat
    # behind it.
    reached = set()
    for key in ["Tab"] * 6 + ["Shift+Tab"] * 9:
        page.keyboard.press(key)
        where = page.evaluate(
            "[document.querySelector('main').contains(document.activeElement),"
            " document.activeElement.textContent.trim()]"
        )
        assert not where[0], f"{key} moved focus to the chat behind the drawer"
        reached.add(where[1])
    assert {"New chat", "first question", "Sign out"} <= reached
    expect(page.locator("main")).to_have_js_property("inert", True)
    # Widening the window shows the sidebar for good: the drawer closes, the chat works again.
    page.set_viewport_size({"width": 1280, "height": 800})
    expect(page.locator(".menu-button")).to_have_attribute("aria-expanded", "false")  # hidden
    expect(page.locator("main")).to_have_js_property("inert", False)
    send(page, "second question")
    expect(answers(page).nth(1)).to_have_text("echo: second question")
    context.close()


def test_screenshots_desktop_and_phone(browser: Any, web_app: LocalApp) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for name, viewport, scheme in (
        ("chat.png", {"width": 1280, "height": 800}, "light"),
        ("chat-dark.png", {"width": 1280, "height": 800}, "dark"),
        ("chat-phone.png", PHONE, "light"),
    ):
        context = browser.new_context(viewport=viewport, color_scheme=scheme)
        page = context.new_page()
        page.goto(web_app.url + "/")
        page.get_by_label("Username").wait_for()
        page.screenshot(path=str(ARTIFACTS / name.replace("chat", "login")))
        _chat_with_history(page)
        page.screenshot(path=str(ARTIFACTS / name))
        if name == "chat.png":
            send(page, "One more [[slow:2]]")
            expect(page.get_by_role("status").filter(has_text="Waiting")).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "chat-waiting.png"))
            # Enter while waiting keeps the text; it goes once the answer is in.
            send(page, "And another [[rate-limit]]", when_idle=False)
            expect(page.get_by_label("Message", exact=True)).to_have_value(
                "And another [[rate-limit]]"
            )
            expect(answers(page).nth(2)).to_have_text("echo: One more [[slow:2]]")
            page.get_by_label("Message", exact=True).press("Enter")
            expect(page.get_by_role("alert")).to_contain_text("rate limiting")
            page.screenshot(path=str(ARTIFACTS / "chat-error.png"))
        if viewport == PHONE:
            # On a phone the history is a drawer behind the menu button.
            sidebar = page.locator("#sidebar")
            expect(sidebar).to_be_hidden()
            menu = page.get_by_role("button", name="Conversations")
            menu.click()
            expect(menu).to_have_attribute("aria-expanded", "true")
            # Every conversation of the user, from the three browsers (two each), is listed.
            expect(sidebar.get_by_role("link")).to_have_count(6)
            page.wait_for_timeout(300)  # the slide-in transition
            page.screenshot(path=str(ARTIFACTS / "chat-phone-drawer.png"))
            page.keyboard.press("Escape")
            expect(sidebar).to_be_hidden()
            expect(menu).to_be_focused()
            # Nothing is wider than the screen.
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        else:
            expect(page.locator("#sidebar")).to_be_visible()
        context.close()
    assert (ARTIFACTS / "chat.png").stat().st_size > 10_000
